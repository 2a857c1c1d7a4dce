import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  acceptsMediaType,
  bareMediaType,
  coversAllManifestTypes,
  fullManifestAccept,
  isIndexType,
  manifestAccept,
  mediaTypes,
  parseAccept,
} from '../../../src/registry/media-types.js';

const { dockerManifest, dockerManifestList, ociManifest, ociIndex, dockerSchema1Signed } = mediaTypes;

// containerd's one Accept line (docs/protocol.md, "Manifests").
const containerdAccept = `${dockerManifest}, ${dockerManifestList}, ${ociManifest}, ${ociIndex}, */*`;

describe('parseAccept', () => {
  const table: [string, string | string[] | undefined, string[]][] = [
    ['no header is an empty list', undefined, []],
    ['an empty header is an empty list', '', []],
    ['one type is one entry', ociIndex, [ociIndex]],
    ["containerd's comma list is split", containerdAccept, [dockerManifest, dockerManifestList, ociManifest, ociIndex, '*/*']],
    ["Docker's several header lines are read in order", [dockerManifest, dockerManifestList, ociManifest, ociIndex],
      [dockerManifest, dockerManifestList, ociManifest, ociIndex]],
    ['header lines that are themselves comma lists are flattened', [`${ociIndex}, ${ociManifest}`, dockerManifest],
      [ociIndex, ociManifest, dockerManifest]],
    ['lines as Node joins them with ", " are split', `${dockerManifest}, ${ociIndex}`, [dockerManifest, ociIndex]],
    ['parameters such as q are dropped', `${ociIndex};q=0.9, ${dockerManifest}; q=0.5`, [ociIndex, dockerManifest]],
    ['media types are lower-cased', 'Application/VND.OCI.Image.Index.V1+JSON', [ociIndex]],
    ['whitespace around entries is trimmed', `  ${ociIndex}  ,\t${ociManifest}\t`, [ociIndex, ociManifest]],
    ['empty list entries are skipped', `${ociIndex},, ,${ociManifest},`, [ociIndex, ociManifest]],
    ['an entry that is only parameters is skipped', ';q=1, */*', ['*/*']],
  ];
  for (const [name, input, expected] of table) it(name, () => assert.deepEqual(parseAccept(input), expected));
});

describe('bareMediaType', () => {
  const table: [string, string | undefined, string | undefined][] = [
    ['parameters are removed', 'application/json; charset=utf-8', 'application/json'],
    ['the type is lower-cased', 'Application/JSON', 'application/json'],
    ['undefined stays undefined', undefined, undefined],
    ['an empty string is undefined', '', undefined],
    ['only parameters is undefined', '; charset=utf-8', undefined],
  ];
  for (const [name, input, expected] of table) it(name, () => assert.equal(bareMediaType(input), expected));
});

describe('acceptsMediaType', () => {
  const table: [string, string[], string, boolean][] = [
    ['no Accept takes any manifest', [], ociIndex, true],
    ['*/* takes any manifest', ['*/*'], dockerManifestList, true],
    ['application/* takes any manifest', ['application/*'], ociManifest, true],
    ['an exact type is taken', [dockerManifest, ociIndex], ociIndex, true],
    ['a type not listed is not taken', [dockerManifest], ociIndex, false],
    ['a manifest list is not taken by a client that only lists the manifest', [dockerManifest], dockerManifestList, false],
    ['application/json does not take a manifest', ['application/json'], ociManifest, false],
  ];
  for (const [name, accepted, type, expected] of table) it(name, () => assert.equal(acceptsMediaType(accepted, type), expected));
});

describe('coversAllManifestTypes', () => {
  const table: [string, string[], boolean][] = [
    ["containerd's Accept covers all four", parseAccept(containerdAccept), true],
    ["Docker's four header lines cover all four", parseAccept([dockerManifest, dockerManifestList, ociManifest, ociIndex]), true],
    ['the four types in any order with q values cover all four', parseAccept(`${ociIndex};q=0.5, ${dockerManifest}, ${ociManifest}, ${dockerManifestList}`), true],
    ['*/* alone covers all four', ['*/*'], true],
    ['no Accept covers all four', [], true],
    ['three of the four do not', [dockerManifest, dockerManifestList, ociManifest], false],
    ['Docker manifests only do not', [dockerManifest, dockerManifestList], false],
    ['schema1 only does not', [dockerSchema1Signed], false],
  ];
  for (const [name, accepted, expected] of table) it(name, () => assert.equal(coversAllManifestTypes(accepted), expected));
});

describe('the full manifest Accept', () => {
  it('lists exactly the four manifest types', () => {
    assert.deepEqual([...manifestAccept].sort(), [dockerManifest, dockerManifestList, ociIndex, ociManifest].sort());
    assert.deepEqual(parseAccept(fullManifestAccept), [...manifestAccept]);
    assert.equal(coversAllManifestTypes(parseAccept(fullManifestAccept)), true);
  });

  it('knows which types are indexes', () => {
    assert.equal(isIndexType(ociIndex), true);
    assert.equal(isIndexType(dockerManifestList), true);
    assert.equal(isIndexType(ociManifest), false);
    assert.equal(isIndexType(dockerManifest), false);
  });
});
