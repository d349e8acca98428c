/**
 * npm run bench:guard [-- --json] [--shapes bert-mini,bert-micro] [--reps N]
 * Guard speed (src/guard/guard.ts, src/sanitizer/monitor.ts,
 * src/sanitizer/purge.ts) on a P-tuning v2 SST-2 model (prefix 16, max
 * length 128, seed 1) over a frozen random-weight backbone of the zoo's
 * shapes with the bert-base-uncased vocabulary, as ratios measured in one
 * run on real sentences of 32–42 tokens (nlp-corpus):
 *   - post-monitor overhead: `new Guard(model, monitor).run(inputs)` on 64
 *     clean inputs (one batch of 64, the guard's default batch size),
 *     divided by `predictBatch(model, inputs, {batchSize: 64})` of the same
 *     inputs. The monitor holds 8 random ±1 PVs: a clean output's signs
 *     agree with one on about half the dimensions, so none passes η 0.8
 *     (H = 256: the rate is Binomial(256, ½)/256) and nothing is purged;
 *     this is checked, and the clean inputs' FRR (share flagged) printed.
 *     Goal ≤ 1.02 (the monitor costs only a ±1 GEMM per batch);
 *   - pre-monitor overhead: the same with `{ monitor: 'pre' }` (a
 *     bare-backbone forward of the same rows first), divided by the same
 *     predictBatch; expected ≈ 2×;
 *   - purge time per flagged input, batched (the guard's path: `purgeMany`
 *     over all flagged inputs together, default chunk 64 rows and step 8
 *     candidates per input per round) vs one by one (`purge` per input with
 *     chunk 1, step 1: one row per forward), with `guard.runMonitored` as
 *     the run function, on 8 inputs made flagged by
 *     inserting a trigger word ("cf") mid-sentence and taking the sign vector
 *     of each one's monitored hidden state (first token, the state
 *     runMonitored reads, captured through predictBatch's onBatch hook) as
 *     a PV (8 PVs). With random weights the deletions rarely move the signs
 *     below η, so most inputs end 'rejected' after every candidate of
 *     windows 1–3 — which suits timing: both variants then run the very
 *     same candidates (checked: candidates per input, outcome, window and
 *     removed words must agree; where some input is purified the batched
 *     run counts up to step − 1 rows past its winner, and this is printed). Reported:
 *     candidates and forward batches per flagged input, ms per flagged
 *     input for each variant, and the ratio one-by-one / batched (goal ≥ 3).
 *     The guard's own `run` on the flagged inputs is checked once (untimed)
 *     to flag them all and to take the same actions and candidate counts.
 * Each repetition times the reference and the variants back to back on the
 * same inputs (in an order that rotates; purge: per flagged input), so the
 * machine's load is shared; times are medians over the repetitions (--reps,
 * default 10, after 2 warm-ups for the overheads, 1 for purge) and each
 * ratio is the median of the per-repetition ratios. --json prints one
 * object: the headline (bert-mini when listed) keys at the top level and
 * every shape under `shapes`.
 */
import { describeBackend, nativeAvailable } from '../src/engine/index.js';
import { Guard } from '../src/guard/guard.js';
import { createPromptModel, predictBatch, type PromptModel } from '../src/prompt/index.js';
import { SignMonitor } from '../src/sanitizer/monitor.js';
import { type GuardInput, purge, PURGE_DEFAULTS, purgeMany, type PurgeResult } from '../src/sanitizer/purge.js';
import { Rng } from '../src/text/random.js';
import { insertWords, joinWords, splitWords } from '../src/text/words.js';
import { benchArgs, bertShapes, frozenRandomBackbone as backboneFor, median, ratioOfMedians, repsArg, seconds, sentencesOfLength } from './common.js';

const { json, argOf } = benchArgs();
const shapes = bertShapes(argOf, 'bert-mini');
const reps = repsArg(argOf, 10);
const log = (...a: unknown[]) => {
  if (!json) console.log(...a);
};

