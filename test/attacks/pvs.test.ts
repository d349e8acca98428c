import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { cosine, defaultPvs, loadPvs, savePvs, signAgreement } from '../../src/attacks/pvs.js';
import { tmpDir } from './helpers.js';


test('default PVs are the six ±1 block patterns, each block H/4 wide', () => {
  const p = defaultPvs(8);
  assert.equal(p.length, 6);
  assert.deepEqual([...p[0]], [-1, -1, -1, -1, 1, 1, 1, 1]);
  assert.deepEqual([...p[1]], [-1, -1, 1, 1, -1, -1, 1, 1]);
  assert.deepEqual([...p[2]], [-1, -1, 1, 1, 1, 1, -1, -1]);
  assert.deepEqual([...p[5]], [1, 1, 1, 1, -1, -1, -1, -1]);
  // Hidden sizes that do not divide by 4 still get four contiguous blocks covering every dimension.
  const odd = defaultPvs(10, 2);
  assert.equal(odd.length, 2);
  assert.ok(odd.every((v) => v.every((x) => x === 1 || x === -1)));
  assert.throws(() => defaultPvs(8, 7), /6 default PVs/);
});

test('PV files: JSON and safetensors load, wrong dimensions are refused', () => {
  const dir = tmpDir('pvs');
  const json = join(dir, 'pvs.json');
  writeFileSync(json, JSON.stringify({ pvs: [[1, -1, 1, -1], [0.5, 0.5, -2, 3]] }));
  assert.deepEqual(loadPvs(json, 4).map((v) => [...v]), [[1, -1, 1, -1], [0.5, 0.5, -2, 3]]);
  assert.throws(() => loadPvs(json, 8), /PV 0 has dimension 4, but the model's hidden size is 8/);

  const st = join(dir, 'pvs.safetensors');
  savePvs(st, defaultPvs(16, 3));
  assert.deepEqual(loadPvs(st, 16).map((v) => [...v]), defaultPvs(16, 3).map((v) => [...v]));
  assert.throws(() => loadPvs(st, 32), /dimension 16/);
  assert.throws(() => loadPvs(join(dir, 'missing.json'), 4), /no such PV file/);
  writeFileSync(join(dir, 'pvs.txt'), '1 2 3');
  assert.throws(() => loadPvs(join(dir, 'pvs.txt'), 3), /\.safetensors or \.json/);
});

test('sign agreement counts 0 as positive; cosine is scale-free', () => {
  assert.equal(signAgreement([0, -1, 2, -3], [1, -1, -1, 1]), 0.5);
  assert.ok(Math.abs(cosine([2, 0], [5, 0]) - 1) < 1e-12);
  assert.equal(cosine([0, 0], [1, 0]), 0);
});
