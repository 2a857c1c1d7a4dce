// How a prefetch job is labelled from its images: done only when all are, partly done when some are, failed or
// cancelled when none is, running while any image waits or is fetched.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jobOutcome, type PrefetchImageState } from '../../../src/mirror/prefetch.js';

const images = (...states: PrefetchImageState['state'][]): PrefetchImageState[] =>
  states.map((state, i) => ({ image: `img-${i}`, state, bytesDone: 0, bytesTotal: 0, blobsDone: 0, blobsTotal: 0 }));

describe('prefetch job outcome', () => {
  it('names a mix of done and failed as partial, never as failed', () => {
    assert.equal(jobOutcome(images('done', 'done', 'failed')), 'partial');
    assert.equal(jobOutcome(images('done', 'cancelled')), 'partial');
  });

  it('is done, failed or cancelled when every image ended the same way or none is done', () => {
    assert.equal(jobOutcome(images('done', 'done')), 'done');
    assert.equal(jobOutcome(images('failed', 'failed')), 'failed');
    assert.equal(jobOutcome(images('failed', 'cancelled')), 'failed');
    assert.equal(jobOutcome(images('cancelled', 'cancelled')), 'cancelled');
  });

  it('is running while an image waits or is fetched', () => {
    assert.equal(jobOutcome(images('done', 'queued')), 'running');
    assert.equal(jobOutcome(images('running')), 'running');
  });
});
