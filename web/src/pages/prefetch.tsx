// Prefetch: name images (one per line) and platforms; the server fetches them into the cache in the background
// and this page polls each running job for its progress. A job says how it ended (done, partial: some images
// failed, failed, cancelled); a running one can be cancelled, one that did not finish can be retried.
import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../api.js';
import { useApp } from '../app-context.js';
import { Field } from '../components/field.js';
import { ProgressBar } from '../components/progress-bar.js';
import { TimeAgo } from '../components/time-ago.js';
import { errorMessage } from '../api.js';
import { count, formatBytes } from '../format.js';
import { useAction } from '../use-action.js';
import type { PrefetchImage, PrefetchJob, PrefetchJobList } from '../types.js';

const platforms = ['linux/amd64', 'linux/arm64', 'linux/arm/v7', 'linux/386', 'linux/ppc64le', 'linux/s390x', 'windows/amd64'];
const pollMs = 1000;

const jobWords: Record<PrefetchJob['state'], string> = { running: 'running', done: 'done', partial: 'partly done', failed: 'failed', cancelled: 'cancelled' };

function ImageProgress({ image }: { image: PrefetchImage }) {
  const state = image.state === 'failed' ? 'failed' : image.state === 'done' ? 'done' : undefined;
  return (
    <li class="prefetch-image" data-testid="prefetch-image" data-state={image.state}>
      <div class="prefetch-image-head">
        <span class="mono break" data-testid="prefetch-image-name">
          {image.image}
        </span>
        <span class={`badge state-${image.state}`}>{image.state}</span>
      </div>
      {image.state === 'queued' || image.state === 'cancelled' ? (
        // Nothing fetched yet: no bar that would pass for partial progress.
        <p class="fill-meta muted">{image.state === 'queued' ? 'waiting for the images before it' : image.bytesDone ? `stopped after ${formatBytes(image.bytesDone)}` : 'not fetched'}</p>
      ) : (
        <>
          <ProgressBar done={image.bytesDone} total={image.bytesTotal || null} label={`${image.image} progress`} {...(state ? { state } : {})} />
          <div class="fill-meta muted">
            {formatBytes(image.bytesDone)}
            {image.bytesTotal ? ` of ${formatBytes(image.bytesTotal)}` : ''} · {image.blobsDone} of {image.blobsTotal} blobs
            {image.upstream ? ` · from ${image.upstream}` : ''}
          </div>
        </>
      )}
      {image.error ? <p class="field-error">{image.error}</p> : null}
    </li>
  );
}

function Job({ job, onChanged }: { job: PrefetchJob; onChanged(job: PrefetchJob, added?: PrefetchJob): void }) {
  const { api } = useApp();
  const run = useAction();
  const done = job.images.filter((i) => i.state === 'done').length;
  const unfinished = job.images.filter((i) => i.state === 'failed' || i.state === 'cancelled').length;
  const cancel = (): Promise<unknown> =>
    run({
      act: async () => onChanged(await api.send<PrefetchJob>('POST', `/api/prefetch/${encodeURIComponent(job.id)}/cancel`)),
      done: `Prefetch job ${job.id.slice(0, 8)} cancelled.`,
    });
  const retry = (): Promise<unknown> =>
    run({
      act: async () => {
        const again = await api.send<PrefetchJob>('POST', `/api/prefetch/${encodeURIComponent(job.id)}/retry`);
        onChanged(job, again);
        return again;
      },
      done: (again) => `Retrying ${count(again?.images.length ?? 0, 'image')} as job ${again?.id.slice(0, 8) ?? ''}.`,
    });
  return (
    <section class="card" aria-label={`Prefetch job ${job.id.slice(0, 8)}`} data-testid="prefetch-job" data-state={job.state} data-row-key={`job-${job.id}`}>
      <div class="card-head">
        <h3>
          Job <span class="mono">{job.id.slice(0, 8)}</span>
        </h3>
        <span class="muted job-meta">
          <span class={`badge state-${job.state}`} data-testid="prefetch-job-state">
            {jobWords[job.state]}
          </span>{' '}
          {done} of {count(job.images.length, 'image')} done · started <TimeAgo at={job.createdAt} />
        </span>
        <span class="actions">
          {job.state === 'running' ? (
            <button type="button" class="button small" onClick={() => void cancel()} data-testid="prefetch-cancel">
              Cancel
            </button>
          ) : null}
          {job.state !== 'running' && unfinished ? (
            <button type="button" class="button small" onClick={() => void retry()} data-testid="prefetch-retry">
              Retry {count(unfinished, 'image')}
            </button>
          ) : null}
        </span>
      </div>
      <ul class="fills">
        {job.images.map((image) => (
          <ImageProgress key={image.image} image={image} />
        ))}
      </ul>
    </section>
  );
}

