/**
 * paper.html: every table of paper.json as the paper prints it, our value
 * beside the paper's in each cell with the difference coloured (close /
 * mid / far by the table's tolerance), each missing value with a numbered
 * reason under its table, one sentence per table on where we differ and
 * why, the paper's own table in a <details>, and the figures drawn with
 * Chart.js (inlined: the page makes no network request). Every string
 * from the run is escaped.
 */
import { chartJsSource, escapeHtml, jsonForScript } from '../report-html.js';
import type { FigureView, PaperReport, TableEntry, TableView } from './tables.js';

const BINS = 50;

function num(x: number, unit: TableView['unit']): string {
  if (unit === 'percent') return Math.abs(x) < 1 ? x.toFixed(2) : x.toFixed(1);
  if (unit === 'fraction') return x.toFixed(2);
  return Number.isInteger(x) ? String(x) : x.toFixed(1);
}

function signed(x: number, unit: TableView['unit']): string {
  const s = num(Math.abs(x), unit);
  return x > 0 ? `+${s}` : x < 0 ? `−${s}` : `±${s}`;
}

/** One table cell: ours, the paper's, the difference; or the reason's footnote number. */
export function entryHtml(e: TableEntry, unit: TableView['unit'], footnote: (reason: string) => number, anchor = 'why'): string {
  const title = [e.note, e.cells.length ? `cells: ${e.cells.join(', ')}` : ''].filter(Boolean).join(' — ');
  const paper = e.paper === null ? '<span class="paper none">paper —</span>' : `<span class="paper">paper ${escapeHtml(e.paper_text ?? num(e.paper, unit))}</span>`;
  if (e.ours === null) {
    const n = footnote(e.reason ?? 'no value');
    return `<td class="missing" title="${escapeHtml(title)}"><span class="ours">—</span>${paper}<a class="why" href="#${anchor}-${n}">[${n}]</a></td>`;
  }
  const ours = e.text ? `${escapeHtml(e.text)} <small>(${num(e.ours, unit)})</small>` : num(e.ours, unit);
  const sd = e.sd !== undefined ? ` <small>±${num(e.sd, unit)}, n=${e.n}</small>` : '';
  const delta = e.diff === null ? '' : `<span class="delta">${signed(e.diff, unit)}</span>`;
  const mark = e.note ? '<sup title="note">*</sup>' : '';
  return `<td class="diff-${e.diff_class}" title="${escapeHtml(title)}"><span class="ours">${ours}${sd}${mark}</span>${paper}${delta}</td>`;
}

export function tableHtml(t: TableView): string {
  const reasons: string[] = [];
  const footnote = (r: string) => {
    let i = reasons.indexOf(r);
    if (i < 0) i = reasons.push(r) - 1;
    return i + 1;
  };
  const groupRow = t.groups.length ? `<tr><th></th>${t.groups.map((g) => `<th colspan="${g.span}">${escapeHtml(g.label)}</th>`).join('')}</tr>` : '';
  const colRow = `<tr><th>ours (paper row)</th>${t.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr>`;
  const body = t.rows.map((r) => {
    const label = `<th class="row">${escapeHtml(r.label)}${r.paper_row ? `<br><small>paper: ${escapeHtml(r.paper_row)}</small>` : ''}</th>`;
    return `<tr>${label}${r.entries.map((e) => entryHtml(e, t.unit, footnote, `${t.id}-why`)).join('')}</tr>`;
  }).join('\n');
  const list = reasons.map((r, i) => `<li id="${t.id}-why-${i + 1}">${escapeHtml(r)}</li>`).join('\n');
  return `<section id="${t.id}">
<h2>${escapeHtml(t.title)}</h2>
<p class="caption">${escapeHtml(t.caption)}</p>
<p class="summary"><strong>Where we differ:</strong> ${escapeHtml(t.summary)}</p>
<div class="scroll"><table class="paper-table"><thead>${groupRow}${colRow}</thead>
<tbody>${body}</tbody></table></div>
${reasons.length ? `<p class="reasons-head">Why a cell is empty:</p><ol class="reasons">${list}</ol>` : ''}
<details><summary>The paper's ${escapeHtml(t.title.split(':')[0]!)} as printed (from the extracted text)</summary><ul class="published">${t.published.map((p) => `<li>${escapeHtml(p)}</li>`).join('')}</ul></details>
</section>`;
}

