/**
 * npm run bench:serve [-- --duration S] [--connections N] [--max-batch N]
 *                       [--model DIR --prompt DIR --pvs FILE] [--trigger WORD]
 *                       [--triggered-every K] [--threads N] [--json]
 * A load test of `lmsanitator serve` (src/serve/) with autocannon against
 * 127.0.0.1: the server runs as its own process (the CLI, as deployed),
 * --connections clients (default 200) keep one request each in flight for
 * --duration seconds (default 60), each request one input; every K-th
 * request (--triggered-every, default 8) is a triggered input, the others
 * clean. The same load runs twice, against a server with --max-batch N
 * (default 32, --max-wait-ms 5) and one with --max-batch 1, each after a
 * short warm-up; reported for each: requests/s, p50/p99 latency, errors,
 * timeouts, non-2xx answers (dropped = their sum, must be 0), mean batch
 * size; the throughput ratio batched / --max-batch 1 (goal ≥ 3); and the
 * triggered inputs: how many answers were flagged (must be all), and that
 * every flagged answer has its line in the audit log (request ids) and the
 * log has one line per flagged input the server counted. Each server is
 * stopped with SIGTERM and must exit 0. --threads N starts the servers with
 * LMS_NUM_THREADS=N OPENBLAS_NUM_THREADS=N (the engine's threads; on a
 * machine shared with the load generator and other jobs, 1 avoids waiting
 * on a descheduled GEMM thread). The engine ceiling printed first is the
 * engine alone in this process (its own threads): the ratio cannot exceed it.
 *
 * Without --model/--prompt/--pvs (all three or none) it builds, and says
 * so, a self-contained default: a random-weight bert-mini-shaped backbone
 * (4×256, bert-base-uncased vocabulary, initializer range 1.0 so that
 * different sentences get different first-token states), an untrained
 * P-tuning v2 SST-2 prompt (prefix 16, max length 128), and a PV set of the
 * sign vectors of 8 triggered inputs' monitored states (8 corpus sentences
 * with the trigger word inserted mid-sentence), so those are flagged; the
 * clean inputs are corpus sentences this random backbone does not already
 * flag (match rate ≤ η − 0.02 against every PV; how many were left out is
 * printed). With a real triple the triggered inputs are the same sentences
 * with --trigger (default "cf") inserted, and whether they are flagged is
 * the model's and PV set's business (reported, not assumed).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { Guard, monitorFor } from '../src/guard/guard.js';
import { loadModel, saveModel } from '../src/models/model.js';
import { createPromptModel, loadPrompt, predictBatch, type PromptModel, savePrompt } from '../src/prompt/index.js';
import { loadPvSet, savePvSet } from '../src/sanitizer/pvset.js';
import { readAuditLog } from '../src/serve/audit.js';
import { metricValue as metric } from '../src/serve/metrics.js';
import { insertWords, joinWords, splitWords } from '../src/text/words.js';
import { describeBackend } from '../src/engine/index.js';
import { openPrompt } from '../src/cli/prompt-io.js';
import { benchArgs, frozenRandomBackbone, sentencesOfLength } from './common.js';

const { json, argOf } = benchArgs();
const log = (...a: unknown[]) => {
  if (!json) console.log(...a);
};
const num = (name: string, dflt: number, min: number): number => {
  const v = argOf(name);
  const n = v === undefined ? dflt : Number(v);
  if (!Number.isFinite(n) || n < min || (min >= 1 && !Number.isInteger(n))) throw new Error(`${name} must be a number ≥ ${min}`);
  return n;
};
const duration = num('--duration', 60, 1);
const connections = num('--connections', 200, 1);
const maxBatch = num('--max-batch', 32, 2);
const every = num('--triggered-every', 8, 2);
const trigger = argOf('--trigger') ?? 'cf';
const threads = argOf('--threads') === undefined ? null : num('--threads', 1, 1);
const triple = ['--model', '--prompt', '--pvs'].map((k) => argOf(k));
if (triple.some((x) => x !== undefined) && triple.some((x) => x === undefined)) throw new Error('give all of --model, --prompt and --pvs, or none (the built-in default)');
const GOAL = 3;
const TRIGGERED_INPUTS = 8;
const CLEAN_POOL = 200;
const WARMUP_REQUESTS = 40;
const BIN = join(import.meta.dirname, '..', '..', 'bin', 'lmsanitator.js');

const tmp = mkdtempSync(join(tmpdir(), 'lms-bench-serve-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

// ---- inputs: corpus sentences of 16–40 tokens
const sentences = sentencesOfLength(6000, 'bench-serve', 16, 40, (s) => !splitWords(s).includes(trigger));
const withTrigger = (s: string) => {
  const w = splitWords(s);
  return joinWords(insertWords(w, w.length >> 1, [trigger]));
};
const triggered = sentences.slice(0, TRIGGERED_INPUTS).map(withTrigger);
let cleanPool = sentences.slice(TRIGGERED_INPUTS, TRIGGERED_INPUTS + CLEAN_POOL);

/** The monitored state (first token, prompt in place) of each input. */
function monitored(model: PromptModel, texts: string[]): Float32Array[] {
  const H = model.backbone.config.hiddenSize;
  const out: Float32Array[] = new Array(texts.length);
  predictBatch(model, texts.map((text) => ({ text })), {
    batchSize: 64,
    onBatch: (_b, f, index) => index.forEach((j, r) => (out[j] = Float32Array.from((f.hidden.data as Float32Array).subarray(r * H, (r + 1) * H)))),
  });
  return out;
}

