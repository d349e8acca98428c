/**
 * GET /: a one-file page (no CDN, no external request: the script and the
 * style are inline, pinned by their sha256 in the Content-Security-Policy,
 * which also limits fetches to this server). A person picks a prompt,
 * pastes text and sees the label, the match rate against η, what the guard
 * did, and the removed words highlighted in the original text. Every
 * string from the server or the user is put in the page with textContent,
 * never as HTML.
 */
import { createHash } from 'node:crypto';

const STYLE = `
  body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 52rem; padding: 1rem 1.25rem; color: #1d2430; }
  h1 { font-size: 1.3rem; margin: 0.3rem 0 0.8rem; }
  label { display: block; font-weight: 600; margin: 0.6rem 0 0.2rem; }
  textarea, select { width: 100%; box-sizing: border-box; font: inherit; padding: 0.4rem; }
  textarea { min-height: 6rem; }
  button { margin-top: 0.7rem; font: inherit; padding: 0.35rem 1.2rem; }
  .hint { color: #5b6576; font-size: 0.9rem; }
  #result { margin-top: 1rem; border-top: 1px solid #d4d9e1; padding-top: 0.6rem; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.3rem 1rem; margin: 0; }
  dt { font-weight: 600; }
  dd { margin: 0; overflow-wrap: anywhere; }
  mark { background: #ffd24d; color: inherit; padding: 0 0.1rem; border-radius: 2px; }
  .flagged { color: #b3261e; font-weight: 600; }
  .clean { color: #1e7b34; font-weight: 600; }
  .text { white-space: pre-wrap; background: #f4f6f9; padding: 0.4rem; border-radius: 3px; }
  #error { color: #b3261e; font-weight: 600; margin-top: 0.7rem; }
`;

const SCRIPT = `
'use strict';
const $ = (id) => document.getElementById(id);
let info = null;

function put(id, text, cls) {
  const el = $(id);
  el.textContent = text;
  el.className = cls || '';
}

function selected() {
  return info ? info.prompts.find((p) => p.name === $('prompt').value) : undefined;
}

function showPair() {
  const p = selected();
  $('pair-row').hidden = !(p && p.pair);
}

/** The original text with every occurrence of a removed word marked (words are runs of non-whitespace, as the guard splits them). */
function highlighted(el, text, removed) {
  el.textContent = '';
  const drop = new Set(removed);
  for (const part of text.split(/(\\s+)/u)) {
    if (part === '') continue;
    if (drop.has(part)) {
      const m = document.createElement('mark');
      m.textContent = part;
      el.append(m);
    } else {
      el.append(document.createTextNode(part));
    }
  }
}

function render(r, input, requestId) {
  const eta = info.threshold;
  const label = r.label !== null ? r.label : r.tags ? r.words.map((w, i) => w + '/' + r.tags[i]).join(' ') : 'none (rejected)';
  put('label', label);
  put('probs', r.probs ? r.probs.map((x, i) => selected().labels[i] + ' ' + x.toFixed(4)).join(', ') : '—');
  const rate = r.match_rate.toFixed(4);
  put('match', r.triggered
    ? rate + ' > η ' + eta + ': flagged' + (r.pv === null ? '' : ' (PV ' + r.pv + ')')
    : rate + ' ≤ η ' + eta + ': not flagged', r.triggered ? 'flagged' : 'clean');
  put('action', r.action);
  put('purified', r.action === 'purified' ? 'yes: removed ' + r.removed.map((w) => JSON.stringify(w)).join(' ') : 'no');
  highlighted($('original'), input.text, r.removed);
  put('purified-text', r.purified_text === null ? '— (rejected)' : r.purified_text, 'text');
  put('request-id', requestId || '');
  $('result').hidden = false;
}

async function classify(ev) {
  ev.preventDefault();
  put('error', '');
  $('result').hidden = true;
  const input = { text: $('text').value };
  const p = selected();
  if (p && p.pair && $('text-pair').value !== '') input.text_pair = $('text-pair').value;
  $('go').disabled = true;
  try {
    const res = await fetch('/v1/classify', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: $('prompt').value, inputs: [input] }),
    });
    const body = await res.json();
    if (!res.ok) {
      put('error', res.status + ': ' + body.message);
      return;
    }
    render(body.results[0], input, res.headers.get('x-request-id'));
  } catch (e) {
    put('error', 'request failed: ' + e.message);
  } finally {
    $('go').disabled = false;
  }
}

async function start() {
  try {
    const res = await fetch('/v1/prompts');
    if (!res.ok) throw new Error((await res.json()).message);
    info = await res.json();
  } catch (e) {
    put('error', 'the model is not ready: ' + e.message + ' (reload the page in a moment)');
    return;
  }
  const sel = $('prompt');
  for (const p of info.prompts) {
    const o = document.createElement('option');
    o.value = p.name;
    o.textContent = p.name + ' (' + p.method + ', ' + p.task + ')';
    sel.append(o);
  }
  put('eta', String(info.threshold));
  sel.addEventListener('change', showPair);
  showPair();
  $('form').addEventListener('submit', classify);
  $('go').disabled = false;
  document.body.dataset.ready = '1';
}

start();
`;

const sha256 = (s: string) => `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`;

/** The Content-Security-Policy of the page: only its own inline script and style, fetches to this origin. */
export const PAGE_CSP = [
  "default-src 'none'", `script-src ${sha256(SCRIPT)}`, `style-src ${sha256(STYLE)}`, "connect-src 'self'",
  "img-src 'none'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join('; ');

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>lmsanitator serve</title>
<style>${STYLE}</style>
</head>
<body>
<h1>lmsanitator: guarded classification</h1>
<p class="hint">Each input goes through the PV sign monitor; a flagged input (match rate above η = <span id="eta">…</span>) has its trigger words deleted and is classified only if the purified text passes.</p>
<form id="form">
  <label for="prompt">Prompt</label>
  <select id="prompt"></select>
  <label for="text">Text</label>
  <textarea id="text" placeholder="paste a sentence"></textarea>
  <div id="pair-row" hidden>
    <label for="text-pair">Second segment (text_pair)</label>
    <textarea id="text-pair"></textarea>
  </div>
  <button id="go" type="submit" disabled>Classify</button>
</form>
<div id="error" role="alert"></div>
<section id="result" hidden>
  <dl>
    <dt>Label</dt><dd id="label"></dd>
    <dt>Probabilities</dt><dd id="probs"></dd>
    <dt>Match rate</dt><dd id="match"></dd>
    <dt>Action</dt><dd id="action"></dd>
    <dt>Purified</dt><dd id="purified"></dd>
    <dt>Original text</dt><dd><div id="original" class="text"></div></dd>
    <dt>Classified text</dt><dd><div id="purified-text" class="text"></div></dd>
    <dt>Request id</dt><dd id="request-id"></dd>
  </dl>
</section>
<script>${SCRIPT}</script>
</body>
</html>
`;
