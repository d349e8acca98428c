/**
 * Reductions and losses; each returns a scalar tensor (shape []).
 * Row-wise ops treat the input as [R, C] with C the last axis.
 */
import { assertSameDtype, shapeStr, Tensor } from '../tensor.js';
import { fail, finish, kernelsOf, lastDim } from './common.js';

function scalarOut(x: Tensor[], value: number): Tensor {
  const y = Tensor.output([], x[0].dtype, x);
  y.data[0] = value;
  return y;
}

export function sum(x: Tensor): Tensor {
  const k = kernelsOf(x);
  const y = scalarOut([x], k.sum(x.data, x.size));
  return finish('sum', y, (dy) => {
    const g = x.ensureGrad();
    for (let i = 0; i < x.size; i++) g[i] += dy[0];
  });
}

export function mean(x: Tensor): Tensor {
  if (x.size === 0) throw new Error('mean: empty tensor');
  const k = kernelsOf(x);
  const y = scalarOut([x], k.sum(x.data, x.size) / x.size);
  return finish('mean', y, (dy) => {
    const g = x.ensureGrad();
    const d = dy[0] / x.size;
    for (let i = 0; i < x.size; i++) g[i] += d;
  });
}

/**
 * mean((a − b)²). `b` may have the shape of a trailing part of `a`'s shape
 * (one target vector broadcast over a batch, as the path loss needs).
 */
export function mse(a: Tensor, b: Tensor): Tensor {
  const op = 'mse';
  const tail = a.shape.slice(a.shape.length - b.shape.length);
  if (b.shape.length > a.shape.length || tail.some((d, i) => d !== b.shape[i])) {
    fail(op, 'target must match the input shape or a trailing part of it', a, b);
  }
  if (a.size === 0) fail(op, 'empty input', a);
  assertSameDtype(op, a, b);
  const reps = b.size === 0 ? 0 : a.size / b.size;
  let s = 0;
  for (let r = 0; r < reps; r++) {
    const o = r * b.size;
    for (let i = 0; i < b.size; i++) {
      const d = a.data[o + i] - b.data[i];
      s += d * d;
    }
  }
  const y = scalarOut([a, b], s / a.size);
  return finish(op, y, (dy) => {
    const c = (2 * dy[0]) / a.size;
    const ga = a.requiresGrad ? a.ensureGrad() : null;
    const gb = b.requiresGrad ? b.ensureGrad() : null;
    for (let r = 0; r < reps; r++) {
      const o = r * b.size;
      for (let i = 0; i < b.size; i++) {
        const d = c * (a.data[o + i] - b.data[i]);
        if (ga) ga[o + i] += d;
        if (gb) gb[i] -= d;
      }
    }
  });
}

/** Row-wise log-softmax over the last axis. */
export function logSoftmax(x: Tensor): Tensor {
  const C = lastDim(x);
  const R = C === 0 ? 0 : x.size / C;
  const k = kernelsOf(x);
  const y = Tensor.output(x.shape, x.dtype, [x]);
  k.logSoftmaxForward(y.data, x.data, R, C);
  return finish('logSoftmax', y, (dy) => k.logSoftmaxBackward(x.ensureGrad(), dy, y.data, R, C));
}

/**
 * Mean cross-entropy of logits [R, C] against integer labels (R of them);
 * rows labelled `ignoreIndex` (−100, as in PyTorch) do not count.
 */
export function crossEntropy(logits: Tensor, labels: Int32Array, ignoreIndex = -100): Tensor {
  const op = 'crossEntropy';
  const C = lastDim(logits);
  const R = C === 0 ? 0 : logits.size / C;
  if (labels.length !== R) throw new Error(`${op}: ${labels.length} labels for ${R} rows of ${shapeStr(logits.shape)}`);
  let count = 0;
  for (let r = 0; r < R; r++) {
    const l = labels[r];
    if (l === ignoreIndex) continue;
    if (l < 0 || l >= C) throw new Error(`${op}: label ${l} at row ${r} is outside [0, ${C})`);
    count++;
  }
  if (count === 0) throw new Error(`${op}: every label is ignored`);
  // Fused: the forward keeps only each row's log-sum-exp, and the backward
  // writes scale · (softmax − onehot) straight into the logits' gradient —
  // no [R, C] log-probabilities, no zeroed [R, C] seed gradient, and one
  // exp per logit instead of two passes through logSoftmaxBackward.
  const k = kernelsOf(logits);
  const lse = Tensor.output([R], logits.dtype, []).data;
  const s = k.crossEntropyForward(lse, logits.data, labels, R, C, ignoreIndex);
  const y = scalarOut([logits], s / count);
  return finish(op, y, (dy) => {
    const g = logits.gradSink();
    k.crossEntropyBackward(g.grad, logits.data, lse, labels, R, C, dy[0] / count, ignoreIndex, g.accumulate);
  });
}

/**
 * Entropy(x) = −mean_rows Σ_cols softmax(x)·log_softmax(x), the softmax over
 * the last axis. (The diversity loss applies it to the transposed batch.)
 */
export function entropy(x: Tensor): Tensor {
  const C = lastDim(x);
  const R = C === 0 ? 0 : x.size / C;
  if (R === 0) fail('entropy', 'empty input', x);
  const k = kernelsOf(x);
  const logp = Tensor.output(x.shape, x.dtype, []);
  k.logSoftmaxForward(logp.data, x.data, R, C);
  let s = 0;
  for (let i = 0; i < x.size; i++) s -= Math.exp(logp.data[i]) * logp.data[i];
  const y = scalarOut([x], s / R);
  return finish('entropy', y, (dy) => {
    // d(−p·log p)/d(log p) = −p(log p + 1), then through log-softmax.
    const dlogp = Tensor.output(x.shape, x.dtype, []).data;
    const c = dy[0] / R;
    for (let i = 0; i < x.size; i++) {
      const lp = logp.data[i];
      dlogp[i] = -c * Math.exp(lp) * (lp + 1);
    }
    k.logSoftmaxBackward(x.ensureGrad(), dlogp, logp.data, R, C);
  });
}

/** Σ coeff_i · term_i over scalar tensors (the mining loss Ld + α·Lv + β·Lp). */
export function weightedSum(terms: readonly [number, Tensor][]): Tensor {
  if (terms.length === 0) throw new Error('weightedSum: no terms');
  for (const [, t] of terms) if (t.size !== 1) fail('weightedSum', 'terms must be scalars', t);
  const ts = terms.map(([, t]) => t);
  const y = scalarOut(ts, terms.reduce((s, [c, t]) => s + c * t.data[0], 0));
  return finish('weightedSum', y, (dy) => {
    for (const [c, t] of terms) if (t.requiresGrad) t.ensureGrad()[0] += c * dy[0];
  });
}
