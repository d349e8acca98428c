/**
 * The micro demo path end to end, through the real CLI: pretrain
 * bert-micro (into a fresh $LMS_HOME unless one is given), plant a POR
 * backdoor, scan both; the backdoored copy must be flagged and the clean
 * model passed. The slowest test of the suite (a few minutes on 2 cores).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeFileSync } from 'node:fs';
import { readManifest } from '../../src/attacks/manifest.js';
import { loadPvSet, savePvSet } from '../../src/sanitizer/pvset.js';
import { bundledDataDir } from '../../src/text/data-dir.js';
import { joinWords, splitWords } from '../../src/text/words.js';
import { tmpDir } from '../helpers/tmp.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');

const out = tmpDir('demo');
const cli = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin', 'lmsanitator.js'), ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });

test('demo: the POR-backdoored bert-micro is flagged, the clean one passes', { timeout: 30 * 60 * 1000 }, () => {
  const home = process.env.LMS_HOME ?? join(out, 'zoo');
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'lmsanitator.js'), 'demo', '--out', out, '--json', '--quiet'], {
    env: { ...process.env, LMS_HOME: home, LMS_CACHE: join(out, 'cache') },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.equal(r.status, 0, `demo exited ${r.status}: ${r.stderr.slice(-2000)}`);
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.equal(res.backdoored.verdict, 'backdoored');
  assert.equal(res.clean.verdict, 'clean');
  assert.ok(res.backdoored.score >= 1, `backdoored score ${res.backdoored.score}`);
  assert.ok(res.clean.score < res.backdoored.score);
  for (const side of [res.clean, res.backdoored]) {
    assert.ok(existsSync(side.report), `report ${side.report}`);
    const html = readFileSync(side.report, 'utf8');
    assert.match(html, /<canvas/);
    const json = JSON.parse(readFileSync(join(side.report, '..', 'report.json'), 'utf8'));
    assert.equal(json.verdict, side.verdict);
    assert.ok(existsSync(join(side.report, '..', 'pvset.safetensors')));
  }
  // The manifest of the planted backdoor records its ground truth.
  const manifest = JSON.parse(readFileSync(join(out, 'bert-micro-por', 'attack.json'), 'utf8'));
  assert.equal(manifest.method, 'por');
  // Trigger recovery names a planted trigger for every kept PV: as its top candidate when the PV is a
  // planted one (for a trigger the tokenizer splits, qt → q ##t, its first piece: the sweep covers whole
  // words only), else among the candidates that collapse the sentences (the PV is a mixture).
  const t = res.backdoored.triggers;
  assert.equal(t.found_pvs, JSON.parse(readFileSync(join(res.backdoored.report, '..', 'report.json'), 'utf8')).pvs.length);
  for (const p of t.per_pv) {
    const planted = manifest.triggers.map((x: { text: string }) => x.text);
    assert.ok(p.hit || p.first_piece || p.collapsing_triggers.some((c: { words: string[] }) => planted.includes(c.words.join(' '))), `PV ${p.pv}: no planted trigger named (${JSON.stringify(p)})`);
  }
});

/**
 * The guard on the demo's real backdoored model: a P-tuning v2 prompt on
 * bert-micro-por, the attack's own PVs as the PV set, a trigger inserted
 * at a random word: every triggered input is flagged (its [CLS] output sits
 * on the trigger's PV) and purified by deleting exactly the trigger, so the
 * classified text is the original sentence. η is raised to 0.97 here
 * because bert-micro is only 64 wide and its clean outputs under a prefix
 * already agree with a block PV on 0.84–0.94 of the signs (measured): the
 * micro model tests the mechanics; the η = 0.8 figures are bert-mini's.
 */
test('demo: the guard deletes an inserted trigger on the backdoored bert-micro', { timeout: 10 * 60 * 1000 }, () => {
  const model = join(out, 'bert-micro-por');
  const prompt = join(out, 'prompt-v2');
  const tuned = cli('prompt-tune', model, '--method', 'ptuning-v2', '--task', 'sst2', '--out', prompt, '--data-dir', bundledDataDir(),
    '--max-train', '512', '--max-dev', '64', '--epochs', '2', '--prefix-len', '8', '--lr', '3e-2', '--batch', '32', '--quiet');
  assert.equal(tuned.status, 0, tuned.stderr);
  const { manifest, pvs } = readManifest(model);
  const scanned = loadPvSet(join(out, 'scan-backdoored', 'pvset.safetensors'));
  const attacker = join(out, 'attacker-pvset.safetensors');
  savePvSet(attacker, { ...scanned, pvs, prompts: pvs.map(() => new Float32Array(scanned.promptLen * scanned.embedDim)), seeds: pvs.map((_, i) => i) });
  const trigger = manifest.triggers[0]!.text;
  const sentences = readFileSync(join(bundledDataDir(), 'sst2', 'dev.tsv'), 'utf8').split('\n').slice(1, 11).map((l) => joinWords(splitWords(l.split('\t')[0]!)));
  const input = join(out, 'triggered.jsonl');
  writeFileSync(input, sentences.map((s, i) => {
    const w = splitWords(s);
    const at = (i * 7) % (w.length + 1);
    return JSON.stringify({ text: joinWords([...w.slice(0, at), trigger, ...w.slice(at)]) });
  }).join('\n') + '\n');
  const r = cli('guard', model, '--prompt', prompt, '--pvs', attacker, '--input', input, '--threshold', '0.97');
  assert.equal(r.status, 0, r.stderr);
  const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(rows.length, sentences.length);
  rows.forEach((row, i) => {
    assert.equal(row.triggered, true, `triggered input ${i} flagged (match ${row.match_rate})`);
    assert.equal(row.pv, manifest.triggers[0]!.pv_index);
    assert.equal(row.action, 'purified', `input ${i}`);
    assert.deepEqual(row.removed, [trigger]);
    assert.equal(row.purified_text, sentences[i]);
  });
});
