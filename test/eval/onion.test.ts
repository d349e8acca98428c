/** ONION with masked-LM pseudo-perplexity: the batched scorer against a one-row-at-a-time reference, and the purification rule. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gatherRows, logSoftmax, noGrad, reshape, withScope } from '../../src/engine/index.js';
import { onionPurify, pseudoPerplexity } from '../../src/eval/onion.js';
import type { LoadedModel } from '../../src/models/model.js';
import { splitWords } from '../../src/text/words.js';
import { promptModel } from '../prompt/helpers.js';

// initStd 0.2: a 0.02 random model predicts almost uniformly, so every PPPL is ≈ V and every score ≈ 0.
const model = promptModel({ seed: 7, initStd: 0.2 });

const SENTENCES = [
  "it 's a charming and often affecting journey .",
  'unflinchingly bleak and desperate',
  "the acting, costumes, music, cinematography and sound are all astounding given the production's austere locales.",
  'a sometimes tedious film .',
  "you don't have to know about music",
];

/** Reference PPPL: one masked copy per forward, every position's hidden state, log-softmax from the engine. */
function bruteForcePppl(m: LoadedModel, text: string): number {
  const tok = m.tokenizer!;
  const e = tok.encode(text, null, { maxLength: 160 });
  let sum = 0;
  let n = 0;
  e.ids.forEach((id, t) => {
    if (e.specialTokensMask[t]) return;
    const ids = Int32Array.from(e.ids);
    ids[t] = tok.specialIds.mask;
    const T = ids.length;
    sum += withScope(() => noGrad(() => {
      const out = m.encoder.forward({ batch: 1, seqLen: T, inputIds: ids, attentionMask: new Float32Array(T).fill(1), withPooler: false });
      const h = gatherRows(reshape(out.lastHiddenState, [T, m.config.hiddenSize]), Int32Array.of(t));
      const lp = logSoftmax(m.mlm!.forward(h));
      return lp.data[id]!;
    }));
    n++;
  });
  return Math.exp(-sum / n);
}

const close = (a: number, b: number, rel: number, what: string) =>
  assert.ok(Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b)), `${what}: ${a} vs ${b}`);

test('pseudoPerplexity equals a one-masked-row-at-a-time reference, whatever the batching', () => {
  const ref = SENTENCES.map((s) => bruteForcePppl(model, s));
  // Not degenerate: finite, above 1, and different sentences differ.
  for (const r of ref) assert.ok(Number.isFinite(r) && r > 1, String(r));
  assert.ok(new Set(ref.map((r) => r.toFixed(3))).size === ref.length, ref.join(' '));
  for (const batchSize of [1, 5, 64]) {
    const got = pseudoPerplexity(model, SENTENCES, { batchSize });
    got.forEach((g, i) => close(g, ref[i]!, 1e-5, `batchSize ${batchSize}, sentence ${i}`));
  }
  // Sub-word pieces all count: "production's" is several pieces of one word.
  const e = model.tokenizer!.encode(SENTENCES[2]!);
  assert.ok(e.ids.length - 2 > splitWords(SENTENCES[2]!).length);
  assert.ok(Number.isNaN(pseudoPerplexity(model, [''])[0]!));
});

/**
 * f_i = PPPL(x) − PPPL(x without word i), recomputed from pseudoPerplexity,
 * and the tolerance a score has: a difference of two perplexities is only
 * as exact as the perplexities (1e-5 relative).
 */
function referenceScores(m: LoadedModel, text: string): number[] & { tol: number } {
  const w = splitWords(text);
  const [p0, ...pi] = pseudoPerplexity(m, [text, ...w.map((_, i) => [...w.slice(0, i), ...w.slice(i + 1)].join(' '))]);
  return Object.assign(pi.map((p) => p0! - p), { tol: 1e-5 * Math.max(p0!, ...pi) });
}

const near = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test('onionPurify removes exactly the words scored above the bar', () => {
  let removedSome = false;
  let keptSome = false;
  for (const text of SENTENCES) {
    const words = splitWords(text);
    const ref = referenceScores(model, text);
    for (const bar of [0, ref.slice().sort((a, b) => a - b)[Math.floor(ref.length / 2)]! + 1e-9]) {
      const [r] = onionPurify(model, [{ text }], { bar, batchSize: 16 });
      assert.equal(r!.scores.length, words.length);
      r!.scores.forEach((f, i) => near(f, ref[i]!, ref.tol, `score of "${words[i]}"`));
      const drop = r!.scores.map((f) => f > bar);
      // Recomputed scores far from the bar agree on the decision.
      ref.forEach((f, i) => { if (Math.abs(f - bar) > 2 * ref.tol) assert.equal(drop[i], f > bar, words[i]); });
      assert.deepEqual(r!.removed, words.filter((_, i) => drop[i]));
      assert.equal(r!.text, drop.includes(true) ? words.filter((_, i) => !drop[i]).join(' ') : text);
      removedSome ||= drop.includes(true);
      keptSome ||= drop.includes(false);
    }
  }
  assert.ok(removedSome && keptSome, 'the fixture should both remove and keep words');
});

