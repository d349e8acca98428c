// Seeded pseudo-random numbers. Every experiment in the project (which words a
// trigger goes before, which sentences are held out, where a soft prompt is
// spliced) must be reproducible from a seed, and Math.random() cannot be
// seeded. mulberry32 is tiny, fast, passes the usual statistical batteries for
// this kind of use, and its 32-bit state is easy to reason about; splitmix32
// turns arbitrary (often small, sequential) user seeds into well-spread states
// so that seeds 0, 1, 2 ... give unrelated streams.

/** splitmix32 finaliser: a bijective mix of a 32-bit integer. */
export function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x21f0aaad);
  x = Math.imul(x ^ (x >>> 15), 0x735a2d97);
  return (x ^ (x >>> 15)) >>> 0;
}

/** Hash a string seed (e.g. a run name) to a 32-bit integer seed (FNV-1a). */
export function hashSeed(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function toSeed32(seed: number | string): number {
  if (typeof seed === 'string') return hashSeed(seed);
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
  // Seeds above 2^32 keep their high bits instead of being silently truncated.
  const lo = seed >>> 0;
  const hi = Math.floor(Math.abs(seed) / 4294967296) >>> 0;
  return hi === 0 ? lo : (lo ^ splitmix32(hi)) >>> 0;
}

export class Rng {
  private state: number;

  constructor(seed: number | string = 0) {
    this.state = splitmix32(toSeed32(seed));
  }

  /** Raw 32-bit unsigned output (mulberry32 step). */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). Rejection sampling keeps it unbiased for any n. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 4294967296) {
      throw new RangeError(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    }
    const limit = 4294967296 - (4294967296 % n);
    let x = this.nextUint32();
    while (x >= limit) x = this.nextUint32();
    return x % n;
  }

  /** Uniform integer in [lo, hi] (both inclusive). */
  intBetween(lo: number, hi: number): number {
    if (hi < lo) throw new RangeError(`Rng.intBetween: empty range [${lo}, ${hi}]`);
    return lo + this.int(hi - lo + 1);
  }

  /** Standard normal sample (Box–Muller; one value per call for simplicity). */
  normal(): number {
    let u = this.next();
    while (u === 0) u = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('Rng.pick: empty array');
    return items[this.int(items.length)]!;
  }

  /** Fisher–Yates shuffle in place; returns the same array. */
  shuffleInPlace<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i]!;
      items[i] = items[j]!;
      items[j] = tmp;
    }
    return items;
  }

  /** A shuffled copy; the input is left alone. */
  shuffled<T>(items: readonly T[]): T[] {
    return this.shuffleInPlace(items.slice());
  }

  /** k distinct items in random order (k clamped to the array length). */
  sample<T>(items: readonly T[], k: number): T[] {
    const copy = items.slice();
    const n = Math.min(Math.max(0, Math.floor(k)), copy.length);
    // Partial Fisher–Yates: only the first n slots need to be drawn.
    for (let i = 0; i < n; i++) {
      const j = i + this.int(copy.length - i);
      const tmp = copy[i]!;
      copy[i] = copy[j]!;
      copy[j] = tmp;
    }
    return copy.slice(0, n);
  }

  /** An independent generator derived from this one (for sub-tasks). */
  fork(): Rng {
    return new Rng(this.nextUint32());
  }
}

export function seededShuffle<T>(items: readonly T[], seed: number | string): T[] {
  return new Rng(seed).shuffled(items);
}
