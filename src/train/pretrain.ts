/**
 * Masked-language-model pretraining from real text: dynamic masking,
 * AdamW with linear warm-up and decay, gradient clipping, dropout 0.1,
 * length-bucketed batches. Checkpoints every N steps and resumes exactly:
 * batch order and masks are functions of (seed, epoch, step), so a resumed
 * run sees the same data as an uninterrupted one.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type Adam, backward, crossEntropy, noGrad, type Tensor, withScope } from '../engine/index.js';
import { backendName } from '../engine/backend.js';
import type { EncoderConfig } from '../formats/hf-config.js';
import { Encoder } from '../models/encoder.js';
import { MlmHead } from '../models/heads.js';
import { type LoadedModel, saveModel } from '../models/model.js';
import { Rng } from '../text/random.js';
import type { TextTokenizer } from '../text/tokenizer.js';
import { fmt, progress } from '../util/progress.js';
import { bucketedBatches, padBatch } from './batching.js';
import { writeJsonAtomic } from '../formats/file-io.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { adamW, linearSchedule } from './schedule.js';
import { countCorrect, type MaskingOptions, maskBatch, type MlmBatch, mlmLogits, mlmLoss } from './mlm.js';

export interface PretrainOptions {
  steps: number;
  batchSize: number;
  maxLen: number;
  lr: number;
  warmupFraction: number;
  weightDecay: number;
  clip: number;
  maskProb: number;
  seed: number;
  checkpointEvery: number;
  /** Held-out sentences for the final MLM accuracy. */
  evalSentences: number;
  quiet?: boolean;
  /** Stop (after a checkpoint) when this returns true, e.g. on SIGINT. */
  shouldStop?: () => boolean;
}

/** training.json of an MLM run; the fields named here are the ones its readers rely on. */
export interface TrainingRecord extends Record<string, unknown> {
  steps: number;
  seconds: number;
  heldout_mlm_accuracy: number;
  unigram_baseline_accuracy: number;
}

export interface PretrainResult {
  model: LoadedModel;
  training: TrainingRecord;
  interrupted: boolean;
}

/**
 * Token rows as Int32Arrays: tens of thousands of small JS arrays would sit
 * in the heap that every major GC walks (measured: GC was 16% of a
 * bert-mini step); typed arrays are opaque to it.
 */
function tokenize(tok: TextTokenizer, sentences: readonly string[], maxLen: number): Int32Array[] {
  return sentences.map((s) => Int32Array.from(tok.encode(s, null, { maxLength: maxLen }).ids)).filter((ids) => ids.length > 2);
}

/** Pretrains a fresh model and writes it (with training.json) to outDir. */
export function pretrain(
  config: EncoderConfig, tokenizer: TextTokenizer, train: readonly string[], heldout: readonly string[],
  outDir: string, o: PretrainOptions, dataLabel: string, resume = false,
  /** Extra run identity: a resume must match it (e.g. a hash of every size and option). */
  idExtra?: string,
): PretrainResult {
  mkdirSync(outDir, { recursive: true });
  const started = Date.now();
  const encoder = Encoder.init(config, o.seed);
  const mlm = MlmHead.init(config, encoder.wordEmbeddings, o.seed + 1);
  const model: LoadedModel = { dir: outDir, config, encoder, mlm, sequenceClassifier: null, tokenClassifier: null, tokenizer, hash: '', unusedKeys: [] };
  return trainMlm(model, tokenizer, train, heldout, outDir, o, dataLabel, resume, { started, idExtra });
}

export interface MlmRunOptions {
  /** Names the kind of run in the checkpoint's run id and the weights' metadata. */
  tag?: string;
  /** Extra run identity (e.g. the base model's hash), so a resume cannot mix runs. */
  idExtra?: string;
  /** When the run began, if set-up before this call should count in `seconds`. */
  started?: number;
}

/** AdamW as every training loop here uses it: no decay on biases and LayerNorm. */
/** One optimizer step on a masked batch; returns the loss. */
export function mlmTrainStep(model: LoadedModel, batch: MlmBatch, opt: Adam, dropoutSeed: number, clip: number, lr: number): number {
  const loss = withScope(() => {
    const l = mlmLoss(model, batch, dropoutSeed);
    backward(l);
    return l.item();
  });
  // Clipping (as clipGradNorm) folded into the one multi-tensor AdamW pass.
  opt.lr = lr;
  opt.update({ maxGradNorm: clip });
  return loss;
}

/**
 * MLM training of an existing model (fresh for pretraining, pretrained for
 * continued pretraining); writes it with training.json to outDir.
 */
