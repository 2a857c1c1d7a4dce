// The process-level memory settings every Pullgate process runs with (docs/operating.md#memory): glibc malloc's, read
// from the environment when the C library starts, and the V8 young generation's, read from node's flags when V8
// creates its heap; neither can be changed by a process already running. So the one place that sets them is here:
// a process started without them (the image, `npm start`, the `pullgate` command, `node dist/src/main.js`) replaces
// itself once, before it loads anything else, with the same command, arguments and environment plus what is
// missing (process.execve: the same pid, descriptors and parent). The workers of a supervisor inherit both
// (node:cluster forks with the parent's environment and node flags). A setting the environment or the node flags
// already give is kept; PULLGATE_MEMORY_SETTINGS=off starts the process as it was started.

/** glibc malloc (ignored by other C libraries): see docs/operating.md#memory for what each one saves. */
export const memoryEnv: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
};

/** V8's young generation: each flag is added unless node's flags or NODE_OPTIONS already name its option. */
export const memoryNodeArgs: readonly string[] = ['--max-semi-space-size=16'];

/** The switch that leaves a process as it was started (for measuring without the settings). */
export const memorySettingsSwitch = 'PULLGATE_MEMORY_SETTINGS';

export interface ProcessStart {
  execPath: string;
  execArgv: readonly string[];
  argv: readonly string[];
  env: NodeJS.ProcessEnv;
}

export interface Reexec {
  file: string;
  /** argv of the new process, argv[0] included. */
  args: string[];
  env: NodeJS.ProcessEnv;
}

const optionName = (flag: string): string => flag.split('=')[0]!.replace(/_/g, '-');

/** How to restart `p` with the settings it lacks; undefined when it has them all, or is switched off or a worker. */
export function memoryReexec(p: ProcessStart): Reexec | undefined {
  // A cluster worker got its parent's environment and flags; it never replaces itself.
  if (p.env[memorySettingsSwitch] === 'off' || p.env['NODE_UNIQUE_ID'] !== undefined) return undefined;
  const missingEnv = Object.entries(memoryEnv).filter(([name]) => p.env[name] === undefined);
  const given = [...p.execArgv, ...(p.env['NODE_OPTIONS'] ?? '').split(/\s+/)].map(optionName);
  const missingArgs = memoryNodeArgs.filter((flag) => !given.includes(optionName(flag)));
  if (missingEnv.length === 0 && missingArgs.length === 0) return undefined;
  return {
    file: p.execPath,
    args: [p.execPath, ...missingArgs, ...p.execArgv, ...p.argv.slice(1)],
    env: { ...p.env, ...Object.fromEntries(missingEnv) },
  };
}

/** Replaces this process with itself plus the missing settings, where the platform can (not on Windows). */
export function applyMemorySettings(): void {
  const reexec = memoryReexec(process);
  if (reexec === undefined || process.platform === 'win32' || typeof process.execve !== 'function') return;
  process.execve(reexec.file, reexec.args, reexec.env);
}
