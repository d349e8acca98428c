/**
 * paper.json: the plan's cells with their journaled results, and every
 * table and figure of the paper built from them — each entry our value
 * beside the paper's (published.ts), the difference, and, where we have
 * no value, the reason. Pure: the HTML writer and the tests read this.
 */
import { ZOO } from '../../zoo/configs.js';
import { DETECTION_COLUMNS, type DetectionColumn, TAB5_LOOPS } from './budget.js';
import type { CellOutcome } from './cells.js';
import { ABLATIONS, type CellSpec, INVERSION_BASELINE, missingFamilies, type PaperPlan, type TableId } from './plan.js';
import {
  PAPER_MODELS, PAPER_SETTINGS, PAPER_TASKS, type PaperModel, paperCounterpart, published, PUBLISHED, type PublishedValue, TAB6_INSTANCES,
} from './published.js';

export type CellStatus = 'done' | 'failed' | 'skipped' | 'blocked' | 'pending';

/** A cell as paper.json lists it. */
export interface PaperCell extends Partial<CellOutcome> {
  id: string;
  kind: CellSpec['kind'];
  tables: TableId[];
  model: string | null;
  params: CellSpec['params'];
  status: CellStatus;
  /** Every cell that is not done says why. */
  reason?: string;
  seconds?: number;
  finished?: string;
}

export type Unit = 'percent' | 'fraction' | 'count';

export interface TableEntry {
  /** Ours, in the table's unit (null: see reason). */
  ours: number | null;
  /** How ours is shown when it is not just the number ("1/2"). */
  text?: string;
  /** Spread over seeds or models (n > 1). */
  sd?: number;
  n?: number;
  paper: number | null;
  paper_text?: string;
  paper_id: string | null;
  /** ours − paper. */
  diff: number | null;
  /** close / mid / far by the table's tolerance; none when either side is missing. */
  diff_class: 'close' | 'mid' | 'far' | 'none';
  /** Why there is no value of ours (or, with a value, a remark such as "the paper has no SST-2 column"). */
  reason?: string;
  note?: string;
  cells: string[];
}

export interface TableView {
  id: TableId;
  title: string;
  /** What the paper's table shows and how our rows map onto it. */
  caption: string;
  unit: Unit;
  /** |diff| ≤ tolerance[0]: close; ≤ tolerance[1]: mid; else far. */
  tolerance: [number, number];
  /** Column groups (one header row), then the columns. */
  groups: { label: string; span: number }[];
  columns: string[];
  rows: { label: string; paper_row: string | null; entries: TableEntry[] }[];
  /** One sentence: where we differ and why. */
  summary: string;
  /** The paper's table as printed, for the page's <details>. */
  published: string[];
}

export interface Fig6Series {
  model: string;
  attack: string;
  cell: string;
  points: { loop: number; found: number; recall: number }[];
  injected: number;
  loops: number;
}

export interface Fig14Panel {
  label: string;
  cell: string;
  case: 'search+attacker' | 'search';
  pvs: number | null;
  clean: number[];
  triggered: number[];
  frr: number | null;
  far: number | null;
}

export interface FigureView {
  id: 'fig6' | 'fig14';
  title: string;
  caption: string;
  summary: string;
  fig6?: Fig6Series[];
  fig14?: Fig14Panel[];
  eta?: number;
  /** Series or panels that could not be drawn, and why. */
  missing: { label: string; reason: string }[];
  /** The paper's numbers for this figure (text only). */
  paper: PublishedValue[];
}

export interface PaperReport {
  format: string;
  version: 1;
  created: string;
  /** The git commit the run was made from (null: not a git checkout). */
  commit: string | null;
  budget: { name: string; summary: string; settings: PaperPlan['budget'] };
  zoo: string[];
  tables_selected: TableId[];
  tasks_selected: string[] | null;
  data_dir: string | null;
  machine: { cpus: number };
  /** Sum of the journaled cells' wall seconds (each counted in the run that finished it). */
  seconds_total: number;
  counts: Record<CellStatus, number>;
  published_source: string;
  cells: PaperCell[];
  tables: TableView[];
  figures: FigureView[];
}

export interface ReportMeta {
  format: string;
  created: string;
  commit: string | null;
  dataDir: string | null;
  cpus: number;
}

interface JournalLike extends CellOutcome {
  status: 'done' | 'failed';
  error?: string;
  seconds: number;
  finished: string;
}

const TOLERANCE: Record<Unit, [number, number]> = { percent: [5, 15], fraction: [0.05, 0.15], count: [1, 3] };
const TASKS = ['rte', 'boolq', 'ag-news', 'yelp-5', 'enron-spam', 'sms-spam', 'sst2'] as const;
const INTERRUPTED = 'not run yet: the run stopped before it (run the same command to resume)';

type Num = number | null | undefined;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sdOf = (xs: number[]) => (xs.length > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1)) : undefined);
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const fmtP = (x: number) => (Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2));

/** The cells of the plan with their status and reason. */
export function cellStatuses(plan: PaperPlan, records: ReadonlyMap<string, JournalLike>): Map<string, PaperCell> {
  const out = new Map<string, PaperCell>();
  for (const c of plan.cells) {
    const base: PaperCell = { id: c.id, kind: c.kind, tables: c.tables, model: c.model, params: c.params, status: 'pending' };
    const r = records.get(c.id);
    if (c.reason) out.set(c.id, { ...base, status: 'skipped', reason: c.reason });
    else if (r?.status === 'done') out.set(c.id, { ...base, status: 'done', result: r.result, config: r.config, seeds: r.seeds, models: r.models, seconds: r.seconds, finished: r.finished });
    else if (r?.status === 'failed') out.set(c.id, { ...base, status: 'failed', reason: `failed: ${r.error}`, seconds: r.seconds, finished: r.finished });
    else out.set(c.id, base);
  }
  // Cells whose dependency is not done say which one, and why.
  for (const c of plan.cells) {
    const me = out.get(c.id)!;
    if (me.status !== 'pending') continue;
    const dep = c.deps.map((d) => out.get(d)!).find((d) => d.status !== 'done');
    me.reason = dep ? `needs ${dep.id}, which is ${dep.status}${dep.reason ? `: ${dep.reason}` : ''}` : INTERRUPTED;
    if (dep) me.status = 'blocked';
  }
  return out;
}

