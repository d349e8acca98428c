/** Batch samplers of the attack loop: stateless per step, full coverage, and similar lengths per batch. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CyclicSampler, LengthBucketedSampler } from '../../src/attacks/sampler.js';
import { Rng } from '../../src/text/random.js';

const rng = new Rng('lengths');
const lengths = Array.from({ length: 1000 }, () => 5 + rng.int(100));
const clean = Array.from({ length: 700 }, () => 5 + rng.int(100));

test('length-bucketed sampler: one pass covers every row once, and a step depends only on (seed, step)', () => {
  const s = new LengthBucketedSampler(lengths, 16, 'x');
  assert.equal(s.windows, Math.ceil(1000 / 16));
  const seen = new Map<number, number>();
  for (let step = 0; step < s.windows; step++) for (const i of s.take(step).indices) seen.set(i, (seen.get(i) ?? 0) + 1);
  assert.equal(seen.size, 1000, 'every row in the first pass');
  const fresh = new LengthBucketedSampler(lengths, 16, 'x');
  assert.deepEqual(fresh.take(97), s.take(97), 'resuming at step 97 draws the same batch');
  assert.notDeepEqual(new LengthBucketedSampler(lengths, 16, 'y').take(3).indices, s.take(3).indices);
});

test('length-bucketed batches pad far less than random ones, also across pools at the same rank', () => {
  const padded = (draw: (step: number) => number[][]) => {
    let pad = 0;
    let real = 0;
    for (let step = 0; step < 200; step++) {
      const rows = draw(step).flatMap((group, g) => group.map((i) => (g === 0 ? lengths[i] : clean[i])));
      pad += Math.max(...rows) * rows.length;
      real += rows.reduce((a, b) => a + b, 0);
    }
    return pad / real;
  };
  const p = new LengthBucketedSampler(lengths, 16, 'p');
  const c = new LengthBucketedSampler(clean, 16, 'c');
  const bucketed = padded((step) => {
    const { indices, rank } = p.take(step);
    return [indices, c.takeAtRank(step, rank, p.windows)];
  });
  const rp = new CyclicSampler(1000, 'p');
  const rc = new CyclicSampler(700, 'c');
  const random = padded((step) => [rp.take(step, 16), rc.take(step, 16)]);
  assert.ok(random > 1.6, `random draws pad ${random.toFixed(2)}×`);
  assert.ok(bucketed < 1.25, `bucketed draws pad ${bucketed.toFixed(2)}×`);
  // The secondary pool's jitter reaches all of its windows.
  const used = new Set<number>();
  for (let step = 0; step < 2000; step++) for (const i of c.takeAtRank(step, p.take(step).rank, p.windows)) used.add(i);
  assert.equal(used.size, 700);
});
