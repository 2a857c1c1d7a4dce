// The cache explorer: upstream -> repositories -> images. Purging asks first and says what it freed; pins keep
// images from eviction (`upstream/repository[:tag]`, `*` wildcards).
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { errorMessage } from '../api.js';
import { useApp } from '../app-context.js';
import { useConfirm } from '../components/confirm-dialog.js';
import { TimeAgo } from '../components/time-ago.js';
import { count, formatBytes, formatPercent, shortDigest } from '../format.js';
import { href } from '../router.js';
import { useResource } from '../use-resource.js';
import type { CacheSummary, EvictResult, ImageList, ImageView, PinList, PurgeRequest, PurgeResult, RepositoryList } from '../types.js';
import { PinsCard } from './cache-pins.js';

function purgedText(r: PurgeResult): string {
  return `Purged ${count(r.manifests, 'manifest')}, ${count(r.blobs, 'blob')} and ${count(r.tags, 'tag')} (${formatBytes(r.bytes)}).`;
}

/** Confirms, purges, reports, then calls `onPurged` so that the page reloads its list. */
function usePurge(onPurged: () => unknown): [ComponentChildren, (what: string, request: PurgeRequest) => Promise<void>] {
  const { api, notify } = useApp();
  const [dialog, confirm] = useConfirm();
  const purge = async (what: string, request: PurgeRequest): Promise<void> => {
    const ok = await confirm({
      title: `Purge ${what}?`,
      body: <p>The next pull fetches it from the upstream again. Blobs still used by other images are kept.</p>,
      confirmLabel: 'Purge',
      danger: true,
    });
    if (!ok) return;
    try {
      notify(purgedText(await api.send<PurgeResult>('POST', '/api/cache/purge', request)));
    } catch (err) {
      notify(errorMessage(err), 'error');
    }
    onPurged();
  };
  return [dialog, purge];
}

function Crumbs({ upstream, repository }: { upstream?: string | undefined; repository?: string | undefined }) {
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
          <span aria-current="page">{repository}</span>
        </>
      ) : null}
    </nav>
  );
}