class Builder {
  constructor(readonly plan: PaperPlan, readonly cells: Map<string, PaperCell>) {}

  cell(id: string): PaperCell | undefined {
    return this.cells.get(id);
  }

  result<T = Record<string, unknown>>(id: string): T | null {
    const c = this.cells.get(id);
    return c?.status === 'done' ? (c.result as T) : null;
  }

  /** Why the first of these cells that is not done has no value. */
  why(ids: readonly string[]): string {
    for (const id of ids) {
      const c = this.cells.get(id);
      if (!c) return `${id}: not in the plan`;
      if (c.status !== 'done') return c.reason ?? `${id}: ${c.status}`;
    }
    return 'no value';
  }

  /** An entry from per-cell values (averaged over the cells that are done). */
  entry(unit: Unit, ids: string[], value: (r: Record<string, unknown>) => Num, paperId: string | null, extra: Partial<TableEntry> = {}): TableEntry {
    const vals = ids.flatMap((id) => {
      const r = this.result(id);
      const v = r ? value(r) : null;
      return v === null || v === undefined || !Number.isFinite(v) ? [] : [v];
    });
    const p = paperId ? published(paperId) : undefined;
    const paper = p?.value ?? null;
    const paperValue = p && p.unit === 'count' && unit === 'percent' && p.of ? (100 * p.value!) / p.of : paper;
    const ours = vals.length ? mean(vals) : null;
    const diff = ours !== null && paperValue !== null ? ours - paperValue : null;
    const [a, b] = TOLERANCE[unit];
    const e: TableEntry = {
      ours: ours === null ? null : round(ours, unit === 'percent' ? 2 : 3),
      ...(vals.length > 1 ? { sd: round(sdOf(vals)!, 3), n: vals.length } : {}),
      paper: paperValue === null ? null : round(paperValue, 3),
      ...(p?.printed ? { paper_text: p.printed } : {}),
      paper_id: p ? p.id : null,
      diff: diff === null ? null : round(diff, 3),
      diff_class: diff === null ? 'none' : Math.abs(diff) <= a ? 'close' : Math.abs(diff) <= b ? 'mid' : 'far',
      cells: ids,
      ...extra,
    };
    if (ours === null) e.reason = extra.reason ?? this.why(ids);
    else if (vals.length < ids.length) e.note = [e.note, `${vals.length} of ${ids.length} seeds done (${this.why(ids)})`].filter(Boolean).join('; ');
    if (paperId && !p) e.note = [e.note, 'the paper has no such value'].filter(Boolean).join('; ');
    return e;
  }
}

/** The paper model a zoo model's row is compared with; only Table 5 has rows beyond BERT and RoBERTa. */
function counterpartOf(model: string, table5 = false): PaperModel | null {
  const cp = paperCounterpart(ZOO[model]?.family ?? '');
  return cp && (table5 || cp === 'bert-base-cased' || cp === 'roberta-base') ? cp : null;
}

function publishedRows(table: string): string[] {
  const vals = PUBLISHED.filter((v) => v.table === table);
  const rows = [...new Set(vals.map((v) => v.row))];
  return rows.map((row) => `${row}: ${vals.filter((v) => v.row === row).map((v) => `${v.column} ${v.printed ?? '(not in the text)'}`).join('; ')}`);
}

function summarise(t: Omit<TableView, 'summary'>, why: string): string {
  const cmp = t.rows.flatMap((r) => r.entries.map((e) => ({ r, e }))).filter(({ e }) => e.diff !== null);
  const measured = t.rows.flatMap((r) => r.entries).filter((e) => e.ours !== null).length;
  const unit = t.unit === 'percent' ? ' points' : '';
  if (measured === 0) return `No value of this table was measured in this run (every cell says why); ${why}`;
  if (cmp.length === 0) return `${measured} value${measured === 1 ? '' : 's'} measured, none with a paper counterpart; ${why}`;
  const mad = mean(cmp.map(({ e }) => Math.abs(e.diff!)));
  const worst = cmp.reduce((a, b) => (Math.abs(b.e.diff!) > Math.abs(a.e.diff!) ? b : a));
  const col = t.columns[worst.r.entries.indexOf(worst.e)];
  const show = (x: number) => (t.unit === 'percent' ? fmtP(x) : String(round(x, 3)));
  return `${cmp.length} of our values have a paper counterpart and differ from it by ${show(mad)}${unit} on average (largest: ${worst.r.label}, ${col}: ours ${show(worst.e.ours!)} against ${show(worst.e.paper!)}); ${why}`;
}

const pct = (x: Num) => (x === null || x === undefined ? null : 100 * x);
type Rec = Record<string, unknown>;
const get = (r: Rec, path: string): Num => {
  let v: unknown = r;
  for (const k of path.split('.')) v = v === null || typeof v !== 'object' ? undefined : (v as Rec)[k];
  return typeof v === 'number' ? v : null;
};

/**
 * The note of a guard case whose self-check failed (guard/self-check.ts):
 * the prompt alone drives the monitored output onto a PV, so the guard
 * flags nearly every input; null when it passed or was not recorded.
 */
function promptTriggerNote(r: Rec | null, caseKey: 'search' | 'search+attacker'): string | null {
  const sc = ((r?.cases as Rec | undefined)?.[caseKey] as Rec | null | undefined)?.figures as Rec | undefined;
  const c = sc?.self_check as Rec | undefined;
  if (!c || c.prompt_is_trigger !== true) return null;
  return `the prompt alone drives the monitored output onto PV ${c.pv} (${c.flagged} of ${c.sentences} neutral sentences flagged, median match ${Number(c.median_match_rate).toFixed(3)}): it learned the backdoor as a shortcut, so the guard flags nearly every input`;
}

