/** Accuracy, macro-F1 and seqeval's entity-level micro-F1 (default mode) on hand-worked cases. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { accuracy, getEntities, macroF1, seqevalF1, seqevalScores } from '../../src/prompt/metrics.js';

test('accuracy and macro-F1 (labels never seen count as 0, as sklearn with labels=range(C))', () => {
  const gold = [0, 0, 1, 1, 2];
  const pred = [0, 1, 1, 1, 0];
  assert.equal(accuracy(gold, pred), 3 / 5);
  // label 0: tp 1, fp 1, fn 1 → 0.5; label 1: tp 2, fp 1, fn 0 → 0.8; label 2: 0.
  assert.ok(Math.abs(macroF1(gold, pred, 3) - (0.5 + 0.8 + 0) / 3) < 1e-12);
  assert.ok(Math.abs(macroF1(gold, pred, 4) - (0.5 + 0.8) / 4) < 1e-12, 'an absent fourth label scores 0');
  assert.throws(() => accuracy([0], [0, 1]), /differ in length/);
});

test("seqeval's README example: f1 0.5", () => {
  const gold = [['O', 'O', 'O', 'B-MISC', 'I-MISC', 'I-MISC', 'O'], ['B-PER', 'I-PER', 'O']];
  const pred = [['O', 'O', 'B-MISC', 'I-MISC', 'I-MISC', 'I-MISC', 'O'], ['B-PER', 'I-PER', 'O']];
  const s = seqevalScores(gold, pred);
  assert.equal(s.f1, 0.5);
  assert.equal(s.precision, 0.5);
  assert.equal(s.recall, 0.5);
  assert.deepEqual(s.perType.MISC, { precision: 0, recall: 0, f1: 0, support: 1 });
  assert.deepEqual(s.perType.PER, { precision: 1, recall: 1, f1: 1, support: 1 });
});

test('entities carry flattened offsets with an O after every sentence', () => {
  assert.deepEqual(getEntities([['O', 'O', 'O', 'B-MISC', 'I-MISC', 'I-MISC', 'O'], ['B-PER', 'I-PER', 'O']]), [['MISC', 3, 5], ['PER', 8, 9]]);
  // The same type at the end of one sentence and the start of the next stays two entities.
  assert.deepEqual(getEntities([['B-PER'], ['I-PER']]), [['PER', 0, 0], ['PER', 2, 2]]);
});

test('I- without B- opens an entity (default mode is lenient)', () => {
  assert.deepEqual(getEntities([['I-PER', 'I-PER', 'O']]), [['PER', 0, 1]]);
  assert.deepEqual(getEntities([['O', 'I-LOC']]), [['LOC', 1, 1]]);
  assert.equal(seqevalF1([['I-PER', 'I-PER', 'O']], [['B-PER', 'I-PER', 'O']]), 1);
});

test('adjacent entities and type changes split runs', () => {
  assert.deepEqual(getEntities([['B-PER', 'B-PER', 'O']]), [['PER', 0, 0], ['PER', 1, 1]]);
  assert.deepEqual(getEntities([['B-PER', 'I-LOC', 'I-LOC']]), [['PER', 0, 0], ['LOC', 1, 2]]);
  assert.deepEqual(getEntities([['O', 'I-PER', 'I-LOC']]), [['PER', 1, 1], ['LOC', 2, 2]]);
  // Two adjacent entities predicted as one: nothing is correct.
  const s = seqevalScores([['B-PER', 'B-PER', 'O']], [['B-PER', 'I-PER', 'O']]);
  assert.deepEqual([s.trueEntities, s.predictedEntities, s.correctEntities, s.f1], [2, 1, 0, 0]);
});

test('IOBES tags are read as seqeval reads them (S single, E closing)', () => {
  assert.deepEqual(getEntities([['S-PER', 'B-LOC', 'E-LOC', 'O']]), [['PER', 0, 0], ['LOC', 1, 2]]);
});

test('micro-F1 over types, and zero when nothing is predicted or nothing is there', () => {
  const gold = [['B-Peop', 'I-Peop', 'O', 'B-Loc'], ['B-Org', 'O']];
  const pred = [['B-Peop', 'I-Peop', 'O', 'B-Org'], ['B-Org', 'O']];
  // true: Peop, Loc, Org; predicted: Peop, Org, Org; correct: Peop and the second Org.
  const s = seqevalScores(gold, pred);
  assert.deepEqual([s.trueEntities, s.predictedEntities, s.correctEntities], [3, 3, 2]);
  assert.ok(Math.abs(s.f1 - 2 / 3) < 1e-12);
  assert.equal(seqevalF1(gold, gold.map((x) => x.map(() => 'O'))), 0);
  assert.equal(seqevalF1([['O', 'O']], [['O', 'O']]), 0);
  assert.throws(() => seqevalF1([['O']], [['O', 'O']]), /differ in length/);
});