const CLEAN_INPUTS = 64;
const BATCH = 64;
const CLEAN_PVS = 8;
const FLAGGED_INPUTS = 8;
const TRIGGER = 'cf';
const PREFIX = 16;
const WARMUP = 2;
const PURGE_WARMUP = 1;
const POST_GOAL = 1.02;
const PURGE_GOAL = 3;

const ratio = ratioOfMedians;

// Real sentences of about 40 tokens ([CLS] and [SEP] included).
const sentences = sentencesOfLength(12000, 'bench-guard', 32, 42);
const cleanTexts = sentences.slice(0, CLEAN_INPUTS);
const flaggedBase = sentences.slice(CLEAN_INPUTS, CLEAN_INPUTS + FLAGGED_INPUTS);
if (flaggedBase.length < FLAGGED_INPUTS) throw new Error(`only ${sentences.length} sentences of 32–42 tokens`);
// The trigger word mid-sentence (a word the sentence does not already hold, so deleting it is one candidate).
const flaggedInputs: GuardInput[] = flaggedBase.map((s) => {
  const w = splitWords(s);
  return { text: joinWords(insertWords(w, w.length >> 1, [TRIGGER])) };
});


/** The monitored hidden state (post-monitor: PromptForward.hidden, first token for v2) of each input, in input order. */
function monitoredHidden(model: PromptModel, inputs: readonly GuardInput[]): Float32Array[] {
  const H = model.backbone.config.hiddenSize;
  const out: Float32Array[] = new Array(inputs.length);
  predictBatch(model, inputs, {
    batchSize: BATCH,
    onBatch: (b, f, index) => {
      if (f.hidden.size !== b.B * H) throw new Error(`internal: monitored hidden is [${f.hidden.shape.join(', ')}], expected [${b.B}, ${H}]`);
      const d = f.hidden.data as Float32Array;
      index.forEach((j, r) => (out[j] = Float32Array.from(d.subarray(r * H, (r + 1) * H))));
    },
  });
  return out;
}

const sameOutcome = <P>(a: PurgeResult<P>, b: PurgeResult<P>) =>
  a.purified === b.purified && a.window === b.window && a.input.text === b.input.text && a.removed.join('\u0000') === b.removed.join('\u0000');

type Row = Record<string, unknown>;