/** The summary's sentence on the guard cells whose prompt acts as a trigger (empty when none). */
function promptTriggerSentence(b: Builder, ids: readonly string[]): string {
  const hit = ids.filter((id) => promptTriggerNote(b.result(id), 'search+attacker') !== null);
  if (!hit.length) return '';
  return ` In ${hit.join(', ')} the prompt tuned on the backdoored backbone is itself a trigger (the guard's self-check: it maps neutral sentences onto a PV), so every input is flagged and rejected; that victim is broken by the backdoor, not protected by the guard.`;
}

function tab2(b: Builder): TableView {
  const { plan } = b;
  const seeds = plan.budget.seeds;
  const cols: { task: (typeof TASKS)[number]; metric: 'cacc' | 'bacc'; f1?: boolean }[] = [];
  for (const t of TASKS) {
    cols.push({ task: t, metric: 'cacc' }, { task: t, metric: 'bacc' });
    if (t === 'sms-spam') cols.push({ task: t, metric: 'cacc', f1: true }, { task: t, metric: 'bacc', f1: true });
  }
  const rows = plan.zoo.flatMap((m) => PAPER_SETTINGS.map((s) => {
    const cp = counterpartOf(m);
    return {
      label: `${s.label}, ${m}`, paper_row: cp ? `${s.label}, ${PAPER_MODELS[cp]}` : null,
      entries: cols.map((c) => {
        const ids = seeds.map((seed) => `victims/${m}/${s.attack}/${c.task}/s${seed}`);
        const key = c.f1 ? (c.metric === 'cacc' ? 'macro_f1_clean' : 'macro_f1_backdoored') : c.metric;
        const pid = cp && c.task !== 'sst2' ? `tab2/${s.method}/${s.attack}/${cp}/${c.task}${c.f1 ? '/macro-f1' : ''}/${c.metric}` : null;
        return b.entry('percent', ids, (r) => pct(get(r, key)), pid, c.task === 'sst2' ? { note: 'the paper has no SST-2 column' } : {});
      }),
    };
  }));
  const t: Omit<TableView, 'summary'> = {
    id: 'tab2', title: 'Table 2: clean and backdoored accuracy (CACC / BACC, %)', unit: 'percent', tolerance: TOLERANCE.percent,
    caption: 'Prompt-tuned victims: CACC is the test accuracy of a prompt trained on the clean backbone, BACC of one trained on the backdoored copy (eval victims). Each of our rows is compared with the paper\'s base model of the same family (its smallest); SST-2 is ours only.',
    groups: [...TASKS.flatMap((t2) => [{ label: t2 === 'sst2' ? 'SST-2' : PAPER_TASKS[t2 as keyof typeof PAPER_TASKS], span: 2 }, ...(t2 === 'sms-spam' ? [{ label: 'SMS spam macro-F1', span: 2 }] : [])])],
    columns: cols.map((c) => c.metric.toUpperCase()),
    rows, published: publishedRows('Table 2'),
  };
  return { ...t, summary: summarise(t, `our backbones are minis (${plan.zoo.map((m) => `${m}: ${ZOO[m]!.layers}×${ZOO[m]!.hidden}`).join(', ')}) pretrained for minutes to an hour on a small corpus and prompt-tuned on the ${plan.budget.name} budget's data, against BERT/RoBERTa base and large models, so CACC sits lower here: compare BACC − CACC (what the backdoor costs), not the levels.`) };
}

function tab3(b: Builder): TableView {
  const { plan } = b;
  const seeds = plan.budget.seeds;
  const cols: { task: (typeof TASKS)[number]; what: 'asr' | 'guarded' | 'search'; weighted?: boolean }[] = [];
  for (const t of TASKS) {
    cols.push({ task: t, what: 'asr' }, { task: t, what: 'guarded' }, { task: t, what: 'search' });
    if (t === 'sms-spam') cols.push({ task: t, what: 'asr', weighted: true }, { task: t, what: 'guarded', weighted: true }, { task: t, what: 'search', weighted: true });
  }
  const rows = plan.zoo.flatMap((m) => PAPER_SETTINGS.map((s) => {
    const cp = counterpartOf(m);
    return {
      label: `${s.label}, ${m}`, paper_row: cp ? `${s.label}, ${PAPER_MODELS[cp]}` : null,
      entries: cols.map((c) => {
        const kind = c.what === 'asr' ? 'victims' : 'guard';
        const ids = seeds.map((seed) => `${kind}/${m}/${s.attack}/${c.task}/s${seed}`);
        const caseKey = c.what === 'search' ? 'search' : 'search+attacker';
        const value = (r: Rec): Num => {
          if (c.what === 'asr') return pct(get(r, c.weighted ? 'weighted_asr' : 'asr'));
          const cs = (r.cases as Rec | undefined)?.[caseKey] as Rec | null | undefined;
          return cs ? pct(get(cs, c.weighted ? 'figures.weighted_asr_guarded' : 'figures.asr_guarded')) : null;
        };
        const sub = c.weighted ? 'sms-spam/weighted' : c.task;
        const pid = cp && c.task !== 'sst2' && c.what !== 'search' ? `tab3/${s.method}/${s.attack}/${cp}/${sub}/${c.what === 'asr' ? 'asr' : 'asr-guarded'}` : null;
        const triggerNote = c.what === 'asr' ? null : promptTriggerNote(b.result(ids[0]!), caseKey);
        const note = [c.task === 'sst2' ? 'the paper has no SST-2 column' : c.what === 'search' ? 'the guard with only the PVs our search found (the paper reports only its best case, with the attacker\'s PVs added)' : null, triggerNote]
          .filter(Boolean).join('; ');
        return b.entry('percent', ids, value, pid, note ? { note } : {});
      }),
    };
  }));
  const t: Omit<TableView, 'summary'> = {
    id: 'tab3', title: 'Table 3: attack success rate without and with the guard (%)', unit: 'percent', tolerance: TOLERANCE.percent,
    caption: 'ASR of the six triggers on the backdoored-backbone prompt (eval victims), then through the guard (eval guard, η = 0.8, windows of up to 3 words) with the PVs search found plus the attacker\'s PVs (the paper\'s best case), and — ours only — with search\'s PVs alone.',
    groups: TASKS.flatMap((t2) => [{ label: t2 === 'sst2' ? 'SST-2' : PAPER_TASKS[t2 as keyof typeof PAPER_TASKS], span: 3 }, ...(t2 === 'sms-spam' ? [{ label: 'SMS spam weighted ASR', span: 3 }] : [])]),
    columns: cols.map((c) => (c.what === 'asr' ? 'w/o' : c.what === 'guarded' ? 'guard' : 'search only')),
    rows, published: publishedRows('Table 3'),
  };
  const guardIds = plan.cells.filter((c) => c.kind === 'guard').map((c) => c.id);
  return { ...t, summary: summarise(t, `ASR without the guard measures whether the backdoor survives prompt-tuning and compares in kind; the guarded ASR depends on how many planted PVs the ${plan.budget.search.loops}-loop search found (the paper: up to 1,000 loops) and on the 64–256-dimensional outputs of our minis (the paper's: 768–1,024), where a clean output's sign agreement with a PV spreads wider around 0.5.${promptTriggerSentence(b, guardIds)}`) };
}

