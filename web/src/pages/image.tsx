// One cached image: its tags, digest (copyable), platforms, pulls and last pull, the command to pull it through this
// mirror for each kind of client, and every stored part (index, manifests, config, layers) with its size; the
// parts add up to the image's size.
import { SignatureVerdict } from '../components/signature-verdict.js';
import { useRef } from 'preact/hooks';
import { CopyButton } from '../components/copy-button.js';
import { ResourceView } from '../components/resource-view.js';
import { TimeAgo } from '../components/time-ago.js';
import { formatBytes, shortDigest } from '../format.js';
import { navigate } from '../router.js';
import { useResource } from '../use-resource.js';
import type { ImageDetail, SetupView, UpstreamList, UpstreamView } from '../types.js';
import { Crumbs, imageName, usePinToggle, usePurge } from './cache.js';

/** Where clients name this upstream's images through the mirror (as the setup page's image-name snippets do). */
function throughMirror(mirror: string, upstream: UpstreamView | undefined, registry: string): string | undefined {
  let root: URL;
  try {
    root = new URL(mirror);
  } catch {
    return undefined;
  }
  const host = upstream?.hosts[0];
  if (host) return root.port ? `${host}:${root.port}` : host;
  if (upstream?.default) return root.host;
  // The first path component names the registry when it has a dot (and no port).
  if (!registry.includes(':') && (registry.includes('.') || registry === 'localhost')) return `${root.host}/${registry}`;
  return undefined;
}

function Command({ title, lines, testid }: { title: string; lines: string[]; testid: string }) {
  const pre = useRef<HTMLPreElement>(null);
  const text = lines.join('\n');
  return (
    <div class="pull-command" data-testid={testid}>
      <div class="card-head">
        <h3>{title}</h3>
        <CopyButton text={text} target={() => pre.current} testid={`${testid}-copy`} />
      </div>
      <pre ref={pre} tabIndex={0} class="code">
        <code>{text}</code>
      </pre>
    </div>
  );
}