/** The prefetch jobs, newest first; the running ones polled until they finish. */
function usePrefetchJobs() {
  const { api, notify } = useApp();
  const [jobs, setJobs] = useState<PrefetchJob[]>([]);

  useEffect(() => {
    api.get<PrefetchJobList>('/api/prefetch').then(
      (list) => setJobs([...list.jobs].sort((a, b) => b.createdAt - a.createdAt)),
      (err: unknown) => notify(errorMessage(err), 'error'),
    );
  }, [api, notify]);

  // Poll only the running jobs; finished ones no longer change.
  const running = jobs.filter((j) => j.state === 'running').map((j) => j.id).join(',');
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(() => {
      for (const id of running.split(',')) {
        api.get<PrefetchJob>(`/api/prefetch/${encodeURIComponent(id)}`).then(
          (job) => setJobs((list) => list.map((j) => (j.id === job.id ? job : j))),
          () => undefined,
        );
      }
    }, pollMs);
    return () => clearInterval(timer);
  }, [api, running]);
  return [jobs, setJobs] as const;
}

export function PrefetchPage() {
  const { api, notify, reveal } = useApp();
  const [text, setText] = useState('');
  const [chosen, setChosen] = useState<string[]>(['linux/amd64']);
  const [error, setError] = useState<string | undefined>(undefined);
  const [jobs, setJobs] = usePrefetchJobs();
  const [busy, setBusy] = useState(false);
  const changed = (job: PrefetchJob, added?: PrefetchJob): void => {
    setJobs((list) => [...(added ? [added] : []), ...list.map((j) => (j.id === job.id ? job : j))]);
    if (added) reveal(`job-${added.id}`);
  };

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const images = text.split('\n').map((l) => l.trim()).filter(Boolean);
    if (images.length === 0) {
      setError('Name at least one image.');
      return;
    }
    setBusy(true);
    try {
      const job = await api.send<PrefetchJob>('POST', '/api/prefetch', { images, platforms: chosen });
      setJobs((list) => [job, ...list]);
      setError(undefined);
      setText('');
      notify(`Prefetching ${count(images.length, 'image')}.`);
      reveal(`job-${job.id}`);
    } catch (err) {
      setError(err instanceof ApiError && err.fields.length ? err.fields.map((f) => `${f.path}: ${f.message}`).join('; ') : errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const toggle = (p: string, on: boolean): void => setChosen((list) => (on ? [...list, p] : list.filter((x) => x !== p)));

  return (
    <div class="page" data-testid="page-prefetch">
      <h1>Prefetch</h1>
      <form class="card" onSubmit={submit}>
        <Field
          id="prefetch-images"
          label="Images"
          hint="One per line, as a client names them: alpine:3.20, gcr.io/distroless/base:latest, ghcr.io/org/app@sha256:…"
          error={error}
        >
          <textarea
            id="prefetch-images"
            class="mono"
            rows={5}
            value={text}
            spellcheck={false}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? 'prefetch-images-hint prefetch-images-error' : 'prefetch-images-hint'}
            onInput={(e) => setText(e.currentTarget.value)}
          />
        </Field>
        <fieldset>
          <legend>Platforms</legend>
          <p class="hint">An image index is narrowed to these; none selected fetches every platform.</p>
          <div class="check-grid">
            {platforms.map((p) => (
              <label key={p} class="check">
                <input type="checkbox" checked={chosen.includes(p)} onChange={(e) => toggle(p, e.currentTarget.checked)} />
                <span class="mono">{p}</span>
              </label>
            ))}
          </div>
        </fieldset>
        <div class="actions">
          <button type="submit" class="button primary" disabled={busy} data-testid="prefetch-start">
            {busy ? 'Starting…' : 'Start prefetch'}
          </button>
        </div>
      </form>
      <h2>Jobs</h2>
      {jobs.length === 0 ? <p class="empty card">No prefetch job yet.</p> : jobs.map((job) => <Job key={job.id} job={job} onChanged={changed} />)}
    </div>
  );
}
