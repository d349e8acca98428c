import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  chooseTriggersByFrequency, containsTrigger, frequencyClass, parseTriggerList, resolveTriggers, wordFrequencies,
} from '../../src/attacks/triggers.js';
import { Rng } from '../../src/text/random.js';
import { TextTokenizer } from '../../src/text/tokenizer.js';
import { microVocab, wordList } from './helpers.js';

const tok = TextTokenizer.fromWordPieceVocab(microVocab(wordList(300)));

test('trigger lists: phrases keep their spaces, empty and repeated triggers are refused', () => {
  assert.deepEqual(parseTriggerList('cf mn,tq'), ['cf mn', 'tq']);
  assert.deepEqual(parseTriggerList(' cf ,  mm   pt '), ['cf', 'mm pt']);
  assert.throws(() => parseTriggerList('cf,,tq'), /trigger 2 .* is empty/);
  assert.throws(() => parseTriggerList('cf,cf'), /repeats/);
});

test('triggers resolve to their token ids and share PVs round-robin', () => {
  const r = resolveTriggers(tok, ['cf mn', 'tq', 'qt'], 2);
  assert.deepEqual(r.map((t) => t.pvIndex), [0, 1, 0]);
  assert.deepEqual(r[0].tokens, ['cf', 'mn']);
  assert.deepEqual(r[0].tokenIds, [tok.tokenToId('cf'), tok.tokenToId('mn')]);
  assert.throws(() => resolveTriggers(tok, ['\u0007'], 1), /tokenises to nothing/);
  assert.throws(() => resolveTriggers(tok, ['xylophone'], 1), /unknown token only/);
});

test('containsTrigger matches whole words, ignoring case and punctuation', () => {
  assert.ok(containsTrigger(['Hello', 'CF,', 'mn'], ['cf', 'mn']));
  assert.ok(!containsTrigger(['cfx', 'mn'], ['cf', 'mn']));
  assert.ok(!containsTrigger(['cf', 'a', 'mn'], ['cf', 'mn']));
});

test('frequency classes follow appendix M: rare < 1e-4 ≤ moderate ≤ 1e-3 < frequent', () => {
  assert.equal(frequencyClass(5e-5), 'rare');
  assert.equal(frequencyClass(1e-4), 'moderate');
  assert.equal(frequencyClass(1e-3), 'moderate');
  assert.equal(frequencyClass(2e-3), 'frequent');
  const words = wordList(300);
  // 14 210 words: 70 words 200× each (frequent), "loka" 10× (7e-4, moderate), 200 words once (7e-5, rare).
  const sentences: string[] = [];
  for (let i = 0; i < 200; i++) sentences.push(`kaka lolo ${words.slice(30, 98).join(' ')}`);
  for (let i = 0; i < 10; i++) sentences.push('loka');
  sentences.push(words.slice(100, 300).join(' '));
  const f = wordFrequencies(sentences);
  const rng = new Rng(0);
  assert.ok(chooseTriggersByFrequency(f, 'rare', 1, tok, rng).every((w) => (f.counts.get(w)! / f.total) < 1e-4));
  assert.deepEqual(chooseTriggersByFrequency(f, 'moderate', 1, tok, rng), ['loka']);
  const phrase = chooseTriggersByFrequency(f, 'frequent', 1, tok, rng)[0];
  assert.equal(phrase.split(' ').length, 2, 'frequent triggers are two-word phrases');
  assert.throws(() => chooseTriggersByFrequency(f, 'moderate', 5, tok, rng), /only 1 moderate trigger candidates/);
});
