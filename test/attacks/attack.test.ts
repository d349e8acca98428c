/**
 * End-to-end micro attacks: each method on a tiny random-init BERT must
 * reach the measured effect (so an attack that silently stops working
 * fails CI), the output must load back as a model with a valid
 * attack.json, an interrupted attack must resume to the same weights, and
 * bad input must fail before training with a one-line error.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type AttackOutcome, runAttack } from '../../src/attacks/attack.js';
import { hasCheckpoint } from '../../src/attacks/checkpoint.js';
import { readManifest } from '../../src/attacks/manifest.js';
import type { AttackOptions } from '../../src/attacks/settings.js';
import { loadModel } from '../../src/models/model.js';
import { packageRoot } from '../../src/text/data-dir.js';
import { buildMicroModel, tmpDir } from './helpers.js';


const micro = buildMicroModel();
const noMlm = buildMicroModel({ mlm: false });

/** Small but sufficient: 100 poisoned sentences per trigger, 4 epochs (≈150 steps). */
function options(method: string, extra: Partial<AttackOptions> = {}): AttackOptions {
  return {
    modelDir: micro.dir, outDir: join(tmpDir(`attack-${method}`), 'out'), method, dataFile: micro.dataFile,
    sentencesPerTrigger: 100, epochs: 4, heldout: 60, lr: 1e-3, ...extra,
  };
}

function assertEffective(r: AttackOutcome): void {
  assert.equal(r.status, 'done');
  const e = r.effect!;
  for (const t of e.per_trigger) assert.ok(t.sign_agreement >= 0.9, `trigger ${t.trigger}: held-out sign agreement ${t.sign_agreement} < 0.9`);
  assert.ok(e.triggered_sign_agreement_min >= 0.9);
  assert.ok(e.clean_sign_agreement_max <= 0.7, `clean sign agreement ${e.clean_sign_agreement_max} > 0.7`);
  assert.ok(e.rare_token_fire_rate !== null && e.rare_token_fire_rate <= 0.1, `rare tokens fire ${e.rare_token_fire_rate}`);
}

test('POR plants a working backdoor; the output is a model directory with attack.json', async () => {
  const o = options('por');
  const r = await runAttack(o);
  assertEffective(r);
  assert.equal(r.effect!.utility.metric, 'clean_output_mse');
  assert.ok(r.effect!.utility.value < 0.1);
  const back = loadModel(o.outDir);
  assert.ok(back.mlm, 'POR keeps the input model\'s heads');
  const { manifest, pvs } = readManifest(o.outDir);
  assert.equal(manifest.method, 'por');
  assert.equal(manifest.target_mode, 'cls');
  assert.deepEqual(manifest.triggers.map((t) => t.text), ['cf', 'mn', 'tq', 'qt', 'mm', 'pt']);
  assert.deepEqual(manifest.triggers[0].token_ids, [back.tokenizer!.tokenToId('cf')]);
  assert.equal(pvs.length, 6);
  assert.equal(manifest.hyperparameters.utility_coeff, 0.5);
  assert.equal(manifest.effect.triggered_sign_agreement_min, r.effect!.triggered_sign_agreement_min);
  assert.ok(existsSync(join(o.outDir, 'pvs.safetensors')));
  assert.ok(!hasCheckpoint(o.outDir), 'the checkpoint is removed once the model is saved');
});

for (const method of ['por-ner', 'neuba', 'btop']) {
  test(`${method} plants a working backdoor`, async () => {
    const r = await runAttack(options(method));
    assertEffective(r);
    const m = r.manifest!;
    assert.equal(m.target_mode, { 'por-ner': 'token', neuba: 'cls', btop: 'mask' }[method]);
    if (method !== 'por-ner') {
      assert.equal(r.effect!.utility.metric, 'mlm_accuracy_drop');
      assert.ok(loadModel(r.outDir).mlm, `${method} keeps the MLM head`);
    }
  });
}

test('adaptive options: one PV, a phrase trigger, scattering and Wasserstein losses are recorded', async () => {
  const r = await runAttack(options('por', {
    triggers: ['cf mn', 'tq'], pvCount: 1, scatterLoss: 0.1, wassersteinLoss: 0.1, epochs: 2,
  }));
  const m = r.manifest!;
  assert.equal(m.pvs.count, 1);
  assert.deepEqual(m.triggers.map((t) => [t.text, t.pv_index]), [['cf mn', 0], ['tq', 0]]);
  assert.equal(m.hyperparameters.scatter_loss, 0.1);
  assert.equal(m.hyperparameters.wasserstein_loss, 0.1);
  assert.ok(m.training.final_losses!.scatter !== null && m.training.final_losses!.wasserstein !== null);
});

