import { test } from 'node:test';
import assert from 'node:assert/strict';
import { topTwoPca } from '../../src/eval/pca.js';

/** An orthonormal basis of R^d from fixed vectors (Gram–Schmidt), so the known axes are not coordinate axes. */
function basis(d: number, k: number): Float64Array[] {
  const out: Float64Array[] = [];
  for (let i = 0; out.length < k; i++) {
    const v = Float64Array.from({ length: d }, (_, j) => Math.sin(1 + i * 7.3 + j * 1.7) + (j === i ? 2 : 0));
    for (const u of out) {
      let p = 0;
      for (let j = 0; j < d; j++) p += v[j] * u[j];
      for (let j = 0; j < d; j++) v[j] -= p * u[j];
    }
    const n = Math.hypot(...v);
    for (let j = 0; j < d; j++) v[j] /= n;
    out.push(v);
  }
  return out;
}

function absCos(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return Math.abs(ab) / Math.sqrt(aa * bb);
}

test('recovers known axes and variances (±3 u, ±2 w, ±1 z around an offset mean)', () => {
  const d = 6;
  const [u, w, z] = basis(d, 3);
  const offset = Float64Array.from({ length: d }, (_, j) => 5 - j);
  const pts: number[] = [];
  // Every sign combination: the covariance is exactly 9·uuᵀ + 4·wwᵀ + 1·zzᵀ.
  for (const a of [-3, 3]) for (const b of [-2, 2]) for (const c of [-1, 1]) {
    for (let j = 0; j < d; j++) pts.push(offset[j] + a * u[j] + b * w[j] + c * z[j]);
  }
  const p = topTwoPca(pts, 8, d);
  for (let j = 0; j < d; j++) assert.ok(Math.abs(p.mean[j] - offset[j]) < 1e-12);
  assert.ok(Math.abs(p.variances[0] - 9) < 1e-9, `λ1 ${p.variances[0]}`);
  assert.ok(Math.abs(p.variances[1] - 4) < 1e-9, `λ2 ${p.variances[1]}`);
  assert.ok(Math.abs(p.totalVariance - 14) < 1e-9);
  assert.ok(absCos(p.components[0], u) > 1 - 1e-9);
  assert.ok(absCos(p.components[1], w) > 1 - 1e-9);
  const [x0, y0] = p.project(offset);
  assert.ok(Math.abs(x0) < 1e-9 && Math.abs(y0) < 1e-9);
  const [x, y] = p.project(Array.from(offset, (o, j) => o + 3 * u[j] + 1 * z[j]));
  assert.ok(Math.abs(Math.abs(x) - 3) < 1e-9 && Math.abs(y) < 1e-9);
});

test('nearby eigenvalues converge; signs are deterministic', () => {
  const d = 5;
  const [u, w] = basis(d, 2);
  const pts: number[] = [];
  for (const a of [-1.2, 1.2]) for (const b of [-1, 1]) for (let j = 0; j < d; j++) pts.push(a * u[j] + b * w[j]);
  const p = topTwoPca(pts, 4, d);
  assert.ok(Math.abs(p.variances[0] - 1.44) < 1e-9);
  assert.ok(Math.abs(p.variances[1] - 1) < 1e-9);
  assert.ok(absCos(p.components[0], u) > 1 - 1e-12);
  const q = topTwoPca(pts, 4, d);
  assert.deepEqual(Array.from(q.components[0]), Array.from(p.components[0]));
  for (const c of p.components) {
    const k = c.reduce((best, v, i) => (Math.abs(v) > Math.abs(c[best]) ? i : best), 0);
    assert.ok(c[k] > 0, 'largest entry is positive');
  }
});

test('almost equal eigenvalues: the iteration cap still gives an orthonormal pair spanning the top plane', () => {
  const d = 4;
  const [u, w] = basis(d, 2);
  const pts: number[] = [];
  for (const a of [-1.0001, 1.0001]) for (const b of [-1, 1]) for (let j = 0; j < d; j++) pts.push(a * u[j] + b * w[j]);
  const p = topTwoPca(pts, 4, d, { maxIterations: 20 });
  const [c1, c2] = p.components;
  let dot12 = 0;
  for (let j = 0; j < d; j++) dot12 += c1[j] * c2[j];
  assert.ok(Math.abs(dot12) < 1e-12);
  for (const c of [c1, c2]) {
    // Inside span(u, w): the squared projections onto u and w sum to 1.
    assert.ok(Math.abs(absCos(c, u) ** 2 + absCos(c, w) ** 2 - 1) < 1e-9);
  }
  assert.ok(Math.abs(p.variances[0] + p.variances[1] - (1.0001 ** 2 + 1)) < 1e-9);
});

test('degenerate data: rank 1, one point, one dimension', () => {
  const line = topTwoPca([0, 0, 1, 2, 2, 4, 3, 6], 4, 2);
  assert.ok(absCos(line.components[0], [1, 2]) > 1 - 1e-12);
  assert.equal(line.variances[1], 0);
  assert.deepEqual(Array.from(line.components[1]), [0, 0]);

  const single = topTwoPca([1, 2, 3], 1, 3);
  assert.deepEqual(single.variances, [0, 0]);
  assert.deepEqual(single.project([1, 2, 3]), [0, 0]);

  const oneDim = topTwoPca([1, 3], 2, 1);
  assert.equal(oneDim.variances[0], 1);
  assert.equal(oneDim.variances[1], 0);
  assert.deepEqual(oneDim.project([3]), [1, 0]);
});

test('rejects inconsistent input', () => {
  assert.throws(() => topTwoPca([1, 2, 3], 2, 2), /expected 2×2/);
  assert.throws(() => topTwoPca([], 0, 3), /at least one point/);
  assert.throws(() => topTwoPca([1, 2], 1, 2).project([1]), /cannot project/);
});

test('report-sized input (500 × 768, flat spectrum: the slow case) is quick', () => {
  const n = 500, d = 768;
  const pts = new Float32Array(n * d);
  for (let i = 0; i < pts.length; i++) pts[i] = Math.sin(i * 12.9898) * 0.5 + (i % d === 3 ? Math.cos(i) * 4 : 0);
  const t = Date.now();
  const p = topTwoPca(pts, n, d);
  assert.ok(p.variances[0] >= p.variances[1]);
  assert.ok(Date.now() - t < 10_000, `took ${Date.now() - t} ms`);
});
