// The cache explorer: upstream -> repositories -> images -> one image (image.tsx). Lists can be searched and
// sorted; sizes are shown per upstream and repository, with the disk's used and free space. Purging asks first and
// says what it freed; pins keep images from eviction (`upstream/repository[:tag]`, `*` wildcards). An image is
// named the same way everywhere (imageName): in titles, dialogs and messages.
import { useState } from 'preact/hooks';
import { useApp } from '../app-context.js';
import { ResourceView } from '../components/resource-view.js';
import { SortHeader, useListControls, type Column } from '../components/list-controls.js';
import { TimeAgo } from '../components/time-ago.js';
import { count, formatBytes, formatPercent, shortDigest } from '../format.js';
import { href } from '../router.js';
import { useAction } from '../use-action.js';
import { useResource } from '../use-resource.js';
import { SignatureVerdict } from '../components/signature-verdict.js';
import type { CacheSummary, EvictResult, ImageList, ImageView, PinList, PurgeRequest, PurgeResult, RepositoryList, RepositoryView } from '../types.js';
import { PinsCard } from './cache-pins.js';
import { ImagePage } from './image.js';

function purgedText(what: string, r: PurgeResult): string {
  return `Purged ${what}: ${count(r.manifests, 'manifest')}, ${count(r.blobs, 'blob')} and ${count(r.tags, 'tag')} (${formatBytes(r.bytes)}).`;
}

/** `lab/library/alpine:3.20`, or `lab/library/alpine@sha256:0ac5…` for an untagged image. */
export function imageName(upstream: string, repository: string, image: Pick<ImageView, 'tags' | 'digest'>): string {
  return image.tags[0] ? `${upstream}/${repository}:${image.tags[0]}` : `${upstream}/${repository}@${shortDigest(image.digest)}`;
}

/** Confirms, purges, reloads, then says what it freed. */
export function usePurge(reload: () => Promise<unknown>): (what: string, request: PurgeRequest) => Promise<unknown> {
  const { api } = useApp();
  const run = useAction();
  return (what, request) =>
    run({
      confirm: {
        title: `Purge ${what}?`,
        body: <p>The next pull fetches it from the upstream again. Blobs still used by other images are kept.</p>,
        confirmLabel: 'Purge',
        danger: true,
      },
      act: () => api.send<PurgeResult>('POST', '/api/cache/purge', request),
      done: (r) => purgedText(what, r),
      reload,
    });
}

export function Crumbs({ upstream, repository, image }: { upstream?: string | undefined; repository?: string | undefined; image?: string | undefined }) {
  return (
    <nav class="crumbs" aria-label="Breadcrumb">
      <a href={href('cache')}>Cache</a>
      {upstream ? (
        <>
          {' / '}
          {repository ? <a href={href('cache', upstream)}>{upstream}</a> : <span aria-current="page">{upstream}</span>}
        </>
      ) : null}
      {upstream && repository ? (
        <>
          {' / '}
          {image ? <a href={href('cache', upstream, repository)}>{repository}</a> : <span aria-current="page">{repository}</span>}
        </>
      ) : null}
      {image ? (
        <>
          {' / '}
          <span aria-current="page">{image}</span>
        </>
      ) : null}
    </nav>
  );
}

/** The data directory's disk: used and free, in words and as a bar. */
function Disk({ disk }: { disk: CacheSummary['disk'] }) {
  if (!disk) return null;
  return (
    <span data-testid="cache-disk">
      Disk: {formatBytes(disk.used)} used, {formatBytes(disk.free)} free of {formatBytes(disk.total)}.
    </span>
  );
}

type UpstreamRow = CacheSummary['upstreams'][number];
const upstreamColumns: Column<UpstreamRow>[] = [
  { key: 'name', label: 'Upstream', value: (u) => u.name },
  { key: 'repositories', label: 'Repositories', value: (u) => u.repositories, num: true },
  { key: 'size', label: 'Size', value: (u) => u.size, num: true },
  { key: 'served', label: 'Served', value: (u) => u.traffic.bytesServed, num: true },
  { key: 'hit', label: 'Hit ratio', value: (u) => u.traffic.hitRatio ?? -1, num: true },
];

