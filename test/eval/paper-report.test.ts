/**
 * eval paper without running anything: the published numbers (spot checks,
 * and every value against its line of the paper's text when the text is
 * present), the plan (every cell runs or says why), and paper.json's
 * tables and paper.html built from a hand-made journal.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PAPER_BUDGETS } from '../../src/eval/paper/budget.js';
import { entryHtml, paperHtml } from '../../src/eval/paper/html.js';
import { cellLocks, makePlan } from '../../src/eval/paper/plan.js';
import { PAPER_FILE, published, PUBLISHED } from '../../src/eval/paper/published.js';
import type { PaperRecord } from '../../src/eval/paper/runner.js';
import { buildReport } from '../../src/eval/paper/tables.js';
import { packageRoot } from '../../src/text/data-dir.js';

const paperText = join(packageRoot(), '..', 'shared', 'paper', PAPER_FILE);

test('published: spot checks against the paper', () => {
  const v = (id: string) => {
    const p = published(id);
    assert.ok(p, `no published value ${id}`);
    return p;
  };
  assert.equal(v('tab2/ptuning/btop/roberta-large/rte/cacc').value, 70.51);
  assert.equal(v('tab2/ptuning/btop/roberta-base/rte/bacc').value, 62.94);
  assert.equal(v('tab2/ptuning-v2/por/bert-base-cased/sms-spam/macro-f1/bacc').value, 95.47);
  assert.equal(v('tab3/ptuning-v2/por/bert-base-cased/sms-spam/weighted/asr').value, 49.67);
  assert.equal(v('tab3/ptuning-v2/neuba/bert-large-cased/rte/asr').value, 11.11);
  assert.equal(v('tab3/ptuning/btop/roberta-large/enron-spam/asr-guarded').value, 26.69);
  const fp = v('tab4/roberta-large/cls/fp');
  assert.deepEqual([fp.value, fp.of, fp.printed], [7, 60, '7/60']);
  assert.equal(v('tab4/bert-base-cased/average-acc').value, 98.0);
  assert.equal(v('tab4/overall-accuracy').value, 92.8);
  assert.equal(v('tab5/xlnet-large-cased/ours/c').value, 20);
  const t6 = v('tab6/rte/por/roberta-base/asr/lmsanitator');
  assert.deepEqual([t6.value, t6.sd], [8.4, 2.4]);
  assert.equal(v('tab7/roberta-large/two-pvs/phrase').value, 0.93);
  assert.equal(v('tab8/btop/70/detection-rate').value, 0.63);
  assert.equal(v('tab8/por/6/row3').value, 0.38);
  assert.match(v('tab8/por/6/row3').row, /label lost/);
  assert.equal(v('tab17/roberta-large/rare/dr').value, 0.77);
  assert.equal(v('tab18/btop/1000/detection-rate').value, 0.77);
  assert.equal(v('fig6/recall-1000').value, 94.8);
  // Numbers only in a figure are unknown, with a note, not guessed.
  const fig = v('fig6/per-model');
  assert.equal(fig.value, null);
  assert.match(fig.note!, /only in the figure/i);
  // Ids are unique; every known value has its printed text and line.
  assert.equal(new Set(PUBLISHED.map((p) => p.id)).size, PUBLISHED.length);
  for (const p of PUBLISHED) if (p.value !== null) assert.ok(p.printed && p.line, `${p.id}: no printed text or line`);
});

test('published: every value is printed on its line of the paper\'s text', (t) => {
  if (!existsSync(paperText)) return t.skip(`${paperText} not here`);
  const lines = readFileSync(paperText, 'utf8').split('\n');
  for (const p of PUBLISHED) {
    if (p.line === null) continue;
    const line = lines[p.line - 1]!;
    const cells = line.split('|').map((c) => c.trim());
    const found = cells.includes(p.printed!) || line.includes(p.printed!);
    assert.ok(found, `${p.id}: ${JSON.stringify(p.printed)} is not on line ${p.line}: ${line.slice(0, 200)}`);
  }
  // Row order: the first value of each Table 2 row sits first on its line.
  for (const p of PUBLISHED.filter((x) => x.id.endsWith('/rte/cacc') && x.table === 'Table 2')) {
    const nums = lines[p.line! - 1]!.split('|').map((c) => c.trim()).filter((c) => /^\d+\.\d+$/.test(c));
    assert.equal(nums[0], p.printed, `${p.id}: line ${p.line}`);
  }
});

test('plan: every cell runs or says why; quick runs the first model only', () => {
  const plan = makePlan({ zoo: ['bert-mini', 'roberta-mini'], budget: PAPER_BUDGETS.quick });
  const ids = plan.cells.map((c) => c.id);
  assert.equal(new Set(ids).size, ids.length);
  const run = plan.cells.filter((c) => !c.reason);
  assert.ok(run.length > 20);
  assert.ok(run.every((c) => c.model === 'bert-mini'));
  for (const c of plan.cells.filter((x) => x.model === 'roberta-mini')) assert.match(c.reason!, /quick budget: only the first --zoo model/);
  // Dependencies come first.
  const pos = new Map(ids.map((id, i) => [id, i]));
  for (const c of run) for (const d of c.deps) assert.ok(pos.get(d)! < pos.get(c.id)!, `${c.id} before ${d}`);
  assert.match(plan.cells.find((c) => c.id === 'victims/bert-mini/por/yelp-5/s1')!.reason!, /not in the quick budget \(runs with --budget full\)/);
  // Table 5's Piccolo columns have a cell of their own now, not a note.
  assert.ok(!plan.cells.some((c) => c.id === 'note/tab5-piccolo'));
  assert.deepEqual(plan.cells.find((c) => c.id === 'inversion/bert-mini/por')!.deps, ['attack/bert-mini/por']);
  // A selection: tab5 alone needs the POR search and the inversion baseline, their attack and the base model, nothing else.
  const t5 = makePlan({ zoo: ['bert-mini'], budget: PAPER_BUDGETS.quick, tables: ['tab5'] });
  assert.deepEqual(t5.cells.filter((c) => !c.reason && c.kind !== 'note').map((c) => c.id), ['base/bert-mini', 'attack/bert-mini/por', 'search/bert-mini/por', 'inversion/bert-mini/por']);
  assert.match(makePlan({ zoo: ['bert-mini'], budget: PAPER_BUDGETS.quick, tables: ['tab2'] }).cells.find((c) => c.id === 'inversion/bert-mini/por')!.reason!, /not selected/);
  // Table 5 compares counts out of 20: full and quick run 20 inversions, and the tiny budget says it runs fewer.
  for (const b of [PAPER_BUDGETS.full, PAPER_BUDGETS.quick]) {
    assert.equal(b.inversion.runs, 20);
    assert.match(b.summary, /20 trigger-inversion baseline runs for Table 5/);
  }
  assert.match(PAPER_BUDGETS.tiny.summary, new RegExp(`${PAPER_BUDGETS.tiny.inversion.runs} trigger-inversion runs \\(Table 5 has 20\\)`));
  // Section 5.5's ablations: a search each with one mechanism off, compared with the POR search; no note cells for them any more.
  for (const a of ['path-loss', 'adaptive-lr']) assert.deepEqual(plan.cells.find((c) => c.id === `ablation/bert-mini/${a}`)!.deps, ['attack/bert-mini/por', 'search/bert-mini/por']);
  assert.ok(!plan.cells.some((c) => c.id.startsWith('note/ablation')));
  const abl = makePlan({ zoo: ['bert-mini'], budget: PAPER_BUDGETS.quick, tables: ['ablation'] });
  assert.deepEqual(abl.cells.filter((c) => !c.reason && c.kind !== 'note').map((c) => c.id),
    ['base/bert-mini', 'attack/bert-mini/por', 'search/bert-mini/por', 'ablation/bert-mini/path-loss', 'ablation/bert-mini/adaptive-lr']);
  assert.throws(() => makePlan({ zoo: ['bert-giant'], budget: PAPER_BUDGETS.quick }), /unknown zoo model bert-giant/);
  assert.throws(() => makePlan({ zoo: ['bert-mini'], budget: PAPER_BUDGETS.quick, tasks: ['yelp-5'] }), /not in the quick budget's tasks/);
});

/** A journal record as the runner writes it. */
function rec(id: string, result: Record<string, unknown>): PaperRecord {
  return {
    id, kind: id.split('/')[0] as PaperRecord['kind'], status: 'done', result, config: {}, seeds: { prompt: 1 },
    models: { 'bert-mini': { dir: '/zoo/bert-mini', sha256: 'ab'.repeat(32) } }, seconds: 12, started: '2026-01-01T00:00:00Z', finished: '2026-01-01T00:00:12Z',
  };
}