function figureHtml(f: FigureView): string {
  const missing = f.missing.length ? `<p class="reasons-head">Not drawn:</p><ul class="reasons">${f.missing.map((m) => `<li><strong>${escapeHtml(m.label)}</strong>: ${escapeHtml(m.reason)}</li>`).join('')}</ul>` : '';
  const paper = f.paper.length ? `<p class="paper-values">The paper: ${f.paper.map((p) => `${escapeHtml(p.row)}, ${escapeHtml(p.column)}: ${escapeHtml(p.printed ?? 'only in the figure')}${p.note ? ` (${escapeHtml(p.note)})` : ''}`).join('; ')}</p>` : '';
  let canvases = '';
  if (f.id === 'fig6') canvases = f.fig6?.length ? '<canvas id="fig6-chart" width="760" height="320"></canvas>' : '';
  else canvases = (f.fig14 ?? []).map((p, i) => `<figure><figcaption>${escapeHtml(p.label)}: FRR ${p.frr === null ? '—' : (100 * p.frr).toFixed(2)}%, FAR ${p.far === null ? '—' : (100 * p.far).toFixed(2)}%</figcaption><canvas id="fig14-${i}" width="640" height="240"></canvas></figure>`).join('\n');
  return `<section id="${f.id}">
<h2>${escapeHtml(f.title)}</h2>
<p class="caption">${escapeHtml(f.caption)}</p>
<p class="summary"><strong>Where we differ:</strong> ${escapeHtml(f.summary)}</p>
${canvases}
${missing}
${paper}
</section>`;
}

function cellsHtml(r: PaperReport): string {
  const rows = r.cells.map((c) => `<tr class="st-${c.status}"><td><code>${escapeHtml(c.id)}</code></td><td>${c.status}</td><td>${c.seconds === undefined ? '' : c.seconds.toFixed(1)}</td><td>${escapeHtml(c.reason ?? '')}</td></tr>`).join('\n');
  return `<section id="cells"><h2>Cells</h2>
<p>${Object.entries(r.counts).map(([k, v]) => `${v} ${k}`).join(', ')}; ${r.seconds_total.toFixed(0)} s of cell time in all (each cell counted in the run that finished it). Every number with its configuration, seeds and model sha256s is in <code>paper.json</code>.</p>
<details><summary>All ${r.cells.length} cells</summary><table class="cells"><thead><tr><th>cell</th><th>status</th><th>seconds</th><th>reason</th></tr></thead><tbody>${rows}</tbody></table></details>
</section>`;
}

