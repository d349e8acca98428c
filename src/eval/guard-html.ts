/**
 * guard.html: the `eval guard` table and, per task and PV case, the
 * histogram of best match rates of clean and of triggered test inputs with
 * η drawn (the paper's Fig. 14). Self-contained: Chart.js is inlined, no
 * network request; every string from the run is escaped.
 */
import { chartJsSource, escapeHtml, jsonForScript } from './report-html.js';
import type { GuardEvalReport } from './guard-eval.js';
import { promptTriggerWarnings } from './guarded.js';

const BINS = 50;

/** Counts of rates in [0, 1] over BINS equal bins (1.0 in the last). */
export function histogram(rates: readonly number[]): number[] {
  const h = new Array<number>(BINS).fill(0);
  for (const r of rates) h[Math.min(BINS - 1, Math.max(0, Math.floor(r * BINS)))]!++;
  return h;
}

const pct = (x: number | null | undefined) => (x === null || x === undefined ? 'n/a' : `${(100 * x).toFixed(1)}%`);

export function guardHtml(r: GuardEvalReport): string {
  const rows: string[] = [];
  const charts: { id: string; title: string; clean: number[]; triggered: number[] }[] = [];
  for (const c of r.cells) {
    for (const k of ['search', 'search+attacker'] as const) {
      const rec = c.cases[k];
      const g = rec?.figures;
      if (!g) continue;
      rows.push(`<tr><td>${escapeHtml(c.task)}</td><td>${k}</td><td>${rec!.pvs}</td><td>${pct(c.cacc)}</td><td>${pct(c.bacc)}</td><td>${pct(c.asr)}</td>`
        + `<td>${pct(g.accuracy_guarded)}</td><td>${pct(g.asr_guarded)}</td><td>${pct(g.frr)}</td><td>${pct(g.far)}</td><td>${pct(g.far_effective)}</td>`
        + `<td>${pct(g.purified)}</td><td>${pct(g.rejected)}</td><td>${g.candidates_per_flagged.toFixed(1)}</td></tr>`);
      charts.push({ id: `h${charts.length}`, title: `${c.task}, ${k} PVs (${rec!.pvs})`, clean: histogram(g.match_rates.clean), triggered: histogram(g.match_rates.triggered) });
    }
    const on = c.cases.onion?.onion;
    if (on) {
      rows.push(`<tr><td>${escapeHtml(c.task)}</td><td>ONION</td><td>-</td><td>${pct(c.cacc)}</td><td>${pct(c.bacc)}</td><td>${pct(c.asr)}</td>`
        + `<td>${pct(on.accuracy_onion)}</td><td>${pct(on.asr_onion)}</td><td colspan="6">bar ${on.bar}; ${on.test_inputs} test inputs; trigger kept in ${pct(on.trigger_kept)} of triggered inputs; ${on.words_removed_per_input.toFixed(2)} words removed per input</td></tr>`);
    }
  }
  const canvases = charts.map((c) => `<figure><figcaption>${escapeHtml(c.title)}</figcaption><canvas id="${c.id}" width="640" height="260"></canvas></figure>`).join('\n');
  const labels = Array.from({ length: BINS }, (_, i) => (i / BINS).toFixed(2));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>lmsanitator guard evaluation</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25em .5em;text-align:right}td:first-child,td:nth-child(2){text-align:left}figure{margin:1em 0}.warn{color:#a40}</style>
</head><body>
<h1>Guard evaluation: ${escapeHtml(r.method)}</h1>
<p>Backdoored backbone <code>${escapeHtml(r.backdoored.dir)}</code> (sha256 ${escapeHtml(r.backdoored.hash.slice(0, 12))}…), clean <code>${escapeHtml(r.clean.dir)}</code>.
η = ${r.threshold} (strict), windows of up to ${r.max_window} words, unpurified inputs: ${escapeHtml(r.on_unpurified)}.
Search in ${escapeHtml(r.search.mode)} mode found ${r.search.pvs} PVs${r.attacker_pvs !== null ? `; the "search+attacker" rows add the attack's ${r.attacker_pvs} ground-truth PVs (the paper's best case)` : ''}.
Triggers: ${r.triggers.map(escapeHtml).join(', ')}.</p>
<table><thead><tr><th>task</th><th>case</th><th>PVs</th><th>CACC</th><th>BACC</th><th>ASR</th><th>accuracy guarded</th><th>ASR guarded</th><th>FRR</th><th>FAR</th><th>FAR (attacks that worked)</th><th>purified</th><th>rejected</th><th>candidates / flagged</th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table>
${promptTriggerWarnings(r).map((w) => `<p class="warn">${escapeHtml(w)}</p>`).join('\n')}
<p>FRR: clean test inputs the monitor flags. FAR: triggered inputs it does not flag; "attacks that worked": among those whose prediction the trigger flipped without the guard. ONION uses the backbone's masked-LM pseudo-perplexity (no GPT-2 here).</p>
<h2>Match rates (clean vs triggered test inputs)</h2>
${canvases}
<script>${chartJsSource()}</script>
<script>
const DATA = ${jsonForScript({ charts, labels, eta: r.threshold, bins: BINS })};
const etaLine = { id: 'eta', afterDraw(chart) {
  const x = chart.scales.x, y = chart.scales.y, ctx = chart.ctx;
  const px = x.getPixelForValue(DATA.eta * DATA.bins - 0.5);
  ctx.save(); ctx.strokeStyle = '#c00'; ctx.lineWidth = 3; ctx.setLineDash([6, 4]); ctx.beginPath(); ctx.moveTo(px, y.top); ctx.lineTo(px, y.bottom); ctx.stroke();
  ctx.fillStyle = '#c00'; ctx.fillText('η = ' + DATA.eta, px + 4, y.top + 12); ctx.restore();
} };
for (const c of DATA.charts) {
  new Chart(document.getElementById(c.id), {
    type: 'bar', plugins: [etaLine],
    data: { labels: DATA.labels, datasets: [
      { label: 'clean', data: c.clean, backgroundColor: 'rgba(40,110,200,0.6)' },
      { label: 'triggered', data: c.triggered, backgroundColor: 'rgba(220,80,40,0.6)' } ] },
    options: { animation: false, responsive: false, scales: { x: { stacked: false, title: { display: true, text: 'best match rate' } }, y: { title: { display: true, text: 'inputs' } } } },
  });
}
</script>
</body></html>
`;
}
