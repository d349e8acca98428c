import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pvRecall } from '../../src/eval/recall.js';

test('PV recall counts an injected PV found by sign agreement or by MSE', () => {
  const a = Float32Array.from([1, 1, -1, -1]);
  const b = Float32Array.from([-1, 1, -1, 1]);
  const c = Float32Array.from([1, -1, 1, -1]);
  const minedA = Float32Array.from([0.4, 0.3, -0.2, -0.9]); // same signs as a, far in MSE
  const minedB = Float32Array.from([-0.9, 0.9, -0.9, -0.1]); // 3/4 signs of b, MSE 0.31 → found by MSE only
  const r = pvRecall([a, b, c], [minedA, minedB], 0.4);
  assert.equal(r.recall, 2 / 3);
  assert.equal(r.found[0].mined, 0);
  assert.equal(r.found[0].signAgreement, 1);
  assert.equal(r.found[1].mined, 1);
  assert.ok(r.found[1].mse < 0.4);
  assert.equal(pvRecall([a], [], 0.4).recall, 0);
});