function tab4(b: Builder): TableView {
  const { plan } = b;
  const cols: { key: string; label: string; column: DetectionColumn | 'average'; what: string; method?: string }[] = [
    { key: 'cls/fp', label: 'FP', column: 'cls', what: 'fp' }, { key: 'cls/fn-por', label: 'FN (POR)', column: 'cls', what: 'fn', method: 'por' },
    { key: 'cls/fn-neuba', label: 'FN (NeuBA)', column: 'cls', what: 'fn', method: 'neuba' }, { key: 'cls/acc', label: 'Acc', column: 'cls', what: 'acc' },
    { key: 'mask/fp', label: 'FP', column: 'mask', what: 'fp' }, { key: 'mask/fn-btop', label: 'FN (BToP)', column: 'mask', what: 'fn', method: 'btop' },
    { key: 'mask/acc', label: 'Acc', column: 'mask', what: 'acc' },
    { key: 'token/fp', label: 'FP', column: 'token', what: 'fp' }, { key: 'token/fn-por-ner', label: 'FN (POR-NER)', column: 'token', what: 'fn', method: 'por-ner' },
    { key: 'token/acc', label: 'Acc', column: 'token', what: 'acc' },
    { key: 'average-acc', label: 'Average Acc', column: 'average', what: 'avg' },
  ];
  type Det = { models: { positive: boolean; method: string | null; flagged: boolean }[]; metrics: { accuracy: number }; ineffective_attacks: string[]; metrics_effective: { accuracy: number } };
  const rows = plan.zoo.map((m) => {
    const cp = counterpartOf(m);
    return {
      label: m, paper_row: cp ? PAPER_MODELS[cp] : null,
      entries: cols.map((c) => {
        const pid = cp ? `tab4/${cp}/${c.key}` : null;
        if (c.column === 'average') {
          const ids = (Object.keys(DETECTION_COLUMNS) as DetectionColumn[]).map((k) => `detection/${m}/${k}`);
          const accs = ids.map((id) => b.result<Det>(id)?.metrics.accuracy);
          if (accs.some((a) => a === undefined)) return b.entry('percent', ids, () => null, pid, { reason: b.why(ids) });
          const avg = (100 * accs.reduce((sum: number, a) => sum + (a ?? 0), 0)) / accs.length;
          return b.entry('percent', [ids[0]!], () => avg, pid, { cells: ids });
        }
        const id = `detection/${m}/${c.column}`;
        const r = b.result<Det>(id);
        let text: string | undefined;
        let note: string | undefined;
        const value = (): Num => {
          if (!r) return null;
          if (c.what === 'acc') {
            if (r.ineffective_attacks.length) note = `over the models whose attack took effect: ${fmtP(100 * r.metrics_effective.accuracy)}% (${r.ineffective_attacks.join(', ')} did not take)`;
            return 100 * r.metrics.accuracy;
          }
          const pool = r.models.filter((x) => (c.what === 'fp' ? !x.positive : x.positive && x.method === c.method));
          const hits = pool.filter((x) => (c.what === 'fp' ? x.flagged : !x.flagged)).length;
          text = `${hits}/${pool.length}`;
          return pool.length ? (100 * hits) / pool.length : null;
        };
        const v = value();
        return b.entry('percent', [id], () => v, pid, { ...(text ? { text } : {}), ...(note ? { note } : {}), ...(r && v === null ? { reason: 'no model of this kind in the column' } : {}) });
      }),
    };
  });
  const d = plan.budget.detection;
  const t: Omit<TableView, 'summary'> = {
    id: 'tab4', title: 'Table 4: detection by target token (held-out models)', unit: 'percent', tolerance: TOLERANCE.percent,
    caption: 'eval detection per target token on a held-out zoo (seed 1: clean variants fine-tuned with other seeds, triggers drawn from the base tokenizer\'s whole words, attack settings drawn per model). FP and FN are shown as counts and compared as rates (% of the column\'s clean or backdoored models), the paper\'s FP out of 60 (30 for [MASK] and normal tokens) and FN out of 30.',
    groups: [{ label: '[CLS]', span: 4 }, { label: '[MASK]', span: 3 }, { label: 'normal token', span: 3 }, { label: '', span: 1 }],
    columns: cols.map((c) => c.label), rows, published: publishedRows('Table 4'),
  };
  return { ...t, summary: summarise(t, `our columns hold ${d.clean} clean and ${d.backdoored.cls}/${d.backdoored.mask}/${d.backdoored.token} backdoored models scanned for ${d.loops} loops (the paper: 60 or 30 clean and 30 backdoored per attack, 30 loops), so one model moves a rate by ${Math.round(100 / Math.max(1, d.clean))} points or more.`) };
}