function Upstreams() {
  const { api } = useApp();
  const run = useAction();
  const summary = useResource<CacheSummary>('/api/cache/summary');
  const [evicting, setEvicting] = useState(false);
  const controls = useListControls(upstreamColumns, 'size', (u) => u.name);
  const evict = async (): Promise<void> => {
    setEvicting(true);
    await run({
      act: () => api.send<EvictResult>('POST', '/api/cache/evict'),
      done: (r) => (r.ran ? `Eviction removed ${count(r.removedImages, 'image')} and ${count(r.removedBlobs, 'blob')} (${formatBytes(r.bytes)}).` : 'The cache is within its size cap: nothing to evict.'),
      reload: summary.reload,
    });
    setEvicting(false);
  };
  return (
    <>
      <div class="page-head">
        <h1>Cache</h1>
        <button type="button" class="button" onClick={() => void evict()} disabled={evicting}>
          {evicting ? 'Evicting…' : 'Run eviction now'}
        </button>
      </div>
      <ResourceView resource={summary}>
        {(s) => (
          <section class="card flush" aria-label="Upstreams in the cache">
            <p class="card-intro muted" data-testid="cache-totals">
              {formatBytes(s.size)} of {formatBytes(s.maxSize)} used by {count(s.manifests, 'manifest')} and {count(s.blobs, 'blob')}. <Disk disk={s.disk} />
            </p>
            {s.upstreams.length === 0 ? (
              <p class="empty">Nothing cached yet.</p>
            ) : (
              <>
                {controls.search('Find an upstream', 'cache-upstream-search')}
                <div class="table-wrap">
                  <table class="responsive" data-testid="cache-upstreams">
                    <thead>
                      <tr>
                        {upstreamColumns.map((c) => (
                          <SortHeader key={c.key} column={c} controls={controls} />
                        ))}
                      </tr>
                    </thead>
                    <tbody>
                      {controls.apply(s.upstreams).map((u) => (
                        <tr key={u.name} data-row-key={`cache-upstream-${u.name}`}>
                          <th scope="row" data-label="Upstream">
                            <a href={href('cache', u.name)} data-testid={`cache-upstream-${u.name}`}>
                              {u.name}
                            </a>
                            {u.configured ? null : <span class="badge">not configured</span>}
                          </th>
                          <td class="num" data-label="Repositories">{u.repositories}</td>
                          <td class="num" data-label="Size" data-bytes={u.size}>
                            {formatBytes(u.size)}
                          </td>
                          <td class="num" data-label="Served">{formatBytes(u.traffic.bytesServed)}</td>
                          <td class="num" data-label="Hit ratio">{formatPercent(u.traffic.hitRatio)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              </>
            )}
          </section>
        )}
      </ResourceView>
      <PinsCard />
    </>
  );
}

const repositoryColumns: Column<RepositoryView>[] = [
  { key: 'repository', label: 'Repository', value: (r) => r.repository },
  { key: 'tags', label: 'Tags', value: (r) => r.tags, num: true },
  { key: 'size', label: 'Size', value: (r) => r.size, num: true },
  { key: 'last', label: 'Last pulled', value: (r) => r.lastPulledAt ?? 0 },
  { key: 'pulls', label: 'Pulls', value: (r) => r.pulls, num: true },
];

function Repositories({ upstream }: { upstream: string }) {
  const repos = useResource<RepositoryList>(`/api/cache/repositories?upstream=${encodeURIComponent(upstream)}`);
  const purge = usePurge(repos.reload);
  const controls = useListControls(repositoryColumns, 'last', (r) => r.repository);
  const list = repos.data?.repositories;
  return (
    <>
      <Crumbs upstream={upstream} />
      <div class="page-head">
        <h1>{upstream}</h1>
        <button type="button" class="button danger" disabled={!list?.length} onClick={() => void purge(`everything cached from ${upstream}`, { upstream })}>
          Purge upstream
        </button>
      </div>
      <ResourceView resource={repos} testid="repositories" isEmpty={(d) => d.repositories.length === 0} empty={<span data-testid="no-repositories">Nothing cached from {upstream}.</span>}>
        {(d) => (
          <section class="card flush" aria-label={`Repositories of ${upstream}`}>
            <p class="card-intro muted">
              {count(d.repositories.length, 'repository', 'repositories')}, {formatBytes(d.repositories.reduce((s, r) => s + r.size, 0))}.
            </p>
            {controls.search('Find a repository', 'cache-repository-search')}
            <div class="table-wrap">
              <table class="responsive" data-testid="cache-repositories">
                <thead>
                  <tr>
                    {repositoryColumns.map((c) => (
                      <SortHeader key={c.key} column={c} controls={controls} />
                    ))}
                    <th scope="col">
                      <span class="visually-hidden">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {controls.apply(d.repositories).map((r) => (
                    <tr key={r.repository} data-testid="repository-row" data-repository={r.repository}>
                      <th scope="row" data-label="Repository" class="mono">
                        <a href={href('cache', upstream, r.repository)} data-testid={`cache-repository-${r.repository}`}>
                          {r.repository}
                        </a>
                      </th>
                      <td class="num" data-label="Tags">{r.tags}</td>
                      <td class="num" data-label="Size" data-bytes={r.size}>
                        {formatBytes(r.size)}
                      </td>
                      <td data-label="Last pulled">
                        <TimeAgo at={r.lastPulledAt} />
                      </td>
                      <td class="num" data-label="Pulls">{r.pulls}</td>
                      <td class="actions-cell" data-label="Actions">
                        <button type="button" class="button small danger" onClick={() => void purge(`${upstream}/${r.repository}`, { upstream, repository: r.repository })}>
                          Purge
                        </button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </section>
        )}
      </ResourceView>
    </>
  );
}

/** The admin pins that name this image exactly: one per tag, or the repository when it has no tag. */
export const pinsFor = (upstream: string, repository: string, image: Pick<ImageView, 'tags'>): string[] =>
  image.tags.length ? image.tags.map((t) => `${upstream}/${repository}:${t}`) : [`${upstream}/${repository}`];

/** Pins or unpins an image (its own admin pins only; a wildcard or config pin that also covers it stays). */
export function usePinToggle(upstream: string, repository: string, reload: () => Promise<unknown>) {
  const { api } = useApp();
  const run = useAction();
  return (image: Pick<ImageView, 'tags' | 'digest' | 'pinned'>) => {
    const name = imageName(upstream, repository, image);
    const wanted = pinsFor(upstream, repository, image);
    return run({
      act: async () => {
        if (!image.pinned) {
          for (const pin of wanted) await api.send<PinList>('POST', '/api/cache/pins', { pin });
          return;
        }
        const { pins } = await api.get<PinList>('/api/cache/pins');
        const own = pins.filter((p) => p.source === 'admin' && (wanted.includes(p.pin) || p.pin === `${upstream}/${repository}`));
        for (const p of own) await api.send<PinList>('DELETE', '/api/cache/pins', { pin: p.pin });
      },
      done: image.pinned ? `Unpinned ${name}.` : `Pinned ${name}.`,
      reload,
    });
  };
}

interface ImageRowProps {
  image: ImageList['images'][number];
  upstream: string;
  repository: string;
  /** Some image of the repository has a signature verdict: the column is shown. */
  signed: boolean;
  purge: ReturnType<typeof usePurge>;
  togglePin: ReturnType<typeof usePinToggle>;
}

function ImageRow({ image, upstream, repository, signed, purge, togglePin }: ImageRowProps) {
  return (
    <tr data-testid={`image-${image.digest}`} data-row-key={`image-${image.digest}`}>
      <th scope="row" data-label="Tags">
        <span class="tags">
          {image.tags.length ? image.tags.map((t) => <span key={t} class="badge tag">{t}</span>) : <span class="muted">untagged</span>}
          {image.pinned ? <span class="badge pinned">pinned</span> : null}
        </span>
      </th>
      <td data-label="Digest" class="mono" title={image.digest}>
        <a href={href('cache', upstream, repository, image.digest)} class="digest" data-testid="image-digest" data-digest={image.digest}>
          {shortDigest(image.digest)}
        </a>
      </td>
      <td data-label="Platforms" class="small">
        {image.platforms.length ? image.platforms.join(', ') : <span class="muted">–</span>}
      </td>
      {signed ? (
        <td data-label="Signature">
          <SignatureVerdict signature={image.signature} />
        </td>
      ) : null}
      <td class="num" data-label="Size">{formatBytes(image.size)}</td>
      <td data-label="Last pulled">
        <TimeAgo at={image.lastPulledAt} />
      </td>
      <td class="num" data-label="Pulls">{image.pulls}</td>
      <td class="actions-cell" data-label="Actions">
        <button type="button" class="button small" onClick={() => void togglePin(image)} data-testid="image-pin">
          {image.pinned ? 'Unpin' : 'Pin'}
        </button>
        <button
          type="button"
          class="button small danger"
          onClick={() => void purge(imageName(upstream, repository, image), { digest: image.digest })}
          data-testid="image-purge"
        >
          Purge
        </button>
      </td>
    </tr>
  );
}

function Images({ upstream, repository }: { upstream: string; repository: string }) {
  const images = useResource<ImageList>(`/api/cache/images?upstream=${encodeURIComponent(upstream)}&repository=${encodeURIComponent(repository)}`);
  const purge = usePurge(images.reload);
  const togglePin = usePinToggle(upstream, repository, images.reload);
  const list = images.data?.images;

  return (
    <>
      <Crumbs upstream={upstream} repository={repository} />
      <div class="page-head">
        <h1 class="mono break">{repository}</h1>
        <button type="button" class="button danger" disabled={!list?.length} onClick={() => void purge(`${upstream}/${repository}`, { upstream, repository })}>
          Purge repository
        </button>
      </div>
      <ResourceView resource={images} isEmpty={(d) => d.images.length === 0} empty={<span data-testid="no-images">No image of {repository} is cached.</span>}>
        {(d) => {
          const signed = d.images.some((i) => i.signature);
          return (
            <section class="card flush" aria-label={`Images of ${repository}`}>
              <div class="table-wrap">
                <table class="responsive" data-testid="cache-images">
                  <thead>
                    <tr>
                      <th scope="col">Tags</th>
                      <th scope="col">Digest</th>
                      <th scope="col">Platforms</th>
                      {signed ? <th scope="col">Signature</th> : null}
                      <th scope="col" class="num">Size</th>
                      <th scope="col">Last pulled</th>
                      <th scope="col" class="num">Pulls</th>
                      <th scope="col">
                        <span class="visually-hidden">Actions</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {d.images.map((image) => (
                      <ImageRow key={image.digest} image={image} upstream={upstream} repository={repository} signed={signed} purge={purge} togglePin={togglePin} />
                    ))}
                  </tbody>
                </table>
              </div>
            </section>
          );
        }}
      </ResourceView>
    </>
  );
}

/** `sha256:<hex>`: the last segment of an image page's address. */
const isDigest = (s: string | undefined): s is string => s !== undefined && /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-fA-F0-9]{32,}$/.test(s);

export function CachePage({ route }: { route: string[] }) {
  const [upstream, ...rest] = route;
  const last = rest.at(-1);
  const digest = rest.length > 1 && isDigest(last) ? last : undefined;
  // Repositories contain `/`; the router decodes each segment, and a hand-typed path may split one in several.
  const parts = digest ? rest.slice(0, -1) : rest;
  const repository = parts.length ? parts.join('/') : undefined;
  return (
    <div class="page" data-testid="page-cache">
      {upstream && repository && digest ? (
        <ImagePage upstream={upstream} repository={repository} digest={digest} />
      ) : upstream && repository ? (
        <Images upstream={upstream} repository={repository} />
      ) : upstream ? (
        <Repositories upstream={upstream} />
      ) : (
        <Upstreams />
      )}
    </div>
  );
}
