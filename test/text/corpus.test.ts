import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as fs from 'node:fs';
import {
  datasetSentences, nlpCorpusSentences, sampleSentences, shuffleSentences, splitTrainHeldout, wikitextSentences, wikitextSentencesFrom,
} from '../../src/text/corpus.js';
import { bundledDataDir, findDataDir, locateDataDir, packageRoot, resolveDataDir } from '../../src/text/data-dir.js';
import { DATA_DIR, NO_DATA, readFixture } from './helpers.js';

test('nlp-corpus gives tens of thousands of clean sentences', () => {
  const s = nlpCorpusSentences();
  assert.ok(s.length > 50000, `${s.length}`);
  for (const x of s.slice(0, 2000)) {
    assert.ok(!/\s\s|^\s|\s$/.test(x), JSON.stringify(x));
    assert.ok(!/<\/?[a-z][^>]*>/i.test(x), JSON.stringify(x));
    const n = x.split(' ').length;
    assert.ok(n >= 3 && n <= 64);
  }
  assert.equal(new Set(s).size, s.length);
  const strict = nlpCorpusSentences({ minWords: 8, maxWords: 20 });
  assert.ok(strict.length < s.length && strict.every((x) => x.split(' ').length >= 8));
});

test('WikiText parsing: headings and blank lines dropped, paragraphs split and detokenised', () => {
  const s = wikitextSentencesFrom(readFixture('wikitext-valid-head.raw'));
  assert.ok(s.length > 20, `${s.length}`);
  assert.equal(s[0], 'Homarus gammarus, known as the European lobster or common lobster, is a species of clawed lobster from the eastern Atlantic Ocean, Mediterranean Sea and parts of the Black Sea.');
  assert.equal(s[1], 'It is closely related to the American lobster, H. americanus.');
  assert.ok(s.every((x) => !x.includes('@') && !x.startsWith('=')));
  const raw = wikitextSentencesFrom(readFixture('wikitext-valid-head.raw'), { detokenize: false });
  assert.ok(raw.some((x) => x.includes(' @.@ ')));
});

test('seeded shuffle, sampling and train/held-out split', () => {
  const xs = Array.from({ length: 100 }, (_, i) => `s${i}`);
  assert.deepEqual(shuffleSentences(xs, 1), shuffleSentences(xs, 1));
  assert.notDeepEqual(shuffleSentences(xs, 1), shuffleSentences(xs, 2));
  assert.deepEqual(sampleSentences(xs, 10, 5), sampleSentences(xs, 10, 5));
  assert.equal(new Set(sampleSentences(xs, 10, 5)).size, 10);

  const { train, heldout } = splitTrainHeldout(xs, { seed: 9, heldoutFraction: 0.2 });
  assert.equal(train.length, 80);
  assert.equal(heldout.length, 20);
  assert.deepEqual([...train, ...heldout].sort(), [...xs].sort());
  assert.deepEqual(splitTrainHeldout(xs, { seed: 9, heldoutFraction: 0.2 }).heldout, heldout);
  assert.equal(splitTrainHeldout(xs, { seed: 9, heldoutFraction: 0 }).heldout.length, 0);
  assert.throws(() => splitTrainHeldout(xs, { seed: 9, heldoutFraction: 1.5 }), RangeError);
});

test('data directory resolution: argument, LMS_DATA_DIR, ../shared/data, else the bundled slices', () => {
  assert.equal(findDataDir('/some/where'), '/some/where');
  assert.throws(() => resolveDataDir('/definitely/not/here'), /does not exist/);
  const saved = process.env.LMS_DATA_DIR;
  try {
    process.env.LMS_DATA_DIR = '/from/env';
    assert.equal(findDataDir(), '/from/env');
    delete process.env.LMS_DATA_DIR;
    const beside = path.resolve(packageRoot(), '..', 'shared', 'data');
    if (fs.existsSync(beside)) assert.deepEqual(locateDataDir(), { dir: beside, source: '../shared/data' });
    else assert.deepEqual(locateDataDir(), { dir: bundledDataDir(), source: 'bundled slices' });
    assert.equal(resolveDataDir(), locateDataDir()!.dir);
  } finally {
    if (saved === undefined) delete process.env.LMS_DATA_DIR;
    else process.env.LMS_DATA_DIR = saved;
  }
});

test('WikiText from the shared data', { skip: NO_DATA }, () => {
  const s = wikitextSentences({ dataDir: DATA_DIR });
  assert.ok(s.length > 10000, `${s.length}`);
  assert.deepEqual(wikitextSentences(DATA_DIR!), s);
  const valid = wikitextSentences({ dataDir: DATA_DIR, splits: ['valid'] });
  assert.ok(valid.length > 4000 && valid.length < s.length);
});

test('sentences from the task datasets', { skip: NO_DATA }, () => {
  const sst = datasetSentences('sst2', 'dev', DATA_DIR);
  assert.ok(sst.length > 800);
  const ag = datasetSentences('ag-news', 'test', { dataDir: DATA_DIR });
  assert.ok(ag.length > 7000);
  assert.ok(ag.every((x) => !x.includes('\\')));
  const rte = datasetSentences('rte', 'dev', { dataDir: DATA_DIR });
  assert.ok(rte.length > 400, `${rte.length}`);
  const ner = datasetSentences('conll04', 'dev', { dataDir: DATA_DIR, split: false });
  assert.ok(ner.length > 150);
  assert.throws(() => datasetSentences('imdb', 'train'), /unknown dataset/);
});
