/**
 * Sliding-window trigger removal on a synthetic monitored model (an input
 * is "triggered" while it holds a trigger word, or both words of a
 * two-word trigger), so the search itself is what is tested: windows over
 * all words of both segments, left to right, deletion of every occurrence,
 * window growth, chunked batches with the one-by-one winner, the cost.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type GuardInput, type Monitored, purge, purgeMany, windowCandidates } from '../../src/sanitizer/purge.js';
import { splitWords } from '../../src/text/words.js';

function fakeRun(triggered: (words: Set<string>) => boolean, calls: number[] = []) {
  return (inputs: readonly GuardInput[]): Monitored<string>[] => {
    calls.push(inputs.length);
    return inputs.map((x) => {
      const words = new Set([...splitWords(x.text), ...splitWords(x.text_pair ?? '')]);
      const t = triggered(words);
      return { match: { rate: t ? 0.95 : 0.5, pv: 0, triggered: t, rates: new Float64Array([t ? 0.95 : 0.5]) }, prediction: x.text };
    });
  };
}

test('purge: a trigger anywhere (not only early) is found and every copy deleted', () => {
  const input = { text: 'the film was a long cf and tiring ride cf' };
  const calls: number[] = [];
  const r = purge(input, fakeRun((w) => w.has('cf'), calls));
  assert.equal(r.purified, true);
  assert.deepEqual(r.removed, ['cf']);
  assert.equal(r.window, 1);
  assert.equal(r.input.text, 'the film was a long and tiring ride');
  assert.equal(r.result!.match.triggered, false);
  // The first round of 8 candidates holds the winner, the sixth one-word window.
  assert.deepEqual(calls, [8]);
  assert.equal(r.candidates, 8);
  const one = purge(input, fakeRun((w) => w.has('cf')), { chunk: 1, step: 1 });
  assert.equal(one.candidates, 6, 'one by one: the sixth candidate is the winner');
  assert.deepEqual(one.input, r.input);
});

test('purge: sentence pairs: windows cover both segments and deletion applies to both', () => {
  const input = { text: 'a man sleeps', text_pair: 'nobody mn is awake mn' };
  const r = purge(input, fakeRun((w) => w.has('mn')));
  assert.equal(r.purified, true);
  assert.deepEqual(r.removed, ['mn']);
  assert.deepEqual(r.input, { text: 'a man sleeps', text_pair: 'nobody is awake' });
  const both = purge({ text: 'tq here', text_pair: 'and tq there' }, fakeRun((w) => w.has('tq')));
  assert.deepEqual(both.input, { text: 'here', text_pair: 'and there' });
});

test('purge: two triggers need a window of two; the first window left to right wins', () => {
  const input = { text: 'one cf two mn three' };
  const r = purge(input, fakeRun((w) => w.has('cf') || w.has('mn')));
  // No single deletion helps; windows of 2: "one cf", "cf two", "two mn", "mn three" — none holds both.
  // Windows of 3: "cf two mn" is the first that removes both.
  assert.equal(r.purified, true);
  assert.equal(r.window, 3);
  assert.deepEqual(r.removed, ['cf', 'two', 'mn']);
  assert.equal(r.input.text, 'one three');
  assert.equal(r.candidates, 5 + 4 + 3, 'every candidate of l = 1 and 2, then the one chunk of l = 3');
  const adjacent = purge({ text: 'good cf mn movie' }, fakeRun((w) => w.has('cf') || w.has('mn')));
  assert.equal(adjacent.window, 2);
  assert.deepEqual(adjacent.removed, ['cf', 'mn']);
});

test('purge: rounds give the one-by-one winner and stop after the winner\'s round', () => {
  const words = Array.from({ length: 40 }, (_, i) => `w${i}`);
  words[25] = 'cf';
  const input = { text: words.join(' ') };
  const one = purge(input, fakeRun((w) => w.has('cf')), { chunk: 1, step: 1 });
  const calls: number[] = [];
  const batched = purge(input, fakeRun((w) => w.has('cf'), calls), { chunk: 64, step: 8 });
  assert.deepEqual(batched.input, one.input);
  assert.deepEqual(batched.removed, one.removed);
  assert.equal(one.candidates, 26);
  assert.deepEqual(calls, [8, 8, 8, 8], 'the round holding window 25 is the last run');
  assert.equal(batched.candidates, 32);
});

test('purgeMany: flagged inputs share batches, each gets its one-by-one winner', () => {
  const inputs = [
    { text: 'a b c d e f g h i j cf k' },
    { text: 'cf first' },
    { text: 'x y z' },
    { text: 'p q mn r', text_pair: 's mn t' },
    { text: '' },
  ];
  const triggered = (w: Set<string>) => w.has('cf') || w.has('mn') || w.has('z');
  const alone = inputs.map((x) => purge(x, fakeRun(triggered), { chunk: 1, step: 1 }));
  const calls: number[] = [];
  const together = purgeMany(inputs, fakeRun(triggered, calls), { chunk: 16, step: 4 });
  together.forEach((r, i) => {
    assert.deepEqual(r.input, alone[i]!.input, `input ${i}`);
    assert.deepEqual(r.removed, alone[i]!.removed);
    assert.equal(r.window, alone[i]!.window);
    assert.ok(r.candidates >= alone[i]!.candidates && r.candidates < alone[i]!.candidates + 4, `at most step − 1 rows past the winner (${r.candidates})`);
  });
  assert.equal(together[2]!.input.text, 'x y', '"z" is the trigger of the third');
  assert.equal(together[4]!.purified, false);
  assert.ok(calls[0]! > 4, `the first batch holds rows of several inputs (${calls})`);
  assert.ok(calls.every((c) => c <= 16));
  // Rows are batched by length (less padding), and every result still comes back to its own row.
  together.forEach((r) => { if (r.purified) assert.equal(r.result!.prediction, r.input.text); });
  const sizes: number[][] = [];
  const byLength = fakeRun(triggered);
  purgeMany(inputs, (xs) => { sizes.push(xs.map((x) => x.text.length + (x.text_pair?.length ?? 0))); return byLength(xs); }, { chunk: 3, step: 4 });
  const firstRound = sizes.slice(0, 3).flat();
  assert.deepEqual(firstRound, [...firstRound].sort((a, b) => a - b), `the first round's chunks run shortest rows first (${JSON.stringify(sizes)})`);
});

test('purge: unpurifiable input, empty text and the window cap', () => {
  const always = purge({ text: 'a b c d' }, fakeRun(() => true), { maxWindow: 2 });
  assert.equal(always.purified, false);
  assert.equal(always.window, null);
  assert.deepEqual(always.removed, []);
  assert.equal(always.candidates, 4 + 3);
  const empty = purge({ text: '' }, fakeRun(() => true));
  assert.equal(empty.purified, false);
  assert.equal(empty.candidates, 0);
  assert.throws(() => purge({ text: 'x' }, fakeRun(() => true), { maxWindow: 0 }), /max window must be a positive integer/);
  // Repeated words give one candidate per distinct window.
  assert.equal(windowCandidates({ text: 'cf cf cf cf' }, 1).length, 1);
  assert.equal(windowCandidates({ text: 'a b a b a' }, 2).length, 1);
});
