/**
 * The guard's self-check (guard/self-check.ts) on a fixture backbone: a PV
 * set that holds the prompt's own outputs on the neutral sentences makes
 * the prompt "a trigger" (every sentence flagged), one that holds their
 * negations flags none; pair tasks get pairs; `guard` says so on stderr and
 * still classifies; `eval guard`'s table and page carry the warning.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { Guard } from '../../src/guard/guard.js';
import { selfCheck, selfCheckInputs, selfCheckWarning, SELF_CHECK_DEFAULTS } from '../../src/guard/self-check.js';
import { promptTriggerWarnings } from '../../src/eval/guarded.js';
import { loadModel, saveModel } from '../../src/models/model.js';
import { createPromptModel, type PromptModel, predictBatch, savePrompt } from '../../src/prompt/index.js';
import { SignMonitor } from '../../src/sanitizer/monitor.js';
import { savePvSet } from '../../src/sanitizer/pvset.js';
import { promptModel, tmpDir } from '../prompt/helpers.js';

const BIN = join(import.meta.dirname, '..', '..', '..', 'bin', 'lmsanitator.js');

/** The monitored row of each input, by the prompt model's own forward. */
function monitored(model: PromptModel, inputs: { text: string; text_pair?: string }[]): Float32Array[] {
  const H = model.backbone.config.hiddenSize;
  const out: Float32Array[] = new Array(inputs.length);
  predictBatch(model, inputs, { onBatch: (_b, f, index) => index.forEach((j, r) => (out[j] = Float32Array.from((f.hidden.data as Float32Array).subarray(r * H, (r + 1) * H)))) });
  return out;
}

test('self-check: the prompt\'s own outputs as PVs make it a trigger; their negations flag nothing', () => {
  const backbone = promptModel({ seed: 5, initStd: 0.5 });
  const H = backbone.config.hiddenSize;
  for (const model of [
    createPromptModel(backbone, { method: 'ptuning', task: 'sst2', prefixLen: 2, maxLen: 96, seed: 1 }),
    createPromptModel(backbone, { method: 'ptuning-v2', task: 'rte', prefixLen: 2, maxLen: 96, seed: 1 }),
  ]) {
    const pair = model.task === 'rte';
    const inputs = selfCheckInputs(pair);
    assert.equal(inputs.length, SELF_CHECK_DEFAULTS.sentences);
    assert.ok(inputs.every((x) => x.text.length > 0 && (x.text_pair !== undefined) === pair));
    assert.deepEqual(selfCheckInputs(pair), inputs, 'the neutral sentences are a fixed draw');
    const own = monitored(model, inputs);

    const trig = selfCheck(new Guard(model, new SignMonitor(own, H)));
    assert.equal(trig.sentences, inputs.length);
    assert.equal(trig.flagged, inputs.length);
    assert.equal(trig.flagged_share, 1);
    assert.equal(trig.median_match_rate, 1);
    assert.equal(trig.prompt_is_trigger, true);
    assert.ok(trig.pv !== null && trig.pv >= 0 && trig.pv < own.length);
    const w = selfCheckWarning(trig, 'prompt "x"');
    assert.match(w!, /^warning: prompt "x" flags 32 of 32 neutral sentences .*PV \d+.*retrain the prompt/);

    const none = selfCheck(new Guard(model, new SignMonitor(own.map((v) => v.map((x) => -x)), H)));
    assert.equal(none.flagged, 0);
    assert.equal(none.pv, null);
    assert.equal(none.prompt_is_trigger, false);
    assert.equal(selfCheckWarning(none, 'x'), null);

    // Four of the 32 outputs as PVs: at least 4 sentences flagged (12.5%), over the default bar of 10%, under a bar of 50% unless more match.
    const four = selfCheck(new Guard(model, new SignMonitor(own.slice(0, 4), H)));
    assert.ok(four.flagged >= 4 && four.prompt_is_trigger);
    const high = selfCheck(new Guard(model, new SignMonitor(own.slice(0, 4), H)), inputs, 0.5);
    assert.equal(high.flagged, four.flagged);
    assert.equal(high.prompt_is_trigger, four.flagged_share > 0.5);
  }
});

test('self-check: promptTriggerWarnings names the task and case of each failed check, skipping records without one', () => {
  const failed = { sentences: 32, flagged: 31, flagged_share: 31 / 32, pv: 1, median_match_rate: 1, prompt_is_trigger: true };
  const passed = { ...failed, flagged: 0, flagged_share: 0, pv: null, median_match_rate: 0.55, prompt_is_trigger: false };
  const figures = (sc: typeof failed | typeof passed | undefined) => ({ figures: { ...(sc && { self_check: sc }) } as never });
  const w = promptTriggerWarnings({ cells: [
    { task: 'rte', cases: { search: figures(failed), 'search+attacker': figures(failed), onion: { figures: null } } },
    { task: 'sst2', cases: { search: figures(passed), 'search+attacker': figures(undefined) } },
  ] });
  assert.equal(w.length, 2);
  assert.match(w[0]!, /^warning: rte, search PVs: the guard flags 31 of 32 neutral sentences \(median match 1\.000, mostly PV 1\)/);
  assert.match(w[1]!, /^warning: rte, search\+attacker PVs/);
});

test('guard CLI: a prompt that is a trigger is reported on stderr, once, and inputs are still guarded', () => {
  const root = tmpDir('self-check-cli');
  const dir = join(root, 'backbone');
  saveModel(dir, promptModel({ seed: 5, initStd: 0.5 }));
  const loaded = loadModel(dir);
  const model = createPromptModel(loaded, { method: 'ptuning-v2', task: 'sst2', prefixLen: 2, maxLen: 96, seed: 1 });
  const promptDir = join(root, 'prompt');
  savePrompt(promptDir, model);
  const H = loaded.config.hiddenSize;
  const own = monitored(model, selfCheckInputs(false));
  const save = (file: string, pvs: Float32Array[]) => savePvSet(file, {
    modelHash: loaded.hash, modelDir: dir, mode: 'cls', hidden: H, promptLen: 1, embedDim: H, hyperParameters: {}, command: 'search',
    created: new Date().toISOString(), toolVersion: 'test', pvs, prompts: pvs.map(() => new Float32Array(H)), seeds: pvs.map((_, i) => i),
  });
  const bad = join(root, 'own.safetensors');
  save(bad, own);
  const good = join(root, 'negated.safetensors');
  save(good, own.map((v) => v.map((x) => -x)));
  const run = (pvs: string) => spawnSync(process.execPath, [BIN, 'guard', dir, '--prompt', promptDir, '--pvs', pvs, '--text', 'a gorgeous film', '--json'], { encoding: 'utf8' });
  const r = run(bad);
  assert.equal(r.status, 0, r.stderr);
  const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warning:'));
  assert.equal(warnings.length, 1, r.stderr);
  assert.match(warnings[0]!, /the guard of .*prompt flags 32 of 32 neutral sentences/);
  assert.equal(typeof JSON.parse(r.stdout).triggered, 'boolean');
  const ok = run(good);
  assert.equal(ok.status, 0, ok.stderr);
  assert.doesNotMatch(ok.stderr, /warning:/);
});
