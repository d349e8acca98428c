import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadModel } from '../../src/models/model.js';
import { parseSst2 } from '../../src/text/datasets.js';
import {
  CONTINUED_MLM_DEFAULTS, continueMlm, evaluateClassifier, FINETUNE_DEFAULTS, finetuneClassifier, type FinetuneOptions, loadTaskData, mlmCorpus,
  saveFinetuned, type TaskData,
} from '../../src/train/finetune.js';
import { zooCorpus } from '../../src/zoo/zoo.js';
import { fixture, readFixture } from '../text/helpers.js';
import { fixtureDataDir, fixtureModel, fixtureModelDir, tmpDir } from './helpers.js';

function sst2Fixture(): TaskData {
  const ex = parseSst2(readFixture('sst2-dev-head.tsv'), fixture('sst2-dev-head.tsv'));
  return { task: 'sst2', labelNames: ex[0].labelNames, train: ex, dev: ex, source: 'fixture' };
}

const opts: FinetuneOptions = { ...FINETUNE_DEFAULTS, epochs: 20, batchSize: 8, lr: 2e-3, maxLen: 48, seed: 3, quiet: true };

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('finetuneClassifier', () => {
  it('lowers the training loss and fits the training set', () => {
    const r = finetuneClassifier(fixtureModel(), sst2Fixture(), opts);
    assert.equal(r.losses.length, 20 * Math.ceil(30 / 8));
    assert.ok(mean(r.losses.slice(-4)) < 0.5 * mean(r.losses.slice(0, 4)), `loss ${mean(r.losses.slice(0, 4))} → ${mean(r.losses.slice(-4))}`);
    // dev = train here: a model that learned anything beats the majority class.
    assert.ok((r.record.dev_accuracy as number) > (r.record.dev_majority_accuracy as number));
    assert.equal(r.model.mlm, null, 'a fine-tuned model carries only its task head');
  });

  it('saves a directory that reloads with the head and the same predictions', () => {
    const base = fixtureModel();
    base.dir = '/somewhere/base';
    const data = sst2Fixture();
    const r = finetuneClassifier(base, data, { ...opts, epochs: 2 });
    const dir = tmpDir('ft-out');
    saveFinetuned(dir, r, base);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    assert.deepEqual(config.architectures, ['BertForSequenceClassification']);
    assert.deepEqual(config.id2label, { 0: 'negative', 1: 'positive' });
    const rec = JSON.parse(readFileSync(join(dir, 'finetune.json'), 'utf8'));
    for (const k of ['task', 'seed', 'data', 'steps', 'dev_accuracy', 'seconds']) assert.ok(k in rec, `finetune.json lacks ${k}`);
    assert.equal(rec.task, 'sst2');
    assert.equal(rec.base, '/somewhere/base');

    const back = loadModel(dir);
    assert.ok(back.sequenceClassifier);
    assert.equal(back.sequenceClassifier.numLabels, 2);
    assert.equal(back.mlm, null);
    assert.deepEqual(back.unusedKeys, []);
    const a = evaluateClassifier(r.model, data.dev, 48);
    const b = evaluateClassifier(back, data.dev, 48);
    assert.equal(b.accuracy, a.accuracy);
    assert.ok(Math.abs(b.loss - a.loss) < 1e-5);
  });

  it('fine-tunes a RoBERTa-type encoder through its <s> head', () => {
    const r = finetuneClassifier(fixtureModel({ family: 'roberta' }), sst2Fixture(), { ...opts, epochs: 2 });
    const dir = tmpDir('ft-roberta');
    saveFinetuned(dir, r, r.model);
    const back = loadModel(dir);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).architectures, ['RobertaForSequenceClassification']);
    assert.ok(back.sequenceClassifier?.params.has('classifier.out_proj.weight'));
  });

  it('is deterministic for a seed', () => {
    const a = finetuneClassifier(fixtureModel(), sst2Fixture(), { ...opts, epochs: 1 });
    const b = finetuneClassifier(fixtureModel(), sst2Fixture(), { ...opts, epochs: 1 });
    assert.deepEqual(a.losses, b.losses);
  });

  it('stops when asked and reports it', () => {
    let n = 0;
    const r = finetuneClassifier(fixtureModel(), sst2Fixture(), { ...opts, shouldStop: () => ++n >= 2 });
    assert.equal(r.interrupted, true);
    assert.equal(r.losses.length, 2);
  });
});

