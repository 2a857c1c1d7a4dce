// Loaded into a Pullgate child process with `--import` (and so into the workers it forks): appends `<pid> <url>`
// for every module the process loads to the file in PULLGATE_TEST_MODULE_TRACE, and when it exits `<pid>
// node-internal:<name>` for each of Node's own modules it loaded, so a test can tell which code a process holds
// (docs/operating.md, "Memory"; moduleLoadList is Node's own, undocumented list).
import { appendFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const file = process.env['PULLGATE_TEST_MODULE_TRACE'];
if (file) {
  process.on('exit', () => {
    const internal = (process as unknown as { moduleLoadList: string[] }).moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => `${process.pid} node-internal:${m.slice('NativeModule '.length)}\n`);
    appendFileSync(file, internal.join(''));
  });
  registerHooks({
    load(url, context, next) {
      appendFileSync(file, `${process.pid} ${url}\n`);
      return next(url, context);
    },
  });
}