let modelDir: string, promptDir: string, pvsFile: string;
let setup: string;
let inProcess: PromptModel;
let cleanLeftOut = 0;
if (triple[0]) {
  [modelDir, promptDir, pvsFile] = triple as [string, string, string];
  inProcess = openPrompt(promptDir, loadModel(modelDir));
  setup = `model ${modelDir}, prompt ${promptDir}, PV set ${pvsFile}; triggered inputs: "${trigger}" inserted mid-sentence`;
} else {
  modelDir = join(tmp, 'backbone');
  promptDir = join(tmp, 'sst2');
  pvsFile = join(tmp, 'pvset.safetensors');
  saveModel(modelDir, frozenRandomBackbone('bert-mini', 1.0));
  const loaded = loadModel(modelDir);
  savePrompt(promptDir, createPromptModel(loaded, { method: 'ptuning-v2', task: 'sst2', prefixLen: 16, maxLen: 128, seed: 1 }));
  const prompt = loadPrompt(promptDir, loaded).model;
  inProcess = prompt;
  const H = loaded.config.hiddenSize;
  const pvs = monitored(prompt, triggered).map((h) => Float32Array.from(h, (x) => (x >= 0 ? 1 : -1)));
  savePvSet(pvsFile, {
    modelHash: loaded.hash, modelDir, mode: 'cls', hidden: H, promptLen: 1, embedDim: H, hyperParameters: { bench: 'serve' }, command: 'search',
    created: new Date().toISOString(), toolVersion: 'bench', pvs, prompts: pvs.map(() => new Float32Array(H)), seeds: pvs.map((_, i) => i + 1),
  });
  // Clean inputs: sentences this random backbone does not flag already, with a margin.
  const guard = new Guard(prompt, monitorFor(prompt, loadPvSet(pvsFile), pvsFile));
  const rates = guard.runMonitored(cleanPool.map((text) => ({ text }))).map((m) => m.match.rate);
  const before = cleanPool.length;
  cleanPool = cleanPool.filter((_, i) => rates[i]! <= guard.monitor.threshold - 0.02);
  cleanLeftOut = before - cleanPool.length;
  setup = `DEFAULT (no --model/--prompt/--pvs): random-weight bert-mini-shaped backbone (4×256, bert-base-uncased vocabulary, initializer range 1.0), `
    + `untrained P-tuning v2 SST-2 prompt (prefix 16), PV set = sign vectors of the ${TRIGGERED_INPUTS} triggered inputs ("${trigger}" inserted mid-sentence); `
    + `${cleanPool.length} clean sentences (${cleanLeftOut} of ${before} left out: this random backbone already flags them)`;
}
if (cleanPool.length < 10) throw new Error(`only ${cleanPool.length} clean sentences left`);

interface Served {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  exited: Promise<number | null>;
}

async function startServe(args: string[]): Promise<Served> {
  const child = spawn(process.execPath, [BIN, 'serve', modelDir, '--prompt', promptDir, '--pvs', pvsFile, '--port', '0', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'], env: threads === null ? process.env : { ...process.env, LMS_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) },
  });
  let err = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString('utf8');
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m && /\bready: /.test(err)) resolve(m[1]!);
    });
    void exited.then((code) => reject(new Error(`serve exited (${code}) before it was ready: ${err.trim()}`)));
  });
  return { child, url, stderr: () => err, exited };
}