export function trainMlm(
  model: LoadedModel, tokenizer: TextTokenizer, train: readonly string[], heldout: readonly string[],
  outDir: string, o: PretrainOptions, dataLabel: string, resume = false, run: MlmRunOptions = {},
): PretrainResult {
  mkdirSync(outDir, { recursive: true });
  const started = run.started ?? Date.now();
  const tag = run.tag ?? 'pretrain';
  const { config, encoder, mlm } = model;
  if (!mlm) throw new Error('MLM training needs a model with a masked-LM head');
  const params = new Map([...encoder.params, ...mlm.params]);
  for (const p of params.values()) p.requiresGrad = true;
  const opt = adamW(params, o.lr, o.weightDecay);

  const rows = tokenize(tokenizer, train, o.maxLen);
  const skip = tokenizer.specialOrUnusedMask();
  const masking: MaskingOptions = { maskProb: o.maskProb, maskId: tokenizer.specialIds.mask, vocabSize: config.vocabSize, skip };
  const runId = `${tag}:${config.modelType}:${config.numHiddenLayers}x${config.hiddenSize}:seed${o.seed}:${dataLabel}:${rows.length}${run.idExtra ? `:${run.idExtra}` : ''}`;
  const ckpt = join(outDir, 'checkpoint.safetensors');

  let step = 0;
  if (resume && existsSync(ckpt)) step = loadCheckpoint(ckpt, params, opt, runId);
  const resumedFrom = step;
  const lrAt = linearSchedule(o.steps, o.warmupFraction, o.lr);

  const lengths = rows.map((r) => r.length);
  const perEpoch = Math.floor(rows.length / o.batchSize);
  if (perEpoch === 0) throw new Error(`only ${rows.length} usable sentences for batch size ${o.batchSize}`);
  let epochBatches: number[][] = [];
  let epochOf = -1;
  const bar = progress(tag, o.steps, { quiet: o.quiet, fields: ['loss', 'tok_s'], start: resumedFrom, unit: 'steps' });
  let tokens = 0;
  let tokenTime = 0;
  let lossEma = NaN;
  let interrupted = false;
  while (step < o.steps) {
    const epoch = Math.floor(step / perEpoch);
    if (epoch !== epochOf) {
      epochBatches = bucketedBatches(lengths, o.batchSize, new Rng(`${o.seed}:epoch:${epoch}`)).filter((b) => b.length === o.batchSize);
      epochOf = epoch;
    }
    const idx = epochBatches[step % perEpoch] ?? epochBatches[0];
    const t0 = process.hrtime.bigint();
    const batch = maskBatch(padBatch(idx.map((i) => rows[i]), tokenizer.specialIds.pad), masking, new Rng(`${o.seed}:mask:${step}`));
    const loss = mlmTrainStep(model, batch, opt, (o.seed * 7919 + step) >>> 0, o.clip, lrAt(step));
    step++;
    tokenTime += Number(process.hrtime.bigint() - t0) / 1e9;
    tokens += batch.B * batch.T;
    lossEma = Number.isNaN(lossEma) ? loss : 0.98 * lossEma + 0.02 * loss;
    if (!Number.isFinite(loss)) throw new Error(`pretraining diverged at step ${step} (loss ${loss}); lower --lr`);
    bar.update(step, { loss: fmt(lossEma, 3), tok_s: Math.round(tokens / tokenTime) });
    const stop = o.shouldStop?.() ?? false;
    if (step % o.checkpointEvery === 0 || stop || step === o.steps) {
      saveCheckpoint(ckpt, params, opt, { step, runId });
    }
    if (stop && step < o.steps) {
      interrupted = true;
      break;
    }
  }
  bar.stop();
  for (const p of params.values()) p.requiresGrad = false;
  const evalResult = evaluateMlm(model, tokenizer, heldout, o.maxLen, o.seed, rows);
  const training = {
    data: dataLabel,
    seed: o.seed,
    steps: step,
    resumed_from_step: resumedFrom,
    target_steps: o.steps,
    batch_size: o.batchSize,
    max_len: o.maxLen,
    lr: o.lr,
    warmup_fraction: o.warmupFraction,
    weight_decay: o.weightDecay,
    clip: o.clip,
    mask_prob: o.maskProb,
    train_sentences: rows.length,
    heldout_sentences: evalResult.sentences,
    heldout_mlm_loss: evalResult.loss,
    heldout_mlm_accuracy: evalResult.accuracy,
    unigram_baseline_accuracy: evalResult.unigramAccuracy,
    unigram_baseline_token: evalResult.unigramToken,
    final_train_loss_ema: lossEma,
    tokens_per_second: tokens / Math.max(tokenTime, 1e-9),
    seconds: (Date.now() - started) / 1000,
    backend: backendName(),
    interrupted,
  };
  if (!interrupted) {
    saveModel(outDir, model, { lmsanitator: tag });
    writeJsonAtomic(join(outDir, 'training.json'), training);
    // The finished model is saved; the optimizer state is three times its size and no longer needed.
    rmSync(ckpt, { force: true });
  }
  return { model, training, interrupted };
}

/**
 * Held-out masked-token accuracy with a fixed masking seed, and the
 * unigram baseline (always predict the most frequent training token) on
 * the same masked positions.
 */
export function evaluateMlm(model: LoadedModel, tok: TextTokenizer, sentences: readonly string[], maxLen: number, seed: number, trainRows?: readonly Int32Array[]) {
  const rows = tokenize(tok, sentences, maxLen);
  const skip = tok.specialOrUnusedMask();
  const counts = new Map<number, number>();
  for (const r of trainRows ?? rows) for (const id of r) if (!skip[id]) counts.set(id, (counts.get(id) ?? 0) + 1);
  let unigramToken = 0;
  let best = -1;
  for (const [id, c] of counts) if (c > best) [unigramToken, best] = [id, c];
  const masking: MaskingOptions = { maskProb: 0.15, maskId: tok.specialIds.mask, vocabSize: model.config.vocabSize, skip };
  const rng = new Rng(`${seed}:heldout`);
  let correct = 0;
  let unigram = 0;
  let total = 0;
  let lossSum = 0;
  for (let i = 0; i < rows.length; i += 32) {
    const b = maskBatch(padBatch(rows.slice(i, i + 32), tok.specialIds.pad), masking, rng);
    withScope(() =>
      noGrad(() => {
        const logits = mlmLogits(model, b);
        correct += countCorrect(logits, b.labels);
        lossSum += crossEntropy(logits, b.labels).item() * b.labels.length;
      }),
    );
    for (const l of b.labels) if (l === unigramToken) unigram++;
    total += b.labels.length;
  }
  return {
    sentences: rows.length,
    accuracy: total ? correct / total : 0,
    unigramAccuracy: total ? unigram / total : 0,
    unigramToken: tok.idToToken(unigramToken) ?? String(unigramToken),
    loss: total ? lossSum / total : NaN,
  };
}


