/** Helpers every op shares: kernel choice, counted GEMMs, shape checks. */
import { countGemm, type GemmRole, kernelsFor } from '../backend.js';
import type { Buf, Kernels } from '../kernels/types.js';
import { checkFiniteOutput, shapeStr, type Tensor } from '../tensor.js';
import { record } from '../tape.js';

export function kernelsOf(t: Tensor): Kernels {
  return kernelsFor(t.data);
}

/** C = alpha·op(A)·op(B) + beta·C through the kernel set, counted by role. */
export function gemm(
  role: GemmRole, k: Kernels, transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  A: Buf, lda: number, B: Buf, ldb: number, beta: number, C: Buf, ldc: number,
): void {
  countGemm(role, 2 * M * N * K);
  k.sgemm(transA, transB, M, N, K, alpha, A, 0, lda, B, 0, ldb, beta, C, 0, ldc);
}

/** t.grad += dy, as a copy when t has no gradient yet (no zero fill, no read-back). */
export function accumulateGrad(k: Kernels, t: Tensor, dy: Buf): void {
  const s = t.gradSink();
  if (s.accumulate) k.axpy(t.size, 1, dy, 0, s.grad, 0);
  else s.grad.set(dy.length === t.size ? dy : dy.subarray(0, t.size));
}

export function lastDim(t: Tensor): number {
  return t.shape[t.shape.length - 1] ?? 1;
}

export function fail(op: string, msg: string, ...ts: Tensor[]): never {
  throw new Error(`${op}: ${msg} (shapes ${ts.map((t) => shapeStr(t.shape)).join(', ')})`);
}

export function expectRank(op: string, t: Tensor, rank: number, what: string): void {
  if (t.shape.length !== rank) fail(op, `${what} must have rank ${rank}`, t);
}

/**
 * Finishes an op: the opt-in finite check, and the backward closure when
 * the output needs a gradient. The closure runs only if a gradient reached
 * the output.
 */
export function finish(op: string, out: Tensor, backward: (dout: Buf) => void): Tensor {
  checkFiniteOutput(op, out);
  if (out.requiresGrad) {
    record(() => {
      if (out.grad) backward(out.grad);
    });
  }
  return out;
}
