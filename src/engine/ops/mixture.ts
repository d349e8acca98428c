/**
 * softmaxMix: each output row is a probability mixture of a table's rows,
 *   P = softmax(scale · X + mask) row-wise,  Y = P · W.
 * X: [R, V] logits, W: [V, E] (a word-embedding matrix), mask: [V] additive
 * (0 keeps a column, a large negative removes it) or null → Y: [R, E].
 *
 * Trigger inversion (Piccolo, DBS) relaxes "which word sits at position r"
 * into a distribution over the vocabulary and feeds the model the expected
 * embedding; scale is 1/τ, the temperature DBS anneals. Fused so that the
 * [R, V] probabilities are kept once for the backward, and both vocabulary
 * products are GEMMs (no per-token work):
 *   dP = dY · Wᵀ,  dX += scale · P ⊙ (dP − Σ_v dP ⊙ P),  dW += Pᵀ · dY.
 */
import type { Buf } from '../kernels/types.js';
import { assertSameDtype, Tensor } from '../tensor.js';
import { expectRank, fail, finish, gemm, kernelsOf } from './common.js';

export function softmaxMix(logits: Tensor, table: Tensor, opts: { scale: number; mask?: Buf | null }): Tensor {
  const op = 'softmaxMix';
  expectRank(op, logits, 2, 'logits');
  expectRank(op, table, 2, 'table');
  const [R, V] = logits.shape;
  const E = table.shape[1];
  if (table.shape[0] !== V) fail(op, 'logits need one column per table row', logits, table);
  const mask = opts.mask ?? null;
  if (mask && mask.length !== V) throw new Error(`${op}: mask has ${mask.length} entries, the table ${V} rows`);
  if (!(Number.isFinite(opts.scale) && opts.scale > 0)) throw new Error(`${op}: scale must be a positive number, got ${opts.scale}`);
  const dtype = assertSameDtype(op, logits, table);
  const k = kernelsOf(logits);
  const p = Tensor.output([R, V], dtype, []);
  // rowsPerMask = R: every row reads the mask's single row.
  k.softmaxForward(p.data, logits.data, mask, opts.scale, R, V, Math.max(1, R));
  const y = Tensor.output([R, E], dtype, [logits, table]);
  gemm('forward', k, false, false, R, E, V, 1, p.data, V, table.data, E, 0, y.data, E);
  return finish(op, y, (dy) => {
    if (logits.requiresGrad) {
      const dp = Tensor.output([R, V], dtype, []).data;
      gemm('gradInput', k, false, true, R, V, E, 1, dy, E, table.data, E, 0, dp, V);
      k.softmaxBackward(logits.ensureGrad(), dp, p.data, opts.scale, R, V);
    }
    if (table.requiresGrad) gemm('gradWeight', k, true, false, V, E, R, 1, p.data, V, dy, E, 1, table.ensureGrad(), E);
  });
}
