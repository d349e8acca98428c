/**
 * Stateless batch sampling: the indices of step s depend only on (seed, s),
 * so a resumed run draws exactly the batches the interrupted one would
 * have. Each pass over the n items is its own seeded permutation.
 */
import { Rng } from '../text/random.js';

export class CyclicSampler {
  private cachedCycle = -1;
  private cachedPerm: number[] = [];

  constructor(readonly n: number, readonly seed: string) {}

  private perm(cycle: number): number[] {
    if (cycle !== this.cachedCycle) {
      this.cachedPerm = new Rng(`${this.seed}:${cycle}`).shuffled(Array.from({ length: this.n }, (_, i) => i));
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
