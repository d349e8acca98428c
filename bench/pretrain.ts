/**
 * npm run bench:pretrain [-- --json] [--steps N] [--shapes bert-micro,bert-mini] [--profile]
 * Measures in one run, on the real corpus and the zoo's own settings
 * (batch, max length, masking, AdamW, clipping, dropout; nothing saved):
 *   - MLM pretraining tokens/s for each shape (padded tokens, as pretrain's bar);
 *   - the GFLOP/s a training step achieves, counting GEMM FLOPs only
 *     (gemmCounters, reset per step), and its ratio to sgemm 2048×768×768
 *     timed in the same run as bench/engine.ts times it.
 * --json prints { tokens_per_second: {shape: n}, train_gflops, sgemm_gflops,
 * train_ratio, train_shape, shapes: {…per shape} }; the scalar train_* are
 * for the last shape listed (bert-mini by default, the working model).
 * --profile adds per-kernel time shares and the MLM head's share of a step.
 * --torch also runs an equivalent eager PyTorch step (bench/torch/pretrain_step.py,
 * Debian's /usr/bin/python3 with python3-torch; skipped with a message without
 * it) on the same masked batches, the two timed back to back in rotating order
 * (rounds of --round steps, default 2, each side on the same batches), and
 * prints the tokens/s of each and their ratio (median of per-round ratios).
 * Data preparation (masking, padding) is outside both timings there.
 * --torch-only runs just that comparison.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  backward, crossEntropy, describeBackend, disableProfiling, enableProfiling, gemmCounters, kernelTimes, nativeAvailable,
  resetGemmCounters, resetProfile, Tensor, withScope,
} from '../src/engine/index.js';
import { Encoder } from '../src/models/encoder.js';
import { MlmHead } from '../src/models/heads.js';
import type { LoadedModel } from '../src/models/model.js';
import { Rng } from '../src/text/random.js';
import { bucketedBatches, padBatch } from '../src/train/batching.js';
import { type MaskingOptions, maskBatch, type MlmBatch } from '../src/train/mlm.js';
import { mlmTrainStep } from '../src/train/pretrain.js';
import { adamW } from '../src/train/schedule.js';
import { configFor, tokenizerFor, ZOO } from '../src/zoo/configs.js';
import { zooCorpus } from '../src/zoo/zoo.js';
import { benchArgs, median, sgemmGflops } from './common.js';
import { nativeAddon } from '../src/engine/kernels/native.js';
import { scratchDir, sideBySide, torchScript, torchUnavailable, TorchWorker, writeTyped } from './torch/worker.js';

const { json, profile, argOf } = benchArgs();
const torchOnly = process.argv.includes('--torch-only');
const withTorch = torchOnly || process.argv.includes('--torch');
const roundSteps = Number(argOf('--round') ?? 2);
const steps = Number(argOf('--steps') ?? 24);
const shapes = (argOf('--shapes') ?? 'bert-micro,bert-mini').split(',');
for (const s of shapes) if (!ZOO[s]) throw new Error(`unknown shape "${s}"; known: ${Object.keys(ZOO).join(', ')}`);
if (!Number.isInteger(steps) || steps < 1) throw new Error('--steps must be a positive integer');
const WARMUP = 2;

const log = (...a: unknown[]) => {
  if (!json) console.log(...a);
};

interface ShapeResult {
  steps: number;
  batch_size: number;
  max_len: number;
  mean_seq_len: number;
  masked_per_step: number;
  tokens_per_second: number;
  seconds_per_step: number;
  gflop_per_step: number;
  train_gflops: number;
  train_ratio: number;
  /** Share of a step's GEMM FLOPs in the tied vocabulary decoder (forward, dX, dW). */
  decoder_flop_share: number;
  profile?: { kernel_shares: Record<string, number>; in_kernels_share: number; mlm_head_share: number; cross_entropy_share: number };
}

