/**
 * The kernel-set contract. Two implementations share it: `js.ts` (portable
 * reference, also usable in float64 for gradient checks) and `native.ts`
 * (C++ behind N-API, float32 only, GEMMs through OpenBLAS).
 *
 * Conventions, as in llm.c:
 * - all matrices are row-major; offsets and strides are counted in elements;
 * - every `...Backward` kernel ACCUMULATES into its gradient outputs (+=), so
 *   a tensor used twice simply receives two contributions;
 * - shape letters: B = batch, T = query length, Tk = key length, C = channels,
 *   N = element count, R = rows.
 */
export type Buf = Float32Array | Float64Array;

export interface Kernels {
  readonly name: 'js' | 'native';
  /** Which GEMM the set uses: 'openblas', 'portable' (C++ blocked fallback) or 'js'. */
  readonly gemmImpl: string;

  /** C = alpha * op(A) · op(B) + beta * C, op(A) is M×K, op(B) is K×N, C is M×N. */
  sgemm(
    transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
    A: Buf, offA: number, lda: number,
    B: Buf, offB: number, ldb: number,
    beta: number, C: Buf, offC: number, ldc: number,
  ): void;

  /**
   * `outer × inner` independent GEMMs with the same M, N, K. Matrix i uses
   * offset off + floor(i / inner) * strideOuter + (i % inner) * strideInner
   * for each of A, B, C. Attention uses outer = batch, inner = heads, so the
   * per-head slices of a [B, T, H] tensor are addressed without a permute.
   */
  sgemmBatched(
    transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
    A: Buf, offA: number, lda: number, strideAOuter: number, strideAInner: number,
    B: Buf, offB: number, ldb: number, strideBOuter: number, strideBInner: number,
    beta: number, C: Buf, offC: number, ldc: number, strideCOuter: number, strideCInner: number,
    outer: number, inner: number,
  ): void;

  /** out[r, c] = inp[r, c] + bias[c]  (R×C). `out` may alias `inp`. */
  biasAdd(out: Buf, inp: Buf, bias: Buf, R: number, C: number): void;
  /** dbias[c] += Σ_r dout[r, c]  (also the column sum a loss reduction needs). */
  biasBackward(dbias: Buf, dout: Buf, R: number, C: number): void;

  /** out = 0.5 x (1 + erf(x / √2)) — the exact GELU BERT uses. */
  geluForward(out: Buf, inp: Buf, N: number): void;
  /** dinp += dout * gelu'(inp). */
  geluBackward(dinp: Buf, dout: Buf, inp: Buf, N: number): void;

  tanhForward(out: Buf, inp: Buf, N: number): void;
  /** dinp += dout * (1 - out²), using the forward output. */
  tanhBackward(dinp: Buf, dout: Buf, out: Buf, N: number): void;

  /**
   * Row-wise layer norm over C channels; mean and rstd (length R) are saved
   * for the backward.
   */
  layerNormForward(
    out: Buf, mean: Buf, rstd: Buf, inp: Buf, weight: Buf, bias: Buf,
    R: number, C: number, eps: number,
  ): void;
  /** dinp += …; dweight / dbias += … when given (null when frozen). */
  layerNormBackward(
    dinp: Buf | null, dweight: Buf | null, dbias: Buf | null,
    dout: Buf, inp: Buf, weight: Buf, mean: Buf, rstd: Buf, R: number, C: number,
  ): void;

  /**
   * out[r, :] = softmax(scale * inp[r, :] + mask[floor(r / rowsPerMask), :])
   * over the last axis of length C. `mask` is additive (0 keeps, a large
   * negative drops) and may be null. A row whose inputs are all -Infinity
   * yields zeros, not NaN.
   */
  softmaxForward(
    out: Buf, inp: Buf, mask: Buf | null, scale: number,
    R: number, C: number, rowsPerMask: number,
  ): void;
  /** dinp += scale * out ⊙ (dout − Σ_c dout ⊙ out). */
  softmaxBackward(dinp: Buf, dout: Buf, out: Buf, scale: number, R: number, C: number): void;

  /**
   * Row-wise log-softmax over C (no mask, no scale), for cross-entropy and
   * entropy losses.
   */
  logSoftmaxForward(out: Buf, inp: Buf, R: number, C: number): void;
  /** dinp += dout − exp(out) · Σ_c dout. */
  logSoftmaxBackward(dinp: Buf, dout: Buf, out: Buf, R: number, C: number): void;

  /** out[n, :] = table[ids[n], :]; every id must be in [0, V) (checked by the caller). */
  embeddingForward(out: Buf, ids: Int32Array, table: Buf, N: number, C: number): void;
  /** dtable[ids[n], :] += dout[n, :]  (scatter-add; repeated ids accumulate). */
  embeddingBackward(dtable: Buf, dout: Buf, ids: Int32Array, N: number, C: number): void;