function PullCommands({ image }: { image: ImageDetail }) {
  const setup = useResource<SetupView>('/api/setup');
  const upstreams = useResource<UpstreamList>('/api/upstreams');
  if (!setup.data || !upstreams.data) return <p class="empty">Loading…</p>;
  const upstream = upstreams.data.upstreams.find((u) => u.name === image.upstream);
  const at = throughMirror(setup.data.mirror, upstream, image.registry);
  const refs = [...image.tags.map((t) => `:${t}`), `@${image.digest}`];
  const original = image.registry === 'docker.io' ? image.repository.replace(/^library\//, '') : `${image.registry}/${image.repository}`;
  return (
    <>
      {at ? (
        <>
          <Command title="Docker, podman, nerdctl" lines={refs.map((r) => `docker pull ${at}/${image.repository}${r}`)} testid="pull-docker" />
          <p class="hint">
            <code>podman pull</code> and <code>nerdctl pull</code> take the same names.
          </p>
        </>
      ) : (
        <p class="hint">
          {image.registry} cannot be named through the mirror's address (a registry name with a port): map a host name to {image.upstream}, or use containerd's hosts.toml.
        </p>
      )}
      <Command
        title="containerd, Kubernetes (with the hosts.toml from Setup)"
        lines={[...refs.map((r) => `crictl pull ${original}${r}`), `ctr image pull --hosts-dir /etc/containerd/certs.d ${image.registry}/${image.repository}${refs[0]}`]}
        testid="pull-containerd"
      />
    </>
  );
}

const kindWords: Record<ImageDetail['parts'][number]['kind'], string> = { index: 'index', manifest: 'manifest', config: 'config', layer: 'layer' };

/** What the index knows of one image: digest, tags, platforms, size, pulls, signature, pin. */
function ImageFacts({ image: d }: { image: ImageDetail }) {
  return (
    <section class="card" aria-labelledby="image-facts-title">
      <h2 id="image-facts-title" class="visually-hidden">
        About this image
      </h2>
      <dl class="facts">
        <dt>Digest</dt>
        <dd class="digest-line">
          <code class="mono break" data-testid="image-full-digest">
            {d.digest}
          </code>
          <CopyButton text={d.digest} testid="image-digest-copy" />
        </dd>
        <dt>Tags</dt>
        <dd>{d.tags.length ? d.tags.map((t) => <span key={t} class="badge tag">{t}</span>) : <span class="muted">untagged</span>}</dd>
        <dt>Platforms</dt>
        <dd>{d.platforms.length ? d.platforms.join(', ') : <span class="muted">a single-platform image</span>}</dd>
        <dt>Size</dt>
        <dd data-testid="image-size">{formatBytes(d.size)}</dd>
        <dt>Pulls</dt>
        <dd data-testid="image-pulls">{d.pulls}</dd>
        <dt>Last pull</dt>
        <dd>
          <TimeAgo at={d.lastPulledAt} />
        </dd>
        <dt>Type</dt>
        <dd class="mono small break">{d.mediaType}</dd>
        {d.signature ? (
          <>
            <dt>Signature</dt>
            <dd data-testid="image-signature">
              <SignatureVerdict signature={d.signature} />
            </dd>
          </>
        ) : null}
        {d.pinned ? (
          <>
            <dt>Eviction</dt>
            <dd>
              <span class="badge pinned">pinned</span> never evicted
            </dd>
          </>
        ) : null}
      </dl>
    </section>
  );
}

/** The stored parts of an image (index, manifests, config, layers), with their total. */
function ImageParts({ image: d }: { image: ImageDetail }) {
  return (
    <section class="card flush" aria-labelledby="image-parts-title">
      <h2 id="image-parts-title" class="card-intro">
        Stored parts
      </h2>
      <div class="table-wrap">
        <table class="responsive" data-testid="image-parts">
          <thead>
            <tr>
              <th scope="col">Part</th>
              <th scope="col">Platform</th>
              <th scope="col">Digest</th>
              <th scope="col" class="num">Size</th>
            </tr>
          </thead>
          <tbody>
            {d.parts.map((p) => (
              <tr key={`${p.kind}-${p.digest}`} data-testid="image-part" data-kind={p.kind} data-bytes={p.size ?? ''}>
                <th scope="row" data-label="Part">
                  {kindWords[p.kind]}
                </th>
                <td data-label="Platform" class="small">
                  {p.platform ?? <span class="muted">–</span>}
                </td>
                <td data-label="Digest" class="mono small" title={`${p.digest} ${p.mediaType}`}>
                  {shortDigest(p.digest)}
                </td>
                <td data-label="Size" class="num">
                  {p.size === null ? <span class="muted">not stored</span> : formatBytes(p.size)}
                </td>
              </tr>
            ))}
          </tbody>
          <tfoot>
            <tr>
              <th scope="row" data-label="Part">
                Total
              </th>
              <td data-label="Platform" />
              <td data-label="Digest" />
              <td data-label="Size" class="num" data-testid="image-parts-total">
                {formatBytes(d.size)}
              </td>
            </tr>
          </tfoot>
        </table>
      </div>
    </section>
  );
}

export function ImagePage({ upstream, repository, digest }: { upstream: string; repository: string; digest: string }) {
  const image = useResource<ImageDetail>(
    `/api/cache/image?upstream=${encodeURIComponent(upstream)}&repository=${encodeURIComponent(repository)}&digest=${encodeURIComponent(digest)}`,
  );
  const purge = usePurge(async () => {
    navigate('cache', upstream, repository);
  });
  const togglePin = usePinToggle(upstream, repository, image.reload);
  const name = image.data ? imageName(upstream, repository, image.data) : `${upstream}/${repository}@${shortDigest(digest)}`;
  return (
    <>
      <Crumbs upstream={upstream} repository={repository} image={shortDigest(digest)} />
      <ResourceView resource={image} testid="image">
        {(d) => (
          <div class="stack" data-testid="image-page" data-size={d.size}>
            <div class="page-head">
              <h1 class="mono break">{name}</h1>
              <div class="actions">
                <button type="button" class="button" onClick={() => void togglePin(d)} data-testid="image-pin">
                  {d.pinned ? 'Unpin' : 'Pin'}
                </button>
                <button type="button" class="button danger" onClick={() => void purge(name, { digest: d.digest })} data-testid="image-purge">
                  Purge
                </button>
              </div>
            </div>
            <ImageFacts image={d} />
            <section class="card" aria-labelledby="image-pull-title">
              <h2 id="image-pull-title">Pull it through this mirror</h2>
              <PullCommands image={d} />
            </section>
            <ImageParts image={d} />
          </div>
        )}
      </ResourceView>
    </>
  );
}
