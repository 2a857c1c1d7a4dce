// The CLI as the process runs it (src/main.ts loads it): a configuration or usage problem exits 2 with its message,
// anything else exits 1.
import { buildProgram } from './program.js';
import { UsageError } from './usage-exit.js';
import { ConfigError } from '../config/load.js';
import { RegistryError } from '../registry/errors.js';
import { ObjectStoreError } from '../cache/object-store-errors.js';
import { DataDirLockError } from '../cache/data-dir-lock.js';

try {
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  if (err instanceof ConfigError || err instanceof UsageError || err instanceof RegistryError) {
    process.stderr.write(`pullgate: ${err.message}\n`);
    process.exit(2);
  }
  if (err instanceof ObjectStoreError) {
    process.stderr.write(`pullgate: ${err.message}${err.details.requestId ? ` (request id ${err.details.requestId})` : ''}\n`);
    process.exit(1);
  }
  if (err instanceof DataDirLockError) {
    process.stderr.write(`pullgate: ${err.message}\n`);
    process.exit(1);
  }
  // A system call that failed (a port taken, a directory not writable): its message says what and where.
  if (err instanceof Error && typeof (err as NodeJS.ErrnoException).syscall === 'string') {
    process.stderr.write(`pullgate: ${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`pullgate: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
}
