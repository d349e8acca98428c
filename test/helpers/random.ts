/** Seeded uniform numbers for test data, from the project's own Rng. */
import { Rng } from '../../src/text/random.js';

export function mulberry(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}
