// The files a config names (certificates, keys, CA bundles) are checked before anything starts, so that
// `config check` and `serve` report a missing or broken file by its config path, not as a stack trace.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Config } from './config.js';
import { ConfigError } from './load.js';

export async function checkConfigFiles(config: Config): Promise<void> {
  const problems: string[] = [];
  const check = async (path: string, file: string, parse: (text: string) => unknown) => {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      problems.push(`${path}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      return;
    }
    try {
      parse(text);
    } catch {
      problems.push(`${path}: ${file} is not valid PEM`);
    }
  };
  await Promise.all([
    ...config.tls.certificates.flatMap((c, i) => [
      check(`tls.certificates[${i}].cert`, c.cert, (t) => new X509Certificate(t)),
      check(`tls.certificates[${i}].key`, c.key, (t) => createPrivateKey(t)),
    ]),
    ...config.upstreams.flatMap((u, i) => (u.ca ? [check(`upstreams[${i}].ca`, u.ca, (t) => new X509Certificate(t))] : [])),
    ...(config.tls.acme?.caBundle ? [check('tls.acme.caBundle', config.tls.acme.caBundle, (t) => new X509Certificate(t))] : []),
  ]);
  if (problems.length) throw new ConfigError('invalid configuration', problems.sort());
}
