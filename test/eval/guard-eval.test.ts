/**
 * eval guard on fixture backbones (the mechanics: a random tiny BERT holds
 * no backdoor; bert-mini's figures are in the README): prompts come from
 * the victims journal, search runs on the "backdoored" backbone in the
 * method's mode, every (task, case) is journaled; an interrupted run
 * resumes without recomputing; guard.json and guard.html hold the cases
 * "search", "search+attacker" (search's PVs plus the manifest's) and ONION.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { evaluateGuard, GUARD_HTML, GUARD_JOURNAL, GUARD_REPORT, type GuardEvalOptions, type GuardEvalReport } from '../../src/eval/guard-eval.js';
import { saveModel } from '../../src/models/model.js';
import { loadPvSet, savePvSet } from '../../src/sanitizer/pvset.js';
import { bundledDataDir } from '../../src/text/data-dir.js';
import { promptModel } from '../prompt/helpers.js';
import { tmpDir } from '../train/helpers.js';
import { writeFakeManifest } from './fake-manifest.js';

const BIN = join(import.meta.dirname, '..', '..', '..', 'bin', 'lmsanitator.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });

function backboneDir(seed: number): string {
  const dir = tmpDir('guard-eval-bb');
  saveModel(dir, promptModel({ seed }));
  return dir;
}

test('eval guard: victims reused, search in the method\'s mode, cases kept apart, resumable', () => {
  const clean = backboneDir(3);
  const backdoored = backboneDir(4);
  const attackerPvs = writeFakeManifest(backdoored, clean, ['film', 'free call']);
  const out = join(tmpDir('guard-eval'), 'run');
  const logs: string[] = [];
  const base: GuardEvalOptions = {
    cleanDir: clean, backdooredDir: backdoored, method: 'ptuning-v2', tasks: ['sst2'], outDir: out, dataDir: bundledDataDir(),
    epochs: 1, maxTrain: 48, maxDev: 16, maxTest: 16, prefixLen: 4, seed: 1, quiet: true, pvSource: 'search+attacker',
    searchLoops: 2, searchPatience: 2, onionMaxTest: 4, log: (l) => logs.push(l),
  };
  // Stopped after the first guard record: the victims and the search are done, one case is journaled.
  let records = 0;
  const journal = join(out, GUARD_JOURNAL);
  const r1 = evaluateGuard({ ...base, shouldStop: () => existsSync(journal) && (records = readFileSync(journal, 'utf8').trim().split('\n').length) >= 1 });
  assert.equal(r1.interrupted, true);
  assert.equal(records, 1);
  assert.ok(existsSync(join(out, 'victims', 'victims.json')));
  assert.ok(existsSync(join(out, 'search-cls', 'pvset.safetensors')), 'ptuning-v2 is monitored at the first token: cls mode');
  assert.equal(existsSync(join(out, GUARD_REPORT)), false);

  logs.length = 0;
  const r2 = evaluateGuard(base);
  assert.equal(r2.interrupted, false);
  assert.ok(!logs.some((l) => /guard with the search PVs/.test(l)), `the journaled case is not recomputed: ${logs.join(' | ')}`);
  assert.ok(!logs.some((l) => /^search: cls mode/.test(l)), 'the finished search is not rerun');
  const rep = JSON.parse(readFileSync(join(out, GUARD_REPORT), 'utf8')) as GuardEvalReport;
  assert.equal(rep.pv_source, 'search+attacker');
  assert.equal(rep.attacker_pvs, attackerPvs.length);
  assert.deepEqual(rep.triggers, ['film', 'free call']);
  const cell = rep.cells[0]!;
  assert.equal(cell.task, 'sst2');
  const s = cell.cases.search!;
  const sa = cell.cases['search+attacker']!;
  assert.equal(sa.pvs, s.pvs! + attackerPvs.length, 'search+attacker = the search PVs plus the attack\'s, never instead of them');
  for (const g of [s.figures!, sa.figures!]) {
    for (const k of ['accuracy_guarded', 'asr_guarded', 'weighted_asr_guarded', 'frr', 'far', 'purified', 'rejected'] as const) {
      assert.ok(g[k] >= 0 && g[k] <= 1, `${k} ${g[k]}`);
    }
    assert.equal(g.match_rates.clean.length, 16);
    assert.equal(g.clean_inputs, 16);
  }
  const onion = cell.cases.onion!.onion!;
  assert.equal(onion.test_inputs, 4);
  assert.ok(onion.accuracy_onion >= 0 && onion.accuracy_onion <= 1);
  const html = readFileSync(join(out, GUARD_HTML), 'utf8');
  assert.equal((html.match(/<canvas/g) ?? []).length, 2, 'one histogram per PV case');
  assert.match(html, /ONION/);

  // The CLI over the same directory: everything journaled, the table printed.
  const c = cli('eval', 'guard', '--clean', clean, '--backdoored', backdoored, '--method', 'ptuning-v2', '--tasks', 'sst2', '--out', out,
    '--data-dir', bundledDataDir(), '--epochs', '1', '--max-train', '48', '--max-dev', '16', '--max-test', '16', '--prefix-len', '4',
    '--pv-source', 'search+attacker', '--search-loops', '2', '--search-patience', '2', '--onion-max-test', '4', '--quiet');
  assert.equal(c.status, 0, c.stderr);
  assert.match(c.stdout, /sst2\s+search\s/);
  assert.match(c.stdout, /sst2\s+search\+attacker\s/);
  assert.match(c.stdout, /sst2\s+ONION\s/);

  // A larger search budget resumes the finished search from its journal; a smaller one is refused.
  logs.length = 0;
  const r3 = evaluateGuard({ ...base, searchLoops: 3, searchPatience: 3 });
  assert.ok(logs.some((l) => /^search: cls mode .*at most 3 loops, patience 3.*resumed/.test(l)), logs.join(' | '));
  assert.equal(r3.search.loops, 3, 'the two journaled loops replayed, one more run');
  assert.equal(r3.cells[0]!.cases.onion!.finished, cell.cases.onion!.finished, 'ONION does not depend on the PVs: its record is kept');
  assert.throws(() => evaluateGuard({ ...base, searchLoops: 2, searchPatience: 2 }), /smaller budget .* cannot undo loops already run/);

  // Guard figures belong to the PVs they were measured with: a changed PV set re-measures both PV cases, not ONION.
  const pvsetFile = join(out, 'search-cls', 'pvset.safetensors');
  const set = loadPvSet(pvsetFile);
  savePvSet(pvsetFile, { ...set, pvs: [...set.pvs, Float32Array.from(attackerPvs[0]!)], prompts: [...set.prompts, new Float32Array(set.promptLen * set.embedDim)], seeds: [...set.seeds, 99] });
  rmSync(join(out, 'search-cls', 'journal.jsonl'));
  logs.length = 0;
  const r4 = evaluateGuard({ ...base, searchLoops: 3, searchPatience: 3 });
  assert.ok(!logs.some((l) => /^search: cls mode/.test(l)), 'no journal: the PV set is taken as it is');
  assert.ok(logs.some((l) => /guard with the search PVs/.test(l)) && logs.some((l) => /guard with the search\+attacker PVs/.test(l)), logs.join(' | '));
  assert.ok(!logs.some((l) => /ONION/.test(l)), 'ONION is not recomputed');
  assert.equal(r4.cells[0]!.cases.search!.pvs, r3.cells[0]!.cases.search!.pvs! + 1);

  const bad = cli('eval', 'guard', '--clean', clean, '--backdoored', clean, '--method', 'ptuning-v2', '--tasks', 'sst2', '--out', tmpDir('ge-bad'), '--pv-source', 'search+attacker');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /search\+attacker needs the attack's attack\.json/);
});
