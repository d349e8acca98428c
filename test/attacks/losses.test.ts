import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pairwiseDistance, wassersteinExp } from '../../src/attacks/losses.js';
import { Tensor } from '../../src/engine/index.js';
import { Rng } from '../../src/text/random.js';

function randomTensor(n: number, H: number, rng: Rng): Tensor {
  return Tensor.from(Array.from({ length: n * H }, () => rng.normal()), [n, H]);
}

/** Central finite differences of f at every entry of x against the analytic gradient. */
function checkGradient(x: Tensor, f: (t: Tensor) => { value: number; grad: Float32Array }, coeff: number): void {
  const { grad } = f(x);
  const eps = 1e-3;
  for (let i = 0; i < x.size; i++) {
    const orig = x.data[i];
    x.data[i] = orig + eps;
    const up = f(x).value;
    x.data[i] = orig - eps;
    const down = f(x).value;
    x.data[i] = orig;
    const numeric = (coeff * (up - down)) / (2 * eps);
    assert.ok(Math.abs(numeric - grad[i]) < 2e-3 * Math.max(1, Math.abs(numeric)), `entry ${i}: numeric ${numeric}, analytic ${grad[i]}`);
  }
}

test('pairwise distance: value and gradient', () => {
  const rng = new Rng(3);
  const h = randomTensor(3, 4, rng);
  const t = Float32Array.from({ length: 12 }, () => rng.normal());
  let expect = 0;
  for (let r = 0; r < 3; r++) {
    let s = 0;
    for (let i = 0; i < 4; i++) s += (h.data[r * 4 + i] - t[r * 4 + i]) ** 2;
    expect += Math.sqrt(s) / 3;
  }
  assert.ok(Math.abs(pairwiseDistance(h, t, 1).value - expect) < 1e-5);
  checkGradient(h, (x) => pairwiseDistance(x, t, 2), 2);
});

test('Wasserstein of exp features: zero for equal distributions, gradient matches finite differences', () => {
  const rng = new Rng(4);
  const h = randomTensor(5, 3, rng);
  // The same rows in another order: the same distribution.
  const same = new Float32Array(15);
  [4, 2, 0, 3, 1].forEach((r, k) => same.set(h.data.subarray(r * 3, r * 3 + 3), k * 3));
  assert.ok(wassersteinExp(h, same, 5, 1).value < 1e-6);
  const clean = Float32Array.from({ length: 4 * 3 }, () => rng.normal());
  assert.ok(wassersteinExp(h, clean, 4, 1).value > 0);
  checkGradient(h, (x) => wassersteinExp(x, clean, 4, 0.5), 0.5);
});
