/**
 * npm run bench:prompt [-- --json] [--shapes bert-micro,bert-mini] [--reps N] [--profile]
 * Prompt-tuning speed on a frozen backbone (random weights, the zoo's
 * shapes, the bert-base-uncased vocabulary), as ratios measured in one run
 * on batches of 16 real sentences of 32–42 tokens (nlp-corpus), task SST-2:
 *   - a training step (forward, backward, clipping, Adam on the prompt
 *     tensors only, with dropout as promptTune runs it) for P-tuning v2
 *     (prefix 16) and P-tuning, divided by the same batch's bare-backbone
 *     forward + backward to the input embeddings (embeds requiring grad,
 *     frozen weights, no dropout, reading the rows the method reads: token
 *     0 for v2, the mask token for P-tuning) — the cheapest backward the
 *     backbone can do, and the one PV mining runs;
 *   - predictBatch throughput (inputs/s, batches of 16, tokenisation
 *     included) divided by a bare-backbone noGrad forward of the same
 *     inputs in the same length-sorted batches of 16 (plain tokenisation,
 *     reading token 0);
 *   - GEMMs per step by role (gemmCounters): weight-gradient GEMMs of a
 *     step minus those of the trained linear layers (v2: the head) must be
 *     0 — the frozen backbone costs none.
 * Each repetition times the reference and both methods back to back on the
 * same batch (in an order that rotates), so the machine's load is shared;
 * times are medians over the repetitions (--reps, default 30, after 2
 * warm-ups) and each ratio is the median of the per-repetition ratios.
 * --json prints one object: the headline (bert-mini when listed) keys at the
 * top level and every shape under `shapes`. --profile adds kernel time
 * shares and the share of step time spent outside kernels.
 */
import {
  backward, clipGradNorm, describeBackend, disableProfiling, enableProfiling, gemmCounters, kernelTimes, nativeAvailable,
  noGrad, resetGemmCounters, resetProfile, Tensor, withScope,
} from '../src/engine/index.js';
import { backboneOf } from '../src/models/backbone.js';
import type { LoadedModel } from '../src/models/model.js';
import { createPromptModel, padRows, predictBatch, promptLoss, type PromptModel, type PromptRow } from '../src/prompt/index.js';
import { padBatch } from '../src/train/batching.js';
import { adamW } from '../src/train/schedule.js';
import { benchArgs, bertShapes, frozenRandomBackbone, median, ratioOfMedians, repsArg, seconds, sentencesOfLength } from './common.js';

const { json, profile, argOf } = benchArgs();
const shapes = bertShapes(argOf, 'bert-micro,bert-mini');
const reps = repsArg(argOf, 30);
const log = (...a: unknown[]) => {
  if (!json) console.log(...a);
};

const BATCH = 16;
const PREFIX = 16;
const WARMUP = 2;
const BATCHES = 4;
const PREDICT_INPUTS = 8 * BATCH;
const LR = 1e-2;
const CLIP = 1.0;


// Real sentences of about 40 tokens ([CLS] and [SEP] included).
const sentences = sentencesOfLength(12000, 'bench-prompt', 32, 42);
const stepTexts = sentences.slice(0, BATCHES * BATCH);
const predictTexts = sentences.slice(BATCHES * BATCH, BATCHES * BATCH + PREDICT_INPUTS);
if (predictTexts.length < PREDICT_INPUTS) throw new Error(`only ${sentences.length} sentences of 32–42 tokens`);

const backboneFor = (name: string): LoadedModel => frozenRandomBackbone(name);

/** The rows a method reads: token 0 (v2, and the bare backbone's predict), or each row's mask token (P-tuning). */
function readPositions(model: PromptModel | null, rows: readonly PromptRow[]): Int32Array {
  return model?.method === 'ptuning' ? Int32Array.from(rows, (r) => r.maskAt!) : new Int32Array(rows.length);
}

/** Bare backbone on a prompt model's batch: embeds requiring grad, forward, backward to them. */
function backboneStep(bb: LoadedModel, model: PromptModel, rows: readonly PromptRow[]): void {
  withScope(() => {
    const b = padRows(rows, bb.tokenizer!.specialIds.pad);
    const enc = backboneOf(bb.encoder);
    const words = noGrad(() => enc.embedIds(b.ids, b.B, b.T));
    const embeds = new Tensor(Float32Array.from(words.data as Float32Array), words.shape, { requiresGrad: true });
    const out = enc.forward({ batch: b.B, seqLen: b.T, ids: b.ids, mask: b.mask, tokenTypes: b.typeIds, embeds, positions: readPositions(model, rows) });
    backward(out.hidden, new Float32Array(out.hidden.size).fill(1 / out.hidden.size));
    if (!embeds.grad) throw new Error('internal: no gradient reached the input embeddings');
  });
}

