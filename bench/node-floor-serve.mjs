// What both floors (bench/node-floor.ts) share: an HTTPS server that answers blob GETs with `passThrough(req, res)`
// and anything else with `{}` (the client's /v2/ and token requests), writes its port to the port file and stops
// on SIGTERM. Plain JavaScript, loaded by node itself.
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';

export function serveFloor({ portFile, certFile, keyFile }, passThrough) {
  const server = createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (req, res) => {
    if (!/\/blobs\/sha256:[0-9a-f]{64}$/.test(req.url ?? '')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    passThrough(req, res).catch((err) => res.destroy(err));
  });
  server.listen(0, '127.0.0.1', () => writeFileSync(portFile, String(server.address().port)));
  process.once('SIGTERM', () => server.close(() => process.exit(0)));
}