test('tables and paper.html: ours beside the paper\'s, the difference classed, reasons, charts', () => {
  const plan = makePlan({ zoo: ['bert-mini'], budget: PAPER_BUDGETS.quick, tables: ['tab2', 'fig6'] });
  const records = new Map<string, PaperRecord>();
  records.set('base/bert-mini', rec('base/bert-mini', { dir: '/zoo/bert-mini' }));
  records.set('attack/bert-mini/por', rec('attack/bert-mini/por', {}));
  // RTE: CACC 70.0 against the paper's 71.84 (close), BACC 30.0 against 70.40 (far).
  records.set('victims/bert-mini/por/rte/s1', rec('victims/bert-mini/por/rte/s1', { cacc: 0.7, bacc: 0.3, asr: 1, weighted_asr: 1 }));
  records.set('search/bert-mini/por', rec('search/bert-mini/por', { curve: [{ loop: 1, found: 2, recall: 1 / 3 }, { loop: 2, found: 6, recall: 1 }], injected: 6, loops: 2 }));
  const failed = { ...rec('victims/bert-mini/neuba/rte/s1', {}), status: 'failed' as const, error: 'rte: <no data> here' };
  records.set(failed.id, failed);
  const report = buildReport(plan, records, { format: 'lmsanitator-paper', created: '2026-01-01T00:00:00Z', commit: 'c0ffee', dataDir: '/data', cpus: 2 });

  const tab2 = report.tables.find((t) => t.id === 'tab2')!;
  const row = tab2.rows.find((r) => r.label === 'P-tuning v2, POR, bert-mini')!;
  assert.equal(row.paper_row, 'P-tuning v2, POR, BERT-base-cased');
  const [cacc, bacc] = row.entries;
  assert.deepEqual([cacc!.ours, cacc!.paper, cacc!.diff, cacc!.diff_class], [70, 71.84, -1.84, 'close']);
  assert.deepEqual([bacc!.ours, bacc!.paper, bacc!.diff_class], [30, 70.4, 'far']);
  const neuba = tab2.rows.find((r) => r.label === 'P-tuning v2, NeuBA, bert-mini')!.entries[0]!;
  assert.equal(neuba.ours, null);
  assert.equal(neuba.reason, 'failed: rte: <no data> here');
  // Every entry of every table has a value or a reason.
  for (const t of report.tables) for (const r of t.rows) for (const e of r.entries) assert.ok(e.ours !== null || e.reason, `${t.id}/${r.label}`);
  assert.match(tab2.summary, /differ from it by/);
  // A cell waiting on a failed one says so.
  assert.match(report.cells.find((c) => c.id === 'victims/bert-mini/btop/rte/s1')!.reason!, /needs attack\/bert-mini\/btop, which is/);
  assert.equal(report.figures.find((f) => f.id === 'fig6')!.fig6!.length, 1);

  const html = paperHtml(report);
  assert.match(html, /<td class="diff-close"[^>]*><span class="ours">70\.0<\/span><span class="paper">paper 71\.84<\/span><span class="delta">−1\.8<\/span><\/td>/);
  assert.match(html, /<td class="diff-far"[^>]*><span class="ours">30\.0<\/span><span class="paper">paper 70\.40<\/span>/);
  assert.match(html, /<td class="missing"[^>]*><span class="ours">—<\/span><span class="paper">paper 71\.84<\/span><a class="why" href="#tab2-why-\d+">/);
  assert.match(html, /<li id="tab2-why-\d+">failed: rte: &lt;no data&gt; here<\/li>/);
  assert.ok(!html.includes('<no data>'), 'run strings are escaped');
  assert.match(html, /<canvas id="fig6-chart"/);
  assert.match(html, /new Chart\(/);
  assert.ok(!/<script[^>]+src=/.test(html), 'Chart.js is inlined, not fetched');
  assert.match(html, /Where we differ:/);
  assert.match(html, /The paper's Table 2 as printed/);
  // A lone entry with a count shows the count and the rate.
  const e = entryHtml({ ours: 50, text: '1/2', paper: 11.7, paper_text: '7/60', paper_id: 'x', diff: 38.3, diff_class: 'far', cells: ['c'] }, 'percent', () => 1);
  assert.match(e, /1\/2 <small>\(50\.0\)<\/small>.*paper 7\/60.*\+38\.3/);
});

test('plan: cells that write the same files share a lock (--jobs never runs them together); independent ones do not', () => {
  const plan = makePlan({ zoo: ['bert-mini'], budget: PAPER_BUDGETS.quick });
  const cell = (id: string) => plan.cells.find((c) => c.id === id)!;
  const shares = (a: string, b: string) => cellLocks(cell(a), plan.budget).some((l) => cellLocks(cell(b), plan.budget).includes(l));
  assert.ok(shares('victims/bert-mini/por/rte/s1', 'guard/bert-mini/por/sst2/s1'), 'one guard directory');
  assert.ok(shares('search/bert-mini/por', 'victims/bert-mini/por/sst2/s1'));
  assert.ok(shares('inversion/bert-mini/por', 'search/bert-mini/por'));
  assert.ok(shares('victims/bert-mini/por/rte/s1', 'victims/bert-mini/neuba/rte/s1'), 'the shared clean-backbone prompt');
  assert.ok(!shares('victims/bert-mini/por/rte/s1', 'victims/bert-mini/neuba/sst2/s1'));
  assert.ok(!shares('victims/bert-mini/btop/rte/s1', 'victims/bert-mini/por/rte/s1'), 'BToP trains its own clean prompt (P-tuning)');
  assert.ok(shares('detection/bert-mini/cls', 'detection/bert-mini/mask'), 'the zoo\'s clean fine-tunes');
  assert.ok(!shares('detection/bert-mini/cls', 'adaptive/bert-mini/one-pv-word/0'));
  assert.ok(!shares('guard/bert-mini/btop/rte/s1', 'guard/bert-mini/por/rte/s1'));
});

test('Tables 3 and 6: a guard cell whose prompt is a trigger (failed self-check) says so on its entries and in the summary', () => {
  const plan = makePlan({ zoo: ['bert-mini'], budget: PAPER_BUDGETS.quick, tables: ['tab3', 'tab6'] });
  const selfCheck = (trigger: boolean) => ({ sentences: 32, flagged: trigger ? 31 : 0, flagged_share: trigger ? 31 / 32 : 0, pv: trigger ? 1 : null, median_match_rate: trigger ? 1 : 0.55, prompt_is_trigger: trigger });
  const guardCase = (trigger: boolean) => ({ pvs: 11, figures: { accuracy_guarded: trigger ? 0 : 0.5, asr_guarded: 0, weighted_asr_guarded: 0, frr: trigger ? 1 : 0, self_check: selfCheck(trigger) } });
  const records = new Map<string, PaperRecord>();
  for (const [attack, trigger] of [['btop', true], ['por', false]] as const) {
    const id = `guard/bert-mini/${attack}/rte/s1`;
    records.set(id, rec(id, { task: 'rte', cacc: 0.55, bacc: 0.52, asr: 0.45, weighted_asr: 0.45, cases: { search: guardCase(trigger), 'search+attacker': guardCase(trigger), onion: null } }));
  }
  const report = buildReport(plan, records, { format: 'lmsanitator-paper', created: '2026-01-01T00:00:00Z', commit: 'c0ffee', dataDir: '/data', cpus: 2 });
  const tab6 = report.tables.find((t) => t.id === 'tab6')!;
  const btop = tab6.rows.find((r) => r.paper_row === 'RTE, BToP, RoBERTa-base')!;
  const por = tab6.rows.find((r) => r.paper_row === 'RTE, POR, RoBERTa-base')!;
  assert.match(btop.entries[1]!.note!, /the prompt alone drives the monitored output onto PV 1 \(31 of 32 neutral sentences flagged, median match 1\.000\)/);
  assert.equal(btop.entries[1]!.ours, 0);
  assert.equal(por.entries[1]!.note, undefined);
  assert.match(tab6.summary, /In guard\/bert-mini\/btop\/rte\/s1 the prompt tuned on the backdoored backbone is itself a trigger/);
  assert.doesNotMatch(tab6.summary, /por\/rte\/s1 the prompt/);
  const tab3 = report.tables.find((t) => t.id === 'tab3')!;
  const row3 = tab3.rows.find((r) => r.label === 'P-tuning, BToP, bert-mini')!;
  const rteGuarded = row3.entries.filter((e) => e.cells.includes('guard/bert-mini/btop/rte/s1'));
  assert.equal(rteGuarded.length, 2);
  for (const e of rteGuarded) assert.match(e.note!, /the prompt alone drives the monitored output onto PV 1/);
  assert.match(tab3.summary, /btop\/rte\/s1 the prompt tuned on the backdoored backbone is itself a trigger/);
});

test('Table 5: the inversion baseline fills the Piccolo columns beside the search, with the paper\'s numbers', () => {
  const plan = makePlan({ zoo: ['bert-mini'], budget: PAPER_BUDGETS.full, tables: ['tab5'] });
  const records = new Map<string, PaperRecord>();
  records.set('search/bert-mini/por', rec('search/bert-mini/por', { injected: 6, loops: 20, curve: [], tab5: { loops: 20, convergences: 5, true_pvs: 4, kept: 4 } }));
  records.set('inversion/bert-mini/por', rec('inversion/bert-mini/por', {
    injected: 6, tab5: { runs: 20, convergences: 3, collapses: 9, true_pvs: 1, distinct_true_pvs: 1, hard_converged: 2, hard_true: 1 },
  }));
  const report = buildReport(plan, records, { format: 'lmsanitator-paper', created: '2026-01-01T00:00:00Z', commit: null, dataDir: null, cpus: 2 });
  const tab5 = report.tables.find((t) => t.id === 'tab5')!;
  const row = tab5.rows.find((r) => r.label === 'bert-mini (POR)')!;
  assert.equal(row.paper_row, 'BERT-base-cased');
  const [c, tt, oc, otp] = row.entries;
  // The paper's BERT-base-cased row: Piccolo 0 0, LMSanitator 7 4.
  assert.deepEqual([c!.ours, c!.paper, c!.diff], [3, 0, 3]);
  assert.deepEqual([tt!.ours, tt!.paper, tt!.diff_class], [1, 0, 'close']);
  assert.deepEqual([oc!.ours, oc!.paper, otp!.ours, otp!.paper], [5, 7, 4, 4]);
  assert.deepEqual(c!.cells, ['inversion/bert-mini/por']);
  assert.match(c!.note!, /word-level distribution inversion through the embedding layer \(Piccolo\/DBS-style\), our implementation; over 20 runs; 9 of 20 runs collapsed the batch, 3 of them also past the distance threshold; 2 runs' argmax words/);
  assert.match(tt!.note!, /1 distinct planted PVs of 6/);
  assert.match(tab5.caption, /Piccolo\/DBS-style/);
  assert.doesNotMatch(tab5.summary, /does not have yet/);
  // The paper's families the zoo has no model for: rows with the paper's numbers and the reason.
  const xl = tab5.rows.find((r) => r.label === 'XLNet')!;
  assert.equal(xl.entries[0]!.ours, null);
  assert.equal(xl.entries[0]!.paper, 1);
  assert.ok(xl.entries[0]!.reason);
  // Not run yet: the Piccolo entries say why.
  const pending = buildReport(plan, new Map(), { format: 'lmsanitator-paper', created: '2026-01-01T00:00:00Z', commit: null, dataDir: null, cpus: 2 });
  const e = pending.tables.find((t) => t.id === 'tab5')!.rows[0]!.entries[0]!;
  assert.equal(e.ours, null);
  assert.match(e.reason!, /inversion\/bert-mini\/por|attack\/bert-mini\/por/);
});

test('ablation: each switch off beside the search with both on, over the loops both ran, with the paper\'s path-loss numbers', () => {
  const plan = makePlan({ zoo: ['bert-mini'], budget: PAPER_BUDGETS.full, tables: ['ablation'] });
  const figures = (unique: number, to3: number | null, conv: number) => ({ loops: 20, unique_pvs: unique, loops_to_3: to3, convergences: conv, kept: unique });
  const records = new Map<string, PaperRecord>();
  records.set('ablation/bert-mini/path-loss', rec('ablation/bert-mini/path-loss', { compared_loops: 20, off: figures(2, null, 9), on: figures(6, 5, 9) }));
  records.set('ablation/bert-mini/adaptive-lr', rec('ablation/bert-mini/adaptive-lr', {
    compared_loops: 20, off: figures(4, 14, 3), on: figures(6, 5, 9),
    boost: { conver_grad: 0.005, loops: 20, boosted_loops: 0, first_gradient_min: 0.013, first_gradient_max: 0.062 },
  }));
  const report = buildReport(plan, records, { format: 'lmsanitator-paper', created: '2026-01-01T00:00:00Z', commit: null, dataDir: null, cpus: 2 });
  const t = report.tables.find((x) => x.id === 'ablation')!;
  // A boost that never ran is said to be one: the ablation then cannot differ.
  assert.match(t.summary, /bert-mini: the ×100 start ran in 0 of 20 loops \(first prompt gradients 0\.013…0\.062 against converGrad 0\.005, so switching it off cannot change a loop\)/);
  // Not run for that reason: the off side shows the search's values and says why.
  const skipped = new Map(records);
  skipped.set('ablation/bert-mini/adaptive-lr', rec('ablation/bert-mini/adaptive-lr', {
    dir: null, not_run: 'the ×100 start never ran a step', compared_loops: 20, off: figures(6, 5, 9), on: figures(6, 5, 9),
    boost: { lr_boost: 100, conver_grad: 0.005, loops: 20, boosted_loops: 0, first_gradient_min: 0.013, first_gradient_max: 0.062 },
  }));
  const t2 = buildReport(plan, skipped, { format: 'lmsanitator-paper', created: '2026-01-01T00:00:00Z', commit: null, dataDir: null, cpus: 2 }).tables.find((x) => x.id === 'ablation')!;
  const off = t2.rows.find((r) => r.label === 'bert-mini (POR), adaptive lr off')!.entries;
  assert.deepEqual(off.map((e) => e.ours), [6, 6, 5, 5, 9, 9]);
  assert.match(off[0]!.note!, /^not run, the search's value: the ×100 start never ran a step/);
  assert.match(off[1]!.note!, /^over the first 20 loops/);
  assert.match(t2.summary, /so switching it off would repeat the search exactly: not run\)/);
  const path = t.rows.find((r) => r.label === 'bert-mini (POR), path loss off')!;
  const [uOff, uOn, l3Off, l3On, cOff, cOn] = path.entries;
  // The paper (BERT-base-cased): 2 unique PVs in 1,000 loops without path loss; 3 unique PVs in 53 loops with it.
  assert.deepEqual([uOff!.ours, uOff!.paper, uOn!.ours, l3On!.ours, l3On!.paper], [2, 2, 6, 5, 53]);
  assert.equal(l3Off!.ours, null);
  assert.match(l3Off!.reason!, /fewer than 3 planted PVs in 20 loops/);
  assert.deepEqual([cOff!.ours, cOn!.ours], [9, 9]);
  const lr = t.rows.find((r) => r.label === 'bert-mini (POR), adaptive lr off')!;
  assert.deepEqual(lr.entries.map((e) => e.ours), [4, 6, 14, 5, 3, 9]);
  assert.doesNotMatch(t.summary, /no switch/);
});