interface Trainer {
  model: PromptModel;
  rows: PromptRow[][];
  step(rows: readonly PromptRow[], s: number, dropout: boolean): void;
  /** Weight-gradient GEMMs of the trained linear layers (v2: the head). */
  ownWeightGemms: number;
}

function trainerFor(bb: LoadedModel, method: 'ptuning' | 'ptuning-v2'): Trainer {
  const model = createPromptModel(bb, { method, task: 'sst2', prefixLen: method === 'ptuning-v2' ? PREFIX : 1, maxLen: 128, seed: 1 });
  const params = model.trainable();
  for (const p of params.values()) p.requiresGrad = true;
  const opt = adamW(params, LR, 0);
  const rows = Array.from({ length: BATCHES }, (_, i) => stepTexts.slice(i * BATCH, (i + 1) * BATCH).map((text, j) => model.encode({ text, label: j % 2 })));
  // The same step as trainLoop: loss and backward in a scope, clip, Adam.
  const step = (batch: readonly PromptRow[], s: number, dropout: boolean) => {
    withScope(() => {
      const { loss } = promptLoss(model, batch, dropout ? s + 1 : undefined);
      backward(loss);
      loss.item();
    });
    clipGradNorm(opt.params, CLIP);
    opt.update();
  };
  return { model, rows, step, ownWeightGemms: method === 'ptuning-v2' ? 1 : 0 };
}

interface Gemms { forward: number; grad_input: number; grad_weight: number; gflop: number }
function countGemms(fn: () => void): Gemms {
  resetGemmCounters();
  fn();
  return { forward: gemmCounters.forward, grad_input: gemmCounters.gradInput, grad_weight: gemmCounters.gradWeight, gflop: gemmCounters.flops / 1e9 };
}

function profiled(fn: () => void, n: number): { kernel_shares: Record<string, number>; in_kernels_share: number } {
  resetProfile();
  enableProfiling();
  let total = 0;
  try {
    for (let i = 0; i < n; i++) total += seconds(fn);
  } finally {
    disableProfiling();
  }
  const inKernels = [...kernelTimes.values()].reduce((a, v) => a + v.seconds, 0);
  const shares = Object.fromEntries([...kernelTimes.entries()].sort((a, b) => b[1].seconds - a[1].seconds).slice(0, 8).map(([k, v]) => [k, v.seconds / total]));
  return { kernel_shares: shares, in_kernels_share: inKernels / total };
}

/** Bare-backbone inference on raw texts: plain tokenisation, length-sorted batches, noGrad forward reading token 0. */
function backbonePredict(bb: LoadedModel, texts: readonly string[]): void {
  const t = bb.tokenizer!;
  const ids = texts.map((s) => t.encode(s, null, { maxLength: 128 }).ids);
  const order = Array.from(ids.keys()).sort((a, b) => ids[a]!.length - ids[b]!.length);
  const enc = backboneOf(bb.encoder);
  for (let i = 0; i < order.length; i += BATCH) {
    const idx = order.slice(i, i + BATCH);
    const b = padBatch(idx.map((j) => ids[j]!), t.specialIds.pad);
    withScope(() => noGrad(() => enc.forward({ batch: b.B, seqLen: b.T, ids: b.ids, mask: b.mask, tokenTypes: b.typeIds, positions: new Int32Array(b.B) })));
  }
}

type Row = Record<string, unknown>;

