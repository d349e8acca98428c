/**
 * The plan of `eval paper`: every cell of work for a zoo and a budget, in
 * the order they run, each with the cells it needs. Cells the budget or
 * the selection (--tables, --tasks) leaves out, and cells nothing here
 * can produce, are in the plan too, with the reason, so that every table
 * cell of paper.json points at either a result or a sentence.
 *
 * Kinds and the evaluator each runs (src/eval/paper/cells.ts):
 *   base       buildZooModel                  the pretrained zoo model
 *   attack     runAttack                      BToP / NeuBA / POR copy of it (the paper's six triggers)
 *   victims    evaluateVictims                one task's clean- and backdoored-backbone prompts: CACC, BACC, ASR (Tab. 2, 3)
 *   search     search (scan-model.ts)         the PV search on a backdoored backbone (guard PVs, Tab. 5, Fig. 6)
 *   inversion  evaluateInversion (eval/inversion.ts)  the Piccolo/DBS-style trigger-inversion baseline on the POR copy (Tab. 5)
 *   guard      evaluateGuard                  one task through the guard and ONION (Tab. 3, 6, Fig. 14)
 *   detection  evaluateDetection              held-out detection zoo for one target token (Tab. 4)
 *   adaptive   runAttack + scan (+ evaluateGuard)  one adaptively attacked model (Tab. 7, 8, 17, 18)
 *   ablation   search with one mechanism off   path loss or adaptive rate off on the POR copy, beside the search cell (Section 5.5)
 *   note       —                              a cell that cannot be produced here, with why
 */
import { PROMPT_TASKS, type PromptTask } from '../../prompt/index.js';
import { ZOO } from '../../zoo/configs.js';
import { type AdaptiveVariant, BUDGETS, DETECTION_COLUMNS, type DetectionColumn, PAPER_BUDGETS, type PaperBudget } from './budget.js';
import { PAPER_SETTINGS, TAB6_INSTANCES } from './published.js';

export const PAPER_TABLES = ['tab2', 'tab3', 'tab4', 'tab5', 'tab6', 'tab7', 'tab8', 'tab17', 'tab18', 'ablation', 'fig6', 'fig14'] as const;
export type TableId = (typeof PAPER_TABLES)[number];

export type CellKind = 'base' | 'attack' | 'victims' | 'search' | 'inversion' | 'guard' | 'detection' | 'adaptive' | 'ablation' | 'note';
export type PaperAttack = 'btop' | 'neuba' | 'por';
export type PaperMethod = 'ptuning' | 'ptuning-v2';

export interface CellParams {
  attack?: PaperAttack;
  method?: PaperMethod;
  task?: PromptTask;
  seed?: number;
  column?: DetectionColumn;
  variant?: AdaptiveVariant;
  instance?: number;
  /** guard: ONION on this many test inputs. */
  onionMaxTest?: number;
  /** ablation: the search mechanism switched off. */
  ablation?: Ablation;
}

/** Section 5.5's ablations: search with the path loss off (pathCoeff 0) or the adaptive rate off (lrBoost 1). */
export const ABLATIONS = ['path-loss', 'adaptive-lr'] as const;
export type Ablation = (typeof ABLATIONS)[number];

export interface CellSpec {
  id: string;
  kind: CellKind;
  /** The tables and figures that read this cell. */
  tables: TableId[];
  model: string | null;
  params: CellParams;
  /** Cells whose results this one needs (they come earlier in the plan). */
  deps: string[];
  /** Set: the cell is not run, and this says why. */
  reason?: string;
}

export interface PaperPlan {
  zoo: string[];
  budget: PaperBudget;
  tables: TableId[];
  /** --tasks, when given. */
  tasks: PromptTask[] | null;
  cells: CellSpec[];
}

export interface PlanOptions {
  zoo: readonly string[];
  budget: PaperBudget;
  /** Only these tables (default: all). */
  tables?: readonly string[];
  /** Only these tasks of the budget's (Tables 2, 3, 6, Fig. 14). */
  tasks?: readonly string[];
}

