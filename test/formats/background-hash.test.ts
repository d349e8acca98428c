/**
 * The weights' hash computed on a worker equals the plain sha256 of the
 * file (what `sha256sum` prints), for files big enough to go to the worker
 * and for small ones hashed in place; loadModel's hash is unchanged by it.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BACKGROUND_HASH_MIN_BYTES, backgroundHashCounts, hashableBuffer, startSha256 } from '../../src/formats/background-hash.js';
import { loadCheckpoint, modelHash } from '../../src/formats/checkpoint.js';
import { saveSafetensors } from '../../src/formats/safetensors.js';
import { loadModel, saveModel } from '../../src/models/model.js';
import { promptModel } from '../prompt/helpers.js';
import { tmpDir } from '../train/helpers.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('startSha256: a shared buffer is hashed on the worker, a private one here; both give the plain sha256', () => {
  const big = hashableBuffer(BACKGROUND_HASH_MIN_BYTES + 12345);
  assert.ok(big.buffer instanceof SharedArrayBuffer, 'big files are read into shared memory');
  for (let i = 0; i < big.length; i += 4096) big[i] = (i * 2654435761) >>> 24;
  const small = hashableBuffer(1000);
  assert.ok(!(small.buffer instanceof SharedArrayBuffer), 'small files stay private');
  small.fill(7);
  const before = { ...backgroundHashCounts };
  const pending = [startSha256(big), startSha256(small), startSha256(big.subarray(100))];
  assert.deepEqual(pending.map((p) => p.wait()), [sha(big), sha(small), sha(big.subarray(100))]);
  assert.deepEqual({ worker: backgroundHashCounts.worker - before.worker, here: backgroundHashCounts.here - before.here }, { worker: 2, here: 1 }, 'the two big ones on the worker');
  assert.equal(pending[0]!.wait(), sha(big), 'wait() again returns the same digest');
});

test('loadCheckpoint hash: background and in place agree with sha256 of the file, for a file over the worker threshold', () => {
  const dir = tmpDir('bg-hash');
  const n = (BACKGROUND_HASH_MIN_BYTES >> 2) + 1000;
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.sin(i);
  const file = join(dir, 'model.safetensors');
  saveSafetensors(file, new Map([['w', { shape: [n], data }]]));
  writeFileSync(join(dir, 'config.json'), '{}');
  const want = sha(readFileSync(file));
  const bg = loadCheckpoint(dir, { hash: 'background' });
  assert.equal(bg.sha256, undefined);
  assert.equal(bg.sha256Later!(), want);
  assert.ok(bg.stateDict.get('w')!.data.buffer instanceof SharedArrayBuffer, 'the tensors view the very bytes that were hashed');
  assert.deepEqual(Array.from(bg.stateDict.get('w')!.data.subarray(0, 5)), Array.from(data.subarray(0, 5)));
  assert.equal(loadCheckpoint(dir, { hash: true }).sha256, want);
  assert.equal(modelHash(dir), want);
});

test('loadModel: the hash is the weight file\'s sha256 (small model, hashed in place)', () => {
  const dir = tmpDir('bg-hash-model');
  saveModel(dir, promptModel({ seed: 2 }));
  assert.equal(loadModel(dir).hash, sha(readFileSync(join(dir, 'model.safetensors'))));
});
