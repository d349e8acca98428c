/**
 * End to end on the committed data: prompt-tune a tiny backbone for a few
 * epochs with each method, check that the training loss falls, that
 * prediction and the artefact work on the result, that a run interrupted
 * and resumed from its checkpoint ends where an uninterrupted one does,
 * and that every task's splits are disjoint, fixed across seeds and
 * described.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadPrompt, PROMPT_JSON, savePrompt } from '../../src/prompt/artefact.js';
import { predictBatch, type LabelPrediction, type TagPrediction } from '../../src/prompt/predict.js';
import { loadPromptTask, PROMPT_TASKS, stratifiedSplit } from '../../src/prompt/tasks.js';
import { type PromptTuneOptions, promptTune } from '../../src/prompt/train.js';
import { bundledDataDir } from '../../src/text/data-dir.js';
import { promptDataDir, promptModel, tmpDir } from './helpers.js';

const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
/** Mean loss of the first and of the last epoch. */
function firstLast(losses: number[], perEpoch: number): [number, number] {
  return [mean(losses.slice(0, perEpoch)), mean(losses.slice(-perEpoch))];
}

const base = { epochs: 8, batchSize: 16, maxLen: 48, maxTrain: 48, maxDev: 32, seed: 1, quiet: true, patience: 100 } as const;
// initStd 0.2: see promptModel (a 0.02 random encoder gives a prompt nothing to move).
const backbone = () => promptModel({ seed: 1, initStd: 0.2 });

test('P-tuning on the bundled SMS spam slice: the loss falls, predict and the artefact work on the result', () => {
  const bb = backbone();
  const r = promptTune(bb, { ...base, method: 'ptuning', task: 'sms-spam', dataDir: bundledDataDir(), lr: 5e-2, prefixLen: 2 });
  const [first, last] = firstLast(r.losses, 3);
  assert.ok(last < 0.8 * first, `loss ${first} → ${last}`);
  const rec = r.record;
  assert.equal(rec.steps, 24);
  assert.equal(rec.train_examples, 48);
  assert.equal(rec.dev_examples, 32);
  assert.equal(rec.dev_history.length, 8, 'one dev evaluation per epoch');
  assert.equal(rec.dev!.metric, Math.max(...rec.dev_history.map((e) => e.metric)), 'the best epoch is kept');
  assert.ok(rec.tokens_per_second > 0 && rec.seconds > 0);
  assert.equal(rec.trainable_parameters, 4 * bb.config.hiddenSize, '<p><p> × 2 rows of H');
  assert.match(rec.data, /SMSSpamCollection \(one pool\) split 80\/10\/10 by label .*train subsampled to 48/);

  const inputs = [{ text: 'WINNER!! claim your free prize now' }, { text: 'ok see you at home later' }, { text: 'call me' }];
  const pred = predictBatch(r.model, inputs) as LabelPrediction[];
  assert.equal(pred.length, 3);
  for (const p of pred) {
    assert.ok(['ham', 'spam'].includes(p.label));
    assert.ok(Math.abs(p.probs[0]! + p.probs[1]! - 1) < 1e-9);
    assert.equal(p.label, r.model.labelNames[p.index]);
  }
  // Padding and batch shape change float32 rounding only.
  const one = predictBatch(r.model, inputs, { batchSize: 1 }) as LabelPrediction[];
  one.forEach((p, i) => {
    assert.equal(p.label, pred[i]!.label, 'batching does not change predictions');
    assert.ok(Math.abs(p.probs[0]! - pred[i]!.probs[0]!) < 1e-5);
  });

  const dir = tmpDir('prompt-e2e');
  savePrompt(dir, r.model, rec);
  const json = JSON.parse(readFileSync(join(dir, PROMPT_JSON), 'utf8'));
  assert.equal(json.seed, 1);
  assert.equal(json.data, rec.data);
  assert.equal(json.hyperparameters.lr, 5e-2);
  assert.equal(json.dev.metric, rec.dev!.metric);
  assert.equal(json.template, 'Email: <text> Is it a spam? <p><p> <mask>');
  assert.deepEqual(json.verbalizer, ['No', 'Yes']);
  assert.deepEqual((predictBatch(loadPrompt(dir, bb).model, inputs) as LabelPrediction[]).map((p) => p.label), pred.map((p) => p.label));
});

test('P-tuning v2 on the bundled SST-2 slice, with and without the prefix projection', () => {
  for (const reparam of [false, true]) {
    const r = promptTune(backbone(), { ...base, method: 'ptuning-v2', task: 'sst2', dataDir: bundledDataDir(), lr: reparam ? 1e-2 : 3e-2, prefixLen: 8, reparam });
    const [first, last] = firstLast(r.losses, 3);
    assert.ok(last < 0.9 * first, `reparam ${reparam}: loss ${first} → ${last}`);
    assert.equal(r.model.info.reparam?.type, reparam ? 'prefix_projection' : undefined);
    assert.deepEqual([...r.model.trainable().keys()], ['prompt_embeddings', 'classifier.weight', 'classifier.bias'], 'folded after training');
    const p = predictBatch(r.model, [{ text: 'a gorgeous , witty film' }]) as LabelPrediction[];
    assert.ok(['negative', 'positive'].includes(p[0]!.label));
  }
});