function benchShape(name: string): Row {
  const bb = backboneFor(name);
  const v2 = trainerFor(bb, 'ptuning-v2');
  const pt = trainerFor(bb, 'ptuning');
  const T = (rows: PromptRow[][]) => rows.reduce((s, r) => s + Math.max(...r.map((x) => x.ids.length)), 0) / rows.length;

  // ---- training steps, interleaved per repetition
  const times: Record<string, number[]> = { ref_v2: [], v2: [], v2_nodrop: [], ref_pt: [], pt: [], pt_nodrop: [] };
  for (let r = 0; r < WARMUP + reps; r++) {
    const k = r % BATCHES;
    const runs: [string, () => void][] = [
      ['ref_v2', () => backboneStep(bb, v2.model, v2.rows[k]!)],
      ['v2', () => v2.step(v2.rows[k]!, r, true)],
      ['v2_nodrop', () => v2.step(v2.rows[k]!, r, false)],
      ['ref_pt', () => backboneStep(bb, pt.model, pt.rows[k]!)],
      ['pt', () => pt.step(pt.rows[k]!, r, true)],
      ['pt_nodrop', () => pt.step(pt.rows[k]!, r, false)],
    ];
    // A different order each repetition, so that no measurement always comes first.
    for (let i = 0; i < runs.length; i++) {
      const [key, fn] = runs[(i + r) % runs.length]!;
      const dt = seconds(fn);
      if (r >= WARMUP) times[key]!.push(dt);
    }
  }
  const ms = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, 1000 * median(v)])) as Record<string, number>;

  // ---- GEMMs per step, by role
  const gemms = {
    backbone: countGemms(() => backboneStep(bb, v2.model, v2.rows[0]!)),
    backbone_ptuning_batch: countGemms(() => backboneStep(bb, pt.model, pt.rows[0]!)),
    ptuning_v2: countGemms(() => v2.step(v2.rows[0]!, 0, true)),
    ptuning: countGemms(() => pt.step(pt.rows[0]!, 0, true)),
  };
  const backboneWeightGemms = {
    ptuning_v2: gemms.ptuning_v2.grad_weight - v2.ownWeightGemms,
    ptuning: gemms.ptuning.grad_weight - pt.ownWeightGemms,
  };

  // ---- predict throughput: one batch of 16 inputs per repetition, all three on the same inputs back to back
  for (const p of [...v2.model.trainable().values(), ...pt.model.trainable().values()]) p.requiresGrad = false;
  const chunks = Array.from({ length: PREDICT_INPUTS / BATCH }, (_, i) => predictTexts.slice(i * BATCH, (i + 1) * BATCH));
  const pTimes: Record<string, number[]> = { backbone: [], v2: [], pt: [] };
  for (let r = 0; r < WARMUP + reps; r++) {
    const texts = chunks[r % chunks.length]!;
    const inputs = texts.map((text) => ({ text }));
    const runs: [string, () => void][] = [
      ['backbone', () => backbonePredict(bb, texts)],
      ['v2', () => predictBatch(v2.model, inputs, { batchSize: BATCH })],
      ['pt', () => predictBatch(pt.model, inputs, { batchSize: BATCH })],
    ];
    for (let i = 0; i < runs.length; i++) {
      const [key, fn] = runs[(i + r) % runs.length]!;
      const dt = seconds(fn);
      if (r >= WARMUP) pTimes[key]!.push(dt);
    }
  }
  const ips = Object.fromEntries(Object.entries(pTimes).map(([k, v]) => [k, BATCH / median(v)])) as Record<string, number>;
  // Ratios are medians of per-repetition ratios (each pair measured back to back), robust to the machine's load drifting.
  const ratio = ratioOfMedians;

  const row: Row = {
    batch_size: BATCH, prefix_len: PREFIX, reps,
    mean_seq_len_v2: T(v2.rows), mean_seq_len_ptuning: T(pt.rows),
    backbone_fwd_bwd_input_ms: ms.ref_v2,
    ptuning_v2_step_ms: ms.v2,
    ptuning_v2_step_ratio: ratio(times.v2!, times.ref_v2!),
    ptuning_v2_step_nodropout_ms: ms.v2_nodrop,
    ptuning_v2_step_nodropout_ratio: ratio(times.v2_nodrop!, times.ref_v2!),
    ptuning_backbone_fwd_bwd_input_ms: ms.ref_pt,
    ptuning_step_ms: ms.pt,
    ptuning_step_ratio: ratio(times.pt!, times.ref_pt!),
    ptuning_step_nodropout_ms: ms.pt_nodrop,
    ptuning_step_nodropout_ratio: ratio(times.pt_nodrop!, times.ref_pt!),
    backbone_predict_inputs_per_s: ips.backbone,
    ptuning_v2_predict_inputs_per_s: ips.v2,
    ptuning_predict_inputs_per_s: ips.pt,
    ptuning_v2_predict_throughput_ratio: ratio(pTimes.backbone!, pTimes.v2!),
    ptuning_predict_throughput_ratio: ratio(pTimes.backbone!, pTimes.pt!),
    gemms,
    ptuning_v2_backbone_weight_grad_gemms: backboneWeightGemms.ptuning_v2,
    ptuning_backbone_weight_grad_gemms: backboneWeightGemms.ptuning,
  };
  if (profile) {
    for (const p of [...v2.model.trainable().values(), ...pt.model.trainable().values()]) p.requiresGrad = true;
    row.profile = {
      backbone_fwd_bwd_input: profiled(() => backboneStep(bb, v2.model, v2.rows[0]!), 10),
      ptuning_v2_step: profiled(() => v2.step(v2.rows[0]!, 0, true), 10),
      ptuning_step: profiled(() => pt.step(pt.rows[0]!, 0, true), 10),
    };
  }
  return row;
}