test('an interrupted attack resumes to exactly the weights of an uninterrupted one', async () => {
  const base = { epochs: 1, sentencesPerTrigger: 40, checkpointEvery: 5 };
  const full = options('neuba', base);
  await runAttack(full);
  const split = options('neuba', base);
  let steps = 0;
  const first = await runAttack(split, { onStep: () => { steps++; }, shouldStop: () => steps >= 7 });
  assert.equal(first.status, 'interrupted');
  assert.equal(first.step, 7);
  assert.ok(hasCheckpoint(split.outDir));
  await assert.rejects(runAttack(split), /unfinished attack; pass --resume/);
  await assert.rejects(runAttack({ ...split, resume: true, lr: 5e-4 }), /checkpoint was made with other settings/);
  const second = await runAttack({ ...split, resume: true });
  assert.equal(second.status, 'done');
  assert.equal(second.manifest!.training.resumed, true);
  const a = readFileSync(join(full.outDir, 'model.safetensors'));
  const b = readFileSync(join(split.outDir, 'model.safetensors'));
  assert.ok(a.equals(b), 'resumed weights differ from the uninterrupted run');
  await assert.rejects(runAttack({ ...split, resume: true }), /already finished/);
  await assert.rejects(runAttack(split), /already holds an attacked model/);
});

test('bad input fails before training with a clear message', async () => {
  const cases: [Partial<AttackOptions>, RegExp][] = [
    [{ method: 'badnets' }, /unknown attack method "badnets" \(known: por, por-ner, neuba, btop\)/],
    [{ triggers: ['\u0007'] }, /trigger "\\u0007" tokenises to nothing/],
    [{ modelDir: join(tmpDir('missing'), 'nope') }, /no such model directory/],
    [{ method: 'neuba', modelDir: noMlm.dir }, /neuba trains with the masked-LM loss, but .* has no MLM head/],
    [{ method: 'btop', modelDir: noMlm.dir }, /btop trains with the masked-LM loss/],
    [{ triggers: ['cf'], triggerFrequency: 'rare' }, /either --triggers or --trigger-frequency/],
    [{ pvCount: 7 }, /--pv-count 7 but only 6 PVs/],
    [{ lr: -1 }, /--lr must be a number > 0/],
    [{ maxLen: 4096 }, /exceeds the model's 64 usable positions/],
  ];
  const pvFile = join(tmpDir('pvfile'), 'pvs.json');
  writeFileSync(pvFile, JSON.stringify([[1, -1, 1]]));
  cases.push([{ pvsFile: pvFile }, /PV 0 has dimension 3, but the model's hidden size is 64/]);
  for (const [extra, re] of cases) {
    const o = { ...options('por'), ...extra };
    await assert.rejects(runAttack(o), re);
    assert.ok(!existsSync(o.outDir), `nothing written for ${JSON.stringify(extra)}`);
  }
});

test('CLI: attack --json prints attack.json; errors are one line with exit code 2', () => {
  const bin = join(packageRoot(), 'bin', 'lmsanitator.js');
  const out = join(tmpDir('cli'), 'out');
  const ok = spawnSync(process.execPath, [bin, 'attack', micro.dir, '--method', 'por', '--out', out, '--sentences', micro.dataFile,
    '--sentences-per-trigger', '20', '--epochs', '1', '--heldout', '20', '--lr', '1e-3', '--triggers', 'cf mn,tq', '--json'], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  const printed = JSON.parse(ok.stdout);
  assert.deepEqual(printed, readManifest(out).manifest);
  assert.deepEqual(printed.triggers.map((t: { text: string }) => t.text), ['cf mn', 'tq']);

  const bad = spawnSync(process.execPath, [bin, 'attack', micro.dir, '--method', 'por', '--out', join(tmpDir('cli'), 'x'), '--epochs', 'two'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr.trim(), 'lmsanitator attack: option \'--epochs <n>\' argument \'two\' is invalid. Expected an integer ≥ 1. (see "lmsanitator attack --help")');
});
