/**
 * softmaxMix, the vocabulary mixture of the trigger-inversion baseline:
 * finite-difference gradients (logits and table, with a mask and a
 * temperature, alone and spliced into a sequence as the inversion uses it),
 * masked words carrying no probability and no gradient, and the float32
 * (native) forward agreeing with the float64 one.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backward, reshape, softmaxMix, spliceRows, sum, Tensor, withScope } from '../../src/engine/index.js';
import { gradcheck, randTensor } from '../helpers/gradcheck.js';

const maskOf = (V: number, drop: number[], dtype: 'f32' | 'f64' = 'f64') => {
  const m = dtype === 'f64' ? new Float64Array(V) : new Float32Array(V);
  for (const v of drop) m[v] = -1e9;
  return m;
};

test('softmaxMix: logits and table gradients, with a mask and a temperature', () => {
  const logits = randTensor([3, 9], 1, { scale: 2 });
  const table = randTensor([9, 4], 2);
  const mask = maskOf(9, [0, 5]);
  for (const tau of [1, 0.3]) {
    gradcheck(`softmaxMix-tau${tau}`, [logits, table], (x, w) => softmaxMix(x, w, { scale: 1 / tau, mask }));
  }
  gradcheck('softmaxMix-no-mask', [logits, table], (x, w) => softmaxMix(x, w, { scale: 1 }));
  const frozen = randTensor([9, 4], 3, { requiresGrad: false });
  gradcheck('softmaxMix-frozen-table', [logits], (x) => softmaxMix(x, frozen, { scale: 2, mask }));
});

test('softmaxMix spliced into a sequence (the inversion path): gradients reach the logits through every copy', () => {
  const B = 2, T = 4, L = 2, V = 7, E = 3;
  const words = randTensor([B * T, E], 4, { requiresGrad: false });
  const table = randTensor([V, E], 5, { requiresGrad: false });
  const logits = randTensor([L, V], 6, { scale: 1.5 });
  const dst = Int32Array.from([1, 2, T + 2, T + 3]);
  const src = Int32Array.from([0, 1, 0, 1]);
  const mask = maskOf(V, [3]);
  gradcheck('softmaxMix-splice', [logits], (x) => reshape(spliceRows(words, dst, softmaxMix(x, table, { scale: 1 / 0.7, mask }), src), [B, T, E]));
});

test('softmaxMix: masked words get probability 0 and no gradient; rows are convex combinations', () => {
  const V = 6, E = 2;
  const table = Tensor.from([1, 0, 0, 1, 100, 100, 2, 2, 0, 0, -1, 3], [V, E], { dtype: 'f64' });
  const logits = Tensor.from(Array.from({ length: 2 * V }, (_, i) => (i % V === 2 ? 50 : i * 0.1)), [2, V], { dtype: 'f64', requiresGrad: true });
  withScope(() => {
    const y = softmaxMix(logits, table, { scale: 1, mask: maskOf(V, [2]) });
    // Word 2 (the 100, 100 row) has by far the largest logit but is masked: the rows stay inside the others' hull.
    for (const x of y.data) assert.ok(x > -1.01 && x < 3.01, `mixture ${x} lies outside the unmasked rows`);
    backward(sum(y));
  });
  assert.equal(logits.grad![2], 0);
  assert.equal(logits.grad![V + 2], 0);
});

test('softmaxMix: the float32 forward matches float64', () => {
  const R = 3, V = 50, E = 8;
  const x64 = randTensor([R, V], 7, { scale: 3, requiresGrad: false });
  const w64 = randTensor([V, E], 8, { requiresGrad: false });
  const x32 = Tensor.from(x64.data, [R, V]);
  const w32 = Tensor.from(w64.data, [V, E]);
  withScope(() => {
    const a = softmaxMix(x64, w64, { scale: 2, mask: maskOf(V, [1, 7]) }).data;
    const b = softmaxMix(x32, w32, { scale: 2, mask: maskOf(V, [1, 7], 'f32') }).data;
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-5, `${i}: ${a[i]} vs ${b[i]}`);
  });
  assert.throws(() => softmaxMix(x64, randTensor([V + 1, E], 9), { scale: 1 }), /one column per table row/);
  assert.throws(() => softmaxMix(x64, w64, { scale: 0 }), /scale must be a positive number/);
});
