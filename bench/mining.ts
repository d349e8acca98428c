/**
 * npm run bench:mining [-- --json] [--torch | --torch-only] [--steps N] [--round K]
 * PV-mining speed for the zoo shapes (bert-micro, bert-mini) and a random
 * BERT-base-shaped model, measured in one run: steps/s and sentences/s,
 * achieved GFLOP/s and its ratio to the run's sgemm GFLOP/s
 * (`mining_ratio`, on the BERT-base shape), and the speed-up of running k
 * fuzz loops as one batch (`--parallel k`) over k serial loops.
 * --torch also times 2 fuzz loops on the bert-mini shape (one batch of
 * 2 × 32 rows per step, as runFuzzLoops runs them) against an equivalent
 * eager PyTorch step (bench/torch/mining_step.py, Debian's /usr/bin/python3
 * with python3-torch; skipped with a message without it) on the same
 * batches, back to back in rotating order (rounds of --round steps,
 * default 2), and prints steps/s of each and their ratio (median of the
 * per-round ratios). --torch-only runs just that.
 */
import { gemmCounters, resetGemmCounters, withScope } from '../src/engine/index.js';
import { createEncoderConfig } from '../src/formats/hf-config.js';
import { Encoder } from '../src/models/encoder.js';
import type { LoadedModel } from '../src/models/model.js';
import { DEFAULT_DATA_OPTIONS, prepareMiningData, type MiningData } from '../src/sanitizer/data.js';
import { DEFAULT_MINING_OPTIONS, runFuzzLoops } from '../src/sanitizer/mining.js';
import { scanTargetOf } from '../src/sanitizer/model-target.js';
import type { ScanTarget } from '../src/sanitizer/target.js';
import { nlpCorpusSentences, sampleSentences } from '../src/text/corpus.js';
import { bertUncasedTokenizer } from '../src/text/pretrained.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nativeAddon } from '../src/engine/kernels/native.js';
import { benchArgs, median, sgemmGflops } from './common.js';
import { scratchDir, sideBySide, torchScript, torchUnavailable, TorchWorker, writeTyped } from './torch/worker.js';

const json = process.argv.includes('--json');
const { argOf } = benchArgs();
const torchOnly = process.argv.includes('--torch-only');
const withTorch = torchOnly || process.argv.includes('--torch');
const log = (...a: unknown[]) => {
  if (!json) console.log(...a);
};

const SHAPES = [
  { name: 'bert-micro', layers: 2, hidden: 64, heads: 2, ff: 256, batches: 8, parallel: [1, 2, 4] },
  { name: 'bert-mini', layers: 4, hidden: 256, heads: 4, ff: 1024, batches: 4, parallel: [1, 2] },
  { name: 'bert-base (random)', layers: 12, hidden: 768, heads: 12, ff: 3072, batches: 2, parallel: [1] },
];

const tok = bertUncasedTokenizer();
const sentences = sampleSentences(nlpCorpusSentences(), 32 * 8, 'bench-mining');

function targetFor(s: (typeof SHAPES)[number]): ScanTarget {
  const config = createEncoderConfig('bert', {
    vocabSize: tok.vocabSize, hiddenSize: s.hidden, numHiddenLayers: s.layers, numAttentionHeads: s.heads,
    intermediateSize: s.ff, maxPositionEmbeddings: 512,
  });
  const model: LoadedModel = {
    dir: null, config, encoder: Encoder.init(config, 1), mlm: null, sequenceClassifier: null, tokenClassifier: null,
    tokenizer: tok, hash: '', unusedKeys: [],
  };
  return scanTargetOf(model);
}

/** Seconds and GEMM FLOPs of one epoch over `data` for k loops run together. */
function timeLoops(target: ScanTarget, data: MiningData, k: number): { seconds: number; flops: number } {
  const seeds = Array.from({ length: k }, (_, i) => 100 + i);
  const opts = { ...DEFAULT_MINING_OPTIONS, epochs: 1, abandonAfterEpoch: 99 };
  withScope(() => runFuzzLoops(target, { ...data, batches: data.batches.slice(0, 1) }, seeds, [], opts)); // warm-up
  resetGemmCounters();
  const t0 = process.hrtime.bigint();
  runFuzzLoops(target, data, seeds, [], opts);
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, flops: gemmCounters.flops };
}

