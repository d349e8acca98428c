import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadModel } from '../../src/models/model.js';
import { buildCleanSet, type CleanSetOptions, cleanBudgetFor, planCleanSet } from '../../src/zoo/clean-set.js';
import { fixtureDataDir, fixtureModelDir, tmpDir } from '../train/helpers.js';

const tiny: CleanSetOptions['budget'] = {
  finetune: { maxTrain: 16, maxDev: 8, epochs: 1, maxSteps: 2, batchSize: 8, maxLen: 32 },
  mlm: { steps: 2, maxTrain: 32, heldout: 8, batchSize: 8, maxLen: 32 },
};

describe('planCleanSet', () => {
  it('alternates kinds and tasks with distinct seeds', () => {
    const p = planCleanSet(6);
    assert.deepEqual(p.map((v) => v.name), [
      '0-sst2-seed1', '1-mlm-wikitext-seed2', '2-ag-news-seed3', '3-sms-spam-seed4', '4-mlm-nlp-corpus-slice-seed5', '5-sst2-seed6',
    ]);
    assert.deepEqual(p.slice(0, 3).map((v) => v.kind), ['finetune', 'mlm', 'finetune']);
    assert.equal(planCleanSet(2, 10)[1].seed, 11);
  });

  it('scales the budget with the base', () => {
    const micro = cleanBudgetFor('bert-micro');
    const mini = cleanBudgetFor('bert-mini');
    assert.ok(micro.mlm.steps < mini.mlm.steps);
    assert.ok(micro.finetune.lr > mini.finetune.lr);
  });
});

describe('buildCleanSet', () => {
  const dataDir = fixtureDataDir();
  const baseDir = fixtureModelDir();

  it('writes N variants and a manifest, and a rerun skips finished variants', () => {
    const out = tmpDir('clean-set');
    const o: CleanSetOptions = { base: 'bert-micro', baseDir, count: 3, out, dataDir, budget: tiny, quiet: true };
    const r = buildCleanSet(o);
    assert.equal(r.interrupted, false);
    assert.deepEqual(r.built, ['0-sst2-seed1', '1-mlm-wikitext-seed2', '2-ag-news-seed3']);
    const m = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    assert.deepEqual(m, JSON.parse(JSON.stringify(r.manifest)));
    assert.equal(m.variants.length, 3);
    for (const v of m.variants) {
      for (const k of ['dir', 'kind', 'dataset', 'seed', 'steps', 'metric', 'seconds']) assert.ok(k in v, `manifest entry lacks ${k}`);
      assert.equal(v.dir, join(out, v.name));
      assert.ok(v.metric >= 0 && v.metric <= 1);
      const model = loadModel(v.dir);
      assert.equal(Boolean(model.sequenceClassifier), v.kind === 'finetune');
      assert.equal(Boolean(model.mlm), v.kind === 'mlm');
    }
    assert.deepEqual(m.variants.map((v: { dataset: string }) => v.dataset), ['sst2', 'wikitext', 'ag-news']);
    assert.equal(m.variants[0].steps, 2, "maxSteps caps fine-tuning");
    assert.equal(m.variants[1].steps, 2);

    const mtime = statSync(join(out, '0-sst2-seed1', 'model.safetensors')).mtimeMs;
    const again = buildCleanSet(o);
    assert.deepEqual(again.built, []);
    assert.equal(again.skipped.length, 3);
    assert.equal(statSync(join(out, '0-sst2-seed1', 'model.safetensors')).mtimeMs, mtime);

    const more = buildCleanSet({ ...o, count: 4 });
    assert.deepEqual(more.built, ['3-sms-spam-seed4']);
    assert.equal(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')).variants.length, 4);
  });

  it('resumes after an interruption', () => {
    const out = tmpDir('clean-set-int');
    let built = 0;
    const o: CleanSetOptions = { base: 'bert-micro', baseDir, count: 3, out, dataDir, budget: tiny, quiet: true };
    const r = buildCleanSet({ ...o, shouldStop: () => built >= 1, onVariant: () => built++ });
    assert.equal(r.interrupted, true);
    assert.deepEqual(r.built, ['0-sst2-seed1']);
    assert.equal(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')).variants.length, 1);
    const rest = buildCleanSet(o);
    assert.deepEqual(rest.skipped, ['0-sst2-seed1']);
    assert.deepEqual(rest.built, ['1-mlm-wikitext-seed2', '2-ag-news-seed3']);
  });

  it('rebuilds variants made from a different base', () => {
    const out = tmpDir('clean-set-rebase');
    const o: CleanSetOptions = { base: 'bert-micro', baseDir, count: 1, out, dataDir, budget: tiny, quiet: true };
    buildCleanSet(o);
    const other = buildCleanSet({ ...o, baseDir: fixtureModelDir({ seed: 2 }) });
    assert.deepEqual(other.built, ['0-sst2-seed1']);
  });

  it('fails on a missing data directory before doing any work', () => {
    const out = join(tmpDir('clean-set-nodata'), 'set');
    assert.throws(() => buildCleanSet({ base: 'bert-micro', baseDir, count: 2, out, dataDir: '/nonexistent/lms-data', quiet: true }), /--data-dir/);
    assert.equal(existsSync(out), false);
    assert.throws(() => buildCleanSet({ base: 'bert-huge', count: 1, out, dataDir }), /unknown base "bert-huge"/);
  });
});
