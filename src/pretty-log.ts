// Log lines for a person (log.format: pretty): pino-pretty in the process and writing synchronously, so that lines
// keep their order with the process's other output and none is lost when it exits. One line per entry: time, level,
// `[component]`, message, then the other fields as one JSON object (a thrown error's stack follows on its own
// lines). An entry logged with `highlight: true` (the generated admin password) stands between two rules, in bold on
// a terminal.
import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import type { DestinationStream } from 'pino';

// Loaded only when a pretty log is asked for: a JSON-logging server never needs it (its RSS included).
const load = createRequire(import.meta.url);

// Messages can carry text from the network (paths, upstream errors): no terminal control sequences get through.
const controlCharacters = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** A pino destination that writes pretty lines to `destination` (default stdout, coloured when it is a terminal). */
export function prettyDestination(destination?: DestinationStream): DestinationStream {
  const pretty = load('pino-pretty') as typeof import('pino-pretty');
  return pretty({
    ...(destination === undefined ? { destination: 1 } : { destination: asStream(destination), colorize: false }),
    sync: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,service,component,highlight',
    singleLine: true,
    // pino-pretty prints `err` and `error` as blocks below the line. An access line's `error` ({code, message}) is
    // a field like any other and stays on the line; a thrown error's `err` keeps its stack below it.
    errorLikeObjectKeys: ['err'],
    messageFormat: (log, messageKey, _levelLabel, { colors }) => {
      const message = String(log[messageKey] ?? '').replace(controlCharacters, '');
      const line = typeof log['component'] === 'string' ? `[${log['component']}] ${message}` : message;
      if (log['highlight'] !== true) return line;
      const rule = '='.repeat(Math.min(line.length, 100));
      return `\n${rule}\n${colors.bold(line)}\n${rule}`;
    },
  });
}

/** pino-pretty pipes into a stream; a pino destination may be any object with `write`. */
function asStream(destination: DestinationStream): Writable {
  if (destination instanceof Writable) return destination;
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      destination.write(chunk.toString());
      done();
    },
  });
}