/** The task order of the tables: the paper's columns, then SST-2 (ours only). */
const TASK_ORDER: PromptTask[] = ['rte', 'boolq', 'ag-news', 'yelp-5', 'enron-spam', 'sms-spam', 'sst2'];

export const METHOD_OF: Record<PaperAttack, PaperMethod> = { btop: 'ptuning', neuba: 'ptuning-v2', por: 'ptuning-v2' };
export const SEARCH_MODE_OF: Record<PaperAttack, 'cls' | 'mask'> = { btop: 'mask', neuba: 'cls', por: 'cls' };

/** The paper's families beyond BERT and RoBERTa (Tab. 5, Fig. 6), with the zoo family that stands for each and its paper base model. */
export const PAPER_FAMILIES = [
  { family: 'DeBERTa', zoo: 'deberta', paperModel: 'deberta-base' },
  { family: 'ALBERT', zoo: 'albert', paperModel: 'albert-base-v1' },
  { family: 'ERNIE-2.0', zoo: 'ernie', paperModel: 'ernie-2.0-base-en' },
  { family: 'XLNet', zoo: 'xlnet', paperModel: 'xlnet-base-cased' },
] as const;

/** The paper's families no --zoo model stands for, each with why (a note cell "note/family-<zoo family>"). */
export function missingFamilies(zoo: readonly string[]): { family: string; zoo: string; paperModel: string; reason: string }[] {
  const have = new Set(zoo.map((m) => ZOO[m]?.family as string));
  return PAPER_FAMILIES.filter((f) => !have.has(f.zoo)).map((f) => {
    const entries = Object.values(ZOO).filter((e) => (e.family as string) === f.zoo).map((e) => e.name);
    const reason = entries.length
      ? `no ${f.family} model in --zoo (add ${entries.join(' or ')} to run it)`
      : `the zoo has no ${f.family} entry to build (no model hub is reachable here; the zoo pretrains its own models)${f.zoo === 'ernie' ? '; ERNIE-2.0 is BERT-shaped, so the BERT rows stand nearest' : ''}`;
    return { ...f, reason };
  });
}

/** What Table 5's Piccolo columns measure (the inversion cell), as paper.json and the table's notes say it. */
export const INVERSION_BASELINE = 'word-level distribution inversion through the embedding layer (Piccolo/DBS-style), our implementation';

/** Cells that no evaluator here can fill (none today: each table's empty entries say why where they are). */
export const NOTES: { key: string; tables: TableId[]; reason: string }[] = [];

export function guardDirName(model: string, attack: string, seed: number): string {
  return `${model}-${attack}-s${seed}`;
}

const listText = (xs: readonly string[]) => xs.join(',');

/**
 * What a cell writes that another cell also writes or reads while it is
 * unfinished: cells sharing a lock never run at the same time (`--jobs`).
 * A guard directory (victims journal, search, inversion, guard journal)
 * belongs to its (model, attack, seed); POR's and NeuBA's victims of one
 * task share the clean-backbone prompt (cells.ts shareCleanPrompt); the
 * detection columns of a model build the same clean fine-tunes in the zoo
 * cache.
 */
export function cellLocks(cell: CellSpec, budget: PaperBudget): string[] {
  const m = cell.model;
  const p = cell.params;
  switch (cell.kind) {
    case 'base': return [`zoo/${m}`];
    case 'attack': return [`models/${m}-${p.attack}`];
    case 'victims':
    case 'guard': {
      const own = `guard/${guardDirName(m!, p.attack!, p.seed!)}`;
      return cell.kind === 'victims' && p.attack !== 'btop' ? [own, `clean-prompt/${m}/${p.task}/s${p.seed}`] : [own];
    }
    case 'search':
    case 'inversion': return [`guard/${guardDirName(m!, p.attack!, budget.seeds[0]!)}`];
    case 'detection': return [`zoo-clean-set/${m}`];
    default: return [cell.id];
  }
}