  /**
   * Inverted dropout: keep[i] = 1 with probability 1 − p (from a
   * counter-based RNG seeded by `seed`, so the mask depends only on seed
   * and i), out = inp * keep / (1 − p).
   */
  dropoutForward(out: Buf, keep: Uint8Array, inp: Buf, N: number, p: number, seed: number): void;
  /** dinp += dout * keep / (1 − p). */
  dropoutBackward(dinp: Buf, dout: Buf, keep: Uint8Array, N: number, p: number): void;

  /** out = a + b (N elements; `out` may alias either). */
  add(out: Buf, a: Buf, b: Buf, N: number): void;
  /** y[offY + i] += alpha * x[offX + i] for i < N. */
  axpy(N: number, alpha: number, x: Buf, offX: number, y: Buf, offY: number): void;
  /** x *= alpha. */
  scale(x: Buf, N: number, alpha: number): void;
  /** Σ x (accumulated in double). */
  sum(x: Buf, N: number): number;
  /** Σ (a − b)² (accumulated in double); b may be null meaning 0. */
  sumSquaredDiff(a: Buf, b: Buf | null, N: number): number;
  /** max |x| (0 for N = 0). */
  maxAbs(x: Buf, N: number): number;
  /** Index of the first NaN or ±Infinity among x[0..N), or -1 (the load-time check of every weight). */
  firstNonFinite(x: Float32Array, N: number): number;

  /** One Adam(W) step over N parameters (bias-corrected; decoupled weight decay). */
  adamStep(
    param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, N: number,
    lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, step: number,
  ): void;

  // ---- fused kernels ------------------------------------------------------
  // A gradient output with an `accumulate` flag is added into when it is
  // true and overwritten (every element set; its old contents, NaN included,
  // never read) when false — a gradient buffer allocated for this writer
  // needs no zeroing first.

  /**
   * Cross-entropy forward without materialising log-probabilities:
   * lse[r] = log Σ_c exp(logits[r, c]) (accumulated in double) for rows
   * whose label is not ignoreIndex (0 on the others); returns
   * Σ_r (lse[r] − logits[r, labels[r]]) over those rows, in double.
   * logits [R, C], labels and lse [R]; every label is ignoreIndex or in [0, C).
   */
  crossEntropyForward(lse: Buf, logits: Buf, labels: Int32Array, R: number, C: number, ignoreIndex: number): number;
  /**
   * dlogits[r, :] (+)= scale · (softmax(logits[r, :]) − onehot(labels[r]))
   * on labelled rows; ignored rows get nothing (0 when overwriting).
   * The softmax is exp(logits − lse) with the forward's lse.
   */
  crossEntropyBackward(
    dlogits: Buf, logits: Buf, lse: Buf, labels: Int32Array, R: number, C: number,
    scale: number, ignoreIndex: number, accumulate: boolean,
  ): void;

  /**
   * The residual branch of a post-LN block in one pass:
   *   sum = dropout(x; p, seed) + res,  out = layerNorm(sum)   (R×C)
   * The dropout is dropoutForward's (same mask for the same seed and flat
   * index, same rounding) and p = 0 means none; the mask is not stored: the
   * backward draws it again. mean and rstd (R) are saved as layerNormForward saves them.
   */
  addLayerNormForward(
    out: Buf, sum: Buf, mean: Buf, rstd: Buf, x: Buf, res: Buf, weight: Buf, bias: Buf,
    R: number, C: number, eps: number, p: number, seed: number,
  ): void;
  /**
   * With ds = layerNorm's input gradient at `sum`: dres (+)= ds,
   * dx (+)= ds · keep / (1 − p) (dropoutBackward's rounding), dweight and
   * dbias += as layerNormBackward; each of dx, dres, dweight, dbias may be
   * null (not needed).
   */
  addLayerNormBackward(
    dx: Buf | null, dres: Buf | null, dweight: Buf | null, dbias: Buf | null,
    dout: Buf, sum: Buf, weight: Buf, mean: Buf, rstd: Buf, R: number, C: number,
    p: number, seed: number, accumulateX: boolean, accumulateRes: boolean,
  ): void;

  /** pre = inp + bias[c] (pre may alias inp), out = gelu(pre)   (R×C). */
  biasGeluForward(out: Buf, pre: Buf, inp: Buf, bias: Buf, R: number, C: number): void;
  /** dpre = dout · gelu'(pre) (overwritten), dbias += Σ_r dpre when dbias is given. */
  biasGeluBackward(dpre: Buf, dbias: Buf | null, dout: Buf, pre: Buf, R: number, C: number): void;

  /**
   * One Adam(W) step over several tensors at once: for tensor i,
   * g = grads[i] · gradScale (rounded as `scale` rounds; skipped when
   * gradScale is 1), then adamStep's update with weightDecays[i], then
   * grads[i] is zeroed. Each grads/m/v entry has at least params[i].length elements.
   */
  adamStepMany(
    params: Float32Array[], grads: Float32Array[], m: Float32Array[], v: Float32Array[], weightDecays: number[],
    lr: number, beta1: number, beta2: number, eps: number, step: number, gradScale: number,
  ): void;
  /** Σ_i Σ xs[i]² (accumulated in double; tensors added in order). */
  sumSquaresMany(xs: Buf[]): number;
}