function benchShape(name: string): Row {
  const bb = backboneFor(name);
  const H = bb.config.hiddenSize;
  const model = createPromptModel(bb, { method: 'ptuning-v2', task: 'sst2', prefixLen: PREFIX, maxLen: 128, seed: 1 });
  for (const p of model.trainable().values()) p.requiresGrad = false;

  // ---- 1–2: post- and pre-monitor overhead on clean inputs, against predictBatch
  const rng = new Rng('bench-guard:pvs');
  const randomPvs = Array.from({ length: CLEAN_PVS }, () => Float32Array.from({ length: H }, () => (rng.next() < 0.5 ? -1 : 1)));
  const cleanMonitor = new SignMonitor(randomPvs, H);
  const post = new Guard(model, cleanMonitor, { batchSize: BATCH });
  const pre = new Guard(model, cleanMonitor, { batchSize: BATCH, monitor: 'pre' });
  const inputs: GuardInput[] = cleanTexts.map((text) => ({ text }));
  const flaggedPost = post.run(inputs).filter((r) => r.triggered).length;
  const flaggedPre = pre.run(inputs).filter((r) => r.triggered).length;
  const maxCleanRate = Math.max(...post.runMonitored(inputs).map((m) => m.match.rate), ...pre.runMonitored(inputs).map((m) => m.match.rate));
  if (flaggedPost || flaggedPre) {
    console.error(`WARNING ${name}: clean inputs flagged by the random PVs (post ${flaggedPost}/${CLEAN_INPUTS}, pre ${flaggedPre}/${CLEAN_INPUTS}); the overheads include their purges`);
  }
  const times: Record<string, number[]> = { predict: [], post: [], pre: [] };
  for (let r = 0; r < WARMUP + reps; r++) {
    const runs: [string, () => void][] = [
      ['predict', () => predictBatch(model, inputs, { batchSize: BATCH })],
      ['post', () => post.run(inputs)],
      ['pre', () => pre.run(inputs)],
    ];
    // A different order each repetition, so that no measurement always comes first.
    for (let i = 0; i < runs.length; i++) {
      const [key, fn] = runs[(i + r) % runs.length]!;
      const dt = seconds(fn);
      if (r >= WARMUP) times[key]!.push(dt);
    }
  }

  // ---- 3: purge per flagged input, batched candidates vs one by one
  const pvs = monitoredHidden(model, flaggedInputs).map((h) => Float32Array.from(h, (x) => (x >= 0 ? 1 : -1)));
  const monitor = new SignMonitor(pvs, H);
  const guard = new Guard(model, monitor, { batchSize: BATCH });
  const first = guard.runMonitored(flaggedInputs);
  const notFlagged = first.filter((m) => !m.match.triggered).length;
  if (notFlagged) throw new Error(`${name}: ${notFlagged} of the ${FLAGGED_INPUTS} trigger inputs are not flagged by their own sign vectors`);
  let batches = 0;
  const run = (xs: readonly GuardInput[]) => {
    batches++;
    return guard.runMonitored(xs);
  };
  // batched: the guard's path, every flagged input purged together (purgeMany, default chunk and step);
  // one by one: each input's candidates run one row per forward (chunk 1, step 1).
  const variants = {
    batched: () => purgeMany(flaggedInputs, run),
    one_by_one: () => flaggedInputs.map((input) => purge(input, run, { chunk: 1, step: 1 })),
  } as const;
  type V = keyof typeof variants;
  const pTimes: Record<V, number[]> = { batched: [], one_by_one: [] };
  const results: Record<V, PurgeResult<unknown>[]> = { batched: [], one_by_one: [] };
  const forwardBatches: Record<V, number> = { batched: 0, one_by_one: 0 };
  for (let r = 0; r < PURGE_WARMUP + reps; r++) {
    const order = Object.keys(variants) as V[];
    for (let i = 0; i < order.length; i++) {
      const v = order[(i + r) % order.length]!;
      batches = 0;
      let res: PurgeResult<unknown>[] = [];
      const dt = seconds(() => (res = variants[v]()));
      if (r === 0) {
        results[v] = res;
        forwardBatches[v] = batches / FLAGGED_INPUTS;
      }
      if (r >= PURGE_WARMUP) pTimes[v].push(dt / FLAGGED_INPUTS);
    }
  }
  const cands = (v: V) => results[v].map((p) => p.candidates);
  const sameCandidates = cands('batched').every((c, i) => c === cands('one_by_one')[i]);
  const outcomesAgree = results.batched.every((p, i) => sameOutcome(p, results.one_by_one[i]!));
  if (!outcomesAgree) console.error(`WARNING ${name}: batched and one-by-one purges disagree on some input's outcome (window, removed words)`);
  const purified = results.batched.filter((p) => p.purified).length;
  // The guard's own path on the same inputs: every one flagged, the same action and candidates as purge() batched.
  const guarded = guard.run(flaggedInputs);
  const guardAgrees = guarded.every((g, i) => g.triggered && g.candidates === results.batched[i]!.candidates && (g.action === 'purified') === results.batched[i]!.purified);
  if (!guardAgrees) console.error(`WARNING ${name}: Guard.run on the flagged inputs disagrees with purge() (actions or candidate counts)`);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

  return {
    hidden: H, reps, clean_inputs: CLEAN_INPUTS, batch_size: BATCH, clean_pvs: CLEAN_PVS, threshold: cleanMonitor.threshold,
    clean_flagged_post: flaggedPost, clean_flagged_pre: flaggedPre,
    clean_frr_post: flaggedPost / CLEAN_INPUTS, clean_frr_pre: flaggedPre / CLEAN_INPUTS,
    clean_max_match_rate: maxCleanRate,
    predict_ms: 1000 * median(times.predict!),
    post_monitor_ms: 1000 * median(times.post!),
    pre_monitor_ms: 1000 * median(times.pre!),
    post_monitor_overhead: ratio(times.post!, times.predict!),
    post_monitor_goal: POST_GOAL,
    pre_monitor_overhead: ratio(times.pre!, times.predict!),
    flagged_inputs: FLAGGED_INPUTS, trigger: TRIGGER, max_window: PURGE_DEFAULTS.maxWindow, chunk: PURGE_DEFAULTS.chunk,
    words_per_flagged_input: mean(flaggedInputs.map((x) => splitWords(x.text).length)),
    purge_purified: purified, purge_rejected: FLAGGED_INPUTS - purified,
    candidates_per_flagged_input: mean(cands('batched')),
    candidates_per_flagged_input_one_by_one: mean(cands('one_by_one')),
    same_candidates: sameCandidates, outcomes_agree: outcomesAgree, guard_run_agrees: guardAgrees,
    forward_batches_per_flagged_input: forwardBatches.batched,
    forward_batches_per_flagged_input_one_by_one: forwardBatches.one_by_one,
    purge_batched_ms_per_flagged_input: 1000 * median(pTimes.batched),
    purge_one_by_one_ms_per_flagged_input: 1000 * median(pTimes.one_by_one),
    purge_speedup: ratio(pTimes.one_by_one, pTimes.batched),
    purge_speedup_goal: PURGE_GOAL,
  };
}