function benchShape(name: string, sentences: readonly string[], sgemm: number): ShapeResult {
  const e = ZOO[name];
  const tok = tokenizerFor(e);
  const config = configFor(e, tok);
  const t = e.train;
  const encoder = Encoder.init(config, t.seed);
  const mlm = MlmHead.init(config, encoder.wordEmbeddings, t.seed + 1);
  const model: LoadedModel = { dir: null, config, encoder, mlm, sequenceClassifier: null, tokenClassifier: null, tokenizer: tok, hash: '', unusedKeys: [] };
  const params = new Map([...encoder.params, ...mlm.params]);
  for (const p of params.values()) p.requiresGrad = true;
  const opt = adamW(params, t.lr, t.weightDecay);

  // Same tokenisation, bucketing and masking as pretrain.ts, over one bucket chunk of the corpus.
  const rows = sentences.map((s) => tok.encode(s, null, { maxLength: t.maxLen }).ids).filter((ids) => ids.length > 2);
  const batches = bucketedBatches(rows.map((r) => r.length), t.batchSize, new Rng(`${t.seed}:epoch:0`)).filter((b) => b.length === t.batchSize);
  const total = WARMUP + steps + (profile ? 4 : 0);
  if (batches.length < total) throw new Error(`only ${batches.length} batches for ${total} steps`);
  const masking: MaskingOptions = { maskProb: t.maskProb, maskId: tok.specialIds.mask, vocabSize: config.vocabSize, skip: tok.specialOrUnusedMask() };
  const makeBatch = (s: number): MlmBatch => maskBatch(padBatch(batches[s].map((i) => rows[i]), tok.specialIds.pad), masking, new Rng(`${t.seed}:mask:${s}`));
  const lr = t.lr / 10;

  let tokens = 0, seconds = 0, flops = 0, seqLen = 0, masked = 0;
  let decoderFlops = 0;
  for (let s = 0; s < WARMUP + steps; s++) {
    const t0 = process.hrtime.bigint();
    const b = makeBatch(s);
    resetGemmCounters();
    mlmTrainStep(model, b, opt, s, t.clip, lr);
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    if (s < WARMUP) continue;
    seconds += dt;
    tokens += b.B * b.T;
    flops += gemmCounters.flops;
    decoderFlops += 3 * 2 * b.labels.length * config.hiddenSize * config.vocabSize;
    seqLen += b.T;
    masked += b.labels.length;
  }
  const gflops = flops / seconds / 1e9;
  const r: ShapeResult = {
    steps, batch_size: t.batchSize, max_len: t.maxLen, mean_seq_len: seqLen / steps, masked_per_step: masked / steps,
    tokens_per_second: tokens / seconds, seconds_per_step: seconds / steps, gflop_per_step: flops / steps / 1e9,
    train_gflops: gflops, train_ratio: gflops / sgemm, decoder_flop_share: decoderFlops / flops,
  };

  if (profile) {
    resetProfile();
    let stepTime = 0, headTime = 0, ceTime = 0;
    for (let s = WARMUP + steps; s < total; s++) {
      const b = makeBatch(s);
      // Kernel shares cover the training steps only, not the head-only runs below.
      enableProfiling();
      let t0 = process.hrtime.bigint();
      mlmTrainStep(model, b, opt, s, t.clip, lr);
      stepTime += Number(process.hrtime.bigint() - t0) / 1e9;
      disableProfiling();
      // The MLM head alone (dense, GELU, LayerNorm, tied decoder, loss) on the same number of masked rows.
      const N = b.labels.length;
      const h = Tensor.from(Array.from({ length: N * config.hiddenSize }, (_, i) => Math.sin(i)), [N, config.hiddenSize], { requiresGrad: true });
      t0 = process.hrtime.bigint();
      withScope(() => backward(crossEntropy(mlm.forward(h), b.labels)));
      headTime += Number(process.hrtime.bigint() - t0) / 1e9;
      const logits = Tensor.from(Array.from({ length: N * config.vocabSize }, (_, i) => Math.sin(i)), [N, config.vocabSize], { requiresGrad: true });
      t0 = process.hrtime.bigint();
      withScope(() => backward(crossEntropy(logits, b.labels)));
      ceTime += Number(process.hrtime.bigint() - t0) / 1e9;
      for (const p of params.values()) p.zeroGrad();
    }
    const sum = [...kernelTimes.values()].reduce((a, v) => a + v.seconds, 0);
    const shares = Object.fromEntries([...kernelTimes.entries()].sort((a, b) => b[1].seconds - a[1].seconds).map(([k, v]) => [k, v.seconds / sum]));
    r.profile = { kernel_shares: shares, in_kernels_share: sum / stepTime, mlm_head_share: headTime / stepTime, cross_entropy_share: ceTime / stepTime };
  }
  for (const p of params.values()) p.requiresGrad = false;
  return r;
}

