// The link emulator (test/support/link-emulator.ts) as a process of its own, so that relaying does not share an
// event loop (or its CPU accounting) with the bench's CDN and token server:
// `node --import tsx bench/link-process.ts TARGET_PORT DELAY_MS WINDOW_BYTES` prints `{"port":N}` once listening
// and relays until it is terminated.
import { startLinkEmulator } from '../test/support/link-emulator.js';

const [targetPort, delayMs, windowBytes] = process.argv.slice(2).map(Number);
if (!targetPort || delayMs === undefined || !windowBytes) throw new Error('usage: link-process.ts TARGET_PORT DELAY_MS WINDOW_BYTES');
const link = await startLinkEmulator({ targetPort, delayMs, windowBytes });
process.stdout.write(`${JSON.stringify({ port: link.port })}\n`);
process.once('SIGTERM', () => void link.close().then(() => process.exit(0)));