export function makePlan(o: PlanOptions): PaperPlan {
  const budget = o.budget;
  const bad = o.zoo.filter((m) => !ZOO[m]);
  if (o.zoo.length === 0) throw new Error('--zoo: give at least one zoo model');
  if (bad.length) throw new Error(`--zoo: unknown zoo model${bad.length > 1 ? 's' : ''} ${bad.join(', ')}; known: ${Object.keys(ZOO).join(', ')}`);
  const zoo = [...new Set(o.zoo)];
  const tables = (o.tables ? [...new Set(o.tables)] : [...PAPER_TABLES]) as TableId[];
  const badTables = tables.filter((t) => !(PAPER_TABLES as readonly string[]).includes(t));
  if (badTables.length) throw new Error(`--tables: unknown ${badTables.join(', ')}; choose from ${PAPER_TABLES.join(', ')}`);
  let tasks: PromptTask[] | null = null;
  if (o.tasks) {
    const badTasks = o.tasks.filter((t) => !(PROMPT_TASKS as readonly string[]).includes(t) || t === 'conll04');
    if (badTasks.length) throw new Error(`--tasks: unknown or not a classification task: ${badTasks.join(', ')}`);
    tasks = [...new Set(o.tasks)] as PromptTask[];
    const outside = tasks.filter((t) => !budget.tasks.includes(t));
    if (outside.length) throw new Error(`--tasks: ${outside.join(', ')} not in the ${budget.name} budget's tasks (${budget.tasks.join(', ')})`);
  }
  const sel = new Set(tables);
  const cells: CellSpec[] = [];
  const n = budget.modelsPerTable;
  const modelReason = (m: string): string | undefined => {
    if (n === null || zoo.indexOf(m) < n) return undefined;
    return `${budget.name} budget: only the first ${n === 1 ? '--zoo model' : `${n} --zoo models`} (${zoo.slice(0, n).join(', ')}); ${m} runs with --budget full`;
  };
  const elsewhere = (has: (b: PaperBudget) => boolean) => {
    const names = BUDGETS.filter((k) => k !== budget.name && has(PAPER_BUDGETS[k]));
    return names.length ? `runs with --budget ${names.join(' or ')}` : 'no budget runs it';
  };
  const taskReason = (t: PromptTask): string | undefined => {
    if (!budget.tasks.includes(t)) return `${t} is not in the ${budget.name} budget (${elsewhere((b) => b.tasks.includes(t))})`;
    if (tasks && !tasks.includes(t)) return `not selected (--tasks ${listText(tasks)})`;
    return undefined;
  };
  const tableReason = (ts: TableId[]): string | undefined => (ts.some((t) => sel.has(t)) ? undefined : `not selected (--tables ${listText(tables)})`);
  const isTab6 = (task: string, attack: string) => TAB6_INSTANCES.some((i) => i.task === task && i.attack === attack);
  const allTasks = TASK_ORDER.filter((t) => budget.tasks.includes(t) || PAPER_BUDGETS.full.tasks.includes(t));
  const variants = [...budget.adaptive, ...PAPER_BUDGETS.full.adaptive.filter((v) => !budget.adaptive.some((b) => b.key === v.key))];

  for (const model of zoo) {
    const mr = modelReason(model);
    const add = (c: CellSpec, reason: string | undefined) => cells.push(reason ? { ...c, reason } : c);
    add({ id: `base/${model}`, kind: 'base', tables: [], model, params: {}, deps: [] }, mr);
    for (const s of PAPER_SETTINGS) {
      add({ id: `attack/${model}/${s.attack}`, kind: 'attack', tables: [], model, params: { attack: s.attack, method: s.method }, deps: [`base/${model}`] }, mr);
    }
    for (const s of PAPER_SETTINGS) {
      for (const task of allTasks) {
        for (const seed of budget.seeds) {
          const ts: TableId[] = isTab6(task, s.attack) ? ['tab2', 'tab3', 'tab6', 'fig14'] : ['tab2', 'tab3'];
          add({
            id: `victims/${model}/${s.attack}/${task}/s${seed}`, kind: 'victims', tables: ts, model, params: { attack: s.attack, method: s.method, task, seed },
            deps: [`base/${model}`, `attack/${model}/${s.attack}`],
          }, mr ?? taskReason(task) ?? tableReason(ts));
        }
      }
    }
    for (const s of PAPER_SETTINGS) {
      const ts: TableId[] = s.attack === 'por' ? ['tab3', 'tab5', 'fig6'] : ['tab3', 'fig6'];
      add({ id: `search/${model}/${s.attack}`, kind: 'search', tables: ts, model, params: { attack: s.attack, method: s.method }, deps: [`attack/${model}/${s.attack}`] }, mr);
    }
    // Table 5's baseline runs on the same POR copy as the search beside it.
    add({ id: `inversion/${model}/por`, kind: 'inversion', tables: ['tab5'], model, params: { attack: 'por', method: 'ptuning-v2' }, deps: [`attack/${model}/por`] }, mr ?? tableReason(['tab5']));
    for (const s of PAPER_SETTINGS) {
      for (const task of allTasks) {
        for (const seed of budget.seeds) {
          const tab6 = isTab6(task, s.attack);
          const ts: TableId[] = tab6 ? ['tab3', 'tab6', 'fig14'] : ['tab3'];
          add({
            id: `guard/${model}/${s.attack}/${task}/s${seed}`, kind: 'guard', tables: ts, model,
            params: { attack: s.attack, method: s.method, task, seed, onionMaxTest: tab6 ? budget.onionMaxTest : 1 },
            deps: [`victims/${model}/${s.attack}/${task}/s${seed}`, `search/${model}/${s.attack}`],
          }, mr ?? taskReason(task) ?? tableReason(ts));
        }
      }
    }
    // Section 5.5: the POR search again with one mechanism off, compared with the search cell over the same loops.
    for (const ablation of ABLATIONS) {
      add({ id: `ablation/${model}/${ablation}`, kind: 'ablation', tables: ['ablation'], model, params: { attack: 'por', method: 'ptuning-v2', ablation }, deps: [`attack/${model}/por`, `search/${model}/por`] }, mr ?? tableReason(['ablation']));
    }
    for (const column of Object.keys(DETECTION_COLUMNS) as DetectionColumn[]) {
      add({ id: `detection/${model}/${column}`, kind: 'detection', tables: ['tab4'], model, params: { column }, deps: [`base/${model}`] }, mr ?? tableReason(['tab4']));
    }
    for (const v of variants) {
      const inBudget = budget.adaptive.some((b) => b.key === v.key);
      const count = inBudget ? v.instances : 1;
      for (let i = 0; i < count; i++) {
        add({ id: `adaptive/${model}/${v.key}/${i}`, kind: 'adaptive', tables: [v.table], model, params: { variant: v, instance: i }, deps: [`base/${model}`] },
          mr ?? (inBudget ? undefined : `${v.key} is not in the ${budget.name} budget (${elsewhere((b) => b.adaptive.some((x) => x.key === v.key))})`) ?? tableReason([v.table]));
      }
    }
  }
  for (const f of missingFamilies(zoo)) cells.push({ id: `note/family-${f.zoo}`, kind: 'note', tables: ['fig6', 'tab5'], model: null, params: {}, deps: [], reason: f.reason });
  for (const note of NOTES) cells.push({ id: `note/${note.key}`, kind: 'note', tables: note.tables, model: null, params: {}, deps: [], reason: note.reason });

  // A search, attack or base model runs only when a selected cell needs it.
  const byId = new Map(cells.map((c) => [c.id, c]));
  const needed = new Set<string>();
  const need = (id: string) => {
    if (needed.has(id)) return;
    needed.add(id);
    for (const d of byId.get(id)!.deps) need(d);
  };
  for (const c of cells) {
    if (c.reason || c.kind === 'base' || c.kind === 'attack' || c.kind === 'search') continue;
    need(c.id);
  }
  for (const c of cells) {
    if (c.kind !== 'search' || c.reason) continue;
    const wanted = (c.params.attack === 'por' && sel.has('tab5')) || sel.has('fig6');
    if (wanted) need(c.id);
  }
  for (const c of cells) {
    if (c.reason || needed.has(c.id)) continue;
    if (c.kind === 'base' || c.kind === 'attack' || c.kind === 'search') c.reason = `not needed by the selected tables (--tables ${listText(tables)})`;
  }
  return { zoo, budget, tables, tasks, cells };
}