interface TorchResult {
  steps: number;
  rounds: number;
  torch_version: string;
  threads: number;
  lms_tokens_per_second: number;
  torch_tokens_per_second: number;
  /** Median over rounds of (lms tokens/s) / (torch tokens/s), both on the same batches. */
  ratio: number;
  /** The same over all timed steps together. */
  total_ratio: number;
  lms_ms_per_step: number;
  torch_ms_per_step: number;
}

/** lmsanitator's mlmTrainStep and an equivalent PyTorch step on the same batches, in rotating order. */
async function torchCompare(name: string, sentences: readonly string[]): Promise<TorchResult> {
  const e = ZOO[name];
  const tok = tokenizerFor(e);
  const config = configFor(e, tok);
  const t = e.train;
  const encoder = Encoder.init(config, t.seed);
  const mlm = MlmHead.init(config, encoder.wordEmbeddings, t.seed + 1);
  const model: LoadedModel = { dir: null, config, encoder, mlm, sequenceClassifier: null, tokenClassifier: null, tokenizer: tok, hash: '', unusedKeys: [] };
  const params = new Map([...encoder.params, ...mlm.params]);
  for (const p of params.values()) p.requiresGrad = true;
  const opt = adamW(params, t.lr, t.weightDecay);
  const rows = sentences.map((s) => tok.encode(s, null, { maxLength: t.maxLen }).ids).filter((ids) => ids.length > 2);
  const order = bucketedBatches(rows.map((r) => r.length), t.batchSize, new Rng(`${t.seed}:epoch:0`)).filter((b) => b.length === t.batchSize);
  const masking: MaskingOptions = { maskProb: t.maskProb, maskId: tok.specialIds.mask, vocabSize: config.vocabSize, skip: tok.specialOrUnusedMask() };
  const total = WARMUP + steps;
  const batches = Array.from({ length: total }, (_, s) => maskBatch(padBatch(order[s].map((i) => rows[i]), tok.specialIds.pad), masking, new Rng(`${t.seed}:mask:${s}`)));
  const lr = t.lr / 10;
  const threads = nativeAddon?.threads ?? 1;

  const scratch = scratchDir('pretrain');
  try {
    batches.forEach((b, i) => {
      writeTyped(scratch.dir, `ids_${i}`, b.ids);
      writeTyped(scratch.dir, `mask_${i}`, b.mask);
      writeTyped(scratch.dir, `label_rows_${i}`, b.labelRows);
      writeTyped(scratch.dir, `labels_${i}`, b.labels);
    });
    writeFileSync(join(scratch.dir, 'manifest.json'), JSON.stringify({
      config: {
        vocab: config.vocabSize, hidden: config.hiddenSize, layers: config.numHiddenLayers, heads: config.numAttentionHeads,
        ff: config.intermediateSize, max_positions: config.maxPositionEmbeddings, type_vocab: config.typeVocabSize,
        eps: config.layerNormEps, hidden_dropout: config.hiddenDropoutProb, attn_dropout: config.attentionProbsDropoutProb,
        init_range: config.initializerRange, seed: t.seed,
      },
      threads, lr, weight_decay: t.weightDecay, clip: t.clip,
      batches: batches.map((b) => ({ B: b.B, T: b.T, N: b.labels.length })),
    }));
    const worker = await TorchWorker.start(torchScript('pretrain_step.py'), ['--dir', scratch.dir], threads);
    try {
      const timed = Array.from({ length: steps }, (_, i) => WARMUP + i);
      const warm = Array.from({ length: WARMUP }, (_, i) => i);
      const r = await sideBySide(worker, timed, roundSteps, warm, (s) => mlmTrainStep(model, batches[s], opt, s, t.clip, lr));
      const tokens = timed.reduce((x, i) => x + batches[i].B * batches[i].T, 0);
      const sum = (xs: number[]) => xs.reduce((x, y) => x + y, 0);
      return {
        steps, rounds: r.rounds, torch_version: String(worker.ready.torch), threads: Number(worker.ready.threads),
        lms_tokens_per_second: tokens / sum(r.lms), torch_tokens_per_second: tokens / sum(r.torch), ratio: median(r.ratios), total_ratio: r.totalRatio,
        lms_ms_per_step: (1000 * sum(r.lms)) / r.lms.length, torch_ms_per_step: (1000 * sum(r.torch)) / r.torch.length,
      };
    } finally {
      await worker.close();
    }
  } finally {
    scratch.remove();
    for (const p of params.values()) p.requiresGrad = false;
  }
}

