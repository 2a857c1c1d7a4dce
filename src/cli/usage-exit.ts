// Commander exits 1 on a usage problem (unknown option, missing argument, a group named without its subcommand);
// the CLI's contract is 0 ok, 1 operation failed, 2 usage error. Help and --version still exit 0.
import type { Command } from 'commander';

/** A command used wrongly (flags that do not go together): exits 2 with its message (main.ts). */
export class UsageError extends Error {
  readonly code = 'USAGE';
}

/** Applies to `program` and every command under it, so call it once all commands are registered. */
export function exitTwoOnUsageErrors(program: Command): Command {
  program.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
  for (const sub of program.commands) exitTwoOnUsageErrors(sub);
  return program;
}
