/** PV filtering (docs/algorithm.md#filtering): each rule on a constructed case. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Tensor } from '../../src/engine/index.js';
import { cleanShareNear, defaultDivTh, EmbeddingRange, filterCandidate, nearestTokens, signAgreement } from '../../src/sanitizer/filter.js';
import type { LoopResult } from '../../src/sanitizer/mining.js';

const opts = { distanceTh: 0.2, divTh: defaultDivTh(32) };

function loop(over: Partial<LoopResult> = {}): LoopResult {
  return {
    seed: 0, epochs: [{ distance: -1.5, diversity: -3.46, path: null, lr: 1e-4 }], distanceCurve: [-1.5],
    initialDistance: -0.01, initialMaxGrad: 0.01, initRows: [5, 6], crossed: true, abandoned: false, settled: false,
    prompt: Float32Array.from([0.1, -0.1, 0.2, 0.0]), candidate: Float32Array.from([1, -1, 1, -1]), seconds: 1, ...over,
  };
}

// Two dimensions with very different scales: dim 0 in [-1, 1], dim 1 in [-0.1, 0.1].
const emb = Tensor.from([1, 0.1, -1, -0.1, 0.5, 0.05], [3, 2]);
const range = EmbeddingRange.of(emb);

test('divTh derives from the batch size: −3.446 for B = 32, −ln B + 0.0197 in general', () => {
  assert.ok(Math.abs(defaultDivTh(32) - -3.446) < 1e-3);
  assert.ok(Math.abs(defaultDivTh(16) - (-Math.log(16) + 0.0197)) < 1e-12);
});

test('a unique, collapsed, in-range candidate is kept', () => {
  const v = filterCandidate(loop(), [], range, opts);
  assert.equal(v.kept, true);
  assert.deepEqual(v.reasons, []);
});

test('no candidate when the distance threshold was never crossed', () => {
  const v = filterCandidate(loop({ crossed: false, candidate: null, abandoned: true }), [], range, opts);
  assert.deepEqual(v.reasons, ['no-candidate']);
});

test('a candidate within distanceTh of a kept PV is a duplicate', () => {
  const near = Float32Array.from([1.1, -0.9, 1, -1]);
  const far = Float32Array.from([-1, 1, -1, 1]);
  assert.deepEqual(filterCandidate(loop(), [far, near], range, opts).reasons, ['duplicate']);
  assert.equal(filterCandidate(loop(), [far], range, opts).kept, true);
});

test('a batch that did not collapse is rejected', () => {
  const v = filterCandidate(loop({ epochs: [{ distance: -1.5, diversity: -3.40, path: null, lr: 1e-4 }] }), [], range, opts);
  assert.deepEqual(v.reasons, ['not-collapsed']);
});

test('the embedding range is per dimension, not global', () => {
  // 0.5 is inside the global range [-1.2, 1.2] but far outside dim 1's [-0.12, 0.12].
  const bad = filterCandidate(loop({ prompt: Float32Array.from([0.1, 0.5, 0.2, 0.0]) }), [], range, opts);
  assert.deepEqual(bad.reasons, ['out-of-range']);
  assert.equal(bad.rangeViolations, 1);
  // 1.15 is within 1.2 × dim 0's max of 1.
  assert.equal(filterCandidate(loop({ prompt: Float32Array.from([1.15, 0.11, -1.19, -0.11]) }), [], range, opts).kept, true);
});

test('every failed rule is reported, not just the first', () => {
  const v = filterCandidate(loop({ prompt: Float32Array.from([5, 5, 5, 5]), epochs: [{ distance: -1, diversity: -3, path: null, lr: 1 }] }), [], range, opts);
  assert.deepEqual(v.reasons.sort(), ['not-collapsed', 'out-of-range']);
});

test('nearest tokens by cosine, and sign agreement', () => {
  const near = nearestTokens(Float32Array.from([0.9, 0.09, -1, -0.1]), emb, 2, (id) => `tok${id}`);
  assert.equal(near.length, 2);
  assert.equal(near[0][0].token, 'tok0');
  assert.equal(near[1][0].token, 'tok1');
  assert.ok(near[0][0].cosine > 0.99);
  assert.equal(signAgreement(Float32Array.from([1, -1, 0, 2]), Float32Array.from([1, 1, 1, -2])), 0.5);
});

test('a candidate that sits on the clean outputs (a classifier\'s class cluster) is rejected', () => {
  // 100 clean outputs: 3 of them right at the candidate [1, -1, 1, -1], the rest far away.
  const H = 4;
  const data = new Float32Array(100 * H).fill(-2);
  for (let r = 0; r < 3; r++) data.set([1, -1, 1.1, -1], r * H);
  const clean = { data, hidden: H };
  assert.equal(cleanShareNear(Float32Array.from([1, -1, 1, -1]), clean, 0.2), 0.03);
  const strict = { ...opts, maxCleanShare: 0.01 };
  const v = filterCandidate(loop(), [], range, strict, clean);
  assert.deepEqual(v.reasons, ['clean-output']);
  assert.equal(v.cleanShare, 0.03);
  assert.equal(filterCandidate(loop(), [], range, { ...opts, maxCleanShare: 0.05 }, clean).kept, true);
  // Without clean outputs (or without the option) the paper's three rules alone apply.
  assert.equal(filterCandidate(loop(), [], range, strict).kept, true);
  assert.equal(filterCandidate(loop(), [], range, opts, clean).kept, true);
});