function Upstreams() {
  const { api, notify } = useApp();
  const summary = useResource<CacheSummary>('/api/cache/summary');
  const [evicting, setEvicting] = useState(false);
  const evict = async (): Promise<void> => {
    setEvicting(true);
    try {
      const r = await api.send<EvictResult>('POST', '/api/cache/evict');
      notify(r.ran ? `Eviction removed ${count(r.removedImages, 'image')} and ${count(r.removedBlobs, 'blob')} (${formatBytes(r.bytes)}).` : 'The cache is within its size cap: nothing to evict.');
      await summary.reload();
    } catch (err) {
      notify(errorMessage(err), 'error');
    } finally {
      setEvicting(false);
    }
  };
  const s = summary.data;
  return (
    <>
      <div class="page-head">
        <h1>Cache</h1>
        <button type="button" class="button" onClick={() => void evict()} disabled={evicting}>
          {evicting ? 'Evicting…' : 'Run eviction now'}
        </button>
      </div>
      {summary.error ? <p class="form-error">{summary.error}</p> : null}
      {s ? (
        <section class="card flush" aria-label="Upstreams in the cache">
          <p class="card-intro muted">
            {formatBytes(s.size)} of {formatBytes(s.maxSize)} used by {count(s.manifests, 'manifest')} and {count(s.blobs, 'blob')}.
          </p>
          {s.upstreams.length === 0 ? (
            <p class="empty">Nothing cached yet.</p>
          ) : (
            <div class="table-wrap">
              <table class="responsive" data-testid="cache-upstreams">
                <thead>
                  <tr>
                    <th scope="col">Upstream</th>
                    <th scope="col" class="num">Repositories</th>
                    <th scope="col" class="num">Tags</th>
                    <th scope="col" class="num">Served</th>
                    <th scope="col" class="num">Hit ratio</th>
                  </tr>
                </thead>
                <tbody>
                  {s.upstreams.map((u) => (
                    <tr key={u.name}>
                      <th scope="row" data-label="Upstream">
                        <a href={href('cache', u.name)} data-testid={`cache-upstream-${u.name}`}>
                          {u.name}
                        </a>
                      </th>
                      <td class="num" data-label="Repositories">{u.repositories}</td>
                      <td class="num" data-label="Tags">{u.tags}</td>
                      <td class="num" data-label="Served">{formatBytes(u.traffic.bytesServed)}</td>
                      <td class="num" data-label="Hit ratio">{formatPercent(u.traffic.hitRatio)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
      ) : (
        <p class="empty card">Loading…</p>
      )}
      <PinsCard />
    </>
  );
}

function Repositories({ upstream }: { upstream: string }) {
  const repos = useResource<RepositoryList>(`/api/cache/repositories?upstream=${encodeURIComponent(upstream)}`);
  const [purgeDialog, purge] = usePurge(repos.reload);
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
      {repos.error ? <p class="form-error">{repos.error}</p> : null}
      <section class="card flush" aria-label={`Repositories of ${upstream}`}>
        {!list ? (
          <p class="empty">Loading…</p>
        ) : list.length === 0 ? (
          <p class="empty" data-testid="no-repositories">
            Nothing cached from {upstream}.
          </p>
        ) : (
          <div class="table-wrap">
            <table class="responsive" data-testid="cache-repositories">
              <thead>
                <tr>
                  <th scope="col">Repository</th>
                  <th scope="col" class="num">Tags</th>
                  <th scope="col" class="num">Images</th>
                  <th scope="col" class="num">Size</th>
                  <th scope="col">Last pulled</th>
                  <th scope="col" class="num">Pulls</th>
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.map((r) => (
                  <tr key={r.repository}>
                    <th scope="row" data-label="Repository" class="mono">
                      <a href={href('cache', upstream, r.repository)} data-testid={`cache-repository-${r.repository}`}>
                        {r.repository}
                      </a>
                    </th>
                    <td class="num" data-label="Tags">{r.tags}</td>
                    <td class="num" data-label="Images">{r.images}</td>
                    <td class="num" data-label="Size">{formatBytes(r.size)}</td>
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
        )}
      </section>
      {purgeDialog}
    </>
  );
}

/** The admin pins that name this image exactly: one per tag, or the repository when it has no tag. */
const pinsFor = (upstream: string, repository: string, image: ImageView): string[] =>
  image.tags.length ? image.tags.map((t) => `${upstream}/${repository}:${t}`) : [`${upstream}/${repository}`];

function Images({ upstream, repository }: { upstream: string; repository: string }) {
  const { api, notify } = useApp();
  const images = useResource<ImageList>(`/api/cache/images?upstream=${encodeURIComponent(upstream)}&repository=${encodeURIComponent(repository)}`);
  const [purgeDialog, purge] = usePurge(images.reload);
  const list = images.data?.images;

  const setPinned = async (image: ImageView, pinned: boolean): Promise<void> => {
    const wanted = pinsFor(upstream, repository, image);
    try {
      if (pinned) {
        for (const pin of wanted) await api.send<PinList>('POST', '/api/cache/pins', { pin });
      } else {
        // Remove this image's own pins; a wildcard or config pin that also covers it is left alone and said so.
        const { pins } = await api.get<PinList>('/api/cache/pins');
        const own = pins.filter((p) => p.source === 'admin' && (wanted.includes(p.pin) || p.pin === `${upstream}/${repository}`));
        for (const p of own) await api.send<PinList>('DELETE', '/api/cache/pins', { pin: p.pin });
      }
      await images.reload();
      notify(pinned ? `Pinned ${wanted.join(', ')}.` : `Unpinned ${shortDigest(image.digest)}.`);
    } catch (err) {
      notify(errorMessage(err), 'error');
    }
  };

  return (
    <>
      <Crumbs upstream={upstream} repository={repository} />
      <div class="page-head">
        <h1 class="mono break">{repository}</h1>
        <button
          type="button"
          class="button danger"
          disabled={!list?.length}
          onClick={() => void purge(`${upstream}/${repository}`, { upstream, repository })}
        >
          Purge repository
        </button>
      </div>
      {images.error ? <p class="form-error">{images.error}</p> : null}
      <section class="card flush" aria-label={`Images of ${repository}`}>
        {!list ? (
          <p class="empty">Loading…</p>
        ) : list.length === 0 ? (
          <p class="empty" data-testid="no-images">
            No image of {repository} is cached.
          </p>
        ) : (
          <div class="table-wrap">
            <table class="responsive" data-testid="cache-images">
              <thead>
                <tr>
                  <th scope="col">Tags</th>
                  <th scope="col">Digest</th>
                  <th scope="col">Platforms</th>
                  <th scope="col" class="num">Size</th>
                  <th scope="col">Last pulled</th>
                  <th scope="col" class="num">Pulls</th>
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.map((image) => (
                  <tr key={image.digest} data-testid={`image-${image.digest}`}>
                    <th scope="row" data-label="Tags">
                      <span class="tags">
                        {image.tags.length ? image.tags.map((t) => <span key={t} class="badge tag">{t}</span>) : <span class="muted">untagged</span>}
                        {image.pinned ? <span class="badge pinned">pinned</span> : null}
                      </span>
                    </th>
                    <td data-label="Digest" class="mono" title={image.digest}>
                      <span class="digest" data-testid="image-digest" data-digest={image.digest}>
                        {shortDigest(image.digest)}
                      </span>
                    </td>
                    <td data-label="Platforms" class="small">
                      {image.platforms.length ? image.platforms.join(', ') : <span class="muted">–</span>}
                    </td>
                    <td class="num" data-label="Size">{formatBytes(image.size)}</td>
                    <td data-label="Last pulled">
                      <TimeAgo at={image.lastPulledAt} />
                    </td>
                    <td class="num" data-label="Pulls">{image.pulls}</td>
                    <td class="actions-cell" data-label="Actions">
                      <button type="button" class="button small" onClick={() => void setPinned(image, !image.pinned)} data-testid="image-pin">
                        {image.pinned ? 'Unpin' : 'Pin'}
                      </button>
                      <button
                        type="button"
                        class="button small danger"
                        onClick={() => void purge(`${repository}@${shortDigest(image.digest)}`, { digest: image.digest })}
                        data-testid="image-purge"
                      >
                        Purge
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      {purgeDialog}
    </>
  );
}

export function CachePage({ route }: { route: string[] }) {
  const [upstream, ...rest] = route;
  // Repositories contain `/`; the router decodes each segment, and a hand-typed path may split one in several.
  const repository = rest.length ? rest.join('/') : undefined;
  return (
    <div class="page" data-testid="page-cache">
      {upstream && repository ? <Images upstream={upstream} repository={repository} /> : upstream ? <Repositories upstream={upstream} /> : <Upstreams />}
    </div>
  );
}
