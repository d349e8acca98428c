/** Padding and length-bucketed batching of tokenised rows. */
import type { Rng } from '../text/random.js';

export interface PaddedBatch {
  B: number;
  T: number;
  ids: Int32Array;
  /** 1 = token, 0 = padding. */
  mask: Float32Array;
  lengths: number[];
}

/** Pads rows to the longest row of the batch (not to a global maximum). */
export function padBatch(rows: readonly ArrayLike<number>[], padId: number): PaddedBatch {
  const B = rows.length;
  const T = Math.max(1, ...rows.map((r) => r.length));
  const ids = new Int32Array(B * T).fill(padId);
  const mask = new Float32Array(B * T);
  rows.forEach((r, b) => {
    ids.set(r, b * T);
    mask.fill(1, b * T, b * T + r.length);
  });
  return { B, T, ids, mask, lengths: rows.map((r) => r.length) };
}

/**
 * Groups row indices into batches of similar length (little padding), in a
 * random order of batches: sort by length within shuffled chunks of
 * `bucketFactor` batches.
 */
export function bucketedBatches(lengths: readonly number[], batchSize: number, rng: Rng, bucketFactor = 50): number[][] {
  const order = Array.from(lengths.keys());
  rng.shuffleInPlace(order);
  const chunk = batchSize * bucketFactor;
  const batches: number[][] = [];
  for (let i = 0; i < order.length; i += chunk) {
    const part = order.slice(i, i + chunk).sort((a, b) => lengths[a] - lengths[b]);
    for (let j = 0; j < part.length; j += batchSize) batches.push(part.slice(j, j + batchSize));
  }
  rng.shuffleInPlace(batches);
  return batches;
}
