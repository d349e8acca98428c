/**
 * node dist/bench/torch/prompt.js [--json] [--shapes bert-micro,bert-mini] [--steps N] [--round K]
 * A P-tuning v2 training step (prefix 16, batches of 16 real sentences of
 * 32–42 tokens, task SST-2, dropout on, clip 1.0, AdamW on the prefix and
 * the head only; frozen random backbone) as promptTune's trainLoop runs it,
 * against an equivalent eager PyTorch step (bench/torch/ptuning_v2_step.py,
 * Debian's /usr/bin/python3 with python3-torch) on the same batches, timed
 * back to back in rotating order (rounds of --round steps, default 2).
 * Prints steps/s of each and their ratio (median of per-round ratios);
 * without torch it prints one line saying so and exits 0.
 * The same settings as bench/prompt.ts (its BATCH, PREFIX, LR, CLIP).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { backward, describeBackend, withScope } from '../../src/engine/index.js';
import { nativeAddon } from '../../src/engine/kernels/native.js';
import { createPromptModel, padRows, promptLoss, type PromptRow } from '../../src/prompt/index.js';
import { adamW } from '../../src/train/schedule.js';
import { benchArgs, bertShapes, frozenRandomBackbone, median, sentencesOfLength } from '../common.js';
import { scratchDir, sideBySide, torchScript, torchUnavailable, TorchWorker, writeTyped } from './worker.js';

const { json, argOf } = benchArgs();
const shapes = bertShapes(argOf, 'bert-micro,bert-mini');
const steps = Number(argOf('--steps') ?? 24);
const round = Number(argOf('--round') ?? 2);
const BATCH = 16;
const PREFIX = 16;
const LR = 1e-2;
const CLIP = 1.0;
const WARMUP = 2;
const log = (...a: unknown[]) => {
  if (!json) console.log(...a);
};

const skipped = torchUnavailable();
if (skipped) {
  console.log(json ? JSON.stringify({ torch: { skipped } }) : `--torch: skipped: ${skipped}`);
  process.exit(0);
}

const nBatches = Math.min(WARMUP + steps, 12);
const sentences = sentencesOfLength(12000, 'bench-prompt', 32, 42).slice(0, nBatches * BATCH);
log(`backend: ${describeBackend()}; P-tuning v2 (prefix ${PREFIX}) steps, batch ${BATCH} × 32–42-token sentences`);
const results: Record<string, Record<string, number | string>> = {};
for (const name of shapes) {
  const bb = frozenRandomBackbone(name);
  const model = createPromptModel(bb, { method: 'ptuning-v2', task: 'sst2', prefixLen: PREFIX, maxLen: 128, seed: 1 });
  const params = model.trainable();
  for (const p of params.values()) p.requiresGrad = true;
  const opt = adamW(params, LR, 0);
  const batches: PromptRow[][] = Array.from({ length: nBatches }, (_, i) => sentences.slice(i * BATCH, (i + 1) * BATCH).map((text, j) => model.encode({ text, label: j % 2 })));
  // The step trainLoop runs: loss and backward in a scope, then AdamW with the clip folded in.
  const ours = (s: number) => {
    const rows = batches[s % nBatches]!;
    withScope(() => {
      const { loss } = promptLoss(model, rows, s + 1);
      backward(loss);
      loss.item();
    });
    opt.update({ maxGradNorm: CLIP });
  };
  const c = bb.config;
  const threads = nativeAddon?.threads ?? 1;
  const scratch = scratchDir('prompt');
  try {
    const padded = batches.map((rows) => padRows(rows, bb.tokenizer!.specialIds.pad));
    padded.forEach((b, i) => {
      writeTyped(scratch.dir, `ids_${i}`, b.ids);
      writeTyped(scratch.dir, `type_ids_${i}`, b.typeIds);
      writeTyped(scratch.dir, `mask_${i}`, b.mask);
      writeTyped(scratch.dir, `labels_${i}`, Int32Array.from(batches[i]!, (r) => r.label!));
    });
    writeFileSync(join(scratch.dir, 'manifest.json'), JSON.stringify({
      config: {
        vocab: c.vocabSize, hidden: c.hiddenSize, layers: c.numHiddenLayers, heads: c.numAttentionHeads, ff: c.intermediateSize,
        max_positions: c.maxPositionEmbeddings, type_vocab: c.typeVocabSize, eps: c.layerNormEps, hidden_dropout: c.hiddenDropoutProb,
        attn_dropout: c.attentionProbsDropoutProb, init_range: c.initializerRange, seed: 1,
      },
      threads, lr: LR, clip: CLIP, prefix_len: PREFIX, labels: model.labelNames.length,
      // Step s uses batch s % batches.length on both sides.
      batches: padded.map((b) => ({ B: b.B, T: b.T })),
    }));
    const worker = await TorchWorker.start(torchScript('ptuning_v2_step.py'), ['--dir', scratch.dir], threads);
    try {
      const timed = Array.from({ length: steps }, (_, i) => WARMUP + i);
      const r = await sideBySide(worker, timed, round, Array.from({ length: WARMUP }, (_, i) => i), ours);
      const ms = (xs: number[]) => 1000 * median(xs);
      results[name] = {
        torch_version: String(worker.ready.torch), threads: Number(worker.ready.threads), steps, rounds: r.rounds,
        lms_step_ms: ms(r.lms), torch_step_ms: ms(r.torch), ratio: median(r.ratios), total_ratio: r.totalRatio,
        mean_seq_len: padded.reduce((x, b) => x + b.T, 0) / padded.length,
      };
      const x = results[name]!;
      log(`${name} P-tuning v2 step vs PyTorch ${x.torch_version} (eager, ${x.threads} threads, T ≈ ${(x.mean_seq_len as number).toFixed(1)}, ${r.rounds} rounds of ${round}):`);
      log(`  lmsanitator ${(x.lms_step_ms as number).toFixed(1)} ms/step · PyTorch ${(x.torch_step_ms as number).toFixed(1)} ms/step (median steps) → ${(x.ratio as number).toFixed(2)}× (median of per-round ratios; ${r.totalRatio.toFixed(2)}× in total time)`);
    } finally {
      await worker.close();
    }
  } finally {
    scratch.remove();
    for (const p of params.values()) p.requiresGrad = false;
  }
}
if (json) console.log(JSON.stringify({ backend: describeBackend(), torch: results }));
