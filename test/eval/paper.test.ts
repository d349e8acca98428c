/**
 * eval paper, killed and resumed, through the real CLI: bert-micro (from
 * $LMS_HOME when it is cached there, else built into a fresh one, about
 * three minutes on 2 cores), one task, the hidden tiny budget, Tables 2,
 * 3 and 5 (attacks, prompt-tuned victims, searches, the guard, the
 * trigger-inversion baseline). The first
 * run is SIGKILLed once two cells are journaled (the base model and the
 * first attack); the rerun must skip every journaled cell, leave its
 * journal line as it was, run each other cell once (the rerun with
 * --jobs 2: cells in processes of their own, two at a time), and write a
 * paper.json whose every cell is either done or says why.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PAPER_HTML, PAPER_JOURNAL, PAPER_JSON } from '../../src/eval/paper/runner.js';
import type { PaperReport } from '../../src/eval/paper/tables.js';
import { bundledDataDir } from '../../src/text/data-dir.js';
import { tmpDir } from '../helpers/tmp.js';

const BIN = join(import.meta.dirname, '..', '..', '..', 'bin', 'lmsanitator.js');

/** Complete lines only: a line is complete once the newline after it is written. */
const completeLines = (file: string) => {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  return text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter((l) => l.trim());
};

test('eval paper: a SIGKILLed run resumes without redoing or losing a finished cell', { timeout: 20 * 60 * 1000 }, async () => {
  const out = join(tmpDir('paper'), 'run');
  const env = {
    ...process.env, LMS_HOME: process.env.LMS_HOME ?? tmpDir('paper-zoo'), LMS_CACHE: tmpDir('paper-cache'),
    LMS_NUM_THREADS: process.env.LMS_NUM_THREADS ?? '1', OPENBLAS_NUM_THREADS: process.env.OPENBLAS_NUM_THREADS ?? '1',
  };
  const args = [BIN, 'eval', 'paper', '--zoo', 'bert-micro', '--budget', 'tiny', '--tasks', 'sst2', '--tables', 'tab2,tab3,tab5,ablation', '--data-dir', bundledDataDir(), '--out', out, '--quiet'];
  const journal = join(out, PAPER_JOURNAL);

  // 1. Run until two cells are journaled, then SIGKILL (no chance to save anything).
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr1 = '';
  child.stderr!.on('data', (d) => { stderr1 += String(d); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let killed = false;
  for (;;) {
    if (completeLines(journal).length >= 2) {
      child.kill('SIGKILL');
      killed = true;
      break;
    }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await exited;
  assert.ok(killed, `the first run ended before two cells were journaled: ${stderr1.slice(-2000)}`);
  const before = completeLines(journal);
  assert.ok(before.length >= 2);
  const beforeIds = before.map((l) => (JSON.parse(l) as { id: string }).id);
  assert.equal(beforeIds[0], 'base/bert-micro');
  assert.ok(!existsSync(join(out, PAPER_JSON)), 'a killed run writes no paper.json');

  // 2. The same command again, two cells at a time (each in its own process): it finishes.
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [...args, '--jobs', '2'], { env, encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `rerun exited ${r.status}: ${r.stderr.slice(-3000)}`);
  const rerunSeconds = (Date.now() - t0) / 1000;

  // No finished cell lost: the journal still begins with the same lines.
  const after = completeLines(journal);
  assert.deepEqual(after.slice(0, before.length), before);
  // None redone: every journaled cell was skipped, and every cell appears once.
  for (const id of beforeIds) assert.match(r.stderr, new RegExp(`\\] ${id.replace(/[/.]/g, '\\$&')}: journaled, skipped`));
  const ids = after.map((l) => (JSON.parse(l) as { id: string }).id);
  assert.equal(new Set(ids).size, ids.length, `a cell was journaled twice: ${ids.join(', ')}`);
  const records = after.map((l) => JSON.parse(l) as { id: string; status: string; seconds: number; models: Record<string, { sha256: string }>; seeds: Record<string, number> });
  for (const rec of records) {
    assert.equal(rec.status, 'done', `${rec.id} failed: ${JSON.stringify(rec).slice(0, 500)}`);
    for (const [name, m] of Object.entries(rec.models)) assert.match(m.sha256, /^[0-9a-f]{64}$/, `${rec.id}: ${name} has no sha256`);
  }

  // paper.json: every cell done or with its reason; the selected tables' cells all done.
  const report = JSON.parse(readFileSync(join(out, PAPER_JSON), 'utf8')) as PaperReport;
  assert.equal(report.budget.name, 'tiny');
  assert.equal(report.counts.pending, 0);
  assert.equal(report.counts.failed, 0);
  assert.equal(report.counts.blocked, 0);
  for (const c of report.cells) assert.ok(c.status === 'done' || (c.reason && c.reason.length > 0), `${c.id}: ${c.status} without a reason`);
  const done = report.cells.filter((c) => c.status === 'done').map((c) => c.id).sort();
  assert.deepEqual(done, [...ids].sort());
  assert.ok(done.includes('victims/bert-micro/por/sst2/s1') && done.includes('guard/bert-micro/btop/sst2/s1') && done.includes('search/bert-micro/neuba'));
  assert.ok(done.includes('inversion/bert-micro/por'));
  for (const t of report.tables) for (const row of t.rows) for (const e of row.entries) assert.ok(e.ours !== null || e.reason, `${t.id} ${row.label}: an empty cell without a reason`);
  const tab2 = report.tables.find((t) => t.id === 'tab2')!;
  const sst2 = tab2.rows.find((row) => row.label === 'P-tuning v2, POR, bert-micro')!.entries.at(-1)!;
  assert.equal(typeof sst2.ours, 'number');
  // Table 5: the baseline's two counts, out of the tiny budget's runs, beside the paper's.
  const tab5 = report.tables.find((t) => t.id === 'tab5')!.rows.find((row) => row.label === 'bert-micro (POR)')!;
  const [pc, ptt] = tab5.entries;
  assert.ok(Number.isInteger(pc!.ours) && pc!.ours! <= 2 && Number.isInteger(ptt!.ours) && ptt!.ours! <= pc!.ours!, JSON.stringify(tab5.entries.slice(0, 2)));
  assert.match(pc!.note!, /Piccolo\/DBS-style/);
  // Section 5.5: each switch a search of its own, compared over the loops both ran; the adaptive rate's
  // only when the search's boost ran a step somewhere (else the run would repeat the search exactly).
  assert.ok(done.includes('ablation/bert-micro/path-loss') && done.includes('ablation/bert-micro/adaptive-lr'));
  const lr = completeLines(journal).map((l) => JSON.parse(l) as { id: string; result: { dir: string | null; not_run?: string; boost: { boosted_loops: number } } })
    .find((r) => r.id === 'ablation/bert-micro/adaptive-lr')!.result;
  assert.ok(lr.not_run ? lr.boost.boosted_loops === 0 && lr.dir === null : existsSync(join(lr.dir!, 'journal.jsonl')), JSON.stringify(lr));
  const abl = report.tables.find((t) => t.id === 'ablation')!;
  for (const row of abl.rows) assert.ok(Number.isInteger(row.entries[0]!.ours) && Number.isInteger(row.entries[4]!.ours), `${row.label}: ${JSON.stringify(row.entries)}`);
  assert.match(readFileSync(join(out, PAPER_HTML), 'utf8'), /<canvas id="fig6-chart"/);
  // Two at a time: some cells overlapped, and never two holding one lock (their guard directory).
  assert.match(r.stderr, /up to 2 cells at a time, 1 thread each/);
  const spans = records.filter((x) => !beforeIds.includes(x.id)).map((x) => {
    const rec = x as unknown as { id: string; started: string; finished: string };
    return { id: rec.id, from: Date.parse(rec.started), to: Date.parse(rec.finished) };
  });
  const overlap = (a: typeof spans[number], b: typeof spans[number]) => a.from < b.to && b.from < a.to;
  assert.ok(spans.some((a) => spans.some((b) => a !== b && overlap(a, b))), 'no two cells ran at the same time');
  const guardDirOf = (id: string) => {
    const [kind, model, attack, , seed] = id.split('/');
    return ['victims', 'guard'].includes(kind!) ? `${model}-${attack}-${seed}` : ['search', 'inversion'].includes(kind!) ? `${model}-${attack}-s1` : null;
  };
  for (const a of spans) {
    for (const b of spans) {
      if (a !== b && guardDirOf(a.id) !== null && guardDirOf(a.id) === guardDirOf(b.id)) assert.ok(!overlap(a, b), `${a.id} and ${b.id} overlapped in one guard directory`);
    }
  }
  // A tiny run says what it is.
  assert.match(report.budget.summary, /numbers mean nothing/);
  console.log(`# eval paper tiny: killed after ${before.length} cells; rerun ${rerunSeconds.toFixed(0)} s for ${ids.length - before.length} more`);
});
