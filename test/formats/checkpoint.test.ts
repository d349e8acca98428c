import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { loadStateDict, loadCheckpoint, modelHash, resolveCheckpointFiles } from '../../src/formats/checkpoint.js';
import { saveSafetensors } from '../../src/formats/safetensors.js';
import type { StateDict } from '../../src/formats/state-dict.js';
import { assertFormatError, fixture, tmpDir } from './helpers.js';

const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const one = (v: number): StateDict => new Map([['w', { shape: [2], data: new Float32Array([v, v]) }]]);

function writeIndex(dir: string, name: string, weightMap: Record<string, string>): void {
  fs.writeFileSync(path.join(dir, name), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
}

test('prefers model.safetensors over pytorch_model.bin', () => {
  const dir = tmpDir();
  saveSafetensors(path.join(dir, 'model.safetensors'), one(1));
  fs.copyFileSync(fixture('sharded-bin', 'pytorch_model-00001-of-00002.bin'), path.join(dir, 'pytorch_model.bin'));
  const ck = loadCheckpoint(dir);
  assert.equal(ck.format, 'safetensors');
  assert.deepEqual([...ck.stateDict.get('w')!.data], [1, 1]);
  fs.rmSync(path.join(dir, 'model.safetensors'));
  const sd = loadStateDict(dir);
  assert.deepEqual([...sd.get('a')!.data], [0, 1, 2, 3, 4, 5]);
});

test('names the directory and the expected files when there are no weights', () => {
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'config.json'), '{}');
  assertFormatError(() => loadStateDict(dir), dir,
    /no model weights found; expected one of model\.safetensors, model\.safetensors\.index\.json, pytorch_model\.bin, pytorch_model\.bin\.index\.json/);
  const missing = path.join(dir, 'nope');
  assertFormatError(() => loadStateDict(missing), missing, /no such model directory$/);
  assertFormatError(() => loadStateDict(path.join(dir, 'config.json')), path.join(dir, 'config.json'), /not a model directory \(it is a file\)$/);
});

test('loads a sharded pytorch checkpoint', () => {
  const ck = loadCheckpoint(fixture('sharded-bin'));
  assert.equal(ck.format, 'pytorch');
  assert.equal(ck.files.weights.length, 2);
  assert.deepEqual([...ck.stateDict.keys()].sort(), ['a', 'b', 'c']);
  assert.deepEqual([...ck.stateDict.get('b')!.data], [7, 7]);
  assert.deepEqual([...ck.stateDict.get('c')!.data], [0, 1, 2]);
});

test('loads a sharded safetensors checkpoint and merges metadata', () => {
  const dir = tmpDir();
  saveSafetensors(path.join(dir, 'model-00001-of-00002.safetensors'), one(1), { format: 'pt' });
  saveSafetensors(path.join(dir, 'model-00002-of-00002.safetensors'), new Map([['v', { shape: [1], data: new Float32Array([3]) }]]));
  writeIndex(dir, 'model.safetensors.index.json', { w: 'model-00001-of-00002.safetensors', v: 'model-00002-of-00002.safetensors' });
  const ck = loadCheckpoint(dir);
  assert.equal(ck.format, 'safetensors');
  assert.deepEqual([...ck.stateDict.keys()].sort(), ['v', 'w']);
  assert.deepEqual(ck.metadata, { format: 'pt' });
});

test('shard names in the index must be plain names inside the directory', () => {
  const root = tmpDir();
  const dir = path.join(root, 'model');
  fs.mkdirSync(dir);
  saveSafetensors(path.join(root, 'outside.safetensors'), one(1));
  fs.mkdirSync(path.join(dir, 'sub'));
  saveSafetensors(path.join(dir, 'sub', 'x.safetensors'), one(1));
  const index = path.join(dir, 'model.safetensors.index.json');
  for (const bad of ['../outside.safetensors', path.join(root, 'outside.safetensors'), 'sub/x.safetensors', 'sub\\x.safetensors', '..', '', 'a\u0000.safetensors']) {
    writeIndex(dir, 'model.safetensors.index.json', { w: bad });
    assertFormatError(() => loadStateDict(dir), index, /is not a plain file name inside the model directory/);
  }
  writeIndex(dir, 'model.safetensors.index.json', { w: 'model.bin' });
  assertFormatError(() => loadStateDict(dir), index, /shard name "model.bin" does not end in \.safetensors/);
  writeIndex(dir, 'model.safetensors.index.json', { w: 'gone.safetensors' });
  assertFormatError(() => loadStateDict(dir), index, /shard "gone.safetensors" listed in the index does not exist/);
  writeIndex(dir, 'model.safetensors.index.json', { w: 5 } as unknown as Record<string, string>);
  assertFormatError(() => loadStateDict(dir), index, /weight_map entry "w" is not a file name/);
  fs.writeFileSync(index, '{"weight_map": {"w": "a.safetensors", "w": "b.safetensors"}}');
  assertFormatError(() => loadStateDict(dir), index, /duplicate key "w"/);
  fs.writeFileSync(index, '{"metadata": {}}');
  assertFormatError(() => loadStateDict(dir), index, /missing "weight_map" object/);
});

