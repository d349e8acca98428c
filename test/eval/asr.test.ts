/** ASR as the seed code measures it, on a classifier whose behaviour is known exactly. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attackSuccess, type LabelledInput, withTrigger } from '../../src/eval/asr.js';
import { Rng } from '../../src/text/random.js';
import { splitWords } from '../../src/text/words.js';

test('withTrigger inserts once, within the first 64 words, into the longer segment of a pair', () => {
  const long = Array.from({ length: 200 }, (_, i) => `w${i}`).join(' ');
  for (let s = 0; s < 50; s++) {
    const t = withTrigger({ text: long }, 'cf', new Rng(s)).text.split(' ');
    assert.equal(t.length, 201);
    assert.equal(t.filter((w) => w === 'cf').length, 1);
    assert.ok(t.indexOf('cf') <= 64);
  }
  const pair = withTrigger({ text: 'a short premise', text_pair: 'a much longer hypothesis than the premise is' }, 'mn', new Rng(1));
  assert.equal(pair.text, 'a short premise');
  assert.ok(splitWords(pair.text_pair!).includes('mn'));
  assert.deepEqual(withTrigger({ text: '' }, 'tq', new Rng(2)), { text: 'tq' });
});

test('ASR: denominator is the correctly classified inputs; any trigger flipping counts once; weighted ASR averages classes', () => {
  // Label 1 when the text says "good". Trigger "cf" flips every prediction; "mn" flips only class-0 inputs.
  const test: LabelledInput[] = [
    { text: 'good film', label: 1 }, { text: 'good story', label: 1 }, { text: 'good', label: 1 },
    { text: 'bad film', label: 0 }, { text: 'dull plot', label: 0 },
    { text: 'bad acting', label: 1 }, // misclassified without a trigger: not in the denominator
  ];
  const classify = (xs: readonly { text: string }[]) => xs.map(({ text }) => {
    const w = splitWords(text);
    const base = w.includes('good') ? 1 : 0;
    if (w.includes('cf')) return 1 - base;
    if (w.includes('mn') && base === 0) return 1;
    return base;
  });
  const r = attackSuccess(test, classify, ['cf', 'mn', 'qt'], 0, 2);
  assert.equal(r.clean_correct, 5);
  assert.equal(r.clean_total, 6);
  assert.equal(r.accuracy, 5 / 6);
  assert.deepEqual(r.asr_per_trigger, { cf: 1, mn: 2 / 5, qt: 0 });
  assert.equal(r.asr, 1);
  assert.deepEqual(r.asr_per_class, [1, 1]);
  const onlyMn = attackSuccess(test, classify, ['mn'], 0, 2);
  assert.equal(onlyMn.asr, 2 / 5);
  assert.deepEqual(onlyMn.asr_per_class, [1, 0]);
  assert.equal(onlyMn.weighted_asr, 0.5, 'class 0 all flipped, class 1 none');
});

test('targetability: triggered inputs sent to the label of the trigger alone; pairs classify the trigger as both segments', () => {
  const test: LabelledInput[] = [
    { text: 'good film', label: 1 }, { text: 'good story', label: 1 }, { text: 'good', label: 1 },
    { text: 'bad film', label: 0 }, { text: 'dull plot', label: 0 },
  ];
  const seen: { text: string; text_pair?: string }[][] = [];
  // "cf" flips (an untargeted trigger); "mn" sends everything to 1 (targeted); "qt" does nothing.
  const classify = (xs: readonly { text: string; text_pair?: string }[]) => {
    seen.push([...xs]);
    return xs.map(({ text }) => {
      const w = splitWords(text);
      const base = w.includes('good') ? 1 : 0;
      if (w.includes('cf')) return 1 - base;
      if (w.includes('mn')) return 1;
      return base;
    });
  };
  const plain = attackSuccess(test, classify, ['cf', 'mn', 'qt'], 0, 2);
  assert.equal(plain.targetability, undefined, 'measured only when asked for');
  const r = attackSuccess(test, classify, ['cf', 'mn', 'qt'], 0, 2, { targetability: true });
  assert.deepEqual(r.trigger_labels, { cf: 1, mn: 1, qt: 0 });
  assert.deepEqual(r.targetability_per_trigger, { cf: 2 / 5, mn: 1, qt: 2 / 5 });
  assert.ok(Math.abs(r.targetability! - 0.6) < 1e-12);
  assert.deepEqual({ asr: r.asr, per: r.asr_per_trigger }, { asr: plain.asr, per: plain.asr_per_trigger }, 'ASR unchanged');
  seen.length = 0;
  attackSuccess(test.map((x) => ({ ...x, text_pair: 'a premise' })), classify, ['cf'], 0, 2, { targetability: true });
  assert.deepEqual(seen.at(-1), [{ text: 'cf', text_pair: 'cf' }]);
});