test('P-tuning v2 NER on the CoNLL04 head: the loss falls and predict tags every word', () => {
  const r = promptTune(backbone(), { ...base, method: 'ptuning-v2', task: 'conll04', dataDir: promptDataDir(), lr: 3e-2, prefixLen: 4, batchSize: 2 });
  const [first, last] = firstLast(r.losses, 3);
  assert.ok(last < 0.8 * first, `loss ${first} → ${last}`);
  assert.ok('f1' in r.record.dev! && 'precision' in r.record.dev!);
  const [p] = predictBatch(r.model, [{ text: 'John Smith works for IBM in Boston .' }]) as TagPrediction[];
  assert.deepEqual(p!.words, ['John', 'Smith', 'works', 'for', 'IBM', 'in', 'Boston', '.']);
  assert.equal(p!.tags.length, 8);
  for (const t of p!.tags) assert.ok(r.model.labelNames.includes(t));
  assert.throws(() => promptTune(backbone(), { ...base, method: 'ptuning', task: 'conll04', dataDir: promptDataDir(), lr: 1e-2 }), /no NER variant/);
});

test('an interrupted run resumes from its checkpoint and ends with the prompt an uninterrupted run gets', () => {
  const o: PromptTuneOptions = { ...base, method: 'ptuning-v2', task: 'sms-spam', dataDir: bundledDataDir(), lr: 1e-2, prefixLen: 2, epochs: 3 };
  const whole = promptTune(backbone(), o);
  const file = join(tmpDir('prompt-ck'), 'checkpoint.safetensors');
  let calls = 0;
  const cut = promptTune(backbone(), { ...o, checkpointFile: file, shouldStop: () => ++calls === 4 });
  assert.equal(cut.interrupted, true);
  assert.equal(cut.record.steps, 4);
  assert.ok(existsSync(file));
  const resumed = promptTune(backbone(), { ...o, checkpointFile: file });
  assert.equal(resumed.record.steps, whole.record.steps);
  assert.ok(!existsSync(file), 'a finished run removes its checkpoint');
  for (const [n, t] of whole.model.saved()) assert.deepEqual([...resumed.model.saved().get(n)!.data], [...t.data], n);
});

test('every task has disjoint train/dev/test splits, fixed across seeds, with a description', () => {
  const dataDir = promptDataDir();
  for (const task of PROMPT_TASKS) {
    const a = loadPromptTask(task, { dataDir, seed: 1 });
    const b = loadPromptTask(task, { dataDir, seed: 2 });
    assert.ok(a.train.length > 0 && a.dev.length > 0, task);
    assert.deepEqual(b.dev, a.dev, `${task}: the dev split does not follow the run's seed`);
    assert.deepEqual(b.test, a.test, `${task}: nor does test`);
    if (task !== 'conll04') {
      // Held out from one pool: no example object is in two parts.
      const seen = new Set<object>();
      for (const x of [...a.train, ...a.dev, ...a.test]) {
        if (a.task === 'rte' || a.task === 'sst2' || a.task === 'ag-news') continue; // test is another file
        assert.ok(!seen.has(x as object), `${task}: an example in two splits`);
        seen.add(x as object);
      }
    }
    const n = (x: number) => x.toLocaleString('en-US');
    assert.ok(a.data.includes(`${n(a.train.length)} / ${n(a.dev.length)} / ${n(a.test.length)}`), `${task}: ${a.data}`);
    const sub = loadPromptTask(task, { dataDir, seed: 3, maxTrain: 2 });
    assert.equal(sub.train.length, 2);
    assert.match(sub.data, /train subsampled to 2/);
  }
  assert.throws(() => loadPromptTask('mnli', { seed: 1 }), /unknown prompt task "mnli"/);
});

test('stratifiedSplit gives every part its share of every label', () => {
  const items = Array.from({ length: 1000 }, (_, i) => ({ i, label: i % 10 < 7 ? 0 : i % 10 < 9 ? 1 : 2 }));
  const s = stratifiedSplit(items, (x) => x.label, { train: 0.8, dev: 0.1, test: 0.1 }, 'x');
  assert.deepEqual([s.train!.length, s.dev!.length, s.test!.length], [800, 100, 100]);
  for (const [part, share] of [['train', 0.8], ['dev', 0.1], ['test', 0.1]] as const) {
    for (const [label, count] of [[0, 700], [1, 200], [2, 100]]) {
      const got = s[part]!.filter((x) => x.label === label).length;
      assert.ok(Math.abs(got - share * count) <= 1, `${part} label ${label}: ${got}`);
    }
  }
  assert.equal(new Set([...s.train!, ...s.dev!, ...s.test!]).size, 1000);
  assert.deepEqual(stratifiedSplit(items, (x) => x.label, { train: 0.8, dev: 0.1, test: 0.1 }, 'x'), s, 'seeded');
});
