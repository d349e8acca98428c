/**
 * The fused paths against the unfused ops they replace, in float32 on the
 * active kernel set (native when built): addLayerNorm = layerNorm(add(dropout(x), res)),
 * linearGelu = gelu(linear(x)), crossEntropy's fused kernels against
 * logSoftmax, and Adam.update({ maxGradNorm }) = clipGradNorm + per-tensor adamStep.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Adam, add, addLayerNorm, backward, clipGradNorm, crossEntropy, dropout, gelu, layerNorm, linear, linearGelu, logSoftmax,
  Tensor, withScope,
} from '../../src/engine/index.js';
import { kernelsFor } from '../../src/engine/backend.js';
import { attention, gatherRows, noGrad, reshape } from '../../src/engine/index.js';
import { createEncoderConfig } from '../../src/formats/hf-config.js';
import { Encoder } from '../../src/models/encoder.js';
import { mulberry } from '../helpers/random.js';

function rt(shape: number[], seed: number, scale = 1, offset = 0): Tensor {
  const r = mulberry(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.from(Array.from({ length: n }, () => offset + (r() * 2 - 1) * scale), shape, { requiresGrad: true });
}

function assertClose(a: ArrayLike<number>, e: ArrayLike<number>, what: string, rel = 1e-5, abs = 1e-6): void {
  assert.equal(a.length, e.length, `${what}: length`);
  for (let i = 0; i < e.length; i++) {
    const err = Math.abs(a[i]! - e[i]!);
    assert.ok(err <= abs + rel * Math.abs(e[i]!), `${what}[${i}]: ${a[i]} vs ${e[i]}`);
  }
}

/** Value and input gradients of f under a fixed probe. */
function run(inputs: Tensor[], f: () => Tensor): { out: number[]; grads: number[][] } {
  for (const t of inputs) t.grad = null;
  return withScope(() => {
    const y = f();
    const r = mulberry(77);
    backward(y, Float32Array.from({ length: y.size }, () => r() * 2 - 1));
    return { out: y.toArray(), grads: inputs.map((t) => Array.from(t.grad!)) };
  });
}

test('addLayerNorm equals layerNorm(add(dropout(x), res)) (values and gradients, same dropout mask)', () => {
  for (const p of [0, 0.1]) {
    const x = rt([4, 7, 32], 1, 2);
    const r = rt([4, 7, 32], 2);
    const w = rt([32], 3, 0.3, 1);
    const b = rt([32], 4, 0.3);
    const ins = [x, r, w, b];
    const fused = run(ins, () => addLayerNorm(x, r, w, b, 1e-12, p > 0 ? { p, seed: 4242 } : null));
    const plain = run(ins, () => layerNorm(add(p > 0 ? dropout(x, p, 4242) : x, r), w, b, 1e-12));
    assertClose(fused.out, plain.out, `p=${p} out`);
    fused.grads.forEach((g, i) => assertClose(g, plain.grads[i]!, `p=${p} grad of input ${i}`, 1e-4, 1e-5));
  }
});

test('linearGelu equals gelu(linear(x))', () => {
  const x = rt([3, 5, 16], 5);
  const W = rt([40, 16], 6, 0.5);
  const b = rt([40], 7, 0.5);
  const ins = [x, W, b];
  const fused = run(ins, () => linearGelu(x, W, b));
  const plain = run(ins, () => gelu(linear(x, W, b)));
  assertClose(fused.out, plain.out, 'out');
  fused.grads.forEach((g, i) => assertClose(g, plain.grads[i]!, `grad of input ${i}`, 1e-4, 1e-5));
});

test('crossEntropy (fused) equals -mean log_softmax at the labels; its gradient is (softmax - onehot) / n', () => {
  const R = 6, C = 3000;
  const logits = rt([R, C], 8, 8);
  const labels = Int32Array.from([5, -100, 2999, 0, 17, -100]);
  const n = labels.filter((l) => l !== -100).length;
  const { out, grads } = run([logits], () => crossEntropy(logits, labels));
  const lp = withScope(() => logSoftmax(logits).toArray());
  let ref = 0;
  labels.forEach((l, r) => {
    if (l !== -100) ref -= lp[r * C + l]! / n;
  });
  assert.ok(Math.abs(out[0]! - ref) < 1e-5 * Math.abs(ref), `loss ${out[0]} vs ${ref}`);
  // run() seeds the scalar output with its first probe value.
  const seed = mulberry(77)() * 2 - 1;
  const expected = lp.map((v, i) => {
    const r = Math.floor(i / C);
    if (labels[r] === -100) return 0;
    return (seed / n) * (Math.exp(v) - (i % C === labels[r] ? 1 : 0));
  });
  assertClose(grads[0]!, expected, 'dlogits', 1e-4, 1e-8);
});