function tab5(b: Builder): TableView {
  const { plan } = b;
  const cols = [['piccolo/c', 'Piccolo #C'], ['piccolo/tt', 'Piccolo #TT'], ['ours/c', 'LMSanitator #C'], ['ours/tp', 'LMSanitator #TP']] as const;
  const rows: TableView['rows'] = plan.zoo.map((m) => {
    const cp = counterpartOf(m, true);
    return {
      label: `${m} (POR)`, paper_row: cp ? PAPER_MODELS[cp] : null,
      entries: cols.map(([key]) => {
        const pid = cp ? `tab5/${cp}/${key}` : null;
        if (key.startsWith('piccolo')) {
          const id = `inversion/${m}/por`;
          const r = b.result(id);
          const extra: Partial<TableEntry> = r ? { note: inversionNote(r, key === 'piccolo/c') } : {};
          return b.entry('count', [id], (x) => get(x, key === 'piccolo/c' ? 'tab5.convergences' : 'tab5.true_pvs'), pid, extra);
        }
        const id = `search/${m}/por`;
        const v = (r: Rec) => get(r, key === 'ours/c' ? 'tab5.convergences' : 'tab5.true_pvs');
        const r = b.result(id);
        const extra: Partial<TableEntry> = r ? { note: `over the first ${get(r, 'tab5.loops')} of ${TAB5_LOOPS} loops; ${get(r, 'injected')} planted PVs` } : {};
        return b.entry('count', [id], v, pid, extra);
      }),
    };
  });
  for (const f of missingFamilies(plan.zoo)) {
    const cp = f.paperModel as PaperModel;
    rows.push({ label: f.family, paper_row: PAPER_MODELS[cp], entries: cols.map(([key]) => b.entry('count', [`note/family-${f.zoo}`], () => null, `tab5/${cp}/${key}`)) });
  }
  const runs = plan.budget.inversion.runs;
  const t: Omit<TableView, 'summary'> = {
    id: 'tab5', title: 'Table 5: trigger inversion (Piccolo) vs PV search', unit: 'count', tolerance: TOLERANCE.count,
    caption: `Piccolo columns: ${INVERSION_BASELINE} — ${runs} seeded runs on the POR copy; #C: runs that passed the search's two rules for a candidate (distance past −distanceTh, final diversity < divTh), #TT: converged runs whose output lands on a planted PV (recall's rule). LMSanitator columns: #C: converging fuzz loops among the first ${TAB5_LOOPS} of search on the same copy; #TP: planted PVs those loops found (recall's rule: MSE < 0.3 or sign agreement > η). The paper: 20 Piccolo inversions (4 AG News labels × 5) and 20 fuzz loops, six PVs per model.`,
    groups: [{ label: 'Piccolo', span: 2 }, { label: 'LMSanitator', span: 2 }], columns: cols.map(([, l]) => l), rows, published: publishedRows('Table 5'),
  };
  return { ...t, summary: summarise(t, `the Piccolo columns are our own word-level inversion with the search's collapse objective, not Piccolo's code against an AG News head (the paper's setting), over ${runs} runs${runs === 20 ? '' : ` (the paper: 20)`}; the paper's families with no --zoo model have no values of ours, and each of our rows is one POR copy.`) };
}

/** A Piccolo entry's note: the baseline, its run count, and what its hardened words do. */
function inversionNote(r: Rec, convergence: boolean): string {
  const n = get(r, 'tab5.runs');
  const hard = convergence
    ? `${get(r, 'tab5.collapses')} of ${n} runs collapsed the batch, ${get(r, 'tab5.convergences')} of them also past the distance threshold; ${get(r, 'tab5.hard_converged')} runs' argmax words, inserted as tokens, converge by the same rule`
    : `${get(r, 'tab5.distinct_true_pvs')} distinct planted PVs of ${get(r, 'injected')}; argmax words as tokens land on one in ${get(r, 'tab5.hard_true')} runs`;
  return `${INVERSION_BASELINE}; over ${n} runs; ${hard}`;
}

/** The zoo model standing for a paper instance: the same family if its cells run, else the first model whose do. */
function instanceModel(b: Builder, family: string, probe: (m: string) => string): string {
  const zoo = b.plan.zoo;
  const runs = (m: string) => b.cell(probe(m))?.status !== 'skipped';
  const same = zoo.filter((m) => ZOO[m]!.family === family);
  return same.find(runs) ?? zoo.find(runs) ?? same[0] ?? zoo[0]!;
}

function tab6(b: Builder): TableView {
  const { plan } = b;
  const seeds = plan.budget.seeds;
  const cols = [['acc/none', 'w/o'], ['acc/lmsanitator', 'LMSanitator'], ['acc/onion', 'ONION'], ['asr/none', 'w/o'], ['asr/lmsanitator', 'LMSanitator'], ['asr/onion', 'ONION']] as const;
  const shown: string[] = [];
  const rows = TAB6_INSTANCES.map((inst) => {
    const family = inst.model.startsWith('roberta') ? 'roberta' : 'bert';
    const m = instanceModel(b, family, (x) => `guard/${x}/${inst.attack}/${inst.task}/s${seeds[0]}`);
    shown.push(...seeds.map((s) => `guard/${m}/${inst.attack}/${inst.task}/s${s}`));
    return {
      label: `${inst.task}, ${inst.attack}, ${m}`, paper_row: inst.label,
      entries: cols.map(([key]) => {
        const ids = seeds.map((s) => `guard/${m}/${inst.attack}/${inst.task}/s${s}`);
        const value = (r: Rec): Num => {
          const cases = r.cases as Rec;
          const g = cases['search+attacker'] as Rec | null;
          const on = cases.onion as Rec | null;
          switch (key) {
            case 'acc/none': return pct(get(r, 'bacc'));
            case 'acc/lmsanitator': return g ? pct(get(g, 'figures.accuracy_guarded')) : null;
            case 'acc/onion': return on ? pct(get(on, 'onion.accuracy_onion')) : null;
            case 'asr/none': return pct(get(r, 'asr'));
            case 'asr/lmsanitator': return g ? pct(get(g, 'figures.asr_guarded')) : null;
            default: return on ? pct(get(on, 'onion.asr_onion')) : null;
          }
        };
        const r = b.result(ids[0]!);
        const onionN = r ? get(r, 'cases.onion.onion.test_inputs') : null;
        const triggerNote = key.endsWith('lmsanitator') ? promptTriggerNote(r, 'search+attacker') : null;
        const note = key.endsWith('onion') && onionN ? `ONION on the first ${onionN} test inputs` : triggerNote;
        return b.entry('percent', ids, value, `tab6/${inst.key}/${key}`, note ? { note } : {});
      }),
    };
  });
  const t: Omit<TableView, 'summary'> = {
    id: 'tab6', title: 'Table 6: trigger removal vs ONION (accuracy and ASR, %)', unit: 'percent', tolerance: TOLERANCE.percent,
    caption: 'The paper\'s four instances on our models (same family where the budget runs it): accuracy and ASR of the backdoored-backbone prompt without defence, through the guard (search + attacker PVs), and through ONION on the same inputs (eval guard).',
    groups: [{ label: 'ACC (%)', span: 3 }, { label: 'ASR (%)', span: 3 }], columns: cols.map(([, l]) => l), rows, published: publishedRows('Table 6'),
  };
  return { ...t, summary: summarise(t, `ONION here scores words with the backbone's own masked-LM pseudo-perplexity (no GPT-2 here) with an untuned bar of 0, on the first ${plan.budget.onionMaxTest} test inputs, so it is not the paper's ONION; the w/o-defence columns inherit Table 2's and 3's differences.${promptTriggerSentence(b, shown)}`) };
}

