/**
 * eval victims (issue 13): CACC / BACC / ASR / weighted ASR / macro-F1 drop
 * of prompts trained on a clean and a "backdoored" fixture backbone (a
 * second seed; the mechanics are what is tested, not a real backdoor), on
 * the bundled SST-2 and SMS spam slices with a tiny budget. Covers the
 * journal (interrupt mid-cell and between cells, torn last line, resume
 * without retraining), the settings check, the manifest's triggers, and
 * the CLI's exit codes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_TRIGGERS } from '../../src/attacks/triggers.js';
import {
  evaluateVictims, formatVictimsTable, type VictimsOptions, type VictimsProgress, type VictimsReport, VICTIMS_JOURNAL, VICTIMS_REPORT,
} from '../../src/eval/victims.js';
import { attackSuccess } from '../../src/eval/asr.js';
import { loadModel, saveModel } from '../../src/models/model.js';
import { evaluatePrompt, loadPrompt, loadPromptTask, predictBatch } from '../../src/prompt/index.js';
import { bundledDataDir } from '../../src/text/data-dir.js';
import { promptDataDir, promptModel } from '../prompt/helpers.js';
import { fixtureModelDir, fixtureVocab, tmpDir } from '../train/helpers.js';
import { writeFakeManifest } from './fake-manifest.js';

const BIN = join(import.meta.dirname, '..', '..', '..', 'bin', 'lmsanitator.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
const data = bundledDataDir();
/** A backbone directory whose vocabulary has every template and verbalizer word (the prompt tests' model). */
function backboneDir(seed: number): string {
  const dir = tmpDir('victims-bb');
  saveModel(dir, promptModel({ seed }));
  return dir;
}
const clean = backboneDir(3);
const backdoored = backboneDir(4);
const MANIFEST_TRIGGERS = ['film', 'free call'];
const BUDGET = ['--max-train', '48', '--max-dev', '16', '--max-test', '24', '--epochs', '1', '--prefix-len', '4'];

const inUnit = (x: unknown, what: string) => {
  assert.equal(typeof x, 'number', what);
  assert.ok((x as number) >= 0 && (x as number) <= 1, `${what} = ${x}`);
};

function checkReport(r: VictimsReport, tasks: string[], triggers: readonly string[]): void {
  for (const k of ['clean', 'backdoored', 'method', 'triggers', 'cells', 'settings']) assert.ok(k in r, k);
  assert.match(r.clean.hash, /^[0-9a-f]{64}$/);
  assert.match(r.backdoored.hash, /^[0-9a-f]{64}$/);
  assert.notEqual(r.clean.hash, r.backdoored.hash);
  assert.deepEqual(r.triggers, [...triggers]);
  assert.deepEqual(r.cells.map((c) => c.task), tasks);
  for (const c of r.cells) {
    for (const k of ['cacc', 'bacc', 'asr', 'weighted_asr', 'asr_clean_backbone', 'macro_f1_clean', 'macro_f1_backdoored'] as const) inUnit(c[k], `${c.task} ${k}`);
    assert.ok(Math.abs(c.macro_f1_drop! - (c.macro_f1_clean! - c.macro_f1_backdoored!)) < 1e-12);
    assert.deepEqual(Object.keys(c.asr_per_trigger!), [...triggers]);
    for (const v of Object.values(c.asr_per_trigger!)) inUnit(v, `${c.task} per-trigger ASR`);
    // Any one trigger flipping an input counts, so the overall ASR bounds each trigger's from above.
    assert.ok(Object.values(c.asr_per_trigger!).every((v) => v <= c.asr! + 1e-12));
    assert.equal(c.test_examples, 24);
    assert.ok(c.train_seconds.clean > 0 && c.train_seconds.backdoored > 0, JSON.stringify(c.train_seconds));
    assert.ok(existsSync(join(c.prompts.clean, 'prompt.json')) && existsSync(join(c.prompts.backdoored, 'prompt.json')));
  }
}

