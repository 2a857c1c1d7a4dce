// Loaded into a Pullgate child process with `--import` (and so into the workers it forks): appends `<pid> <url>`
// for every module the process loads to the file in PULLGATE_TEST_MODULE_TRACE, so a test can tell which code a
// process holds (docs/operating.md, "Memory").
import { appendFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const file = process.env['PULLGATE_TEST_MODULE_TRACE'];
if (file)
  registerHooks({
    load(url, context, next) {
      appendFileSync(file, `${process.pid} ${url}\n`);
      return next(url, context);
    },
  });
