/**
 * The weights' hash computed on a worker (following the read) equals the plain sha256 of the
 * file (what `sha256sum` prints), for files big enough to go to the worker
 * and for small ones hashed in place; loadModel's hash is unchanged by it.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BACKGROUND_HASH_MIN_BYTES, backgroundHashCounts, sha256WhileReading } from '../../src/formats/background-hash.js';
import { loadCheckpoint, modelHash } from '../../src/formats/checkpoint.js';
import { saveSafetensors } from '../../src/formats/safetensors.js';
import { loadModel, saveModel } from '../../src/models/model.js';
import { promptModel } from '../prompt/helpers.js';
import { tmpDir } from '../train/helpers.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Fills `buf` as a reader would, publishing each chunk. */
function fillInChunks(buf: Buffer, onRead: (n: number) => void, chunk = 5 << 20): void {
  for (let at = 0; at < buf.length; at += chunk) {
    const end = Math.min(buf.length, at + chunk);
    for (let i = at; i < end; i += 4096) buf[i] = (i * 2654435761) >>> 24;
    onRead(end);
  }
}

test('sha256WhileReading: a big file is hashed on the worker as it is read, a small one here; both give the plain sha256', () => {
  const before = { ...backgroundHashCounts };
  const big = sha256WhileReading();
  const bigBuf = big.alloc(BACKGROUND_HASH_MIN_BYTES + 12345);
  assert.ok(bigBuf.buffer instanceof SharedArrayBuffer, 'big files are read into shared memory');
  fillInChunks(bigBuf, big.onRead);
  const small = sha256WhileReading();
  const smallBuf = small.alloc(1000);
  assert.ok(!(smallBuf.buffer instanceof SharedArrayBuffer), 'small files stay private');
  smallBuf.fill(7);
  small.onRead(1000);
  const pending = [big.finish(bigBuf), small.finish(smallBuf)];
  assert.deepEqual(pending.map((p) => p.wait()), [sha(bigBuf), sha(smallBuf)]);
  assert.deepEqual({ worker: backgroundHashCounts.worker - before.worker, here: backgroundHashCounts.here - before.here }, { worker: 1, here: 1 }, 'the big one on the worker');
  assert.equal(pending[0]!.wait(), sha(bigBuf), 'wait() again returns the same digest');
});

test('sha256WhileReading: bytes the worker was not shown in full are hashed here, and an aborted read frees the worker for the next file', () => {
  const before = { ...backgroundHashCounts };
  // The reader did not publish its last chunk: the worker cannot have seen it, so the digest is computed here.
  const partial = sha256WhileReading();
  const buf = partial.alloc(BACKGROUND_HASH_MIN_BYTES + 1);
  fillInChunks(buf, (n) => { if (n < buf.length) partial.onRead(n); });
  buf[buf.length - 1] = 9;
  assert.equal(partial.finish(buf).wait(), sha(buf));
  // A read that failed half way: the worker gives up on it at once and hashes the next file.
  const failed = sha256WhileReading();
  const half = failed.alloc(BACKGROUND_HASH_MIN_BYTES);
  failed.onRead(half.length >> 1);
  failed.abort();
  const next = sha256WhileReading();
  const nextBuf = next.alloc(BACKGROUND_HASH_MIN_BYTES + 7);
  fillInChunks(nextBuf, next.onRead);
  const t0 = Date.now();
  assert.equal(next.finish(nextBuf).wait(), sha(nextBuf));
  assert.ok(Date.now() - t0 < 9_000, 'not held up by the aborted file');
  // Shown other bytes than the ones allocated: hashed here.
  const other = sha256WhileReading();
  const mine = other.alloc(BACKGROUND_HASH_MIN_BYTES);
  fillInChunks(mine, other.onRead);
  const copy = Buffer.from(mine);
  copy[0] = (copy[0]! + 1) & 255;
  assert.equal(other.finish(copy).wait(), sha(copy));
  assert.deepEqual({ worker: backgroundHashCounts.worker - before.worker, here: backgroundHashCounts.here - before.here }, { worker: 1, here: 2 });
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