test('Adam.update({ maxGradNorm }) = clipGradNorm, then adamStep per tensor, then zeroed gradients', () => {
  const mk = () => [rt([300, 20], 9), rt([20], 10), rt([70000], 11)];
  const a = mk();
  const b = mk();
  const noDecayA = new Set([a[1]!]);
  const noDecayB = new Set([b[1]!]);
  const optA = new Adam(a, { lr: 1e-3, weightDecay: 0.01, noDecay: noDecayA, eps: 1e-6 });
  const optB = new Adam(b, { lr: 1e-3, weightDecay: 0.01, noDecay: noDecayB, eps: 1e-6 });
  const mB = b.map((p) => new Float32Array(p.size));
  const vB = b.map((p) => new Float32Array(p.size));
  for (let step = 1; step <= 3; step++) {
    for (const set of [a, b]) {
      const r = mulberry(100 + step);
      set.forEach((p) => {
        const g = p.ensureGrad();
        for (let j = 0; j < g.length; j++) g[j] = r() * 2 - 1;
      });
    }
    const normA = optA.update({ maxGradNorm: 1.0 });
    const normB = clipGradNorm(b, 1.0);
    b.forEach((p, i) => {
      kernelsFor(p.data).adamStep(p.data as Float32Array, p.grad as Float32Array, mB[i]!, vB[i]!, p.size, 1e-3, 0.9, 0.999, 1e-6, noDecayB.has(p) ? 0 : 0.01, step);
      p.zeroGrad();
    });
    optB.step++;
    assert.ok(Math.abs(normA - normB) <= 1e-9 * normB, `step ${step}: norm ${normA} vs ${normB}`);
    a.forEach((p, i) => {
      assert.deepEqual(p.data, b[i]!.data, `step ${step}: parameter ${i}`);
      assert.ok((p.grad as Float32Array).every((x) => x === 0), `step ${step}: gradient ${i} zeroed`);
    });
  }
  assert.ok(Number.isNaN(optA.update()), 'no maxGradNorm: NaN norm');
});

test('ragged attention equals the rows of full attention', () => {
  const B = 3, T = 6, H = 8;
  const q = rt([B, T, H], 20);
  const k = rt([B, T, H], 21);
  const v = rt([B, T, H], 22);
  const mask = new Float32Array(B * T);
  mask[T - 1] = -1e9;
  const rows = Int32Array.from([1, 4, 2 * T, 2 * T + 3, 2 * T + 5]);
  const offsets = Int32Array.from([0, 2, 2, 5]);
  const full = withScope(() => noGrad(() => gatherRows(reshape(attention(q, k, v, { heads: 2, mask }), [B * T, H]), rows).toArray()));
  const qr = withScope(() => noGrad(() => gatherRows(reshape(q, [B * T, H]), rows).clone()));
  const ragged = withScope(() => noGrad(() => attention(qr, k, v, { heads: 2, mask, queryOffsets: offsets }).toArray()));
  assertClose(ragged, full, 'ragged vs full rows');
});

test('encoder outputRows: the last layer on the chosen rows only gives the same hidden states and parameter gradients', () => {
  const config = createEncoderConfig('bert', {
    vocabSize: 50, hiddenSize: 16, numHiddenLayers: 2, numAttentionHeads: 2, intermediateSize: 32, maxPositionEmbeddings: 16,
  });
  const enc = Encoder.init(config, 3);
  const B = 3, T = 7;
  const r = mulberry(5);
  const ids = Int32Array.from({ length: B * T }, () => Math.floor(r() * 50));
  const attentionMask = Array.from({ length: B * T }, (_, i) => (i % T < (i < T ? 5 : 7) ? 1 : 0));
  const rows = Int32Array.from([2, 3, 2 * T, 2 * T + 6]); // none in batch row 1
  const params = [...enc.params.values()];
  const go = (ragged: boolean) => {
    for (const p of params) {
      p.requiresGrad = true;
      p.grad = null;
    }
    const out = withScope(() => {
      const o = enc.forward({ batch: B, seqLen: T, inputIds: ids, attentionMask, withPooler: false, ...(ragged && { outputRows: rows }) });
      const h = ragged ? o.lastHiddenState : gatherRows(reshape(o.lastHiddenState, [B * T, 16]), rows);
      const pr = mulberry(9);
      backward(h, Float32Array.from({ length: h.size }, () => pr() * 2 - 1));
      return h.toArray();
    });
    const grads = params.map((p) => (p.grad ? Array.from(p.grad) : []));
    for (const p of params) p.requiresGrad = false;
    return { out, grads };
  };
  const full = go(false);
  const ragged = go(true);
  assertClose(ragged.out, full.out, 'hidden states at the rows');
  ragged.grads.forEach((g, i) => assertClose(g, full.grads[i]!, `gradient of ${params[i]!.name}`, 1e-4, 1e-6));
});
