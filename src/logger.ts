// The process logger. Components take child loggers; credentials are redacted wherever they might appear.
import pino, { type Logger, type DestinationStream } from 'pino';
import { prettyDestination } from './pretty-log.js';

export const redactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  '*.authorization',
  '*.password',
  '*.token',
  '*.access_token',
  '*.refresh_token',
];

export type LogFormat = 'pretty' | 'json';

/** The configured format; unset, lines for a person on a terminal and JSON for collectors, files and pipes. */
export function logFormat(configured: LogFormat | undefined, stdoutIsTerminal: boolean): LogFormat {
  return configured ?? (stdoutIsTerminal ? 'pretty' : 'json');
}

/** JSON lines to `destination` (default stdout); `pretty` turns them into lines for a person (src/pretty-log.ts). */
export function createLogger(level: string, destination?: DestinationStream, format: LogFormat = 'json'): Logger {
  const options = { level, redact: { paths: redactPaths, censor: '[redacted]' }, base: { service: 'pullgate' } };
  if (format === 'pretty') return pino(options, prettyDestination(destination));
  return destination ? pino(options, destination) : pino(options);
}
