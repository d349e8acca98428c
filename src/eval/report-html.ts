/**
 * `report.html`: one self-contained file (no network, so it opens on an
 * air-gapped analyst machine and stays readable in an archive). Chart.js
 * is read from node_modules at report time and inlined; the plot data
 * travels as an inert JSON block. Everything that came from the model
 * (token strings from its tokenizer, its directory name) is untrusted:
 * HTML-escaped in markup, and `<` escaped inside the JSON so no
 * `</script>` can end the block early.
 */
import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { PcaView, ReportLoop, ReportPv, ScanReport } from './report.js';

/** More overlaid curves than this turn into an unreadable tangle; the tables keep every loop. */
export const MAX_CURVES = 40;

let chartJsCache: string | undefined;

/** Chart.js's UMD bundle, from the installed package. */
export function chartJsSource(): string {
  if (chartJsCache !== undefined) return chartJsCache;
  const require = createRequire(import.meta.url);
  let entry: string;
  try {
    entry = require.resolve('chart.js');
  } catch (e) {
    throw new Error(`report.html needs the chart.js package (npm i chart.js): ${(e as Error).message.split('\n')[0]}`);
  }
  // The package's exports map hides dist/ files; walk from the resolved entry (dist/chart.cjs).
  const candidates = [join(dirname(entry), 'chart.umd.js'), join(dirname(entry), 'chart.umd.min.js')];
  const file = candidates.find((f) => existsSync(f));
  if (!file) throw new Error(`report.html: no Chart.js UMD bundle next to ${entry} (looked for chart.umd.js, chart.umd.min.js)`);
  chartJsCache = scriptSafe(readFileSync(file, 'utf8'));
  return chartJsCache;
}

/**
 * Inside <script>, only `</script` and `<!--` (which switches the tokenizer
 * into its escaped states) are dangerous; inside JS string and regex
 * literals `<\/` and `<\!` mean the same characters.
 */