export function paperHtml(r: PaperReport): string {
  const fig6 = r.figures.find((f) => f.id === 'fig6');
  const fig14 = r.figures.find((f) => f.id === 'fig14');
  const data = {
    fig6: (fig6?.fig6 ?? []).map((s) => ({ label: `${s.model}, ${s.attack}`, points: s.points.map((p) => ({ x: p.loop, y: 100 * p.recall })) })),
    fig14: (fig14?.fig14 ?? []).map((p) => ({ clean: p.clean, triggered: p.triggered })),
    labels: Array.from({ length: BINS }, (_, i) => (i / BINS).toFixed(2)),
    eta: fig14?.eta ?? 0.8, bins: BINS,
  };
  const nav = [...r.tables, ...r.figures].map((t) => `<a href="#${t.id}">${escapeHtml(t.title.split(':')[0]!)}</a>`).join(' · ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>lmsanitator: the paper's evaluation</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em;max-width:110em;color:#222}
h2{margin-top:2em;border-bottom:1px solid #ddd}
.scroll{overflow-x:auto}
table.paper-table{border-collapse:collapse;font-size:12px}
.paper-table td,.paper-table th{border:1px solid #ccc;padding:.2em .35em;vertical-align:top;text-align:right;white-space:nowrap}
.paper-table th.row{text-align:left;white-space:normal;min-width:11em}
.paper-table td span{display:block}
.ours{font-weight:600}
.paper{color:#555}
.paper.none{color:#aaa}
.delta{font-size:11px}
td.diff-close{background:#dff3df}
td.diff-mid{background:#fbf0c9}
td.diff-far{background:#f8d3cf}
td.diff-none{background:#f4f4f4}
td.missing{background:#fff;color:#999}
a.why{font-size:11px}
.reasons{font-size:12px;color:#444}
.summary{background:#f6f8fa;padding:.4em .6em;border-left:3px solid #789}
.legend span{padding:0 .5em;margin-right:.5em}
table.cells{border-collapse:collapse;font-size:12px}
table.cells td{border:1px solid #ddd;padding:.1em .4em}
tr.st-done td:nth-child(2){color:#060}
tr.st-failed td:nth-child(2){color:#b00}
</style>
</head><body>
<h1>LMSanitator: the paper's evaluation, on this machine</h1>
<p>Budget <strong>${escapeHtml(r.budget.name)}</strong>: ${escapeHtml(r.budget.summary)}.</p>
<p>Zoo: ${r.zoo.map(escapeHtml).join(', ')}. Tables: ${r.tables_selected.map(escapeHtml).join(', ')}${r.tasks_selected ? `; tasks: ${r.tasks_selected.map(escapeHtml).join(', ')}` : ''}.
Made ${escapeHtml(r.created)} from commit <code>${escapeHtml(r.commit ?? 'unknown')}</code> on ${r.machine.cpus} CPU cores; data: <code>${escapeHtml(r.data_dir ?? 'none')}</code>.
The paper's numbers: ${escapeHtml(r.published_source)}.</p>
<p class="legend">Each cell: <strong>ours</strong>, the paper's value, ours − paper.
<span class="diff" style="background:#dff3df">close</span><span style="background:#fbf0c9">mid</span><span style="background:#f8d3cf">far</span><span style="background:#f4f4f4">no paper value</span>
(percent: within 5 / 15 points; fractions: 0.05 / 0.15; counts: 1 / 3). A dash with a number in brackets: no value, the reason is under the table.</p>
<nav>${nav} · <a href="#cells">cells</a></nav>
${r.tables.map(tableHtml).join('\n')}
${r.figures.map(figureHtml).join('\n')}
${cellsHtml(r)}
<script>${chartJsSource()}</script>
<script>
const DATA = ${jsonForScript(data)};
if (DATA.fig6.length) {
  new Chart(document.getElementById('fig6-chart'), {
    type: 'line',
    data: { datasets: DATA.fig6.map((s) => ({ label: s.label, data: s.points, stepped: true, pointRadius: 0 })) },
    options: { animation: false, responsive: false, parsing: true,
      scales: { x: { type: 'linear', ticks: { precision: 0 }, title: { display: true, text: 'fuzz loops' } }, y: { min: 0, max: 100, title: { display: true, text: 'PV recall (%)' } } } },
  });
}
const etaLine = { id: 'eta', afterDraw(chart) {
  const x = chart.scales.x, y = chart.scales.y, ctx = chart.ctx;
  const px = x.getPixelForValue(DATA.eta * DATA.bins - 0.5);
  ctx.save(); ctx.strokeStyle = '#c00'; ctx.lineWidth = 2; ctx.setLineDash([6, 4]); ctx.beginPath(); ctx.moveTo(px, y.top); ctx.lineTo(px, y.bottom); ctx.stroke();
  ctx.fillStyle = '#c00'; ctx.fillText('η = ' + DATA.eta, px + 4, y.top + 12); ctx.restore();
} };
DATA.fig14.forEach((p, i) => {
  new Chart(document.getElementById('fig14-' + i), {
    type: 'bar', plugins: [etaLine],
    data: { labels: DATA.labels, datasets: [
      { label: 'clean', data: p.clean, backgroundColor: 'rgba(40,110,200,0.6)' },
      { label: 'triggered', data: p.triggered, backgroundColor: 'rgba(220,80,40,0.6)' } ] },
    options: { animation: false, responsive: false, scales: { x: { title: { display: true, text: 'best match rate' } }, y: { title: { display: true, text: 'inputs' } } } },
  });
});
</script>
</body></html>
`;
}
