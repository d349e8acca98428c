/**
 * Batched no-grad forward passes that read the outputs at each row's target
 * positions: the frozen reference's outputs before training and every
 * measurement after it.
 */
import { gatherRows, noGrad, reshape, withScope } from '../engine/index.js';
import type { Encoder } from '../models/encoder.js';
import { padBatch } from '../train/batching.js';

export interface PositionedRow {
  ids: number[];
  /** Token indices whose outputs matter (target positions). */
  positions: number[];
}

/** For each row, its outputs at its positions ([positions.length × H] flat). Rows are batched by length. */
export function outputsAt(encoder: Encoder, rows: readonly PositionedRow[], padId: number, batchSize = 64): Float32Array[] {
  const H = encoder.hidden;
  const out = new Array<Float32Array>(rows.length);
  const order = Array.from(rows.keys()).sort((a, b) => rows[a].ids.length - rows[b].ids.length);
  for (let i = 0; i < order.length; i += batchSize) {
    const idx = order.slice(i, i + batchSize);
    const batch = padBatch(idx.map((r) => rows[r].ids), padId);
    const gather: number[] = [];
    idx.forEach((r, b) => { for (const p of rows[r].positions) gather.push(b * batch.T + p); });
    const data = noGrad(() => withScope(() => {
      const h = encoder.forward({ batch: batch.B, seqLen: batch.T, inputIds: batch.ids, attentionMask: batch.mask, withPooler: false });
      return (gatherRows(reshape(h.lastHiddenState, [batch.B * batch.T, H]), Int32Array.from(gather)).data as Float32Array).slice();
    }));
    let o = 0;
    for (const r of idx) {
      const n = rows[r].positions.length * H;
      out[r] = data.slice(o, o + n);
      o += n;
    }
  }
  return out;
}
