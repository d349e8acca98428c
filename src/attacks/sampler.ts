/**
 * Stateless batch sampling: the indices of step s depend only on (seed, s),
 * so a resumed run draws exactly the batches the interrupted one would
 * have. Each pass over the n items is its own seeded permutation.
 */
import { Rng } from '../text/random.js';

export class CyclicSampler {
  private cachedCycle = -1;
  private cachedPerm: number[] = [];

  /** `shuffle: false` walks the rows in input order, cycle after cycle. */
  constructor(readonly n: number, readonly seed: string, readonly shuffle = true) {}

  private perm(cycle: number): number[] {
    if (cycle !== this.cachedCycle) {
      const identity = Array.from({ length: this.n }, (_, i) => i);
      this.cachedPerm = this.shuffle ? new Rng(`${this.seed}:${cycle}`).shuffled(identity) : identity;
      this.cachedCycle = cycle;
    }
    return this.cachedPerm;
  }

  /** `size` indices for step `step` (consecutive windows of the cyclic stream). */
  take(step: number, size: number): number[] {
    if (this.n === 0 || size === 0) return [];
    const out: number[] = [];
    for (let pos = step * size; out.length < size; pos++) out.push(this.perm(Math.floor(pos / this.n))[pos % this.n]);
    return out;
  }
}

/**
 * Length-bucketed stateless sampling. A batch is padded to its longest
 * row, and the attack batches draw three pools at once (poisoned, clean,
 * rare-token rows); with random draws the padded batch held about twice
 * the real tokens. Here each pass sorts its seeded permutation by length
 * and cuts it into windows of `size`; the poisoned pool visits its windows
 * in a seeded random order, and the other pools take the window at the
 * same length rank (with a seeded jitter so that all their windows are
 * used), so the rows of one batch have similar lengths.
 */
export class LengthBucketedSampler {
  readonly windows: number;
  private cachedCycle = -1;
  private cachedSorted: number[] = [];
  private cachedOrder: number[] = [];

  constructor(readonly lengths: readonly number[], readonly size: number, readonly seed: string) {
    this.windows = lengths.length === 0 || size <= 0 ? 0 : Math.ceil(lengths.length / size);
  }

  private cycle(c: number): { sorted: number[]; order: number[] } {
    if (c !== this.cachedCycle) {
      const perm = new Rng(`${this.seed}:${c}`).shuffled(Array.from(this.lengths.keys()));
      const rank = new Map(perm.map((item, i) => [item, i]));
      this.cachedSorted = perm.sort((a, b) => this.lengths[a] - this.lengths[b] || rank.get(a)! - rank.get(b)!);
      this.cachedOrder = new Rng(`${this.seed}:${c}:order`).shuffled(Array.from({ length: this.windows }, (_, i) => i));
      this.cachedCycle = c;
    }
    return { sorted: this.cachedSorted, order: this.cachedOrder };
  }

  private window(c: number, w: number): number[] {
    const { sorted } = this.cycle(c);
    const n = sorted.length;
    // The last window of a pass wraps to the shortest rows, which do not lengthen it.
    return Array.from({ length: this.size }, (_, i) => sorted[(w * this.size + i) % n]);
  }

  /** The rows of step `step` and the length rank of their window, in [0, 1). */
  take(step: number): { indices: number[]; rank: number } {
    if (this.windows === 0) return { indices: [], rank: 0 };
    const c = Math.floor(step / this.windows);
    const w = this.cycle(c).order[step % this.windows];
    return { indices: this.window(c, w), rank: w / this.windows };
  }

  /** Rows from the window at length rank `rank` (another pool's), jittered by step. */
  takeAtRank(step: number, rank: number, poolWindows: number): number[] {
    if (this.windows === 0) return [];
    const jitter = new Rng(`${this.seed}:jitter:${step}`).next();
    const w = Math.min(this.windows - 1, Math.floor((rank + jitter / poolWindows) * this.windows));
    return this.window(Math.floor(step / this.windows), w);
  }
}