log(`backend: ${describeBackend()}; batch ${BATCH} × 32–42-token sentences, ${reps} reps (medians)`);
const results: Record<string, Row> = {};
for (const name of shapes) {
  const r = benchShape(name);
  results[name] = r;
  const f = (x: unknown, d = 2) => (x as number).toFixed(d);
  log(`${name} (T ≈ ${f(r.mean_seq_len_v2, 1)} plain, ${f(r.mean_seq_len_ptuning, 1)} with the P-tuning template):`);
  log(`  backbone fwd+bwd-to-input  ${f(r.backbone_fwd_bwd_input_ms, 1)} ms (v2 batch), ${f(r.ptuning_backbone_fwd_bwd_input_ms, 1)} ms (P-tuning batch)`);
  log(`  P-tuning v2 step (prefix ${PREFIX})  ${f(r.ptuning_v2_step_ms, 1)} ms = ${f(r.ptuning_v2_step_ratio)}× (no dropout ${f(r.ptuning_v2_step_nodropout_ratio)}×)`);
  log(`  P-tuning step               ${f(r.ptuning_step_ms, 1)} ms = ${f(r.ptuning_step_ratio)}× (no dropout ${f(r.ptuning_step_nodropout_ratio)}×)`);
  log(`  predict: backbone ${f(r.backbone_predict_inputs_per_s, 0)} inputs/s; v2 ${f(r.ptuning_v2_predict_inputs_per_s, 0)} (${f(r.ptuning_v2_predict_throughput_ratio)}×), P-tuning ${f(r.ptuning_predict_inputs_per_s, 0)} (${f(r.ptuning_predict_throughput_ratio)}×)`);
  const g = r.gemms as Record<string, Gemms>;
  for (const [k, v] of Object.entries(g)) log(`  GEMMs ${k.padEnd(22)} forward ${v.forward}, grad-input ${v.grad_input}, grad-weight ${v.grad_weight} (${v.gflop.toFixed(2)} GFLOP)`);
  log(`  backbone weight-gradient GEMMs per step: v2 ${r.ptuning_v2_backbone_weight_grad_gemms}, P-tuning ${r.ptuning_backbone_weight_grad_gemms}`);
  if (r.profile) {
    for (const [k, p] of Object.entries(r.profile as Record<string, ReturnType<typeof profiled>>)) {
      log(`  profile ${k}: ${(100 * p.in_kernels_share).toFixed(0)}% in kernels; ${Object.entries(p.kernel_shares).map(([n, s]) => `${n} ${(100 * s).toFixed(0)}%`).join(', ')}`);
    }
  }
}
const headline = shapes.includes('bert-mini') ? 'bert-mini' : shapes[0]!;
const h = results[headline]!;
if (json) {
  console.log(JSON.stringify({
    backend: describeBackend(), native_available: nativeAvailable(), shape: headline,
    backbone_fwd_bwd_input_ms: h.backbone_fwd_bwd_input_ms,
    ptuning_v2_step_ms: h.ptuning_v2_step_ms, ptuning_v2_step_ratio: h.ptuning_v2_step_ratio,
    ptuning_backbone_fwd_bwd_input_ms: h.ptuning_backbone_fwd_bwd_input_ms,
    ptuning_step_ms: h.ptuning_step_ms, ptuning_step_ratio: h.ptuning_step_ratio,
    ptuning_v2_predict_throughput_ratio: h.ptuning_v2_predict_throughput_ratio,
    ptuning_predict_throughput_ratio: h.ptuning_predict_throughput_ratio,
    predict_throughput_ratio: { 'ptuning-v2': h.ptuning_v2_predict_throughput_ratio, ptuning: h.ptuning_predict_throughput_ratio },
    ptuning_v2_backbone_weight_grad_gemms: h.ptuning_v2_backbone_weight_grad_gemms,
    ptuning_backbone_weight_grad_gemms: h.ptuning_backbone_weight_grad_gemms,
    shapes: results,
  }));
}