type Row = Record<string, number | boolean | string>;

async function loadTest(batch: number): Promise<Row> {
  const audit = join(tmp, `audit-${batch}.jsonl`);
  const s = await startServe(['--max-batch', String(batch), '--max-wait-ms', '5', ...(process.env.BENCH_SERVE_NO_AUDIT ? [] : ['--audit-log', audit])]);
  const tag = `b${batch}`;
  const body = (text: string) => JSON.stringify({ inputs: [{ text }] });
  // Warm-up: a few requests of each kind, one at a time.
  for (let i = 0; i < WARMUP_REQUESTS; i++) {
    const r = await fetch(`${s.url}/v1/classify`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': `${tag}-warmup-${i}` }, body: body(i % 4 === 0 ? triggered[i % triggered.length]! : cleanPool[i % cleanPool.length]!) });
    if (r.status !== 200) throw new Error(`warm-up: status ${r.status}: ${await r.text()}`);
    await r.arrayBuffer();
  }
  let n = 0;
  const c = { triggered: 0, triggeredFlagged: 0, clean: 0, cleanFlagged: 0, purified: 0, rejected: 0, bad: 0 };
  const flaggedIds = new Set<string>();
  interface Ctx { id: string; kind: boolean }
  const result = await autocannon({
    url: s.url, connections, duration, pipelining: 1, timeout: 10,
    requests: [{
      method: 'POST', path: '/v1/classify', headers: { 'content-type': 'application/json' },
      setupRequest: (req: autocannon.Request, ctx: object) => {
        const k = n++;
        const trig = k % every === every - 1;
        const text = trig ? triggered[(k / every | 0) % triggered.length]! : cleanPool[k % cleanPool.length]!;
        Object.assign(ctx, { id: `${tag}-${k}`, kind: trig } satisfies Ctx);
        return { ...req, headers: { ...req.headers, 'x-request-id': `${tag}-${k}` }, body: body(text) };
      },
      onResponse: (status: number, resBody: string, ctx: object) => {
        const { id, kind } = ctx as unknown as Ctx;
        if (status !== 200) {
          c.bad++;
          return;
        }
        const r = (JSON.parse(resBody) as { results: { triggered: boolean; action: string }[] }).results[0]!;
        if (kind) c.triggered++;
        else c.clean++;
        if (r.triggered) {
          flaggedIds.add(id);
          if (kind) c.triggeredFlagged++;
          else c.cleanFlagged++;
        }
        if (r.action === 'purified') c.purified++;
        if (r.action === 'rejected') c.rejected++;
      },
    }],
  });
  // Let the requests in flight when the load stopped finish, then read the server's own counts.
  let m = '';
  for (let i = 0; i < 100; i++) {
    m = await (await fetch(`${s.url}/metrics`)).text();
    if (metric(m, 'lmsanitator_queue_rows') === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 300));
  m = await (await fetch(`${s.url}/metrics`)).text();
  s.child.kill('SIGTERM');
  const exitCode = await s.exited;

  const { records, torn } = process.env.BENCH_SERVE_NO_AUDIT ? { records: [], torn: false } : readAuditLog(readFileSync(audit, 'utf8'));
  const measured = records.filter((x) => !x.request_id.includes('warmup'));
  const auditIds = new Set(measured.map((x) => x.request_id));
  const missing = [...flaggedIds].filter((id) => !auditIds.has(id)).length;
  const serverFlagged = metric(m, 'lmsanitator_flagged_inputs_total');
  const batches = metric(m, 'lmsanitator_batch_rows_count');
  const rows = metric(m, 'lmsanitator_batch_rows_sum');
  const busy = metric(m, 'lmsanitator_batch_duration_seconds_sum');
  const dropped = result.errors + result.timeouts + result.non2xx + c.bad;
  return {
    max_batch: batch, requests_per_s: result.requests.average, requests: result.requests.total, sent: result.requests.sent,
    in_flight_at_stop: result.requests.sent - result.requests.total,
    latency_p50_ms: result.latency.p50, latency_p99_ms: result.latency.p99, latency_mean_ms: result.latency.average,
    errors: result.errors, timeouts: result.timeouts, non2xx: result.non2xx, dropped,
    triggered_answers: c.triggered, triggered_flagged: c.triggeredFlagged, clean_answers: c.clean, clean_flagged: c.cleanFlagged,
    purified: c.purified, rejected: c.rejected,
    audit_lines: records.length, audit_lines_measured: measured.length, audit_torn: torn, audit_missing_flagged: missing,
    server_flagged: serverFlagged, audit_matches_server: records.length === serverFlagged,
    batches, mean_batch_rows: batches ? rows / batches : 0, worker_busy_s: busy, exit_code: exitCode ?? -1,
  };
}

/**
 * The ceiling for the ratio: the engine's own time per input at batch 1 and at the batch size, in this
 * process, on clean inputs (best of 3 over the same 64 inputs), with no server, no HTTP and no purge.
 */
function engineCeiling(): { ms_per_input_batch_1: number; ms_per_input_batched: number; ratio: number } {
  const xs = Array.from({ length: 64 }, (_, i) => ({ text: cleanPool[i % cleanPool.length]! }));
  const time = (b: number) => {
    predictBatch(inProcess, xs.slice(0, b), { batchSize: b });
    let best = Infinity;
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now();
      for (let i = 0; i < xs.length; i += b) predictBatch(inProcess, xs.slice(i, i + b), { batchSize: b });
      best = Math.min(best, performance.now() - t0);
    }
    return best / xs.length;
  };
  const one = time(1);
  const many = time(maxBatch);
  return { ms_per_input_batch_1: one, ms_per_input_batched: many, ratio: one / many };
}

