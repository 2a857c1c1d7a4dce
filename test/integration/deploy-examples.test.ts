// The deployment examples under deploy/ (docs/storage.md, "Several replicas", "Kubernetes") without a container
// engine: every YAML parses; every Pullgate config in them passes `pullgate config check` with its environment and
// secrets stubbed; docker-compose validates the compose file and nginx accepts its load balancer config; the
// compose services, ports, volumes and secrets fit the Pullgate config they mount; the Kubernetes manifests refer
// to each other (labels and selectors, ConfigMap, Secret and their keys, ports) and probe endpoints a real mirror
// answers; every image they name is pinned to a version.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { assertInstalled, runTool } from '../support/installed-tools.js';
import { startMirror } from '../support/mirror-app.js';
import { mainScript } from '../support/mirror-process.js';

// Parsed YAML, checked field by field below: `any` keeps the paths readable.
type Doc = Record<string, any>;

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const deploy = join(repo, 'deploy');
const clusterDir = join(deploy, 'cluster');
const k8sDir = join(deploy, 'kubernetes');

async function yamlFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await yamlFiles(path)));
    else if (/\.ya?ml$/.test(entry.name)) out.push(path);
  }
  return out.sort();
}

const readYaml = async (path: string): Promise<Doc> => parse(await readFile(path, 'utf8'), { merge: true }) as Doc;
const portOf = (listen: string): number => Number(/(\d+)$/.exec(listen)?.[1]);

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, ['--import', 'tsx', mainScript, ...args], (err, stdout, stderr) => {
      done({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Whether this build knows the `cluster:` block (src/config/cluster.ts; docs/storage.md, "Several replicas"). */
/**
 * A copy of a deployed config as its replica would load it: secret files at stub paths under `dir`, the data
 * directory in `dir`, and `cluster.advertise` as the replica's environment gives it.
 */
async function stubbed(config: Doc, secretsDir: string, advertise: string, dir: string): Promise<string> {
  const copy = structuredClone(config);
  const stub = async (path: unknown): Promise<string> => {
    assert.equal(typeof path, 'string');
    assert.ok((path as string).startsWith(`${secretsDir}/`), `${String(path)} is a mounted secret under ${secretsDir}`);
    const file = join(dir, posix.basename(path as string));
    await writeFile(file, `${'s3cr3t'.repeat(11)}\n`);
    return file;
  };
  copy.dataDir = join(dir, 'data');
  copy.cache.storage.secretAccessKeyFile = await stub(copy.cache.storage.secretAccessKeyFile);
  copy.cluster.secretFile = await stub(copy.cluster.secretFile);
  copy.cluster.advertise = advertise;
  // Until the cluster core is merged this build refuses the block: everything else must still pass.
  const file = join(dir, 'pullgate.yaml');
  await writeFile(file, stringify(copy));
  return file;
}

describe('the deployment examples under deploy/', () => {
  let work: string;
  let compose: Doc;
  let clusterConfig: Doc;
  let manifests: Doc[];
  const kind = (k: string): Doc[] => manifests.filter((m) => m['kind'] === k);
  const one = (k: string): Doc => {
    const found = kind(k);
    assert.equal(found.length, 1, `one ${k}`);
    return found[0] as Doc;
  };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'pullgate-deploy-'));
    compose = await readYaml(join(clusterDir, 'compose.yaml'));
    clusterConfig = await readYaml(join(clusterDir, 'pullgate.yaml'));
    manifests = [];
    for (const file of await yamlFiles(k8sDir)) for (const d of parseAllDocuments(await readFile(file, 'utf8'))) manifests.push(d.toJS() as Doc);
  });
  after(() => rm(work, { recursive: true, force: true }));

  test('every YAML file under deploy/ parses without errors or warnings', async () => {
    const files = await yamlFiles(deploy);
    assert.ok(files.length >= 7, files.join(', '));
    for (const file of files) {
      for (const doc of parseAllDocuments(await readFile(file, 'utf8'), { merge: true })) {
        assert.deepEqual([...doc.errors, ...doc.warnings].map(String), [], relative(repo, file));
      }
    }
  });

  test('the compose replicas\' config and the Kubernetes ConfigMap\'s pass `pullgate config check` with env and secrets stubbed', async () => {
    const replica = compose['services']['pullgate-1'] as Doc;
    const compDir = await mkdtemp(join(work, 'compose-'));
    const composeFile = await stubbed(clusterConfig, '/run/secrets', replica['environment']['PULLGATE_CLUSTER_ADVERTISE'] as string, compDir);
    const k8sConfig = parse(one('ConfigMap')['data']['pullgate.yaml'] as string) as Doc;
    const advertise = (one('Deployment')['spec']['template']['spec']['containers'][0]['env'] as Doc[]).find((e) => e['name'] === 'PULLGATE_CLUSTER_ADVERTISE')?.['value'] as string;
    const k8sWork = await mkdtemp(join(work, 'k8s-'));
    const k8sFile = await stubbed(k8sConfig, '/run/secrets/pullgate', advertise.replace('$(POD_IP)', '10.1.2.3'), k8sWork);
    for (const file of [composeFile, k8sFile]) {
      const r = await runCli(['config', 'check', file]);
      assert.equal(r.code, 0, `${file}\n${r.stderr}`);
      assert.match(r.stdout, /: OK\n/);
      assert.match(r.stdout, /listen\.http: :5000/);
    }
  });

  test('every image the compose files and the Kubernetes Deployment name is pinned to a version, Pullgate\'s to package.json\'s', async () => {
    const { version } = JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')) as { version: string };
    const rootCompose = await readYaml(join(repo, 'docker-compose.yml'));
    const images = [rootCompose, compose].flatMap((c) => Object.values(c['services'] as Record<string, Doc>).map((s) => s['image'] as string));
    images.push(one('Deployment')['spec']['template']['spec']['containers'][0]['image'] as string);
    assert.ok(images.length >= 7, images.join(', '));
    for (const image of images) {
      const tag = /:([^:/]+)$/.exec(image)?.[1];
      assert.ok(tag, `${image} names a tag`);
      assert.match(tag, /\d+\.\d+|\d{4}-\d\d-\d\d/, `${image}: a version, not a moving tag such as latest or stable`);
      if (/(^|\/)pullgate$/.test(image.slice(0, -tag.length - 1))) assert.equal(tag, version, image);
    }
  });

  test('every compose service running Pullgate waits longer than the default shutdownGrace (30 s) before SIGKILL', async () => {
    const rootCompose = await readYaml(join(repo, 'docker-compose.yml'));
    const seconds = (d: unknown): number => {
      const m = /^(\d+)(s|m)$/.exec(String(d));
      return m ? Number(m[1]) * (m[2] === 'm' ? 60 : 1) : 0;
    };
    const services = [rootCompose, compose].flatMap((c) => Object.entries(c['services'] as Record<string, Doc>));
    const pullgates = services.filter(([, svc]) => /(^|\/)pullgate:/.test(String(svc['image'])));
    assert.ok(pullgates.length >= 4, pullgates.map(([name]) => name).join(', '));
    for (const [name, svc] of pullgates) assert.ok(seconds(svc['stop_grace_period']) > 30, `${name}: stop_grace_period ${String(svc['stop_grace_period'])}`);
  });

  test('docker-compose validates compose.yaml', async () => {
    await assertInstalled('docker-compose');
    await runTool('docker-compose', ['--project-directory', clusterDir, '-f', join(clusterDir, 'compose.yaml'), 'config', '-q']);
  });

  test('compose: three replicas built from the Dockerfile, each advertising its service name, with its own volume, the config and every secret it names', async () => {
    const services = compose['services'] as Record<string, Doc>;
    const replicas = Object.keys(services).filter((n) => /^pullgate-\d$/.test(n));
    assert.deepEqual(replicas, ['pullgate-1', 'pullgate-2', 'pullgate-3']);
    const clusterPort = portOf(clusterConfig['cluster']['listen'] as string);
    const dataVolumes = new Set<string>();
    for (const name of replicas) {
      const s = services[name] as Doc;
      await readFile(join(clusterDir, s['build'] as string, 'Dockerfile'), 'utf8');
      assert.equal(s['environment']['PULLGATE_CLUSTER_ADVERTISE'], `http://${name}:${clusterPort}`);
      const mounts = (s['volumes'] as string[]).map((v) => v.split(':'));
      const configPath = s['environment']['PULLGATE_CONFIG'] as string;
      assert.ok(mounts.some(([from, to]) => from === './pullgate.yaml' && to === configPath), `${name} mounts pullgate.yaml at ${configPath}`);
      const data = mounts.find(([, to]) => to === clusterConfig['dataDir']);
      assert.ok(data?.[0] && data[0] in compose['volumes'], `${name} keeps dataDir on a declared volume`);
      dataVolumes.add(data[0]);
      for (const path of [clusterConfig['cache']['storage']['secretAccessKeyFile'], clusterConfig['cluster']['secretFile']] as string[]) {
        const secret = posix.basename(path);
        assert.equal(posix.dirname(path), '/run/secrets');
        assert.ok((s['secrets'] as string[]).includes(secret), `${name} gets ${secret}`);
        assert.ok(compose['secrets'][secret]?.['file'], `${secret} comes from a file`);
      }
      assert.equal(s['depends_on']['bucket']['condition'], 'service_completed_successfully');
      assert.equal(s['ports'], undefined, 'replicas are reached through the load balancer only');
    }
    assert.equal(dataVolumes.size, 3, 'each replica has its own data volume');
  });

  test('compose: MinIO and the bucket step match the config\'s endpoint, access key, secret and bucket', () => {
    const services = compose['services'] as Record<string, Doc>;
    const storage = clusterConfig['cache']['storage'] as Doc;
    const endpoint = new URL(storage['endpoint'] as string);
    const minio = services[endpoint.hostname] as Doc;
    assert.ok(minio, `a service named ${endpoint.hostname}`);
    assert.equal(minio['environment']['MINIO_ROOT_USER'], storage['accessKeyId']);
    assert.equal(`/run/secrets/${minio['environment']['MINIO_ROOT_PASSWORD_FILE'] as string}`, storage['secretAccessKeyFile']);
    const bucket = services['bucket'] as Doc;
    const script = (bucket['command'] as string[]).join(' ');
    assert.ok(script.includes(`${endpoint.origin}`), 'the bucket step talks to the same endpoint');
    assert.ok(script.includes(`mb --ignore-existing store/${storage['bucket'] as string}`), 'it creates the configured bucket');
    assert.ok(script.includes(storage['accessKeyId'] as string));
    assert.ok((bucket['depends_on'] as string[]).includes(endpoint.hostname));
  });

  test('compose: nginx balances over every replica\'s registry port, streams, never retries a started response, and nginx -t accepts it', async () => {
    const lb = compose['services']['lb'] as Doc;
    assert.ok((lb['volumes'] as string[]).includes('./nginx.conf:/etc/nginx/nginx.conf:ro'));
    const listenPort = portOf(clusterConfig['listen']['http'] as string);
    const conf = await readFile(join(clusterDir, 'nginx.conf'), 'utf8');
    const servers = [...conf.matchAll(/^\s*server\s+([\w.-]+):(\d+)\b/gm)].map((m) => `${m[1]}:${m[2]}`);
    assert.deepEqual(servers, ['pullgate-1', 'pullgate-2', 'pullgate-3'].map((n) => `${n}:${listenPort}`));
    const published = (lb['ports'] as string[]).map((p) => Number(p.split(':').at(-1)));
    assert.ok(published.includes(Number(/listen\s+(\d+);/.exec(conf)?.[1])), 'the published port is the one nginx listens on');
    for (const directive of ['proxy_buffering off;', 'proxy_request_buffering off;', 'proxy_next_upstream error timeout;', 'proxy_http_version 1.1;', 'proxy_set_header Connection "";', 'proxy_read_timeout 1h;', 'proxy_set_header Host $http_host;']) {
      assert.ok(conf.includes(directive), directive);
    }
    assert.doesNotMatch(conf, /proxy_next_upstream[^;]*(http_5|non_idempotent)/);
    // nginx -t resolves upstream names and opens the logs: the test points those at loopback and its own
    // directory, and keeps everything else.
    await assertInstalled('nginx');
    const local = join(work, 'nginx.conf');
    await writeFile(local, conf.replace(/server\s+pullgate-\d:/g, 'server 127.0.0.1:').replaceAll('/var/log/nginx/', `${work}/`));
    await runTool('nginx', ['-t', '-q', '-c', local]);
  });

  test('Kubernetes: the Deployment, Service and PodDisruptionBudget select the same pods, and 3 replicas survive one disruption', () => {
    const deployment = one('Deployment');
    const labels = deployment['spec']['template']['metadata']['labels'] as Record<string, string>;
    const selects = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
    assert.equal(deployment['spec']['replicas'], 3);
    assert.ok(selects(deployment['spec']['selector']['matchLabels']));
    assert.ok(selects(one('Service')['spec']['selector']));
    const pdb = one('PodDisruptionBudget');
    assert.ok(selects(pdb['spec']['selector']['matchLabels']));
    assert.ok(pdb['spec']['minAvailable'] > 0 && pdb['spec']['minAvailable'] < 3);
  });

  test('Kubernetes: the pod mounts the ConfigMap and Secret that exist, at the paths the config names, and advertises its pod IP on the cluster port', () => {
    const pod = one('Deployment')['spec']['template']['spec'] as Doc;
    const container = pod['containers'][0] as Doc;
    const env = new Map((container['env'] as Doc[]).map((e) => [e['name'] as string, e]));
    const volumes = new Map((pod['volumes'] as Doc[]).map((v) => [v['name'] as string, v]));
    const mountOf = (volume: (v: Doc) => boolean): string => {
      const name = [...volumes.values()].find(volume)?.['name'];
      const mount = (container['volumeMounts'] as Doc[]).find((m) => m['name'] === name);
      assert.ok(mount, `a mount of volume ${String(name)}`);
      return mount['mountPath'] as string;
    };
    const configMap = one('ConfigMap');
    const configDir = mountOf((v) => v['configMap']?.['name'] === configMap['metadata']['name']);
    assert.equal(env.get('PULLGATE_CONFIG')?.['value'], `${configDir}/pullgate.yaml`);
    assert.ok(typeof configMap['data']['pullgate.yaml'] === 'string');
    const config = parse(configMap['data']['pullgate.yaml'] as string) as Doc;

    const secret = one('Secret');
    const secretDir = mountOf((v) => v['secret']?.['secretName'] === secret['metadata']['name']);
    for (const path of [config['cache']['storage']['secretAccessKeyFile'], config['cluster']['secretFile']] as string[]) {
      assert.equal(posix.dirname(path), secretDir, `${path} is in the mounted Secret`);
      assert.ok(posix.basename(path) in secret['stringData'], `the Secret has the key ${posix.basename(path)}`);
    }
    assert.equal(mountOf((v) => v['emptyDir'] !== undefined && (container['volumeMounts'] as Doc[]).some((m) => m['name'] === v['name'] && m['mountPath'] === config['dataDir'])), config['dataDir']);

    assert.equal(env.get('POD_IP')?.['valueFrom']?.['fieldRef']?.['fieldPath'], 'status.podIP');
    const ports = new Map((container['ports'] as Doc[]).map((p) => [p['name'] as string, p['containerPort'] as number]));
    assert.equal(ports.get('cluster'), portOf(config['cluster']['listen'] as string));
    assert.equal(env.get('PULLGATE_CLUSTER_ADVERTISE')?.['value'], `http://$(POD_IP):${ports.get('cluster')}`);
    assert.ok([...env.keys()].indexOf('POD_IP') < [...env.keys()].indexOf('PULLGATE_CLUSTER_ADVERTISE'), '$(POD_IP) is defined before its use');
    assert.equal(ports.get('registry'), portOf(config['listen']['http'] as string));
    const service = one('Service');
    for (const p of service['spec']['ports'] as Doc[]) assert.ok(ports.has(p['targetPort'] as string), `Service targetPort ${String(p['targetPort'])} is a container port`);
    assert.ok(container['resources']?.['requests']?.['memory'] && container['resources']?.['limits']?.['memory']);
    assert.ok(pod['terminationGracePeriodSeconds'] > 30, 'above the default shutdownGrace of 30 s');
  });

  test('Kubernetes: the readiness and liveness probes ask endpoints a real mirror answers on its registry port', async () => {
    const container = one('Deployment')['spec']['template']['spec']['containers'][0] as Doc;
    const probes = [container['readinessProbe'], container['livenessProbe']] as Doc[];
    assert.deepEqual(probes.map((p) => p['httpGet']['path']), ['/readyz', '/healthz']);
    assert.ok(probes.every((p) => p['httpGet']['port'] === 'registry'));
    const mirror = await startMirror({});
    try {
      for (const p of probes) {
        const res = await fetch(`${mirror.url}${p['httpGet']['path'] as string}`);
        assert.equal(res.status, 200, p['httpGet']['path']);
      }
    } finally {
      await mirror.close();
    }
  });
});