test('eval victims: interrupted twice, resumed, rerun without retraining; other settings are refused', () => {
  writeFakeManifest(backdoored, clean, MANIFEST_TRIGGERS);
  const out = join(tmpDir('victims'), 'run');
  const events: VictimsProgress[] = [];
  const base: VictimsOptions = {
    cleanDir: clean, backdooredDir: backdoored, method: 'ptuning', tasks: ['sst2', 'sms-spam'], outDir: out, dataDir: data,
    epochs: 1, maxTrain: 48, maxDev: 16, maxTest: 24, prefixLen: 4, seed: 1, quiet: true, progress: (e) => events.push(e),
  };
  const trains = () => events.filter((e) => e.phase === 'train').length;
  const journal = join(out, VICTIMS_JOURNAL);
  const lines = () => readFileSync(journal, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { side: string; task: string; resumed_from_step: number | null });

  // 1. Stopped inside the second cell's training (after its first step): a checkpoint is left.
  const r1 = evaluateVictims({ ...base, shouldStop: () => trains() >= 2 });
  assert.equal(r1.interrupted, true);
  assert.equal(r1.reportFile, null);
  assert.equal(r1.done, 1);
  assert.equal(r1.total, 4);
  assert.equal(existsSync(join(out, VICTIMS_REPORT)), false);
  assert.deepEqual(lines().map((l) => `${l.side}:${l.task}`), ['clean:sst2']);
  assert.ok(existsSync(join(out, 'prompts', 'backdoored-sst2', 'checkpoint.safetensors')));
  assert.equal(existsSync(join(out, 'prompts', 'backdoored-sst2', 'prompt.json')), false);
  // A kill in the middle of appending a record leaves a torn line.
  appendFileSync(journal, '{"side":"backdoored","task":"ss');

  // 2. Stopped between cells: the resumed cell finishes, the next one does not start.
  events.length = 0;
  const r2 = evaluateVictims({ ...base, shouldStop: () => events.some((e) => e.phase === 'done') });
  assert.equal(r2.interrupted, true);
  assert.deepEqual(events.filter((e) => e.phase === 'train').map((e) => [`${e.side}:${e.task}`, e.resumed]), [['backdoored:sst2', true]]);
  assert.deepEqual(lines().map((l) => [`${l.side}:${l.task}`, l.resumed_from_step]), [['clean:sst2', 0], ['backdoored:sst2', 1]]);
  assert.equal(existsSync(join(out, 'prompts', 'backdoored-sst2', 'checkpoint.safetensors')), false, 'a finished prompt drops its checkpoint');
  assert.deepEqual(r2.cells.map((c) => c.task), ['sst2'], 'a task finished on both sides is reported');

  // 3. Runs to the end: only the two sms-spam cells train.
  events.length = 0;
  const r3 = evaluateVictims(base);
  assert.equal(r3.interrupted, false);
  assert.deepEqual(events.filter((e) => e.phase === 'train').map((e) => `${e.side}:${e.task}`), ['clean:sms-spam', 'backdoored:sms-spam']);
  assert.deepEqual(events.filter((e) => e.phase === 'skip').map((e) => `${e.side}:${e.task}`), ['clean:sst2', 'backdoored:sst2']);
  assert.equal(lines().length, 4);
  const json = JSON.parse(readFileSync(join(out, VICTIMS_REPORT), 'utf8')) as VictimsReport;
  checkReport(json, ['sst2', 'sms-spam'], MANIFEST_TRIGGERS);
  assert.equal(json.triggers_source, 'manifest');
  assert.equal(json.method, 'ptuning');
  assert.deepEqual(json.settings.budget, { epochs: 1, lr: 1e-2, prefix_len: 4, max_train: 48, max_dev: 16, max_test: 24, batch: 16, max_len: 128 });
  // Each side's numbers are its own prompt's: recomputed from the saved prompts on their backbones.
  const backbone = { clean: loadModel(clean), backdoored: loadModel(backdoored) };
  const seen = { clean: [] as number[], backdoored: [] as number[] };
  for (const cell of json.cells) {
    const task = loadPromptTask(cell.task, { dataDir: data, maxTest: 24, seed: 1 });
    assert.equal(task.kind, 'classification');
    if (task.kind !== 'classification') return;
    for (const side of ['clean', 'backdoored'] as const) {
      const p = loadPrompt(cell.prompts[side], backbone[side]);
      assert.equal(p.warning, null, `${side} prompt was trained on the ${side} backbone`);
      const m = evaluatePrompt(p.model, task.test);
      const inputs = task.test.map((e) => ({ text: e.text, label: e.label }));
      const a = attackSuccess(inputs, (xs) => predictBatch(p.model, xs).map((x) => ('index' in x ? x.index : -1)), MANIFEST_TRIGGERS, 1, 2);
      const got = side === 'clean'
        ? [cell.cacc, cell.macro_f1_clean!, cell.asr_clean_backbone!, cell.weighted_asr_clean_backbone!]
        : [cell.bacc, cell.macro_f1_backdoored!, cell.asr!, cell.weighted_asr!];
      assert.deepEqual(got, [m.accuracy, m.macro_f1, a.asr, a.weighted_asr], `${cell.task} ${side}`);
      seen[side].push(...got);
    }
  }
  // The two sides' prompts behave differently here, so the comparison above would catch swapped sides.
  assert.notDeepEqual(seen.clean, seen.backdoored);
  const table = formatVictimsTable(json).split('\n');
  assert.ok(table.some((l) => /^task\s+CACC\s+BACC\s+ASR\s+wASR\s+F1 drop/.test(l)), table.join('\n'));
  assert.equal(table.filter((l) => /^(sst2|sms-spam)\s+\d+\.\d%\s+\d+\.\d%\s+\d+\.\d%\s+\d+\.\d%\s+-?\d+\.\d\s/.test(l)).length, 2, table.join('\n'));

  // 4. Nothing left to do: no training, the prompts untouched, the same cells.
  const promptDirs = readdirSync(join(out, 'prompts'));
  assert.deepEqual(promptDirs.sort(), ['backdoored-sms-spam', 'backdoored-sst2', 'clean-sms-spam', 'clean-sst2']);
  const mtimes = () => promptDirs.map((d) => statSync(join(out, 'prompts', d, 'prompt.safetensors')).mtimeMs);
  const before = mtimes();
  events.length = 0;
  const r4 = evaluateVictims(base);
  assert.equal(trains(), 0);
  assert.equal(events.filter((e) => e.phase === 'skip').length, 4);
  assert.deepEqual(mtimes(), before);
  assert.deepEqual(r4.cells, json.cells);
  assert.equal(lines().length, 4);

  // 5. A prompt saved but not journaled (stopped while it was evaluated) is evaluated again, not retrained.
  writeFileSync(journal, `${readFileSync(journal, 'utf8').trim().split('\n').slice(0, 3).join('\n')}\n`);
  events.length = 0;
  const r5 = evaluateVictims(base);
  assert.equal(trains(), 0);
  assert.deepEqual(events.filter((e) => e.phase === 'evaluate').map((e) => [`${e.side}:${e.task}`, e.resumed]), [['backdoored:sms-spam', true]]);
  assert.deepEqual(r5.cells, json.cells);
  assert.deepEqual(mtimes(), before);
  assert.equal(lines().length, 4);

  // 6. Other settings: refused before anything is trained, naming what differs.
  events.length = 0;
  assert.throws(() => evaluateVictims({ ...base, epochs: 2 }), /other settings \(budget .*"epochs":1.*now .*"epochs":2/);
  assert.throws(() => evaluateVictims({ ...base, triggers: ['cf'] }), /other settings \(triggers \["film","free call"\], now \["cf"\]\)/);
  assert.throws(() => evaluateVictims({ ...base, cleanDir: backdoored, backdooredDir: clean }), /other settings \(clean_hash .*backdoored_hash/);
  assert.throws(() => evaluateVictims({ ...base, seed: 2 }), /other settings \(seed 1, now 2\)/);
  assert.equal(events.length, 0);
  // A subset of the tasks is not another setting: it is reported from the journal.
  const sub = evaluateVictims({ ...base, tasks: ['sms-spam'] });
  assert.deepEqual(sub.cells, json.cells.slice(1));
  assert.equal(trains(), 0);

  // Bad options fail before the output directory is even made.
  const fresh = join(tmpDir('victims-bad'), 'never');
  assert.throws(() => evaluateVictims({ ...base, outDir: fresh, tasks: ['sst2', 'conll04'] }), /no NER variant/);
  assert.throws(() => evaluateVictims({ ...base, outDir: fresh, tasks: ['sst2', 'imdb'] }), /unknown task imdb/);
  assert.throws(() => evaluateVictims({ ...base, outDir: fresh, backdooredDir: join(fresh, 'nope') }), /no such model directory/);
  assert.throws(() => evaluateVictims({ ...base, outDir: fresh, triggers: [] }), /at least one/);
  // The fine-tuning fixture's vocabulary lacks SST-2's verbalizer words: found before the clean side trains.
  assert.throws(() => evaluateVictims({ ...base, outDir: fresh, cleanDir: fixtureModelDir({ seed: 3 }) }), /ptuning on sst2: verbalizer word "\w+" is not in the tokenizer's vocabulary/);
  assert.equal(existsSync(fresh), false);
});

test('eval victims CLI: --json on a backbone without attack.json uses the default triggers; usage errors exit 2', () => {
  const pclean = backboneDir(3);
  const plain = backboneDir(4);
  const out = join(tmpDir('victims-cli'), 'out');
  const args = ['eval', 'victims', '--clean', pclean, '--backdoored', plain, '--method', 'ptuning-v2', '--tasks', 'sst2', '--out', out, '--data-dir', data, ...BUDGET];
  const help = cli('eval', 'victims', '--help');
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /--backdoored <model-dir>/, '"eval victims" is not registered: src/cli/eval.ts must call registerEvalVictims(ev)');

  const r = cli(...args, '--json', '--quiet');
  assert.equal(r.status, 0, r.stderr);
  const rep = JSON.parse(r.stdout) as VictimsReport;
  checkReport(rep, ['sst2'], DEFAULT_TRIGGERS);
  assert.equal(rep.triggers_source, 'default');
  assert.equal(rep.method, 'ptuning-v2');
  assert.equal(r.stderr, '', 'no progress output with --json');

  // A rerun prints the table from the journal.
  const t = cli(...args, '--quiet');
  assert.equal(t.status, 0, t.stderr);
  assert.match(t.stdout, /^task\s+CACC\s+BACC\s+ASR\s+wASR\s+F1 drop/m);
  assert.match(t.stdout, /^sst2\s+\d+\.\d%/m);

  const cases: [string[], RegExp][] = [
    [['eval', 'victims', '--backdoored', plain, '--method', 'ptuning', '--tasks', 'sst2'], /required option '--clean <model-dir>' not specified/],
    [['eval', 'victims', '--clean', pclean, '--backdoored', plain, '--method', 'ptuning', '--tasks', 'sst2,imdb'], /Not allowed: imdb/],
    [['eval', 'victims', '--clean', pclean, '--backdoored', plain, '--method', 'lora', '--tasks', 'sst2'], /Allowed choices are ptuning, ptuning-v2/],
    [['eval', 'victims', '--clean', pclean, '--backdoored', plain, '--method', 'ptuning', '--tasks', 'sst2', '--triggers', 'cf,,mn'], /trigger 2 .* is empty/],
    [[...args, '--epochs', '3'], /other settings/],
  ];
  for (const [a, re] of cases) {
    const e = cli(...a);
    assert.equal(e.status, 2, `${a.join(' ')}: ${e.stderr}`);
    assert.equal(e.stderr.trim().split('\n').length, 1, e.stderr);
    assert.match(e.stderr, re);
  }
});

test('eval victims on NER and a pair task: conll04 reports F1 and no ASR, rte (sentence pairs) an ASR', () => {
  const dirs = [5, 6].map(backboneDir);
  const r = evaluateVictims({
    cleanDir: dirs[0]!, backdooredDir: dirs[1]!, method: 'ptuning-v2', tasks: ['conll04', 'rte'], triggers: ['cf'], outDir: join(tmpDir('victims-ner'), 'o'),
    dataDir: promptDataDir(), epochs: 1, maxTrain: 24, maxDev: 8, maxTest: 12, prefixLen: 2, seed: 0, quiet: true,
  });
  assert.equal(r.interrupted, false);
  const [ner, rte] = r.cells;
  assert.equal(ner!.task, 'conll04');
  assert.equal(ner!.metric, 'f1');
  for (const k of ['cacc', 'bacc', 'f1_clean', 'f1_backdoored'] as const) inUnit(ner![k], `conll04 ${k}`);
  assert.equal(ner!.cacc, ner!.f1_clean);
  assert.ok(Math.abs(ner!.f1_drop! - (ner!.f1_clean! - ner!.f1_backdoored!)) < 1e-12);
  assert.equal(ner!.asr, null);
  assert.equal(ner!.asr_clean_backbone, null);
  assert.equal('macro_f1_drop' in ner!, false);
  assert.equal(rte!.metric, 'accuracy');
  inUnit(rte!.asr, 'rte asr');
  inUnit(rte!.macro_f1_clean, 'rte macro-F1');
  assert.deepEqual(Object.keys(rte!.asr_per_trigger!), ['cf']);
  const table = formatVictimsTable(r);
  assert.match(table, /^conll04\s+\d+\.\d%\s+\d+\.\d%\s+n\/a\s+n\/a\s/m);
  assert.match(table, /conll04: CACC\/BACC and F1 drop are entity F1; no ASR for NER/);
});
