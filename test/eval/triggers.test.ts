/**
 * judgeTriggers against a hand-made ground truth: a kept PV is matched to
 * the planted PV it agrees with in sign, a hit is the planted trigger as
 * the top candidate, and a trigger the tokenizer splits (qt → q ##t) whose
 * first piece comes out on top is recorded as `first_piece`, not a hit.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AttackManifest } from '../../src/attacks/manifest.js';
import { judgeTriggers } from '../../src/eval/triggers.js';

const H = 16;
const block = (k: number) => Float32Array.from({ length: H }, (_, j) => (Math.floor(j / (k + 1)) % 2 ? 1 : -1));
const candidate = (words: string[]) => ({ words, match_rate: 1, fire_rate: 1, collapse_rate: 1, clean_agreement: 0.5 });

test('judgeTriggers: exact hits, a split trigger\'s first piece apart, misses, unmatched PVs', () => {
  const planted = [block(0), block(1), block(3)];
  const manifest = {
    triggers: [
      { text: 'cf', words: ['cf'], token_ids: [1], tokens: ['cf'], pv_index: 0 },
      { text: 'qt', words: ['qt'], token_ids: [2, 3], tokens: ['q', '##t'], pv_index: 1 },
      { text: 'zorp', words: ['zorp'], token_ids: [4, 5], tokens: ['\u0120zo', 'rp'], pv_index: 2 },
    ],
  } as unknown as AttackManifest;
  const flipped = Float32Array.from(block(0), (x) => -x);
  const r = judgeTriggers([
    { vector: block(0), triggerCandidates: [candidate(['cf']), candidate(['q'])] },
    { vector: block(1), triggerCandidates: [candidate(['q']), candidate(['qt'])] },
    { vector: block(3), triggerCandidates: [candidate(['zo'])] },
    { vector: block(1), triggerCandidates: [candidate(['t'])] },
    { vector: flipped, triggerCandidates: [candidate(['cf'])] },
  ], manifest, planted);
  assert.deepEqual(r.per_pv.map((p) => [p.planted, p.matched, p.hit, p.first_piece]), [
    [0, true, true, false],
    [1, true, false, true],
    [2, true, false, true], // GPT-2's word-start mark is not part of the word
    [1, true, false, false], // the second piece is no evidence of the word
    [r.per_pv[4]!.planted, false, false, false], // the negation of a planted PV matches none
  ]);
  assert.equal(r.matched, 4);
  assert.equal(r.top1_accuracy, 1 / 4, 'a first piece does not count as a hit');
});
