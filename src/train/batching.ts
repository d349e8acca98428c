/** Padding and length-bucketed batching of tokenised rows. */
import type { Rng } from '../text/random.js';

export interface PaddedBatch {
  B: number;
  T: number;
  ids: Int32Array;
  /** 1 = token, 0 = padding. */
  mask: Float32Array;
  /** Segment ids (0 where none were given, and on padding). */
  typeIds: Int32Array;
  lengths: number[];
}

/**
 * The project's one padding routine: right-pads rows to the longest row of
 * the batch (not to a global maximum, which is where most of the saving on
 * short sentences comes from), or to `length` when the caller fixes it.
 */
export function padBatch(rows: readonly ArrayLike<number>[], padId: number, o: { typeIds?: readonly ArrayLike<number>[]; length?: number } = {}): PaddedBatch {
  const B = rows.length;
  const T = o.length ?? Math.max(1, ...rows.map((r) => r.length));
  const ids = new Int32Array(B * T).fill(padId);
  const mask = new Float32Array(B * T);
  const typeIds = new Int32Array(B * T);
  rows.forEach((r, b) => {
    if (r.length > T) throw new RangeError(`padBatch: row ${b} has ${r.length} tokens, more than the batch length ${T}`);
    ids.set(r, b * T);
    mask.fill(1, b * T, b * T + r.length);
    if (o.typeIds) typeIds.set(o.typeIds[b], b * T);
  });
  return { B, T, ids, mask, typeIds, lengths: rows.map((r) => r.length) };
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

/** Memoises the most recent epoch's batch plan: `batchAt(step)` stays a pure function of the step without re-planning every step. */
export function epochCache<T>(plan: (epoch: number) => T): (epoch: number) => T {
  let epochOf = -1;
  let cached: T;
  return (epoch) => {
    if (epoch !== epochOf) {
      cached = plan(epoch);
      epochOf = epoch;
    }
    return cached;
  };
}