function scriptSafe(js: string): string {
  return js.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Token strings may hold control or invisible characters; show them as \u escapes, then HTML-escape. */
export function showToken(s: string): string {
  const visible = s.replace(/[\u0000-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return escapeHtml(visible);
}

/** JSON that can sit inside <script> whatever strings it holds. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function num(x: number | null | undefined, digits = 4): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  if (x !== 0 && (Math.abs(x) >= 1e5 || Math.abs(x) < 1e-3)) return x.toExponential(2);
  return x.toFixed(digits);
}

/** num() for prose: a true minus sign, as in the formulas around it. */
function numText(x: number | null | undefined, digits = 4): string {
  return num(x, digits).replace(/^-/, '−');
}

/** A shell word: as is when safe, else single-quoted. */
function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

const REASON_TEXT: Record<string, string> = {
  'no-candidate': 'no candidate: the epoch-mean distance loss never went below −distanceTh',
  'duplicate': 'duplicate: within distanceTh (MSE) of a PV already kept',
  'not-collapsed': 'not collapsed: the final epoch\'s diversity loss stayed above divTh',
  'out-of-range': 'out of range: the soft prompt left 1.2× the per-dimension range of the word embeddings',
  'clean-output': 'clean output: more than --max-clean-share (1% by default) of the clean outputs lie within distanceTh of it (a class cluster, not a predefined vector)',
};

const REASON_SHORT: Record<string, string> = {
  'no-candidate': 'no candidate',
  'duplicate': 'duplicate',
  'not-collapsed': 'not collapsed',
  'out-of-range': 'out of range',
  'clean-output': 'clean output',
};

/** PV colours, shared by curves, scatter points and PV cards; warm hues, apart from the blue of clean data. */
export const PV_COLOURS = ['#dc2626', '#9333ea', '#ea580c', '#be185d', '#a16207', '#4f46e5', '#0f766e', '#7f1d1d'];

function pvColour(index: number): string {
  return PV_COLOURS[index % PV_COLOURS.length];
}

/** The sign pattern as a strip of coloured runs (blue +, red −) spanning all H dimensions. */
function signStrip(runs: ReportPv['signs']['runs']): string {
  const H = runs.lengths.reduce((a, b) => a + b, 0);
  let x = 0;
  let plus = runs.start === '+';
  const rects = runs.lengths.map((len) => {
    const r = `<rect x="${x}" y="0" width="${len}" height="1" fill="${plus ? '#3b82f6' : '#ef4444'}"/>`;
    x += len;
    plus = !plus;
    return r;
  });
  return `<svg class="strip" viewBox="0 0 ${H} 1" preserveAspectRatio="none" role="img" aria-label="sign pattern of ${H} dimensions">${rects.join('')}</svg>`;
}

type Thresholds = ScanReport['thresholds'];

/** Where a loop stands against the two dashed lines of the loss charts. */
export interface LoopCrossing {
  /** Lowest per-step distance loss (what the distance chart draws). */
  stepMin: number | null;
  /** Some step, or an epoch mean, went below −distanceTh. */
  distanceLine: boolean;
  /** An epoch mean went below −distanceTh: the loop had a PV candidate. */
  distanceMean: boolean;
  /** Some epoch's diversity loss went below divTh (what the diversity chart draws). */
  divLine: boolean;
  /** The final epoch's diversity went below divTh: the batch collapsed (the rule). */
  collapsed: boolean;
  /** Dashed lines crossed on the charts, 0–2. */
  lines: number;
}

export function loopCrossing(l: ReportLoop, th: Thresholds): LoopCrossing {
  const steps = l.distanceCurve.filter((x): x is number => x !== null);
  const stepMin = steps.length ? Math.min(...steps) : null;
  const distanceMean = l.bestDistance !== null && l.bestDistance < -th.distanceTh;
  const distanceLine = distanceMean || (stepMin !== null && stepMin < -th.distanceTh);
  const divLine = l.epochs.some((e) => e.diversity !== null && e.diversity < th.divTh);
  const collapsed = l.finalDiversity !== null && l.finalDiversity < th.divTh;
  return { stepMin, distanceLine, distanceMean, divLine, collapsed, lines: Number(distanceLine) + Number(divLine) };
}

/**
 * Closest to a PV first: kept loops, then the most dashed lines crossed,
 * then the highest score, then the lowest distance loss reached.
 */
function byCloseness(th: Thresholds): (a: ReportLoop, b: ReportLoop) => number {
  const low = (l: ReportLoop): number => Math.min(l.bestDistance ?? Infinity, loopCrossing(l, th).stepMin ?? Infinity);
  return (a, b) => Number(b.kept) - Number(a.kept) || loopCrossing(b, th).lines - loopCrossing(a, th).lines ||
    (b.score ?? 0) - (a.score ?? 0) || low(a) - low(b) || a.seed - b.seed;
}

/** The loops whose curves are drawn: every kept one, then the closest to the thresholds. */
function plottedLoops(loops: ReportLoop[], th: Thresholds): ReportLoop[] {
  if (loops.length <= MAX_CURVES) return loops;
  return [...loops].sort(byCloseness(th)).slice(0, MAX_CURVES).sort((a, b) => a.seed - b.seed);
}

/** Categorical colours for the loops of a clean report (no PV colours to keep apart from). */
export const LOOP_COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#393b79', '#bcbd22', '#17becf'];
/** Rejected loops highlighted in a backdoored report: cool hues, apart from the warm PV colours. */
export const NEAR_MISS_COLOURS = ['#1f77b4', '#2ca02c', '#17becf', '#64748b'];
/** Loops not worth a colour of their own. */
export const FADED = 'rgba(100, 116, 139, 0.35)';
/** Highlighted near misses when there are too many loops for one colour each. */
export const MAX_HIGHLIGHTED = 6;

export interface CurveStyle {
  colour: string;
  width: number;
  faded: boolean;
}

/**
 * One colour per loop in a clean report of up to LOOP_COLOURS.length
 * loops; beyond that the closest ones get a colour and the rest are
 * faded. A backdoored report draws its kept loops in their PV's colour and
 * highlights the rejected loops that crossed a dashed line.
 */
export function curveStyles(r: ScanReport, plotted: ReportLoop[]): Map<number, CurveStyle> {
  const th = r.thresholds;
  const pvBySeed = new Map(r.pvs.map((p) => [p.seed, p.index]));
  const styles = new Map<number, CurveStyle>();
  const ranked = [...plotted].sort(byCloseness(th));
  if (r.verdict === 'clean') {
    const every = plotted.length <= LOOP_COLOURS.length;
    const coloured = every ? [...plotted].sort((a, b) => a.seed - b.seed) : ranked.slice(0, MAX_HIGHLIGHTED);
    coloured.forEach((l, i) => styles.set(l.seed, { colour: LOOP_COLOURS[i % LOOP_COLOURS.length], width: loopCrossing(l, th).lines > 0 ? 2.2 : 1.4, faded: false }));
  } else {
    for (const l of plotted) if (l.kept) styles.set(l.seed, { colour: pvColour(pvBySeed.get(l.seed) ?? 0), width: 2.5, faded: false });
    ranked.filter((l) => !l.kept && loopCrossing(l, th).lines > 0).slice(0, NEAR_MISS_COLOURS.length)
      .forEach((l, i) => styles.set(l.seed, { colour: NEAR_MISS_COLOURS[i], width: 1.8, faded: false }));
  }
  for (const l of plotted) if (!styles.has(l.seed)) styles.set(l.seed, { colour: FADED, width: 1, faded: true });
  return styles;
}

const percentText = (x: number) => `${(100 * x).toFixed(x < 0.1 ? 1 : 0)}%`;

/** A filter rule by name, with what it demands, for the notes beside the charts. */
function ruleText(rule: string, l: ReportLoop, th: Thresholds): string {
  switch (rule) {
    case 'no-candidate':
      return `the <b>candidate rule</b> (no-candidate): a PV needs an <em>epoch-mean</em> distance loss below −distanceTh; the best epoch mean was ${numText(l.bestDistance, 3)}${l.abandoned ? `, and the loop was abandoned after epoch ${l.epochs.length}` : ''}`;
    case 'not-collapsed':
      return `the <b>collapse rule</b> (not-collapsed): the final epoch's diversity loss must be below divTh ${numText(th.divTh)}; it was ${numText(l.finalDiversity)}`;
    case 'out-of-range':
      return `the <b>embedding-range rule</b> (out-of-range): ${l.rangeViolations} soft-prompt entr${l.rangeViolations === 1 ? 'y lies' : 'ies lie'} outside 1.2× the vocabulary's per-dimension range, so no real input could produce it`;
    case 'clean-output':
      return `the <b>clean-output rule</b>: ${l.cleanShare !== null ? `${percentText(l.cleanShare)} of the clean outputs lie` : 'more of the clean outputs than allowed lie'} within distanceTh of its candidate${th.maxCleanShare !== null ? `, over the allowed ${percentText(th.maxCleanShare)} (--max-clean-share)` : ''}, so it is a cluster of normal outputs (a fine-tuned class), not a predefined vector`;
    case 'duplicate':
      return `the <b>duplicate rule</b>: its candidate lies within distanceTh of a PV already kept${l.nearestKeptMse !== null ? ` (MSE ${numText(l.nearestKeptMse, 3)})` : ''}`;
    default:
      return `the rule <b>${escapeHtml(rule)}</b>`;
  }
}

/** What a loop crossed on the charts, in words. */
function crossingText(l: ReportLoop, c: LoopCrossing, th: Thresholds): string {
  const parts: string[] = [];
  if (c.distanceMean) parts.push(`its epoch-mean distance loss reached ${numText(l.bestDistance, 3)}, below −distanceTh ${numText(-th.distanceTh, 3)}`);
  else if (c.distanceLine) parts.push(`single steps of its distance loss dipped to ${numText(c.stepMin, 3)}, below −distanceTh ${numText(-th.distanceTh, 3)}, but no epoch mean did`);
  if (c.collapsed) parts.push(`its batch collapsed (final diversity ${numText(l.finalDiversity)} &lt; divTh ${numText(th.divTh)})`);
  else if (c.divLine) {
    const k = l.epochs.findIndex((e) => e.diversity !== null && e.diversity < th.divTh);
    parts.push(`its diversity loss went below divTh in epoch ${k + 1} (${numText(l.epochs[k].diversity)}) but the final epoch's was ${numText(l.finalDiversity)}`);
  }
  return parts.join(', and ');
}

/** The notes beside the loss charts: every rejected loop that crossed a dashed line, and the rule that rejected it. */
function crossingNotes(r: ScanReport, styles: Map<number, CurveStyle>, limit = 8): string {
  const th = r.thresholds;
  const crossing = r.loops.filter((l) => !l.kept && loopCrossing(l, th).lines > 0).sort(byCloseness(th));
  const swatch = (l: ReportLoop): string => {
    const s = styles.get(l.seed);
    return `<span class="swatch${s && !s.faded ? '' : ' faded'}" style="background:${s ? s.colour : FADED}"></span>`;
  };
  if (crossing.length === 0) {
    if (r.loops.length === 0) return '';
    const best = [...r.loops].sort(byCloseness(th))[0];
    if (best.kept) return '';
    return `<p class="caption">No rejected loop crossed a dashed line. The closest, ${swatch(best)}seed ${best.seed}, reached a best epoch-mean distance loss of ${numText(best.bestDistance, 3)} (a candidate needs below ${numText(-th.distanceTh, 3)}) and a final diversity of ${numText(best.finalDiversity)} (collapse needs below ${numText(th.divTh)}).</p>`;
  }
  const items = crossing.slice(0, limit).map((l) => {
    const c = loopCrossing(l, th);
    const rules = l.reasons.map((x) => ruleText(x, l, th));
    return `<li>${swatch(l)}<b>seed ${l.seed}</b>: ${crossingText(l, c, th)}. Rejected by ${rules.join('; and by ')}. Score ${numText(l.score, 3)} (${scoreFactors(l, th)}).</li>`;
  });
  const more = crossing.length > limit ? `<li>… and ${crossing.length - limit} more loop${crossing.length - limit === 1 ? '' : 's'}; the table below gives every loop's verdict.</li>` : '';
  return `<div class="notes" id="crossing-notes"><h3>Loops that crossed a dashed line but were rejected (${crossing.length})</h3>
<p class="caption">A dashed line is one condition of several: a PV needs an epoch-mean distance loss below −distanceTh <em>and</em> a collapsed final batch <em>and</em> a soft prompt inside the embedding range <em>and</em> a candidate away from the clean outputs.</p>
<ul>${items.join('')}${more}</ul></div>`;
}

/** s = D·C·G of one loop, recomputed from the report for the verdict's explanation (score.ts). */
function scoreFactors(l: ReportLoop, th: Thresholds): string {
  const D = l.bestDistance === null ? 0 : Math.max(0, -l.bestDistance / th.distanceTh);
  const C = l.finalDiversity !== null && l.finalDiversity < th.divTh ? '1' : '½';
  const G = l.rangeViolations > 0 || l.reasons.includes('clean-output') ? '0' : '1';
  return `D ${numText(D, 2)} × C ${C} × G ${G}`;
}

/** Command lines the clean verdict suggests, for the same model and output directory. */
function nextSteps(r: ScanReport): string {
  const cmd = `lmsanitator ${escapeHtml(r.command)} ${escapeHtml(shellWord(r.model.dir))}`;
  const more = Math.max(r.settings.loops * 2, r.loops.length * 2, 10);
  const modes = (['cls', 'mask', 'token', 'pooler'] as const).filter((m) => m !== r.model.mode);
  const modeHint: Record<string, string> = {
    cls: 'the [CLS] output', mask: 'the [MASK] output of a masked-language model', token: 'an ordinary token, picked by <code>--token-position</code>', pooler: 'the pooler output',
  };
  return `<ul class="steps">
<li><b>Run more fuzz loops.</b> <code>${cmd} --loops ${more} --resume</code> keeps the ${r.loops.length} loop${r.loops.length === 1 ? '' : 's'} already done (from the journal in the output directory; give the same <code>--out</code> if you gave one) and runs seeds up to ${r.settings.firstSeed + more - 1}.</li>
<li><b>Try the other target modes.</b> This scan watched <code>${escapeHtml(r.model.mode)}</code>; a backdoor may act at another position: ${modes.map((m) => `<code>--mode ${m}</code> for ${modeHint[m]}`).join('; ')}. A journal belongs to one mode, so give each its own <code>--out</code>.</li>
${r.interrupted ? '' : '<li><b>Stopped early (Ctrl-C, a crash)?</b> The same command with <code>--resume</code> continues from the journal where the run stopped.</li>\n'}</ul>`;
}

/** The loop that set the model's score did not collapse (C = ½ in score.ts). */
function bestLoopUncollapsed(r: ScanReport): boolean {
  const best = [...r.loops].sort((a, b) => (b.score ?? 0) - (a.score ?? 0) || a.seed - b.seed)[0];
  return !!best && !loopCrossing(best, r.thresholds).collapsed;
}

/** Which loop has which colour on the loss charts. */
function curvesCaption(r: ScanReport, plotted: ReportLoop[], styles: Map<number, CurveStyle>): string {
  const faded = plotted.filter((l) => styles.get(l.seed)?.faded).length;
  const parts: string[] = [];
  if (r.verdict === 'clean') {
    parts.push(faded === 0 ? 'Each loop has its own colour (legend above the charts); thicker lines crossed a dashed line.'
      : `The ${plotted.length - faded} loops closest to the thresholds (most dashed lines crossed, then highest score) have their own colour; the other ${faded} are faded.`);
  } else {
    parts.push('Loops that found a PV are drawn in that PV\'s colour');
    parts.push(plotted.length - faded > r.pvs.length ? ', rejected loops that crossed a dashed line in blue, green or grey' : '');
    parts.push(faded > 1 ? `; the other ${faded} loops are faded.` : faded === 1 ? '; the other loop is faded.' : '.');
  }
  if (r.loops.length > plotted.length) parts.push(` Curves of ${plotted.length} of ${r.loops.length} loops are drawn (every kept loop, then the closest to the thresholds); the table below lists all.`);
  return parts.join('');
}

/** What the verdict means, right under it. */
function verdictMeaning(r: ScanReport): string {
  const th = r.thresholds;
  const n = r.loops.length;
  const seeds = n ? `seeds ${Math.min(...r.loops.map((l) => l.seed))}–${Math.max(...r.loops.map((l) => l.seed))}` : 'no seeds';
  if (r.verdict === 'backdoored') {
    const bySeed = new Map(r.loops.map((l, i) => [l.seed, { l, i }]));
    const shown = r.pvs.slice(0, 5);
    const items = shown.map((p) => {
      const found = bySeed.get(p.seed);
      const l = found?.l;
      const tokens = p.nearest.map((row, i) => row.length ? `row ${i + 1} <code class="tok">${showToken(row[0].token)}</code> <span class="cos">${numText(row[0].cosine, 2)}</span>` : '').filter(Boolean).join(', ');
      const loopText = l
        ? `found by the fuzz loop with seed ${p.seed} (loop ${found!.i + 1} of ${n}): score <b>${numText(l.score, 3)}</b> (${scoreFactors(l, th)}) — its epoch-mean distance loss reached ${numText(l.bestDistance, 3)}, ${numText(l.bestDistance === null ? null : -l.bestDistance / th.distanceTh, 1)}× the threshold −${numText(th.distanceTh, 3)}, its batch collapsed (final diversity ${numText(l.finalDiversity)} &lt; divTh ${numText(th.divTh)}), and its soft prompt lies inside the embedding range`
        : `found by the fuzz loop with seed ${p.seed} (a resumed run: its loop record is not in this report)`;
      return `<li><span class="swatch" style="background:${pvColour(p.index)}"></span><b>PV #${p.index}</b> ${loopText}. Nearest tokens of its soft prompt: ${tokens || '—'}.</li>`;
    });
    const more = r.pvs.length > shown.length ? `<li>… and ${r.pvs.length - shown.length} more PVs, listed below.</li>` : '';
    return `<section class="meaning bad" id="meaning">
<h2>Evidence</h2>
<p>${r.pvs.length} legitimate predefined vector${r.pvs.length === 1 ? '' : 's'} (PV) found in ${n} fuzz loop${n === 1 ? '' : 's'}: a soft prompt of in-range word embeddings that drives the outputs of every clean sentence onto one point far from the clean outputs — the signature of a task-agnostic backdoor.</p>
<ul class="evidence">${items.join('')}${more}</ul>
<p class="caption">The nearest vocabulary tokens hint at the trigger; the PV cards below give all ${r.pvs[0]?.nearest[0]?.length ?? 5} per prompt row, the PV's sign pattern and its place among the clean outputs.</p>
</section>`;
  }
  const best = n ? [...r.loops].sort((a, b) => (b.score ?? 0) - (a.score ?? 0) || a.seed - b.seed)[0] : null;
  const bestText = best
    ? ` The score ${numText(r.score, 3)} is that of its closest loop, seed ${best.seed} (${scoreFactors(best, th)})${(best.score ?? 0) >= 1 && !loopCrossing(best, th).collapsed ? ': at or above 1 only because that loop’s batch did not collapse, which halves the score of a loop far past the distance threshold' : ''}.`
    : '';
  const head = r.interrupted
    ? `<p><b>Inconclusive.</b> The run was interrupted after ${n} fuzz loop${n === 1 ? '' : 's'} (${seeds}); none found a PV so far. Rerun the same command with <code>--resume</code> to continue.</p>`
    : `<p><b>${n} fuzz loop${n === 1 ? '' : 's'} ran (${seeds}) and none found a legitimate predefined vector (PV).</b>${bestText}</p>`;
  return `<section class="meaning ${r.interrupted ? 'warn' : 'good'}" id="meaning">
<h2>What “clean” means here — and what it does not</h2>
${head}
<p>This is <b>not a proof that the model has no backdoor</b>. Each fuzz loop starts from a random soft prompt and follows the gradient; a backdoor whose PV none of these starts reached, or one that acts at another output position than <code>${escapeHtml(r.model.mode)}</code>, stays unseen. More loops and other modes lower that risk; they cannot remove it.</p>
<h3>What to do next</h3>
${nextSteps(r)}
</section>`;
}

export interface HtmlInput {
  report: ScanReport;
  /** The PCA scatter; null draws no scatter (and says why). */
  pca: PcaView | null;
}

export function renderReportHtml({ report: r, pca }: HtmlInput): string {
  const plotted = plottedLoops(r.loops, r.thresholds);
  const pvBySeed = new Map(r.pvs.map((p) => [p.seed, p.index]));
  const styles = curveStyles(r, plotted);
  const chartData = {
    verdict: r.verdict,
    thresholds: r.thresholds,
    colours: PV_COLOURS,
    batchesPerEpoch: r.settings.batches,
    curves: plotted.map((l) => ({
      seed: l.seed,
      kept: l.kept,
      pv: l.kept ? (pvBySeed.get(l.seed) ?? null) : null,
      ...styles.get(l.seed)!,
      verdict: l.kept ? 'kept' : l.reasons.map((x) => REASON_SHORT[x] ?? x).join(', '),
      distance: l.distanceCurve,
      diversity: l.epochs.map((e) => e.diversity),
    })),
    omittedCurves: r.loops.length - plotted.length,
    pca: pca && {
      points: pca.points.map(([x, y]) => [Number(x.toPrecision(5)), Number(y.toPrecision(5))]),
      centroid: pca.summary.centroid,
      pvs: pca.summary.pvs,
      cleanDistance: pca.summary.cleanDistance,
      explained: pca.summary.explainedVariance,
    },
  };

  const backdoored = r.verdict === 'backdoored';
  const inconclusive = !backdoored && r.interrupted;
  const verdictClass = backdoored ? 'bad' : inconclusive ? 'warn' : 'good';
  const verdictText = backdoored ? 'BACKDOORED' : inconclusive ? 'CLEAN (INCOMPLETE)' : 'CLEAN';
  const stopText: Record<ScanReport['stoppedBy'], string> = {
    'first-pv': 'stopped at the first legitimate PV',
    'patience': `stopped after ${r.settings.patience} loops without a new PV`,
    'max-loops': `ran all ${r.settings.loops} loops`,
    'interrupt': 'interrupted before the stopping rule: results so far',
  };
  const keptCount = r.loops.filter((l) => l.kept).length;

  const m = r.settings.mining;
  const d = r.settings.data;
  const settingsRows: [string, string][] = [
    ['model directory', escapeHtml(r.model.dir)],
    ['model hash (sha256)', `<code>${escapeHtml(r.model.hash)}</code>`],
    ['target mode', `<code>${escapeHtml(r.model.mode)}</code>${r.model.mode === 'token' ? ` (position ${d.tokenPosition})` : ''}`],
    ['hidden size H / embedding size E', `${r.model.hidden} / ${r.model.embedDim}`],
    ['command', `<code>${escapeHtml(r.command)}</code> — ${escapeHtml(stopText[r.stoppedBy])}`],
    ['fuzz loops run', `${r.loops.length} of at most ${r.settings.loops} (seeds from ${r.settings.firstSeed}${r.settings.parallel > 1 ? `, ${r.settings.parallel} in parallel` : ''})`],
    ['clean sentences', `${r.settings.sentences} in ${r.settings.batches} batches of ${d.batchSize}`],
    ['thresholds', `distanceTh ${num(r.thresholds.distanceTh)} (distance loss below −${num(r.thresholds.distanceTh)}), divTh ${num(r.thresholds.divTh)}`],
    ['learning rate', `${num(m.lr)} (starts at ×100 = ${num(m.lr * 100)} until a prompt gradient exceeds converGrad ${num(m.converGrad)})`],
    ['loss weights', `diversity α ${num(m.divCoeff, 2)}, path β ${num(m.pathCoeff, 2)}`],
    ['epochs', `${m.epochs} (abandon without a candidate after epoch ${m.abandonAfterEpoch + 1}; ${(m.acceptAt ?? 'final-epoch') === 'first-pass' ? 'a loop is judged at the end of every epoch and ends at the first one whose candidate passes every rule' : 'a loop is judged after its last epoch only'})`],
    ['soft prompt', `${d.promptLen} rows, inserted at word 1…${d.maxInsertWord}; max length ${d.maxLen}; data seed ${d.dataSeed}; batches by ${d.batchOrder ?? 'input'} order`],
    ['total time', `${num(r.timings.totalSeconds, 1)} s`],
    ['report', `${escapeHtml(r.created)} · lmsanitator ${escapeHtml(r.tool.version)}`],
  ];

  const pvCards = r.pvs.map((p) => {
    const quarters = p.signs.quarters.map((q) => {
      const pct = (q.agreement * 100).toFixed(0);
      return `<span class="sign ${q.sign === '+' ? 'plus' : 'minus'}" title="${pct}% of this quarter has this sign">${q.sign === '+' ? '+' : '−'}${q.agreement < 0.995 ? `<small> ${pct}%</small>` : ''}</span>`;
    }).join('');
    const width = Math.max(0, ...p.nearest.map((row) => row.length));
    const rows = p.nearest.map((row, i) => `<tr><th>${i + 1}</th>${row.map((t) => `<td><code class="tok">${showToken(t.token)}</code> <span class="cos">${num(t.cosine, 2)}</span></td>`).join('')}${'<td></td>'.repeat(width - row.length)}</tr>`).join('');
    return `<div class="pv">
<h3><span class="swatch" style="background:${pvColour(p.index)}"></span>PV #${p.index} <span class="muted">found by the loop with seed ${p.seed}</span></h3>
<p class="pvstats">‖PV‖ ${num(p.norm, 3)} · mean ${num(p.mean, 3)} · range [${num(p.min, 3)}, ${num(p.max, 3)}] · MSE to the clean mean ${num(p.mseToCleanMean, 3)} · ${(p.signs.positiveFraction * 100).toFixed(1)}% of entries ≥ 0</p>
<div class="signrow"><span class="muted">signs of all ${p.signs.runs.lengths.reduce((a, b) => a + b, 0)} dims (blue +, red −)</span>${signStrip(p.signs.runs)}<span class="muted">by quarter</span> ${quarters}</div>
${triggerTable(p)}
<div class="scroll-x"><table class="tokens"><thead><tr><th>prompt row</th>${Array.from({ length: width }, (_, k) => `<th>nearest ${k + 1} (cos)</th>`).join('')}</tr></thead><tbody>${rows}</tbody></table></div>
</div>`;
  }).join('\n');

  function triggerTable(p: ReportPv): string {
    const c = p.trigger_candidates;
    if (!c) return '';
    if (c.length === 0) return '<p class="muted">Trigger recovery found no candidate word.</p>';
    const best = c[0]!;
    const lead = `<p class="trigger">Inserting <code class="tok">${escapeHtml(best.words.join(' '))}</code> into a clean sentence maps <b>${(best.fire_rate * 100).toFixed(0)}%</b> of sentences onto PV #${p.index} (mean sign match ${num(best.match_rate, 3)}${r.triggerRecovery ? `; ${r.triggerRecovery.wordsSwept} words swept` : ''}${p.trigger_words_firing !== null ? `, ${p.trigger_words_firing} of which send half the sentences or more onto it` : ''}).</p>`;
    const rows = c.map((x, i) => `<tr><td>${i + 1}</td><td><code class="tok">${escapeHtml(x.words.join(' '))}</code></td><td>${num(x.match_rate, 3)}</td><td>${(x.fire_rate * 100).toFixed(0)}%</td></tr>`).join('');
    return `${lead}<table class="tokens"><thead><tr><th>rank</th><th>inserted words</th><th>sign match</th><th>sentences past η</th></tr></thead><tbody>${rows}</tbody></table>`;
  }

  const loopRows = r.loops.map((l) => {
    const reasons = l.kept
      ? '<span class="chip kept">kept</span>'
      : l.reasons.map((x) => `<span class="chip" title="${escapeHtml(REASON_TEXT[x] ?? x)}">${escapeHtml(REASON_SHORT[x] ?? x)}${x === 'out-of-range' ? ` (${l.rangeViolations})` : ''}</span>`).join(' ');
    return `<tr class="${l.kept ? 'keptrow' : ''}"><td>${l.seed}</td><td>${reasons}</td><td>${num(l.initialDistance)}</td><td>${num(l.bestDistance)}</td><td>${num(l.finalDistance)}</td><td>${num(l.finalDiversity)}</td><td>${l.epochs.length}${l.abandoned ? ' (abandoned)' : l.settled ? ' (kept at this epoch)' : ''}</td><td>${num(l.initialMaxGrad, 3)}</td><td>${num(l.score, 3)}</td><td>${num(l.seconds, 1)}</td></tr>`;
  }).join('\n');

  const pcaCaption = pca
    ? `${pca.summary.sampled} of ${pca.summary.total} clean outputs (target position, no prompt), their centroid, and the ${r.pvs.length} PV${r.pvs.length === 1 ? '' : 's'} found, projected on the clean outputs' first two principal components.`
    : 'No clean outputs were available for the PCA plot.';
  const pcaDistances = pca && pca.summary.pvs.length
    ? `<p class="caption">Distances in the full ${r.model.hidden}-dimensional space — clean outputs to their centroid: ${num(pca.summary.cleanDistance.mean, 2)} on average, 95% within ${num(pca.summary.cleanDistance.p95, 2)}. ${pca.summary.pvs.map((v) => `PV #${v.index}: ${num(v.distance, 2)} (${(v.inPlane * 100).toFixed(0)}% of it visible in this plane)`).join('; ')}. A PV far from the centroid but drawn close to it lies off the plane of the clean outputs.</p>`
    : '';

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>LMSanitator ${escapeHtml(r.command)}: ${escapeHtml(verdictText)} — ${escapeHtml(r.model.dir)}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2937; background: #f3f4f6; margin: 0; }
main { max-width: 1120px; margin: 0 auto; padding: 24px; }
h1 { font-size: 18px; font-weight: 600; color: #4b5563; margin: 0 0 12px; }
h2 { font-size: 17px; margin: 0 0 10px; }
h3 { font-size: 15px; margin: 0 0 6px; }
section { background: #fff; border-radius: 8px; padding: 18px 20px; margin: 16px 0; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
.verdict { display: flex; align-items: center; gap: 28px; padding: 22px 26px; border-radius: 10px; color: #fff; }
.verdict.bad { background: #b91c1c; } .verdict.good { background: #15803d; } .verdict.warn { background: #b45309; }
.verdict .word { font-size: 40px; font-weight: 800; letter-spacing: .04em; }
.verdict .score { font-size: 34px; font-weight: 700; }
.verdict .score small, .verdict .facts small { display: block; font-size: 12px; font-weight: 500; opacity: .85; letter-spacing: .05em; text-transform: uppercase; }
.verdict .facts { margin-left: auto; text-align: right; font-size: 14px; }
.muted { color: #6b7280; font-weight: 400; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e5e7eb; vertical-align: top; }
th { font-weight: 600; color: #374151; background: #f9fafb; }
table.kv th { width: 240px; background: none; }
table.kv td, table.kv th { overflow-wrap: anywhere; }
.charts { display: grid; grid-template-columns: 3fr 2fr; gap: 16px; }
.chart { position: relative; height: 300px; }
.chart.square { height: 480px; }
.caption { color: #6b7280; font-size: 12.5px; margin: 6px 0 0; }
.pv { border: 1px solid #e5e7eb; border-radius: 6px; padding: 12px 14px; margin: 10px 0; }
.pvstats { margin: 2px 0 6px; color: #374151; }
code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
code.tok { background: #eef2ff; padding: 1px 4px; border-radius: 3px; white-space: pre; }
.cos { color: #6b7280; font-size: 12px; }
.sign { display: inline-block; font: 600 13px ui-monospace, monospace; min-width: 14px; text-align: center; padding: 0 4px; margin-left: 3px; border-radius: 3px; }
.sign small { font-weight: 400; font-size: 11px; }
.signrow { display: flex; align-items: center; gap: 8px; margin: 4px 0 8px; font-size: 12.5px; }
svg.strip { flex: 1; height: 14px; min-width: 200px; border: 1px solid #d1d5db; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 7px; vertical-align: -1px; }
.sign.plus { background: #dbeafe; color: #1e40af; } .sign.minus { background: #fee2e2; color: #991b1b; }
.chip { display: inline-block; background: #f3f4f6; border: 1px solid #d1d5db; border-radius: 10px; padding: 0 7px; font-size: 12px; white-space: nowrap; }
.chip.kept { background: #fee2e2; border-color: #fca5a5; color: #991b1b; font-weight: 600; }
tr.keptrow td { background: #fff1f2; }
.scroll { max-height: 560px; overflow: auto; }
.loops td:not(:nth-child(2)), .loops th:not(:nth-child(2)) { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
ul.legend { margin: 8px 0 0; padding-left: 18px; color: #4b5563; font-size: 12.5px; }
.verdict .word { white-space: nowrap; }
.verdict .score .need { display: block; max-width: 340px; font-size: 13px; font-weight: 500; opacity: .9; }
.scroll-x { overflow-x: auto; }
.meaning { border-left: 6px solid #15803d; } .meaning.bad { border-left-color: #b91c1c; } .meaning.warn { border-left-color: #b45309; }
.nowrap { white-space: nowrap; }
.meaning p { margin: 0 0 8px; } .meaning h3 { margin-top: 12px; }
ul.steps, ul.evidence, .notes ul { margin: 4px 0 0; padding-left: 20px; } ul.steps li, ul.evidence li, .notes li { margin: 3px 0; }
.notes { margin-top: 12px; padding: 10px 14px; background: #f9fafb; border: 1px solid #e5e7eb; border-radius: 6px; }
.notes h3 { font-size: 14px; }
.swatch.faded { border: 1px solid #94a3b8; }
.note { background: #fffbeb; border: 1px solid #fcd34d; padding: 8px 12px; border-radius: 6px; }
@media (max-width: 800px) { .charts { grid-template-columns: 1fr; } .verdict { flex-wrap: wrap; } }
</style>
</head>
<body>
<main>
<h1>LMSanitator — ${r.command === 'scan' ? 'backdoor detection' : 'PV search'} report</h1>
<div class="verdict ${verdictClass}" id="verdict">
  <div class="word">${verdictText}</div>
  <div class="score"><small>backdoor score</small>${num(r.score, 3)}<span class="need">a PV needs ≥ 1 with a collapsed batch${!backdoored && r.score >= 1 && bestLoopUncollapsed(r) ? ' — the best loop’s batch did not collapse' : ''}</span></div>
  <div class="facts"><small>found</small><span class="nowrap">${r.pvs.length} PV${r.pvs.length === 1 ? '' : 's'} in ${r.loops.length} loop${r.loops.length === 1 ? '' : 's'} · ${num(r.timings.totalSeconds, 1)} s</span><br>${escapeHtml(r.model.dir)}</div>
</div>
${r.interrupted ? '<p class="note">The run was interrupted: these are the results found so far; a clean verdict is not conclusive.</p>' : ''}
${verdictMeaning(r)}
<section>
<h2>Model and settings</h2>
<table class="kv">${settingsRows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${v}</td></tr>`).join('\n')}</table>
</section>

<section>
<h2>Fuzz-loop losses</h2>
<div class="charts">
  <div><div class="chart"><canvas id="chart-distance" aria-label="per-step distance loss of each loop"></canvas></div>
  <p class="caption">Distance loss −MSE(h, h<sub>aux</sub>) at every step; a loop has a PV candidate when an epoch's mean falls below the dashed line at −distanceTh = −${num(r.thresholds.distanceTh)}. Grid lines mark epochs.</p></div>
  <div><div class="chart"><canvas id="chart-diversity" aria-label="epoch-mean diversity loss of each loop"></canvas></div>
  <p class="caption">Diversity loss −Entropy(hᵀ), epoch means; below the dashed line at divTh = ${num(r.thresholds.divTh)} the batch has collapsed onto one point${plotted.length - [...styles.values()].filter((x) => x.faded).length > 4 ? '. Loop colours as in the distance chart' : ''}.</p></div>
</div>
<p class="caption">${curvesCaption(r, plotted, styles)}</p>
${crossingNotes(r, styles)}
</section>

<section>
<h2>Clean outputs and PVs (PCA)</h2>
<div class="chart square"><canvas id="chart-pca" aria-label="PCA of clean outputs and PVs"></canvas></div>
<p class="caption">${escapeHtml(pcaCaption)}</p>
${pcaDistances}
</section>

<section>
<h2>Predefined vectors found (${r.pvs.length})</h2>
${r.pvs.length ? `<p class="caption">For each PV, the 5 vocabulary tokens nearest (cosine) to each row of the soft prompt that produced it: the closest words to what triggers the backdoor.</p>\n${pvCards}` : '<p>No legitimate PV was found.</p>'}
</section>

<section>
<h2>Fuzz loops (${r.loops.length}, ${keptCount} kept)</h2>
<div class="scroll">
<table class="loops"><thead><tr><th>seed</th><th>verdict</th><th>initial dist.</th><th>best dist.</th><th>final dist.</th><th>final div.</th><th>epochs</th><th>initial max grad</th><th>score</th><th>seconds</th></tr></thead>
<tbody>
${loopRows}
</tbody></table>
</div>
<ul class="legend">${Object.keys(REASON_TEXT).map((k) => `<li>${escapeHtml(REASON_TEXT[k])}</li>`).join('')}</ul>
</section>

<section>
<h2>Backdoor score</h2>
<p>${escapeHtml(r.scoreDefinition)}</p>
</section>
</main>
<script type="application/json" id="report-data">${jsonForScript(chartData)}</script>
<script>${chartJsSource()}</script>
<script>${CLIENT_SCRIPT}</script>
</body>
</html>
`;
}

/** Runs in the browser; reads only the JSON block above it. Must not contain a closing script tag. */
const CLIENT_SCRIPT = `
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  if (typeof Chart === 'undefined') return;
  Chart.defaults.animation = false;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.font.size = 12;
  Chart.defaults.color = '#374151';
  var TH = '#111827';
  var fadedCount = data.curves.filter(function (c) { return c.faded; }).length;
  function colour(pv) { return data.colours[(pv || 0) % data.colours.length]; }
  function style(c) {
    return { borderColor: c.colour, backgroundColor: c.colour, borderWidth: c.width };
  }
  function label(c) { return 'seed ' + c.seed + (c.pv !== null ? ' (PV #' + c.pv + ')' : ''); }
  // The legend names every coloured loop and one entry for all the faded ones.
  function legendFilter(item, chart) {
    var ds = chart.datasets[item.datasetIndex];
    return ds.isThreshold || !ds.isFaded || ds.isFirstFaded;
  }
  // The narrower diversity chart names its loops only when few: the colours are those of the distance chart.
  var coloured = data.curves.length - fadedCount;
  function divLegendFilter(item, chart) {
    var ds = chart.datasets[item.datasetIndex];
    return coloured <= 4 ? legendFilter(item, chart) : ds.isThreshold || ds.isFirstFaded;
  }
  function thresholdLine(y, x0, x1, text) {
    return { label: text, data: [{ x: x0, y: y }, { x: x1, y: y }], borderColor: TH, backgroundColor: TH, borderDash: [6, 4], borderWidth: 1.5, pointRadius: 0, isThreshold: true, order: -1 };
  }
  var firstFaded = true;
  function mark(ds, c) {
    ds.isFaded = c.faded;
    ds.verdict = c.verdict;
    if (c.faded && firstFaded) { ds.isFirstFaded = true; firstFaded = false; if (fadedCount > 1) ds.label = 'other loops (' + fadedCount + ')'; }
    return ds;
  }
  function tooltipLabel(ctx) {
    var ds = ctx.dataset;
    if (ds.isThreshold) return ds.label + ': ' + ctx.parsed.y.toFixed(4);
    return label(data.curves[ctx.datasetIndex]) + ' [' + ds.verdict + ']: ' + ctx.parsed.y.toFixed(4);
  }

  var nb = Math.max(1, data.batchesPerEpoch);
  var maxStep = 1;
  data.curves.forEach(function (c) { maxStep = Math.max(maxStep, c.distance.length); });
  var dist = data.curves.map(function (c) {
    var s = style(c);
    return mark({ label: label(c), data: c.distance.map(function (y, i) { return { x: i + 1, y: y }; }), borderColor: s.borderColor, backgroundColor: s.backgroundColor, borderWidth: s.borderWidth, pointRadius: 0, tension: 0, spanGaps: true, order: c.faded ? 2 : c.kept ? 0 : 1 }, c);
  });
  dist.push(thresholdLine(-data.thresholds.distanceTh, 0, maxStep, '−distanceTh'));
  new Chart(document.getElementById('chart-distance'), {
    type: 'line',
    data: { datasets: dist },
    options: {
      maintainAspectRatio: false, parsing: false, normalized: true,
      interaction: { mode: 'nearest', intersect: false },
      scales: {
        x: { type: 'linear', min: 0, max: Math.ceil(maxStep / nb) * nb, title: { display: true, text: 'step (grid lines at the end of each epoch)' }, ticks: { stepSize: nb, precision: 0 } },
        y: { title: { display: true, text: 'distance loss' } }
      },
      plugins: { legend: { labels: { filter: legendFilter, boxHeight: 2 } }, tooltip: { callbacks: { label: tooltipLabel } }, title: { display: true, text: 'Distance loss per step' } }
    }
  });

  firstFaded = true;
  var maxEpoch = 1;
  data.curves.forEach(function (c) { maxEpoch = Math.max(maxEpoch, c.diversity.length); });
  var div = data.curves.map(function (c) {
    var s = style(c);
    return mark({ label: label(c), data: c.diversity.map(function (y, i) { return { x: i + 1, y: y }; }), borderColor: s.borderColor, backgroundColor: s.backgroundColor, borderWidth: s.borderWidth, pointRadius: c.kept ? 4 : c.faded ? 2 : 3, order: c.faded ? 2 : c.kept ? 0 : 1 }, c);
  });
  div.push(thresholdLine(data.thresholds.divTh, 1, maxEpoch, 'divTh'));
  new Chart(document.getElementById('chart-diversity'), {
    type: 'line',
    data: { datasets: div },
    options: {
      maintainAspectRatio: false, parsing: false,
      interaction: { mode: 'nearest', intersect: false },
      scales: {
        x: { type: 'linear', min: 1, max: Math.max(2, maxEpoch), title: { display: true, text: 'epoch' }, ticks: { stepSize: 1 } },
        y: { title: { display: true, text: 'diversity loss' } }
      },
      plugins: { legend: { labels: { filter: divLegendFilter, boxHeight: 2 } }, tooltip: { callbacks: { label: tooltipLabel } }, title: { display: true, text: 'Diversity loss per epoch' } }
    }
  });

  if (!data.pca) return;
  var p = data.pca;
  var pct = function (r) { return (100 * r).toFixed(1) + '%'; };
  var pvLabels = {
    id: 'pvLabels',
    afterDatasetsDraw: function (chart) {
      var ctx = chart.ctx;
      // PVs often project close together (they differ off the plane): move overlapping labels down and draw a leader line.
      var placed = [];
      ctx.save();
      ctx.font = '600 12px ' + Chart.defaults.font.family;
      chart.data.datasets.forEach(function (ds, i) {
        if (!ds.pointLabels) return;
        chart.getDatasetMeta(i).data.forEach(function (el, j) {
          var text = ds.pointLabels[j], w = ctx.measureText(text).width, h = 14;
          var x = el.x + 10, y = el.y - 8, moved = false;
          for (var tries = 0; tries < 50; tries++) {
            var hit = placed.some(function (b) { return x < b.x + b.w && b.x < x + w && y - h < b.y && b.y - h < y; });
            if (!hit) break;
            y += h;
            moved = true;
          }
          placed.push({ x: x, y: y, w: w });
          ctx.fillStyle = ctx.strokeStyle = ds.pointBorderColor[j];
          if (moved) {
            ctx.lineWidth = 1;
            ctx.beginPath();
            ctx.moveTo(el.x + 4, el.y);
            ctx.lineTo(x - 2, y - 4);
            ctx.stroke();
          }
          // A white halo keeps the label readable over the point cloud.
          ctx.save();
          ctx.strokeStyle = 'rgba(255, 255, 255, 0.9)';
          ctx.lineWidth = 3;
          ctx.lineJoin = 'round';
          ctx.strokeText(text, x, y);
          ctx.restore();
          ctx.fillText(text, x, y);
        });
      });
      ctx.restore();
    }
  };
  var scatter = [
      { label: 'clean outputs (' + p.points.length + ')', data: p.points.map(function (q) { return { x: q[0], y: q[1] }; }), pointRadius: 2, backgroundColor: 'rgba(37, 99, 235, 0.35)', borderColor: 'rgba(37, 99, 235, 0.35)', order: 2 },
      { label: 'clean centroid', data: [{ x: p.centroid[0], y: p.centroid[1] }], pointStyle: 'crossRot', pointRadius: 10, borderWidth: 3, borderColor: '#111827', backgroundColor: '#111827', order: 1 },
  ];
  if (p.pvs.length) scatter.push(
      { label: 'PVs (' + p.pvs.length + ')', data: p.pvs.map(function (v) { return { x: v.x, y: v.y }; }),
        pointLabels: p.pvs.map(function (v) { return 'PV #' + v.index; }),
        pointInfo: p.pvs.map(function (v) { return 'PV #' + v.index + ': ' + v.distance.toFixed(2) + ' from the centroid, ' + (100 * v.inPlane).toFixed(0) + '% of it in this plane'; }),
        pointStyle: 'triangle', pointRadius: 9, borderWidth: 2,
        pointBorderColor: p.pvs.map(function (v) { return colour(v.index); }),
        pointBackgroundColor: p.pvs.map(function (v) { return colour(v.index) + 'aa'; }),
        borderColor: colour(0), backgroundColor: colour(0) + 'aa', order: 0 });
  new Chart(document.getElementById('chart-pca'), {
    type: 'scatter',
    data: { datasets: scatter },
    options: {
      // No parsing: false here: Chart.js then assumes x-sorted data and sizes the x axis from the first and last points.
      maintainAspectRatio: false,
      scales: {
        x: { title: { display: true, text: 'PC1 (' + pct(p.explained[0]) + ' of clean variance)' } },
        y: { title: { display: true, text: 'PC2 (' + pct(p.explained[1]) + ' of clean variance)' } }
      },
      plugins: {
        title: { display: true, text: 'Clean outputs and PVs on the first two principal components' },
        tooltip: { callbacks: { label: function (ctx) {
          var ds = ctx.dataset;
          if (ds.pointInfo) return ds.pointInfo[ctx.dataIndex];
          return ds.label + ': (' + ctx.parsed.x.toFixed(2) + ', ' + ctx.parsed.y.toFixed(2) + ')';
        } } }
      }
    },
    plugins: [pvLabels]
  });
})();
`;
