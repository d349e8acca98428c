/**
 * The engine's two resource promises: frozen weights cost no
 * weight-gradient GEMMs, and a long training loop keeps memory flat.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Adam, attention, backward, gelu, gemmCounters, layerNorm, linear, mse, poolStats, resetGemmCounters, Tensor, withScope,
} from '../../src/engine/index.js';
import { mulberry } from '../helpers/random.js';

function param(shape: number[], seed: number, requiresGrad: boolean): Tensor {
  const r = mulberry(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.from(Array.from({ length: n }, () => (r() - 0.5) * 0.2), shape, { requiresGrad });
}

function block(x: Tensor, w: Tensor[], ln: Tensor[]): Tensor {
  const ctx = attention(linear(x, w[0], null), linear(x, w[1], null), linear(x, w[2], null), { heads: 2 });
  return layerNorm(gelu(linear(ctx, w[3], null)), ln[0], ln[1], 1e-5);
}

test('frozen weights get no gradient buffers and no weight-gradient GEMMs', () => {
  const H = 8;
  const weights = [0, 1, 2, 3].map((i) => param([H, H], i, false));
  const ln = [Tensor.from(new Array(H).fill(1), [H]), Tensor.zeros([H])];
  const prompt = param([1, 4, H], 9, true);
  resetGemmCounters();
  withScope(() => backward(mse(block(prompt, weights, ln), Tensor.zeros([H]))));
  assert.equal(gemmCounters.gradWeight, 0, 'a frozen model must not run weight-gradient GEMMs');
  assert.ok(gemmCounters.gradInput > 0, 'gradients must still flow to the input');
  assert.ok(prompt.grad && prompt.grad.some((g) => g !== 0), 'the prompt receives a gradient');
  for (const w of weights) assert.equal(w.grad, null);

  // The same graph with trainable weights runs exactly one weight-gradient GEMM per linear.
  for (const w of weights) w.requiresGrad = true;
  resetGemmCounters();
  withScope(() => backward(mse(block(prompt, weights, ln), Tensor.zeros([H]))));
  assert.equal(gemmCounters.gradWeight, 4);
});

test('1,000 training steps keep RSS flat', () => {
  const H = 64;
  const weights = [0, 1, 2, 3].map((i) => param([H, H], i, true));
  const ln = [Tensor.from(new Array(H).fill(1), [H], { requiresGrad: true }), Tensor.zeros([H], { requiresGrad: true })];
  const x = param([8, 32, H], 7, false);
  const target = Tensor.zeros([H]);
  const opt = new Adam([...weights, ...ln], { lr: 1e-3 });
  const step = () =>
    withScope(() => {
      const loss = mse(block(x, weights, ln), target);
      backward(loss);
      opt.update();
      return loss.item();
    });
  for (let i = 0; i < 50; i++) step(); // warm the pool
  global.gc?.();
  const before = process.memoryUsage().rss;
  let last = 0;
  for (let i = 0; i < 1000; i++) last = step();
  global.gc?.();
  const growth = process.memoryUsage().rss - before;
  assert.ok(Number.isFinite(last));
  assert.ok(growth < 32 * 1024 * 1024, `RSS grew by ${(growth / 1048576).toFixed(1)} MiB over 1,000 steps`);
  assert.ok(poolStats().pooledBytes < 64 * 1024 * 1024, 'the pool holds about one step of buffers');
});
