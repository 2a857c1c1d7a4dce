// `pullgate config check FILE`: validate and print what the mirror would serve; exit 2 with every problem.
import { checkConfigFiles } from '../config/files.js';
import { loadConfig } from '../config/load.js';

export async function configCheck(file: string): Promise<void> {
  const config = await loadConfig({ file, env: {} });
  await checkConfigFiles(config);
  const lines = [`${file}: OK`];
  for (const [k, v] of Object.entries(config.listen)) if (v) lines.push(`  listen.${k}: ${v}`);
  lines.push(`  dataDir: ${config.dataDir}`);
  const workers = config.workers ?? 1;
  lines.push(`  workers: ${workers} (${workers > 1 ? `a supervisor and ${workers} worker processes: docs/workers.md` : 'one process'})`);
  const acme = config.tls.acme;
  // tls-alpn-01 is answered by the HTTPS listener itself; httpListen is for http-01 only.
  const answeredOn = acme?.challenge === 'tls-alpn-01' ? config.listen.https : acme?.httpListen;
  if (acme) lines.push(`  tls.acme: ${acme.hosts.join(', ')} from ${acme.directoryUrl} (${acme.challenge} on ${answeredOn})`);
  for (const u of config.upstreams) {
    const via = [u.default ? 'mirror root' : '', ...u.hosts].filter(Boolean).join(', ');
    lines.push(`  upstream ${u.name}: ${u.registry} -> ${u.url.href} (auth ${u.auth.mode}${u.auth.username ? ` as ${u.auth.username}` : ''})${via ? ` via ${via}` : ''}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}
