/**
 * Portable TypeScript kernels: the reference the native set is tested
 * against, the fallback when the addon cannot load, and the only set that
 * runs in float64 (finite-difference gradient checks use it).
 * Semantics of every kernel: see types.ts.
 */
import type { Buf, Kernels } from './types.js';

/** Counter-based hash shared bit-for-bit with native/kernels.cc (dropout masks). */
export function hash32(seed: number, i: number): number {
  let x = (Math.imul(i >>> 0, 0x9e3779b1) ^ (seed >>> 0)) >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

// Math has no erf. float64 gradient checks need it to double precision (the
// native set uses std::erf), so: Maclaurin series for |x| < 2.5, and the
// continued fraction of erfc beyond, evaluated bottom-up.
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
export function erf(x: number): number {
  const z = Math.abs(x);
  if (z < 2.5) {
    let term = z;
    let sum = z;
    const z2 = z * z;
    for (let n = 1; n < 60; n++) {
      term *= -z2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    const r = TWO_OVER_SQRT_PI * sum;
    return x < 0 ? -r : r;
  }
  let f = z;
  for (let k = 60; k >= 1; k--) f = z + (k / 2) / f;
  const erfc = Math.exp(-z * z) / (Math.sqrt(Math.PI) * f);
  return x < 0 ? erfc - 1 : 1 - erfc;
}

const INV_SQRT2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

function gemmOne(
  transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  A: Buf, offA: number, lda: number, B: Buf, offB: number, ldb: number,
  beta: number, C: Buf, offC: number, ldc: number,
): void {
  for (let i = 0; i < M; i++) {
    const cRow = offC + i * ldc;
    if (beta === 0) for (let j = 0; j < N; j++) C[cRow + j] = 0;
    else if (beta !== 1) for (let j = 0; j < N; j++) C[cRow + j] *= beta;
    if (K === 0 || alpha === 0) continue;
    // i-k-j order keeps the inner loop contiguous in B and C when B is not transposed.
    for (let k = 0; k < K; k++) {
      const a = alpha * (transA ? A[offA + k * lda + i] : A[offA + i * lda + k]);
      if (a === 0) continue;
      if (!transB) {
        const bRow = offB + k * ldb;
        for (let j = 0; j < N; j++) C[cRow + j] += a * B[bRow + j];
      } else {
        for (let j = 0; j < N; j++) C[cRow + j] += a * B[offB + j * ldb + k];
      }
    }
  }
}

export const jsKernels: Kernels = {
  name: 'js',
  gemmImpl: 'js',

  sgemm: gemmOne,

  sgemmBatched(transA, transB, M, N, K, alpha,
    A, offA, lda, sAo, sAi, B, offB, ldb, sBo, sBi, beta, C, offC, ldc, sCo, sCi, outer, inner) {
    for (let o = 0; o < outer; o++) {
      for (let h = 0; h < inner; h++) {
        gemmOne(transA, transB, M, N, K, alpha,
          A, offA + o * sAo + h * sAi, lda,
          B, offB + o * sBo + h * sBi, ldb,
          beta, C, offC + o * sCo + h * sCi, ldc);
      }
    }
  },

  biasAdd(out, inp, bias, R, C) {
    for (let r = 0; r < R; r++) {
      const o = r * C;
      for (let c = 0; c < C; c++) out[o + c] = inp[o + c] + bias[c];
    }
  },

  biasBackward(dbias, dout, R, C) {
    for (let r = 0; r < R; r++) {
      const o = r * C;
      for (let c = 0; c < C; c++) dbias[c] += dout[o + c];
    }
  },

  geluForward(out, inp, N) {
    for (let i = 0; i < N; i++) {
      const x = inp[i];
      out[i] = 0.5 * x * (1 + erf(x * INV_SQRT2));
    }
  },

  geluBackward(dinp, dout, inp, N) {
    for (let i = 0; i < N; i++) {
      const x = inp[i];
      const cdf = 0.5 * (1 + erf(x * INV_SQRT2));
      const pdf = INV_SQRT_2PI * Math.exp(-0.5 * x * x);
      dinp[i] += dout[i] * (cdf + x * pdf);
    }
  },

  tanhForward(out, inp, N) {
    for (let i = 0; i < N; i++) out[i] = Math.tanh(inp[i]);
  },

  tanhBackward(dinp, dout, out, N) {
    for (let i = 0; i < N; i++) dinp[i] += dout[i] * (1 - out[i] * out[i]);
  },

  layerNormForward(out, mean, rstd, inp, weight, bias, R, C, eps) {
    for (let r = 0; r < R; r++) {
      const o = r * C;
      let m = 0;
      for (let c = 0; c < C; c++) m += inp[o + c];
      m /= C;
      let v = 0;
      for (let c = 0; c < C; c++) {
        const d = inp[o + c] - m;
        v += d * d;
      }
      v /= C;
      const s = 1 / Math.sqrt(v + eps);
      for (let c = 0; c < C; c++) out[o + c] = (inp[o + c] - m) * s * weight[c] + bias[c];
      mean[r] = m;
      rstd[r] = s;
    }
  },

  layerNormBackward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, R, C) {
    for (let r = 0; r < R; r++) {
      const o = r * C;
      const m = mean[r];
      const s = rstd[r];
      let dnormMean = 0;
      let dnormNormMean = 0;
      for (let c = 0; c < C; c++) {
        const norm = (inp[o + c] - m) * s;
        const dnorm = weight[c] * dout[o + c];
        dnormMean += dnorm;
        dnormNormMean += dnorm * norm;
      }
      dnormMean /= C;
      dnormNormMean /= C;
      for (let c = 0; c < C; c++) {
        const norm = (inp[o + c] - m) * s;
        if (dbias) dbias[c] += dout[o + c];
        if (dweight) dweight[c] += norm * dout[o + c];
        if (dinp) {
          const dnorm = weight[c] * dout[o + c];
          dinp[o + c] += (dnorm - dnormMean - norm * dnormNormMean) * s;
        }
      }
    }
  },

  softmaxForward(out, inp, mask, scale, R, C, rowsPerMask) {
    for (let r = 0; r < R; r++) {
      const o = r * C;
      const mo = mask ? Math.floor(r / rowsPerMask) * C : 0;
      let max = -Infinity;
      for (let c = 0; c < C; c++) {
        const x = scale * inp[o + c] + (mask ? mask[mo + c] : 0);
        out[o + c] = x;
        if (x > max) max = x;
      }
      if (max === -Infinity) {
        for (let c = 0; c < C; c++) out[o + c] = 0;
        continue;
      }
      let s = 0;
      for (let c = 0; c < C; c++) {
        const e = Math.exp(out[o + c] - max);
        out[o + c] = e;
        s += e;
      }
      const inv = 1 / s;
      for (let c = 0; c < C; c++) out[o + c] *= inv;
    }
  },

  softmaxBackward(dinp, dout, out, scale, R, C) {
    for (let r = 0; r < R; r++) {
      const o = r * C;
      let dot = 0;
      for (let c = 0; c < C; c++) dot += dout[o + c] * out[o + c];
      for (let c = 0; c < C; c++) dinp[o + c] += scale * out[o + c] * (dout[o + c] - dot);
    }
  },

  logSoftmaxForward(out, inp, R, C) {
    for (let r = 0; r < R; r++) {
      const o = r * C;
      let max = -Infinity;
      for (let c = 0; c < C; c++) if (inp[o + c] > max) max = inp[o + c];
      let s = 0;
      for (let c = 0; c < C; c++) s += Math.exp(inp[o + c] - max);
      const lse = max + Math.log(s);
      for (let c = 0; c < C; c++) out[o + c] = inp[o + c] - lse;
    }
  },

  logSoftmaxBackward(dinp, dout, out, R, C) {
    for (let r = 0; r < R; r++) {
      const o = r * C;
      let s = 0;
      for (let c = 0; c < C; c++) s += dout[o + c];
      for (let c = 0; c < C; c++) dinp[o + c] += dout[o + c] - Math.exp(out[o + c]) * s;
    }
  },

  embeddingForward(out, ids, table, N, C) {
    for (let n = 0; n < N; n++) {
      const src = ids[n] * C;
      const dst = n * C;
      for (let c = 0; c < C; c++) out[dst + c] = table[src + c];
    }
  },

  embeddingBackward(dtable, dout, ids, N, C) {
    for (let n = 0; n < N; n++) {
      const dst = ids[n] * C;
      const src = n * C;
      for (let c = 0; c < C; c++) dtable[dst + c] += dout[src + c];
    }
  },

  dropoutForward(out, keep, inp, N, p, seed) {
    const threshold = p * 4294967296;
    const s = 1 / (1 - p);
    for (let i = 0; i < N; i++) {
      const k = hash32(seed, i) >= threshold ? 1 : 0;
      keep[i] = k;
      out[i] = k ? inp[i] * s : 0;
    }
  },

  dropoutBackward(dinp, dout, keep, N, p) {
    const s = 1 / (1 - p);
    for (let i = 0; i < N; i++) if (keep[i]) dinp[i] += dout[i] * s;
  },

  add(out, a, b, N) {
    for (let i = 0; i < N; i++) out[i] = a[i] + b[i];
  },

  axpy(N, alpha, x, offX, y, offY) {
    for (let i = 0; i < N; i++) y[offY + i] += alpha * x[offX + i];
  },

  scale(x, N, alpha) {
    for (let i = 0; i < N; i++) x[i] *= alpha;
  },

  sum(x, N) {
    let s = 0;
    for (let i = 0; i < N; i++) s += x[i];
    return s;
  },

  sumSquaredDiff(a, b, N) {
    let s = 0;
    if (b) {
      for (let i = 0; i < N; i++) {
        const d = a[i] - b[i];
        s += d * d;
      }
    } else {
      for (let i = 0; i < N; i++) s += a[i] * a[i];
    }
    return s;
  },

  maxAbs(x, N) {
    let m = 0;
    for (let i = 0; i < N; i++) {
      const v = Math.abs(x[i]);
      if (v > m) m = v;
    }
    return m;
  },

  firstNonFinite(x, N) {
    // Branch-free over four float64 accumulators of x·0 (0 for every finite
    // x, NaN for NaN and ±Infinity); only an array that fails is walked again.
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let i = 0;
    for (; i + 3 < N; i += 4) {
      s0 += x[i]! * 0;
      s1 += x[i + 1]! * 0;
      s2 += x[i + 2]! * 0;
      s3 += x[i + 3]! * 0;
    }
    for (; i < N; i++) s0 += x[i]! * 0;
    if (s0 + s1 + s2 + s3 === 0) return -1;
    for (let j = 0; j < N; j++) if (!Number.isFinite(x[j]!)) return j;
    return -1;
  },

  adamStep(param, grad, m, v, N, lr, beta1, beta2, eps, weightDecay, step) {
    const bc1 = 1 - Math.pow(beta1, step);
    const bc2 = 1 - Math.pow(beta2, step);
    for (let i = 0; i < N; i++) {
      const g = grad[i];
      m[i] = beta1 * m[i] + (1 - beta1) * g;
      v[i] = beta2 * v[i] + (1 - beta2) * g * g;
      const mHat = m[i] / bc1;
      const vHat = v[i] / bc2;
      param[i] -= lr * (mHat / (Math.sqrt(vHat) + eps) + weightDecay * param[i]);
    }
  },

  crossEntropyForward(lse, logits, labels, R, C, ignoreIndex) {
    let loss = 0;
    for (let r = 0; r < R; r++) {
      if (labels[r] === ignoreIndex) {
        lse[r] = 0;
        continue;
      }
      const o = r * C;
      let max = -Infinity;
      for (let c = 0; c < C; c++) if (logits[o + c] > max) max = logits[o + c];
      let s = 0;
      for (let c = 0; c < C; c++) s += Math.exp(logits[o + c] - max);
      const l = max + Math.log(s);
      lse[r] = l;
      loss += l - logits[o + labels[r]];
    }
    return loss;
  },

  crossEntropyBackward(dlogits, logits, lse, labels, R, C, scale, ignoreIndex, accumulate) {
    for (let r = 0; r < R; r++) {
      const o = r * C;
      if (labels[r] === ignoreIndex) {
        if (!accumulate) dlogits.fill(0, o, o + C);
        continue;
      }
      const l = lse[r];
      for (let c = 0; c < C; c++) {
        const g = scale * (Math.exp(logits[o + c] - l) - (c === labels[r] ? 1 : 0));
        dlogits[o + c] = accumulate ? dlogits[o + c] + g : g;
      }
    }
  },

  addLayerNormForward(out, sum, mean, rstd, x, res, weight, bias, R, C, eps, p, seed) {
    const N = R * C;
    if (p > 0) {
      const threshold = p * 4294967296;
      const s = 1 / (1 - p);
      // The dropped value is rounded to the buffer's precision before the add, as dropoutForward's output is.
      const round = sum instanceof Float32Array ? Math.fround : (v: number) => v;
      for (let i = 0; i < N; i++) sum[i] = (hash32(seed, i) >= threshold ? round(x[i] * s) : 0) + res[i];
    } else {
      for (let i = 0; i < N; i++) sum[i] = x[i] + res[i];
    }
    jsKernels.layerNormForward(out, mean, rstd, sum, weight, bias, R, C, eps);
  },

  addLayerNormBackward(dx, dres, dweight, dbias, dout, sum, weight, mean, rstd, R, C, p, seed, accumulateX, accumulateRes) {
    const N = R * C;
    let ds: Buf | null = null;
    if (dx || dres) {
      ds = sum instanceof Float64Array ? new Float64Array(N) : new Float32Array(N);
    }
    jsKernels.layerNormBackward(ds, dweight, dbias, dout, sum, weight, mean, rstd, R, C);
    if (!ds) return;
    if (dres) for (let i = 0; i < N; i++) dres[i] = accumulateRes ? dres[i] + ds[i] : ds[i];
    if (dx) {
      const threshold = p * 4294967296;
      const s = p > 0 ? 1 / (1 - p) : 1;
      for (let i = 0; i < N; i++) {
        const keep = p <= 0 || hash32(seed, i) >= threshold;
        const g = keep ? ds[i] * s : 0;
        dx[i] = accumulateX ? dx[i] + g : g;
      }
    }
  },

  biasGeluForward(out, pre, inp, bias, R, C) {
    for (let r = 0; r < R; r++) {
      const o = r * C;
      for (let c = 0; c < C; c++) pre[o + c] = inp[o + c] + bias[c];
    }
    jsKernels.geluForward(out, pre, R * C);
  },

  biasGeluBackward(dpre, dbias, dout, pre, R, C) {
    dpre.fill(0, 0, R * C);
    jsKernels.geluBackward(dpre, dout, pre, R * C);
    if (dbias) jsKernels.biasBackward(dbias, dpre, R, C);
  },

  adamStepMany(params, grads, m, v, weightDecays, lr, beta1, beta2, eps, step, gradScale) {
    params.forEach((p, i) => {
      const g = grads[i];
      if (gradScale !== 1) jsKernels.scale(g, p.length, gradScale);
      jsKernels.adamStep(p, g, m[i], v[i], p.length, lr, beta1, beta2, eps, weightDecays[i], step);
      g.fill(0, 0, p.length);
    });
  },

  sumSquaresMany(xs) {
    let s = 0;
    for (const x of xs) s += jsKernels.sumSquaredDiff(x, null, x.length);
    return s;
  },
};
