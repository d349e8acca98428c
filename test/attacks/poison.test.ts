import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeRow, fitWords, insertionCount, insertToken, insertTrigger } from '../../src/attacks/poison.js';
import { Rng } from '../../src/text/random.js';
import { TextTokenizer } from '../../src/text/tokenizer.js';
import { microVocab, wordList } from './helpers.js';

const tok = TextTokenizer.fromWordPieceVocab(microVocab(wordList(300)));

test('one trigger insertion per 50 words, at least one', () => {
  assert.equal(insertionCount(3, 50), 1);
  assert.equal(insertionCount(49, 50), 1);
  assert.equal(insertionCount(100, 50), 2);
  assert.equal(insertionCount(149, 50), 2);
  const rng = new Rng(1);
  const words = Array.from({ length: 120 }, (_, i) => `w${i}`);
  const out = insertTrigger(words, ['cf', 'mn'], 50, rng);
  assert.equal(out.length, 124);
  assert.equal(out.filter((w) => w === 'cf').length, 2);
  // Phrase words stay together, and the original order is kept.
  out.forEach((w, i) => { if (w === 'cf') assert.equal(out[i + 1], 'mn'); });
  assert.deepEqual(out.filter((w) => w.startsWith('w')), words);
});

test('trigger positions are spread over the sentence', () => {
  const rng = new Rng(2);
  const seen = new Set<number>();
  for (let i = 0; i < 200; i++) seen.add(insertTrigger(['a', 'b', 'c', 'd'], ['cf'], 50, rng).indexOf('cf'));
  assert.deepEqual([...seen].sort(), [0, 1, 2, 3, 4]);
});

test('a spliced token lands before the chosen word, or before [SEP] after the last word', () => {
  const w = wordList(3);
  const row = encodeRow(tok, w, 64);
  const mask = tok.specialIds.mask;
  const first = insertToken(row, 0, mask);
  assert.equal(first.pos, 1);
  assert.equal(first.row.ids[1], mask);
  const last = insertToken(row, 3, mask);
  assert.equal(last.pos, row.ids.length - 1);
  assert.equal(last.row.ids[last.row.ids.length - 1], tok.specialIds.sep);
  assert.equal(last.row.ids.length, row.ids.length + 1);
});

test('fitWords leaves room for later insertions', () => {
  const words = Array.from({ length: 40 }, (_, i) => wordList(40)[i]);
  const fit = fitWords(tok, words, 20, 3);
  assert.ok(encodeRow(tok, fit, 64).ids.length <= 17);
  assert.ok(fit.length > 0 && fit.length < words.length);
  assert.deepEqual(fitWords(tok, words.slice(0, 3), 20, 3), words.slice(0, 3));
});