function adaptiveEntry(b: Builder, m: string, key: string, pid: string | null): TableEntry {
  const ids = b.plan.cells.filter((c) => c.kind === 'adaptive' && c.model === m && c.params.variant?.key === key).map((c) => c.id);
  if (ids.length === 0) return b.entry('fraction', [], () => null, pid, { reason: 'no such setting in this build' });
  const done = ids.filter((id) => b.result(id));
  const flagged = done.filter((id) => b.result(id)!.flagged === true).length;
  const e = b.entry('fraction', [done[0] ?? ids[0]!], () => (done.length ? flagged / done.length : null), pid, { cells: ids, ...(done.length ? { text: `${flagged}/${done.length}` } : { reason: b.why(ids) }) });
  if (done.length && done.length < ids.length) e.note = `${done.length} of ${ids.length} models done (${b.why(ids)})`;
  return e;
}

function tab7(b: Builder): TableView {
  const cols = [['one-pv-word', 'one-pv/word', 'word'], ['one-pv-phrase', 'one-pv/phrase', 'phrase'], ['two-pvs-word', 'two-pvs/word', 'word'], ['two-pvs-phrase', 'two-pvs/phrase', 'phrase']] as const;
  const rows = b.plan.zoo.map((m) => {
    const cp = counterpartOf(m);
    return { label: m, paper_row: cp ? PAPER_MODELS[cp] : null, entries: cols.map(([key, pk]) => adaptiveEntry(b, m, key, cp ? `tab7/${cp}/${pk}` : null)) };
  });
  const t: Omit<TableView, 'summary'> = {
    id: 'tab7', title: 'Table 7: detection rate with fewer PVs (POR)', unit: 'fraction', tolerance: TOLERANCE.fraction,
    caption: 'POR with one or two PVs, each with one trigger: a whole word of the base tokenizer, or a phrase of 2–3 of them; detection = scan flags the model.',
    groups: [{ label: 'one PV', span: 2 }, { label: 'two PVs', span: 2 }], columns: cols.map(([, , l]) => l), rows, published: publishedRows('Table 7'),
  };
  return { ...t, summary: summarise(t, `each rate is over ${b.plan.budget.adaptive.find((v) => v.table === 'tab7')?.instances ?? 0} model(s) per cell in this budget (the paper: 30), scanned for ${b.plan.budget.adaptiveLoops} loops.`) };
}

function sweepTable(b: Builder, id: 'tab8' | 'tab18', title: string, kind: 'scatter' | 'wasserstein', weights: { por: string[]; btop: string[] }): TableView {
  const cols = [...weights.por.map((w) => ['por', w] as const), ...weights.btop.map((w) => ['btop', w] as const)];
  const rows: TableView['rows'] = [];
  for (const m of b.plan.zoo) {
    const cp = counterpartOf(m);
    rows.push({ label: `${m}: detection rate`, paper_row: cp === 'roberta-base' ? 'RoBERTa-base, Detection Rate' : 'RoBERTa-base, Detection Rate (the paper ran RoBERTa-base only)', entries: cols.map(([a, w]) => adaptiveEntry(b, m, `${kind}-${a}-${w}`, `${id}/${a}/${w}/detection-rate`)) });
    const metric = (label: string, path: string) => rows.push({
      label: `${m}: ${label}`, paper_row: null,
      entries: cols.map(([a, w]) => {
        const ids = b.plan.cells.filter((c) => c.kind === 'adaptive' && c.model === m && c.params.variant?.key === `${kind}-${a}-${w}`).map((c) => c.id);
        const withGuard = ids.some((i) => b.plan.cells.find((c) => c.id === i)?.params.variant?.guardTask);
        if (!ids.length) return b.entry('fraction', [], () => null, null, { reason: 'no such setting in this build' });
        if (!withGuard) return b.entry('fraction', ids, () => null, null, { reason: b.cell(ids[0]!)?.status === 'done' ? `${b.plan.budget.name} budget: detection only (the full budget prompt-tunes AG News on the loss sweeps)` : b.why(ids) });
        return b.entry('fraction', ids, (r) => get(r, path), null, { note: 'the paper\'s metric rows lost their labels: not compared' });
      }),
    });
    metric('BACC, AG News, P-tuning v2', 'guard.bacc');
    metric('ASR', 'guard.asr');
    metric('ASR through the guard', 'guard.asr_guarded');
    metric('targetability (triggered inputs sent to the label of the trigger alone)', 'guard.targetability');
  }
  const t: Omit<TableView, 'summary'> = {
    id, title, unit: 'fraction', tolerance: TOLERANCE.fraction,
    caption: `${kind === 'scatter' ? 'Scattering' : 'Wasserstein'}-loss adaptive attack at the paper's loss weights (our attack's --${kind === 'scatter' ? 'scatter' : 'wasserstein'}-loss); detection = scan flags the model. The paper's three metric rows (accuracy, ASR and targetability in some order) lost their labels, so only its detection-rate row is compared.`,
    groups: [{ label: 'POR', span: weights.por.length }, { label: 'BToP', span: weights.btop.length }],
    columns: cols.map(([, w]) => `w = ${w}`), rows, published: publishedRows(id === 'tab8' ? 'Table 8' : 'Table 18'),
  };
  return { ...t, summary: summarise(t, `the weights are the paper's numbers applied to our attack's ${kind} term on a mini model, whose scale need not match the paper's RoBERTa-base, and each rate is over one model per weight at most (the paper: 30).`) };
}