test('bar: +Infinity removes nothing, −Infinity every candidate; words past maxWords are never removed', () => {
  const text = "it 's  a charming and often affecting journey .";
  const [keep] = onionPurify(model, [{ text }], { bar: Infinity });
  assert.deepEqual(keep, { text, removed: [], scores: keep!.scores, rows: keep!.rows });
  assert.equal(keep!.text, text, 'unchanged, whitespace included');

  const [all] = onionPurify(model, [{ text }], { bar: -Infinity });
  assert.equal(all!.text, '');
  assert.deepEqual(all!.removed, splitWords(text));

  const words = splitWords(text);
  for (const bar of [-Infinity, 0]) {
    const [cut] = onionPurify(model, [{ text }], { bar, maxWords: 4 });
    assert.equal(cut!.scores.length, 4);
    const tail = words.slice(4).join(' ');
    assert.ok(cut!.text.endsWith(tail), cut!.text);
    assert.ok(cut!.removed.every((w) => words.slice(0, 4).includes(w)));
    // The scores are those of the 4-word window.
    const ref = referenceScores(model, words.slice(0, 4).join(' '));
    ref.forEach((f, i) => near(cut!.scores[i]!, f, ref.tol, `window word ${i}`));
    if (bar === -Infinity) assert.equal(cut!.text, tail);
  }
  assert.deepEqual(onionPurify(model, [{ text }], { bar: -Infinity, maxWords: 0 })[0], { text, removed: [], scores: [], rows: 0 });
});

test('cost: a 20-word sentence of one-piece words runs 20 + 20·19 masked rows', () => {
  const tok = model.tokenizer!;
  const pool = [...new Set(splitWords(SENTENCES.join(' ').replace(/[^a-z ]/g, ' ')))]
    .filter((w) => tok.wordPieces(w).length === 1 && tok.wordPieces(w)[0] !== tok.specialIds.unk);
  const words = [...pool, 'film', 'story', 'good', 'bad', 'plot', 'music', 'acting', 'young', 'women', 'look']
    .filter((w, i, a) => a.indexOf(w) === i).slice(0, 20);
  assert.equal(words.length, 20);
  const [r] = onionPurify(model, [{ text: words.join(' ') }]);
  assert.equal(r!.rows, 400);
  // A repeated word: deleting either copy gives one sentence, scored once.
  const rep = [...words.slice(0, 19), words[18]!];
  const [d] = onionPurify(model, [{ text: rep.join(' ') }]);
  assert.equal(d!.rows, 400 - 19);
  assert.equal(d!.scores[18], d!.scores[19]);
  // A word the tokenizer drops (a control character): deleting it changes nothing, f = 0 exactly, kept at bar 0.
  assert.deepEqual(model.tokenizer!.wordPieces('\u0007'), []);
  const [z] = onionPurify(model, [{ text: 'a sometimes \u0007 tedious film' }], { bar: 0 });
  assert.equal(z!.scores[2], 0);
  assert.ok(!z!.removed.includes('\u0007'));
  assert.equal(z!.rows, 4 + 4 * 3);
});

test('pairs: each segment on its own; empty and one-word segments; no MLM head is a clear error', () => {
  const a = SENTENCES[0]!;
  const b = SENTENCES[3]!;
  // One row per forward: no padding, so the segment's numbers do not depend on what shares its batches.
  for (const bar of [0, -Infinity]) {
    const [ra] = onionPurify(model, [{ text: a }], { bar, batchSize: 1 });
    const [rb] = onionPurify(model, [{ text: b }], { bar, batchSize: 1 });
    const [pair, single] = onionPurify(model, [{ text: a, text_pair: b }, { text: b }], { bar, batchSize: 1 });
    assert.equal(pair!.text, ra!.text);
    assert.equal(pair!.text_pair, rb!.text);
    assert.deepEqual(pair!.removed, [...ra!.removed, ...rb!.removed]);
    assert.deepEqual(pair!.scores, [...ra!.scores, ...rb!.scores]);
    assert.equal(pair!.rows, ra!.rows + rb!.rows);
    assert.equal(single!.text, rb!.text);
    assert.ok(!('text_pair' in single!));
  }

  assert.deepEqual(onionPurify(model, [{ text: '' }]), [{ text: '', removed: [], scores: [], rows: 0 }]);
  assert.deepEqual(onionPurify(model, []), []);
  const [e] = onionPurify(model, [{ text: '   ', text_pair: 'a sometimes tedious film .' }], { bar: Infinity });
  assert.equal(e!.text, '   ');
  assert.equal(e!.text_pair, 'a sometimes tedious film .');
  assert.equal(e!.scores.length, 5);
  // The only word of a segment: its deletion leaves nothing to score (NaN), so it stays.
  const [one] = onionPurify(model, [{ text: 'film', text_pair: '' }], { bar: -Infinity });
  assert.deepEqual(one, { text: 'film', text_pair: '', removed: [], scores: [NaN], rows: 1 });

  const headless: LoadedModel = { ...model, mlm: null };
  assert.throws(() => onionPurify(headless, [{ text: a }]), /ONION needs the backbone's masked-LM head/);
  assert.throws(() => pseudoPerplexity(headless, [a]), /masked-LM head/);
});
