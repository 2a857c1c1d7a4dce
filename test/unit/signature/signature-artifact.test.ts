// What counts as a signature artifact (src/signature/signature-artifact.ts, docs/signatures.md): named as one (a
// cosign tag, a subject, the referrers tag schema) and shaped as one (signature-typed layers, an empty or image
// config, small; an index of artifacts); its blobs are signature documents: JSON objects that are no tar archive.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { isArtifactManifest, isSignatureDocument, looksLikeTar, signatureArtifact } from '../../../src/signature/signature-artifact.js';
import { jsonTarPolyglot } from '../../support/tar-polyglot.js';
import { tarArchive } from '../../support/tar-writer.js';

const oci = 'application/vnd.oci.image.manifest.v1+json';
const index = 'application/vnd.oci.image.index.v1+json';
const d = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;
const image = `sha256:${'ab'.repeat(32)}`;
const sigTag = `sha256-${'ab'.repeat(32)}.sig`;
const json = (o: object) => Buffer.from(JSON.stringify(o));
const sig = (layers: object[], config: object = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: d(1), size: 2 }, extra: object = {}) =>
  json({ schemaVersion: 2, mediaType: oci, config, layers, ...extra });
const simple = { mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', digest: d(2), size: 300 };

describe('signature artifacts', () => {
  it("cosign's .sig and .att tags with signature-typed layers are artifacts, naming their config and layers", () => {
    assert.deepEqual(signatureArtifact(sigTag, oci, sig([simple])), { kind: 'manifest', blobs: [{ digest: d(1), size: 2 }, { digest: d(2), size: 300 }] });
    const dsse = { mediaType: 'application/vnd.dsse.envelope.v1+json', digest: d(3), size: 900 };
    assert.equal(signatureArtifact(sigTag.replace('.sig', '.att'), oci, sig([dsse]))?.kind, 'manifest');
  });

  it('a referrer is named by its subject, whatever the reference; without one, only a cosign tag names an artifact', () => {
    const bundle = { mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json', digest: d(4), size: 4000 };
    const referrer = sig([bundle], { mediaType: 'application/vnd.oci.empty.v1+json', digest: d(5), size: 2 }, { subject: { mediaType: oci, digest: image, size: 10 } });
    assert.equal(signatureArtifact(undefined, oci, referrer)?.kind, 'manifest');
    assert.equal(signatureArtifact(undefined, oci, sig([simple])), undefined);
    assert.equal(signatureArtifact('latest', oci, sig([simple])), undefined);
    assert.equal(signatureArtifact('sha256-abc.sig', oci, sig([simple])), undefined, 'not a full digest');
  });

  it('hostile shapes are no artifacts: an image layer, a mixed list, no layers, an odd config, a big blob, an index under .sig', () => {
    const tarLayer = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d(6), size: 1000 };
    assert.equal(signatureArtifact(sigTag, oci, sig([tarLayer])), undefined);
    assert.equal(signatureArtifact(sigTag, oci, sig([simple, tarLayer])), undefined);
    assert.equal(signatureArtifact(sigTag, oci, sig([])), undefined);
    assert.equal(signatureArtifact(sigTag, oci, sig([simple], { mediaType: 'application/vnd.cncf.helm.config.v1+json', digest: d(1), size: 2 })), undefined);
    assert.equal(signatureArtifact(sigTag, oci, sig([{ ...simple, size: 64 * 1024 * 1024 }])), undefined);
    assert.equal(signatureArtifact(sigTag, index, json({ schemaVersion: 2, mediaType: index, manifests: [{ mediaType: oci, digest: image, size: 1, artifactType: 'x/y' }] })), undefined);
    assert.equal(signatureArtifact(sigTag, 'application/vnd.docker.distribution.manifest.list.v2+json', sig([simple])), undefined);
  });

  it('a field a Go client reads case-insensitively beside the one judged here makes no artifact (layers, config, digest, ſ for s)', () => {
    const tarLayer = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d(6), size: 1000 };
    const twice = (extra: string) => Buffer.from(sig([simple]).toString().replace(/}$/, `,${extra}}`));
    assert.equal(signatureArtifact(sigTag, oci, twice(`"Layers":${JSON.stringify([tarLayer])}`)), undefined);
    assert.equal(signatureArtifact(sigTag, oci, twice(`"layer\u017f":${JSON.stringify([tarLayer])}`)), undefined);
    assert.equal(signatureArtifact(sigTag, oci, twice(`"CONFIG":${JSON.stringify(tarLayer)}`)), undefined);
    assert.equal(signatureArtifact(sigTag, oci, sig([{ ...simple, Digest: d(6) }])), undefined);
    assert.equal(signatureArtifact(sigTag, oci, sig([{ ...simple, '\u017fize': 1 }])), undefined);
    assert.equal(isArtifactManifest(oci, twice(`"Layers":${JSON.stringify([tarLayer])}`)), false);
    const tag = `sha256-${'ab'.repeat(32)}`;
    const entry = { mediaType: oci, digest: d(7), size: 9, artifactType: 'x/y' };
    assert.equal(signatureArtifact(tag, index, json({ schemaVersion: 2, mediaType: index, manifests: [entry], Manifests: [{ mediaType: oci, digest: image, size: 1 }] })), undefined);
    assert.equal(signatureArtifact(sigTag, oci, sig([simple], undefined, { annotations: { layers: 'a value, not a field' } }))?.kind, 'manifest');
  });

  it('the referrers tag schema: an index whose every entry carries an artifact type; nothing else under that tag', () => {
    const tag = `sha256-${'ab'.repeat(32)}`;
    const listed = (entries: object[]) => json({ schemaVersion: 2, mediaType: index, manifests: entries });
    assert.deepEqual(signatureArtifact(tag, index, listed([{ mediaType: oci, digest: d(7), size: 9, artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json' }])), { kind: 'index' });
    assert.equal(signatureArtifact(tag, index, listed([{ mediaType: oci, digest: d(7), size: 9, platform: { os: 'linux', architecture: 'amd64' } }])), undefined);
    assert.equal(signatureArtifact(tag, oci, sig([simple])), undefined, 'an image manifest under the index tag');
  });

  it('stored manifests are recognised by shape alone (their blobs are then served only as signature documents)', () => {
    assert.equal(isArtifactManifest(oci, sig([simple])), true);
    assert.equal(isArtifactManifest(oci, sig([{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: d(6), size: 10 }])), false);
  });

  it('a signature document is a JSON object that is not also a tar archive', () => {
    assert.equal(isSignatureDocument(Buffer.from('{"critical":{}}')), true);
    assert.equal(isSignatureDocument(Buffer.from('[1]')), false);
    assert.equal(isSignatureDocument(Buffer.from('not json')), false);
    const tar = Buffer.concat([...tarArchive([{ type: 'file', path: 'bin/evil', content: Buffer.from('echo pwned') }])]);
    assert.equal(looksLikeTar(tar), true);
    assert.equal(isSignatureDocument(tar), false);
    assert.equal(isSignatureDocument(gzipSync(tar)), false);
    assert.equal(looksLikeTar(Buffer.from(JSON.stringify({ a: 'x'.repeat(600) }))), false);
  });

  it('a JSON/tar polyglot, which tar unpacks, is refused', () => {
    const polyglot = jsonTarPolyglot();
    assert.equal(typeof JSON.parse(polyglot.toString('latin1')), 'object', 'it is JSON');
    const dir = mkdtempSync(join(tmpdir(), 'pullgate-polyglot-'));
    try {
      writeFileSync(join(dir, 'layer.tar'), polyglot);
      const listed = execFileSync('tar', ['-tvf', join(dir, 'layer.tar')], { encoding: 'utf8' });
      assert.match(listed, /\{"a":"p+/, 'and tar reads it as an archive with a file');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.equal(looksLikeTar(polyglot), true);
    assert.equal(isSignatureDocument(polyglot), false);
  });
});