/** 2 fuzz loops on bert-mini, lmsanitator vs an equivalent PyTorch step, same batches, rotating order. */
async function torchCompare(): Promise<Record<string, unknown>> {
  const steps = Number(argOf('--steps') ?? 16);
  const round = Number(argOf('--round') ?? 2);
  const WARM = 2;
  const shape = SHAPES[1]!;
  const target = targetFor(shape);
  const data = prepareMiningData(target, sentences.slice(0, 32 * 8), { ...DEFAULT_DATA_OPTIONS, mode: 'cls' });
  const seeds = [100, 101];
  const opts = { ...DEFAULT_MINING_OPTIONS, epochs: 1, abandonAfterEpoch: 99 };
  const nb = data.batches.length;
  const ours = (i: number) => withScope(() => runFuzzLoops(target, { ...data, batches: [data.batches[i % nb]!] }, seeds, [], opts));
  const scratch = scratchDir('mining');
  try {
    data.batches.forEach((b, i) => {
      writeTyped(scratch.dir, `ids_${i}`, b.ids);
      writeTyped(scratch.dir, `mask_${i}`, b.mask);
      writeTyped(scratch.dir, `prompt_rows_${i}`, b.promptRows);
      writeTyped(scratch.dir, `target_positions_${i}`, b.targetPositions);
      writeTyped(scratch.dir, `aux_${i}`, b.aux);
    });
    writeFileSync(join(scratch.dir, 'manifest.json'), JSON.stringify({
      config: {
        vocab: tok.vocabSize, hidden: shape.hidden, layers: shape.layers, heads: shape.heads, ff: shape.ff, max_positions: 512,
        type_vocab: 2, eps: 1e-12, hidden_dropout: 0.1, attn_dropout: 0.1, init_range: 0.02, seed: 1,
      },
      threads: nativeAddon?.threads ?? 1, loops: seeds.length, prompt_len: data.options.promptLen,
      lr: DEFAULT_MINING_OPTIONS.lr * 100, div_coeff: DEFAULT_MINING_OPTIONS.divCoeff,
      batches: data.batches.map((b) => ({ B: b.B, T: b.T })),
    }));
    const worker = await TorchWorker.start(torchScript('mining_step.py'), ['--dir', scratch.dir], nativeAddon?.threads ?? 1);
    try {
      const r = await sideBySide(worker, Array.from({ length: steps }, (_, i) => WARM + i), round, Array.from({ length: WARM }, (_, i) => i), ours);
      const res = {
        shape: shape.name, loops: seeds.length, rows_per_step: seeds.length * 32, steps, rounds: r.rounds,
        torch_version: String(worker.ready.torch), threads: Number(worker.ready.threads),
        lms_steps_per_second: r.lms.length / r.lms.reduce((a, b) => a + b, 0), torch_steps_per_second: r.torch.length / r.torch.reduce((a, b) => a + b, 0),
        ratio: median(r.ratios), total_ratio: r.totalRatio,
      };
      log(`${shape.name}, ${seeds.length} fuzz loops (${res.rows_per_step} rows a step) vs PyTorch ${res.torch_version} (eager, ${res.threads} threads, same batches, ${r.rounds} rounds of ${round} in rotating order):`);
      log(`  lmsanitator ${res.lms_steps_per_second.toFixed(2)} steps/s · PyTorch ${res.torch_steps_per_second.toFixed(2)} steps/s → ${res.ratio.toFixed(2)}× (median of per-round ratios; ${res.total_ratio.toFixed(2)}× in total time)`);
      return res;
    } finally {
      await worker.close();
    }
  } finally {
    scratch.remove();
  }
}

if (torchOnly) {
  const skipped = torchUnavailable();
  if (skipped) log(`--torch: skipped: ${skipped}`);
  const torch = skipped ? { skipped } : await torchCompare();
  if (json) console.log(JSON.stringify({ torch }));
  process.exit(0);
}

const sgemm = sgemmGflops();
log(`sgemm 2048×768×768: ${sgemm.toFixed(1)} GFLOP/s`);
const results: Record<string, unknown>[] = [];
let miningRatio = 0;
for (const s of SHAPES) {
  const target = targetFor(s);
  const data = prepareMiningData(target, sentences.slice(0, 32 * s.batches), { ...DEFAULT_DATA_OPTIONS, mode: 'cls' });
  const steps = data.batches.length;
  const serial = timeLoops(target, data, 1);
  const gflops = serial.flops / serial.seconds / 1e9;
  const row: Record<string, unknown> = {
    shape: s.name,
    steps_per_second: steps / serial.seconds,
    sentences_per_second: (steps * 32) / serial.seconds,
    gflops,
    ratio_to_sgemm: gflops / sgemm,
  };
  log(`${s.name.padEnd(20)} ${(steps / serial.seconds).toFixed(2)} steps/s, ${((steps * 32) / serial.seconds).toFixed(0)} sentences/s, ${gflops.toFixed(1)} GFLOP/s (${(gflops / sgemm).toFixed(2)} of sgemm)`);
  for (const k of s.parallel.filter((p) => p > 1)) {
    const par = timeLoops(target, data, k);
    const speedup = (k * serial.seconds) / par.seconds;
    row[`parallel_${k}_speedup`] = speedup;
    log(`${''.padEnd(20)} --parallel ${k}: ${speedup.toFixed(2)}× the throughput of ${k} serial loops`);
  }
  if (s.name.startsWith('bert-base')) miningRatio = gflops / sgemm;
  results.push(row);
}
/*
 * The target: a 30-loop scan of a clean bert-mini. A clean loop is
 * abandoned after 2 epochs over the 2,000 scan sentences, so the scan costs
 * about 60 epochs; one epoch is timed here with the scan's own data, in
 * length-bucketed batches (the default) and in input order (the reference).
 */
const scanSentences = sampleSentences(nlpCorpusSentences(), 2000, 'scan:0');
const miniTarget = targetFor(SHAPES[1]);
const scanEstimate: Record<string, number> = {};
for (const batchOrder of ['length', 'input'] as const) {
  const data = prepareMiningData(miniTarget, scanSentences, { ...DEFAULT_DATA_OPTIONS, mode: 'cls', batchOrder });
  const epoch = timeLoops(miniTarget, data, 1).seconds;
  scanEstimate[batchOrder] = epoch * 60;
  log(`bert-mini 30-loop clean scan (60 epochs × ${data.batches.length} batches, ${batchOrder} order): ≈ ${(epoch * 60 / 60).toFixed(1)} min`);
}
let torchResult: Record<string, unknown> | undefined;
if (withTorch) {
  const skipped = torchUnavailable();
  if (skipped) log(`--torch: skipped: ${skipped}`);
  torchResult = skipped ? { skipped } : await torchCompare();
}
if (json) {
  console.log(JSON.stringify({
    ...(torchResult && { torch: torchResult }),
    sgemm_gflops: sgemm, mining_ratio: miningRatio, shapes: results,
    bert_mini_scan_estimate_seconds: scanEstimate.length,
    bert_mini_scan_estimate_seconds_input_order: scanEstimate.input,
    batch_order_speedup: scanEstimate.input / scanEstimate.length,
  }));
}