log(`backend: ${describeBackend()}`);
const sgemm = sgemmGflops();
log(`sgemm 2048×768×768: ${sgemm.toFixed(1)} GFLOP/s`);
const maxBatch = Math.max(...shapes.map((s) => ZOO[s].train.batchSize));
const corpus = zooCorpus(maxBatch * Math.max(50, WARMUP + steps + 14), 0).train;
const results: Record<string, ShapeResult> = {};
for (const name of torchOnly ? [] : shapes) {
  const r = benchShape(name, corpus, sgemm);
  results[name] = r;
  log(`${name}: ${Math.round(r.tokens_per_second)} tokens/s (${(1000 * r.seconds_per_step).toFixed(0)} ms/step, ${r.batch_size}×${r.mean_seq_len.toFixed(1)} tokens, ${r.masked_per_step.toFixed(0)} masked)`);
  log(`  ${r.gflop_per_step.toFixed(2)} GFLOP/step → ${r.train_gflops.toFixed(1)} GFLOP/s, ratio to sgemm ${r.train_ratio.toFixed(3)}; tied decoder ${(100 * r.decoder_flop_share).toFixed(0)}% of GEMM FLOPs`);
  if (r.profile) {
    log(`  MLM head (dense+LN+decoder+loss) fwd+bwd ≈ ${(100 * r.profile.mlm_head_share).toFixed(0)}% of a step; cross-entropy (log-softmax over ${ZOO[name].family === 'roberta' ? 50265 : 30522}) alone ≈ ${(100 * r.profile.cross_entropy_share).toFixed(0)}%`);
    log(`  ${(100 * r.profile.in_kernels_share).toFixed(0)}% of step time inside kernels; kernel time shares:`);
    for (const [k, s] of Object.entries(r.profile.kernel_shares).slice(0, 10)) log(`    ${k.padEnd(22)} ${(100 * s).toFixed(1)}%`);
  }
}
const torchResults: Record<string, TorchResult> = {};
let torchSkipped: string | null = null;
if (withTorch) {
  torchSkipped = torchUnavailable();
  if (torchSkipped) log(`--torch: skipped: ${torchSkipped}`);
  else {
    for (const name of shapes) {
      const r = await torchCompare(name, corpus);
      torchResults[name] = r;
      log(`${name} vs PyTorch ${r.torch_version} (eager, ${r.threads} threads, same ${r.steps} batches, ${r.rounds} rounds of ${roundSteps} in rotating order):`);
      log(`  lmsanitator ${Math.round(r.lms_tokens_per_second)} tokens/s (${r.lms_ms_per_step.toFixed(0)} ms/step) · PyTorch ${Math.round(r.torch_tokens_per_second)} tokens/s (${r.torch_ms_per_step.toFixed(0)} ms/step) → ${r.ratio.toFixed(2)}× (median of per-round ratios; ${r.total_ratio.toFixed(2)}× in total time)`);
    }
  }
}
const headline = shapes[shapes.length - 1];
if (json && torchOnly) console.log(JSON.stringify({ backend: describeBackend(), torch: torchSkipped ? { skipped: torchSkipped } : torchResults }));
else if (json) {
  console.log(JSON.stringify({
    backend: describeBackend(),
    native_available: nativeAvailable(),
    tokens_per_second: Object.fromEntries(shapes.map((s) => [s, results[s].tokens_per_second])),
    train_gflops: results[headline].train_gflops,
    sgemm_gflops: sgemm,
    train_ratio: results[headline].train_ratio,
    train_shape: headline,
    shapes: results,
    ...(withTorch && { torch: torchSkipped ? { skipped: torchSkipped } : torchResults }),
  }));
}