log(`backend: ${describeBackend()}; P-tuning v2 (prefix ${PREFIX}) SST-2 on random weights, 32–42-token sentences, ${reps} reps (medians)`);
const results: Record<string, Row> = {};
for (const name of shapes) {
  const r = benchShape(name);
  results[name] = r;
  const f = (x: unknown, d = 2) => (x as number).toFixed(d);
  const ok = (good: boolean) => (good ? 'ok' : 'MISSED');
  log(`${name} (H ${r.hidden}):`);
  log(`  clean inputs: ${r.clean_inputs} (one batch of ${r.batch_size}), ${r.clean_pvs} random ±1 PVs, η ${r.threshold}: flagged post ${r.clean_flagged_post}, pre ${r.clean_flagged_pre} (FRR ${f(r.clean_frr_post, 3)} / ${f(r.clean_frr_pre, 3)}; best match rate ${f(r.clean_max_match_rate, 3)})`);
  log(`  predictBatch             ${f(r.predict_ms, 1)} ms`);
  log(`  post-monitor Guard.run   ${f(r.post_monitor_ms, 1)} ms = ${f(r.post_monitor_overhead, 3)}× (goal ≤ ${POST_GOAL}: ${ok((r.post_monitor_overhead as number) <= POST_GOAL)})`);
  log(`  pre-monitor Guard.run    ${f(r.pre_monitor_ms, 1)} ms = ${f(r.pre_monitor_overhead, 3)}× (expected ≈ 2)`);
  log(`  purge: ${r.flagged_inputs} flagged inputs ("${r.trigger}" inserted, ${f(r.words_per_flagged_input, 1)} words), windows 1–${r.max_window}: ${r.purge_purified} purified, ${r.purge_rejected} rejected`);
  log(`    candidates per flagged input ${f(r.candidates_per_flagged_input, 1)} (one by one ${f(r.candidates_per_flagged_input_one_by_one, 1)}; same candidates: ${r.same_candidates ? 'yes' : 'NO'}, same outcomes: ${r.outcomes_agree ? 'yes' : 'NO'}, Guard.run agrees: ${r.guard_run_agrees ? 'yes' : 'NO'})`);
  log(`    forward batches per flagged input: batched ${f(r.forward_batches_per_flagged_input, 1)}, one by one ${f(r.forward_batches_per_flagged_input_one_by_one, 1)}`);
  log(`    batched (all flagged inputs together) ${f(r.purge_batched_ms_per_flagged_input, 1)} ms per flagged input`);
  log(`    one by one (a row per forward) ${f(r.purge_one_by_one_ms_per_flagged_input, 1)} ms per flagged input = ${f(r.purge_speedup)}× batched (goal ≥ ${PURGE_GOAL}: ${ok((r.purge_speedup as number) >= PURGE_GOAL)})`);
}
const headline = shapes.includes('bert-mini') ? 'bert-mini' : shapes[0]!;
const h = results[headline]!;
if (json) {
  console.log(JSON.stringify({ backend: describeBackend(), native_available: nativeAvailable(), shape: headline, ...h, shapes: results }));
}
