/**
 * npm run bench:mining [-- --json]
 * PV-mining speed for the zoo shapes (bert-micro, bert-mini) and a random
 * BERT-base-shaped model, measured in one run: steps/s and sentences/s,
 * achieved GFLOP/s and its ratio to the run's sgemm GFLOP/s
 * (`mining_ratio`, on the BERT-base shape), and the speed-up of running k
 * fuzz loops as one batch (`--parallel k`) over k serial loops.
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
import { sgemmGflops } from './common.js';

const json = process.argv.includes('--json');
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
if (json) {
  console.log(JSON.stringify({
    sgemm_gflops: sgemm, mining_ratio: miningRatio, shapes: results,
    bert_mini_scan_estimate_seconds: scanEstimate.length,
    bert_mini_scan_estimate_seconds_input_order: scanEstimate.input,
    batch_order_speedup: scanEstimate.input / scanEstimate.length,
  }));
}