function tab17(b: Builder): TableView {
  const cols = [['freq-rare', 'rare/dr', 'rare'], ['freq-moderate', 'moderate/dr', 'moderate'], ['freq-frequent', 'frequent/dr', 'frequent']] as const;
  const rows = b.plan.zoo.map((m) => {
    const cp = counterpartOf(m);
    return { label: m, paper_row: cp ? PAPER_MODELS[cp] : null, entries: cols.map(([key, pk]) => adaptiveEntry(b, m, key, cp ? `tab17/${cp}/${pk}` : null)) };
  });
  const t: Omit<TableView, 'summary'> = {
    id: 'tab17', title: 'Table 17: detection rate with frequency-chosen triggers (POR)', unit: 'fraction', tolerance: TOLERANCE.fraction,
    caption: 'POR with triggers drawn by word frequency in the attack corpus (rare < 1e-4 ≤ moderate ≤ 1e-3 < frequent; frequent triggers are two-word phrases); detection rate (DR) only — the paper\'s other column lost its header.',
    groups: [{ label: 'DR', span: 3 }], columns: cols.map(([, , l]) => l), rows, published: publishedRows('Table 17'),
  };
  return { ...t, summary: summarise(t, 'frequencies are counted on our attack corpus (nlp-corpus), not the paper\'s, and each rate is over a handful of models at most (the paper: 30).') };
}

function ablation(b: Builder): TableView {
  // [column label, ablation-cell key, 'off' | 'on', paper value id for the path-loss row]
  const cols = [
    ['unique PVs, switched off', 'unique_pvs', 'off', 'ablation/path-loss/bert-base-cased'],
    ['unique PVs, on (the search)', 'unique_pvs', 'on', null],
    ['loops to 3 unique PVs, off', 'loops_to_3', 'off', null],
    ['loops to 3 unique PVs, on', 'loops_to_3', 'on', 'ablation/path-loss/bert-base-cased-with'],
    ['converging loops, off', 'convergences', 'off', null],
    ['converging loops, on', 'convergences', 'on', null],
  ] as const;
  const rows: TableView['rows'] = b.plan.zoo.flatMap((m) => ABLATIONS.map((which) => {
    const id = `ablation/${m}/${which}`;
    const r = b.result(id);
    const n = r ? get(r, 'compared_loops') : null;
    return {
      label: `${m} (POR), ${which === 'path-loss' ? 'path loss' : 'adaptive lr'} off`,
      paper_row: which === 'path-loss' ? 'BERT-base-cased' : 'RoBERTa-base, BERT-base-cased (Figure 9)',
      entries: cols.map(([, key, side, pid]) => {
        const v = r ? get(r, `${side}.${key}`) : null;
        const notRun = r && side === 'off' && typeof r['not_run'] === 'string' ? `not run, the search's value: ${r['not_run']}` : null;
        const extra: Partial<TableEntry> = r ? { note: notRun ?? `over the first ${n} loops of each search`, ...(v === null && key === 'loops_to_3' ? { reason: `fewer than 3 planted PVs in ${n} loops` } : {}) } : {};
        const paperId = which === 'path-loss' ? pid : which === 'adaptive-lr' && key === 'loops_to_3' && side === 'off' ? 'ablation/figure-9' : null;
        return b.entry('count', [id], (x) => get(x, `${side}.${key}`), paperId, extra);
      }),
    };
  }));
  const t: Omit<TableView, 'summary'> = {
    id: 'ablation', title: 'Ablation (Section 5.5, Figure 9): path loss and adaptive learning rate', unit: 'count', tolerance: TOLERANCE.count,
    caption: `Each row: the POR copy's search run again with one mechanism off (path loss: weight 0; adaptive lr: loops start at the base rate instead of 100×), against the search cell with both on, over the loops both ran (${b.plan.budget.search.loops} at most, patience ${b.plan.budget.search.patience}); unique PVs are planted PVs reached by recall's rule. The paper: without path loss, BERT-base-cased found 2 unique PVs in 1,000 loops, with it 3 in 53; without the adaptive rate RoBERTa-base needed more loops (Figure 9 only).`,
    groups: [], columns: cols.map(([l]) => l), rows, published: publishedRows('Section 5.5 (text)'),
  };
  const boostNotes = b.plan.zoo.flatMap((m) => {
    const r = b.result(`ablation/${m}/adaptive-lr`);
    const [x, k, n, cg, lo, hi] = ['lr_boost', 'boosted_loops', 'loops', 'conver_grad', 'first_gradient_min', 'first_gradient_max'].map((key) => (r ? get(r, `boost.${key}`) : null));
    if (k === null || k === undefined || n === null) return [];
    const consequence = k > 0 ? '' : r && typeof r['not_run'] === 'string' ? ', so switching it off would repeat the search exactly: not run' : ', so switching it off cannot change a loop';
    return [`${m}: the ×${x ?? 100} start ran in ${k} of ${n} loops (first prompt gradients ${lo}…${hi} against converGrad ${cg}${consequence})`];
  });
  const boostSentence = boostNotes.length ? ` Adaptive rate: ${boostNotes.join('; ')}.` : '';
  return { ...t, summary: summarise(t, `our rows are one POR copy each and ${b.plan.budget.search.loops} loops at most (the paper: 1,000 loops on BERT-base-cased; Figure 9 over 30 models), and six planted PVs on a small model are reached in few loops either way.${boostSentence}`) };
}