log(`backend: ${describeBackend()}`);
log(`setup: ${setup}`);
log(`load: autocannon, ${connections} connections × ${duration} s, one input per request, every ${every}th triggered; ${triggered.length} triggered and ${cleanPool.length} clean texts; server engine threads: ${threads ?? 'default'}`);
const ceiling = engineCeiling();
log(`engine alone (in process, clean inputs): ${ceiling.ms_per_input_batch_1.toFixed(2)} ms per input at batch 1, ${ceiling.ms_per_input_batched.toFixed(2)} ms at batch ${maxBatch}: batching can gain at most about ${ceiling.ratio.toFixed(2)}× on this machine`);
const runs: Row[] = [];
for (const b of [maxBatch, 1]) {
  const r = await loadTest(b);
  runs.push(r);
  const f = (x: unknown, d = 1) => (x as number).toFixed(d);
  log(`--max-batch ${b}: ${f(r.requests_per_s)} req/s (${r.requests} answered), latency p50 ${f(r.latency_p50_ms)} ms, p99 ${f(r.latency_p99_ms)} ms; mean batch ${f(r.mean_batch_rows, 2)} rows over ${r.batches} batches; worker busy ${f(r.worker_busy_s)} s`);
  log(`  errors ${r.errors}, timeouts ${r.timeouts}, non-2xx ${r.non2xx}: dropped ${r.dropped} (${r.dropped === 0 ? 'ok' : 'FAILED'}); ${r.in_flight_at_stop} in flight when the load stopped`);
  log(`  triggered: ${r.triggered_flagged} of ${r.triggered_answers} answers flagged (${r.triggered_flagged === r.triggered_answers ? 'ok' : 'MISSED'}); clean flagged ${r.clean_flagged} of ${r.clean_answers}; purified ${r.purified}, rejected ${r.rejected}`);
  log(`  audit log: ${r.audit_lines} lines (${r.audit_lines_measured} from the load), ${r.server_flagged} flagged inputs counted by the server (${r.audit_matches_server ? 'equal' : 'DIFFERENT'}); flagged answers missing from the log: ${r.audit_missing_flagged}; torn: ${r.audit_torn}; SIGTERM exit ${r.exit_code}`);
}
const ratio = (runs[0]!.requests_per_s as number) / (runs[1]!.requests_per_s as number);
log(`throughput, --max-batch ${maxBatch} / --max-batch 1: ${ratio.toFixed(2)}× (goal ≥ ${GOAL}: ${ratio >= GOAL ? 'ok' : 'MISSED'})`);
const allOk = runs.every((r) => r.dropped === 0 && r.triggered_flagged === r.triggered_answers && r.audit_missing_flagged === 0 && r.audit_matches_server && !r.audit_torn && r.exit_code === 0);
if (!allOk) log('FAILED: see the lines above');
if (json) console.log(JSON.stringify({ backend: describeBackend(), setup, duration, connections, triggered_every: every, threads, clean_left_out: cleanLeftOut, engine: ceiling, ratio, goal: GOAL, ok: allOk, runs }));
process.exitCode = allOk ? 0 : 1;