describe('loadTaskData', () => {
  const dataDir = fixtureDataDir();

  it('reads each task; SMS spam gets a fixed 80/20 split; training subsets follow the seed', () => {
    const sst = loadTaskData('sst2', { dataDir, seed: 1 });
    assert.equal(sst.train.length, 30);
    assert.equal(sst.dev.length, 30);
    const ag = loadTaskData('ag-news', { dataDir, seed: 1 });
    assert.equal(ag.labelNames.length, 4);
    assert.ok(ag.dev.every((e) => !e.text.includes('\\')), 'AG News escapes are undone');
    const s1 = loadTaskData('sms-spam', { dataDir, seed: 1, maxTrain: 8 });
    const s2 = loadTaskData('sms-spam', { dataDir, seed: 2, maxTrain: 8 });
    assert.equal(s1.dev.length, 4);
    assert.deepEqual(s1.dev, s2.dev);
    assert.equal(s1.train.length, 8);
    assert.notDeepEqual(s1.train, s2.train);
    const devTexts = new Set(s1.dev.map((e) => e.text));
    assert.ok(loadTaskData('sms-spam', { dataDir, seed: 1 }).train.every((e) => !devTexts.has(e.text)));
  });

  it('names --data-dir when the data directory is missing, and rejects unknown tasks', () => {
    assert.throws(() => loadTaskData('sst2', { dataDir: '/nonexistent/lms-data', seed: 1 }), /--data-dir/);
    assert.throws(() => loadTaskData('mnli', { dataDir, seed: 1 }), /unknown task "mnli"/);
  });
});

describe('continued MLM', () => {
  it('trains an existing model further and saves it with both records', () => {
    const dataDir = fixtureDataDir();
    const baseDir = fixtureModelDir();
    const base = loadModel(baseDir);
    const before = Float32Array.from(base.encoder.params.get('encoder.layer.0.attention.self.query.weight')!.data);
    const data = mlmCorpus('wikitext', { dataDir, seed: 1, maxTrain: 100, heldout: 8 });
    assert.equal(data.heldout.length, 8);
    const out = tmpDir('ft-mlm');
    const r = continueMlm(base, data, 'wikitext', out, { ...CONTINUED_MLM_DEFAULTS, steps: 3, batchSize: 8, maxLen: 32, lr: 1e-3, seed: 1, quiet: true });
    assert.equal(r.interrupted, false);
    const rec = JSON.parse(readFileSync(join(out, 'finetune.json'), 'utf8'));
    assert.equal(rec.kind, 'mlm');
    assert.equal(rec.steps, 3);
    assert.ok(existsSync(join(out, 'training.json')));
    assert.ok(!existsSync(join(out, 'checkpoint.safetensors')));
    const back = loadModel(out);
    assert.ok(back.mlm);
    const after = back.encoder.params.get('encoder.layer.0.attention.self.query.weight')!.data;
    assert.ok(after.some((v, i) => v !== before[i]), 'weights moved');
  });

  it('draws the nlp-corpus slice from sentences the zoo models never trained on', () => {
    const zoo = new Set(zooCorpus(45000, 1000).train);
    const d = mlmCorpus('nlp-corpus-slice', { seed: 1, maxTrain: 500, heldout: 100 });
    assert.equal(d.train.length, 500);
    assert.ok([...d.train, ...d.heldout].every((s) => !zoo.has(s)));
    assert.throws(() => mlmCorpus('books', { seed: 1, maxTrain: 1, heldout: 1 }), /unknown MLM corpus/);
  });
});