function fig6(b: Builder): FigureView {
  const series: Fig6Series[] = [];
  const missing: FigureView['missing'] = [];
  for (const m of b.plan.zoo) {
    for (const s of PAPER_SETTINGS) {
      const id = `search/${m}/${s.attack}`;
      const r = b.result<{ curve: { loop: number; found: number; recall: number }[]; injected: number; loops: number }>(id);
      if (r) series.push({ model: m, attack: s.attack, cell: id, points: r.curve.map((p) => ({ loop: p.loop, found: p.found, recall: p.recall })), injected: r.injected, loops: r.loops });
      else missing.push({ label: `${m}, ${s.attack}`, reason: b.why([id]) });
    }
  }
  for (const f of missingFamilies(b.plan.zoo)) missing.push({ label: f.family, reason: f.reason });
  const final = series.map((s) => `${s.model}/${s.attack} ${s.points.at(-1)?.found ?? 0}/${s.injected} in ${s.loops} loops`);
  return {
    id: 'fig6', title: 'Figure 6: PV recall against fuzz loops, per model and attack', missing, fig6: series,
    caption: 'Planted PVs found (MSE < 0.3 or sign agreement > η against a kept PV) after each loop of the search on each backdoored copy; the paper: 239 of 252 PVs (94.8%) after 1,000 loops over 42 models of 12 architectures, 90.5% when stopping after 200 loops without a new PV.',
    summary: series.length
      ? `Found: ${final.join('; ')} — against the paper's 94.8% after 1,000 loops; our searches are ${b.plan.budget.search.loops} loops at most, on the families the zoo builds.`
      : 'No search finished in this run (each missing series says why).',
    paper: PUBLISHED.filter((v) => v.id.startsWith('fig6/')),
  };
}

function fig14(b: Builder): FigureView {
  const panels: Fig14Panel[] = [];
  const missing: FigureView['missing'] = [];
  const seed = b.plan.budget.seeds[0];
  let eta: number | undefined;
  for (const inst of TAB6_INSTANCES) {
    const family = inst.model.startsWith('roberta') ? 'roberta' : 'bert';
    const m = instanceModel(b, family, (x) => `guard/${x}/${inst.attack}/${inst.task}/s${seed}`);
    const id = `guard/${m}/${inst.attack}/${inst.task}/s${seed}`;
    const r = b.result(id);
    if (!r) {
      missing.push({ label: `${inst.label} → ${inst.task}, ${inst.attack}, ${m}`, reason: b.why([id]) });
      continue;
    }
    eta = get(r, 'threshold') ?? eta;
    for (const k of ['search+attacker', 'search'] as const) {
      const g = (r.cases as Rec)[k] as Rec | null;
      const h = g ? ((g.figures as Rec | null)?.match_rate_histograms as { clean: number[]; triggered: number[] } | undefined) : undefined;
      if (!g || !h) {
        missing.push({ label: `${inst.task}, ${inst.attack}, ${m}, ${k}`, reason: 'no guard figures for this case' });
        continue;
      }
      panels.push({ label: `${inst.task}, ${inst.attack}, ${m} (${k} PVs) — paper: ${inst.label}`, cell: id, case: k, pvs: get(g, 'pvs') ?? null, clean: h.clean, triggered: h.triggered, frr: get(g, 'figures.frr') ?? null, far: get(g, 'figures.far') ?? null });
    }
  }
  return {
    id: 'fig14', title: 'Figure 14: match rates of clean and triggered inputs', fig14: panels, missing, eta,
    caption: 'Best sign-match rate against the PV set of every clean test input and of every triggered one, with η drawn, for the paper\'s four instances on our models (from the guard cells).',
    summary: panels.length
      ? `FRR ${panels.filter((p) => p.case === 'search+attacker').map((p) => `${p.label.split(' — ')[0]}: ${p.frr === null ? '—' : fmtP(100 * p.frr)}%`).join('; ')} — the paper reports FRR 0 at η = 0.8 on its 768–1,024-wide models; narrower outputs give a clean input's sign agreement a wider spread.`
      : 'No guard cell of the four instances finished in this run (each missing panel says why).',
    paper: PUBLISHED.filter((v) => v.id.startsWith('fig14/')),
  };
}

export function buildReport(plan: PaperPlan, records: ReadonlyMap<string, JournalLike>, meta: ReportMeta): PaperReport {
  const cells = cellStatuses(plan, records);
  const b = new Builder(plan, cells);
  const tables: TableView[] = [
    tab2(b), tab3(b), tab4(b), tab5(b), tab6(b), tab7(b),
    sweepTable(b, 'tab8', 'Table 8: scattering-loss adaptive attack', 'scatter', { por: ['1', '5', '6', '7', '10'], btop: ['10', '60', '70', '80', '100'] }),
    tab17(b),
    sweepTable(b, 'tab18', 'Table 18: Wasserstein-loss adaptive attack', 'wasserstein', { por: ['0.1', '0.2', '0.3', '0.4', '0.5', '1'], btop: ['1', '10', '100', '1000'] }),
    ablation(b),
  ];
  const figures = [fig6(b), fig14(b)];
  const list = [...cells.values()];
  const counts = { done: 0, failed: 0, skipped: 0, blocked: 0, pending: 0 } as Record<CellStatus, number>;
  for (const c of list) counts[c.status]++;
  return {
    format: meta.format, version: 1, created: meta.created, commit: meta.commit,
    budget: { name: plan.budget.name, summary: plan.budget.summary, settings: plan.budget },
    zoo: plan.zoo, tables_selected: plan.tables, tasks_selected: plan.tasks, data_dir: meta.dataDir, machine: { cpus: meta.cpus },
    seconds_total: round(list.reduce((s, c) => s + (c.status === 'done' ? c.seconds ?? 0 : 0), 0), 1),
    counts, published_source: '../shared/paper/lmsanitator-paper.txt (src/eval/paper/published.ts)',
    cells: list, tables, figures,
  };
}