test('index and shards must agree on every tensor', () => {
  const dir = tmpDir();
  const shard = path.join(dir, 'model-1.safetensors');
  saveSafetensors(shard, new Map([...one(1), ['extra', { shape: [1], data: new Float32Array([0]) }]]));
  const index = path.join(dir, 'model.safetensors.index.json');
  writeIndex(dir, 'model.safetensors.index.json', { w: 'model-1.safetensors' });
  assertFormatError(() => loadStateDict(dir), shard, /tensor "extra" is not listed in the shard index/);
  writeIndex(dir, 'model.safetensors.index.json', { w: 'model-1.safetensors', extra: 'model-1.safetensors', ghost: 'model-1.safetensors' });
  assertFormatError(() => loadStateDict(dir), index, /tensor "ghost" is listed in the index but missing from its shard/);
  const shard2 = path.join(dir, 'model-2.safetensors');
  saveSafetensors(shard2, one(2));
  writeIndex(dir, 'model.safetensors.index.json', { w: 'model-2.safetensors', extra: 'model-1.safetensors' });
  assertFormatError(() => loadStateDict(dir), shard, /tensor "w" is listed in the index under shard "model-2.safetensors"/);
});

test('modelHash is the sha256 of the weight file, and loadCheckpoint can compute it from the loaded bytes', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'model.safetensors');
  saveSafetensors(file, one(1));
  assert.equal(modelHash(dir), sha256(file));
  assert.equal(loadCheckpoint(dir, { hash: true }).sha256, sha256(file));
  assert.equal(loadCheckpoint(dir).sha256, undefined);
  saveSafetensors(file, one(2));
  assert.equal(modelHash(dir), sha256(file));
});

test('sharded hashes cover the index and every shard', () => {
  const src = fixture('sharded-bin');
  const dir = tmpDir();
  for (const f of fs.readdirSync(src)) fs.copyFileSync(path.join(src, f), path.join(dir, f));
  const h = modelHash(dir);
  assert.match(h, /^[0-9a-f]{64}$/);
  assert.equal(loadCheckpoint(dir, { hash: true }).sha256, h);
  assert.equal(modelHash(src), h, 'location does not matter');
  const shard = path.join(dir, 'pytorch_model-00002-of-00002.bin');
  const bytes = fs.readFileSync(shard);
  bytes[bytes.length - 30] ^= 1;
  fs.writeFileSync(shard, bytes);
  assert.notEqual(modelHash(dir), h);
});

test('follows symlinks as Hugging Face cache snapshots use them, into the repo\'s blobs/ only', () => {
  // models--org--name/{blobs/<sha>, snapshots/<rev>/model.safetensors -> ../../blobs/<sha>}
  const repo = path.join(tmpDir(), 'models--org--tiny');
  fs.mkdirSync(path.join(repo, 'blobs'), { recursive: true });
  saveSafetensors(path.join(repo, 'blobs', 'abc123'), one(4));
  const snap = path.join(repo, 'snapshots', 'rev1');
  fs.mkdirSync(snap, { recursive: true });
  fs.symlinkSync('../../blobs/abc123', path.join(snap, 'model.safetensors'));
  assert.deepEqual(resolveCheckpointFiles(snap).weights, [path.join(snap, 'model.safetensors')]);
  assert.deepEqual([...loadStateDict(snap).get('w')!.data], [4, 4]);
  assert.equal(modelHash(snap), sha256(path.join(repo, 'blobs', 'abc123')));

  // A link anywhere else (here: a sibling of the model directory) is refused before reading.
  const root = tmpDir();
  saveSafetensors(path.join(root, 'blob'), one(4));
  const dir = path.join(root, 'model');
  fs.mkdirSync(dir);
  fs.symlinkSync(path.join(root, 'blob'), path.join(dir, 'model.safetensors'));
  const link = path.join(dir, 'model.safetensors');
  assertFormatError(() => loadStateDict(dir), link, /resolves to ".*blob", outside the model directory/);
  assertFormatError(() => modelHash(dir), link, /outside the model directory/);
});

test('errors inside a weight file name that file', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'model.safetensors');
  fs.writeFileSync(file, Buffer.alloc(4));
  assertFormatError(() => loadStateDict(dir), file, /too short for a safetensors header/);
  const bin = tmpDir();
  fs.copyFileSync(fixture('malicious.bin'), path.join(bin, 'pytorch_model.bin'));
  assertFormatError(() => loadStateDict(bin), path.join(bin, 'pytorch_model.bin'), /refusing to load: pickle references forbidden global "posix system"/);
});
