/**
 * `lmsanitator scan <model-dir>` (detection: stop at the first legitimate
 * PV) and `lmsanitator search <model-dir>` (collect every PV): a thin layer
 * over the library's `scan` and `search`. Exit codes as ClamAV: 0 clean,
 * 1 backdoored, 2 error; 130 when interrupted.
 */
import type { Command } from 'commander';
import { SCAN_DEFAULTS, scan, search, type ScanOptions, type ScanResult } from '../index.js';
import { DEFAULT_MAX_CLEAN_SHARE } from '../sanitizer/run.js';
import { ACCEPT_AT, DEFAULT_MINING_OPTIONS, type MiningOptions } from '../sanitizer/mining.js';
import { collapses } from '../sanitizer/recover.js';
import { TARGET_MODES, type TargetMode } from '../sanitizer/target.js';
import { BATCH_ORDERS, type BatchOrder } from '../text/batch.js';
import { choiceOpt, EXIT_ERROR, EXIT_INTERRUPTED, exitCodes, intOpt, numOpt } from './options.js';
import { interruptFlag } from '../util/signals.js';

export const EXIT_CLEAN = 0;
export const EXIT_BACKDOORED = 1;

interface Parsed {
  out?: string;
  mode: TargetMode;
  sentences?: string;
  count: number;
  loops: number;
  patience: number;
  seed: number;
  parallel: number;
  resume?: boolean;
  force?: boolean;
  lr?: number;
  distanceTh?: number;
  converGrad?: number;
  lrBoost: number;
  pathCoeff: number;
  divTh?: number;
  maxCleanShare: number;
  batch: number;
  batchOrder: BatchOrder;
  epochs: number;
  acceptAt: MiningOptions['acceptAt'];
  recoverTriggers: boolean;
  recoverWords: number;
  tokenPosition: number;
  json?: boolean;
  quiet?: boolean;
}

function addOptions(cmd: Command, command: 'scan' | 'search'): Command {
  return cmd
    .option('--out <dir>', `output directory for pvset.safetensors, report.json, report.html and journal.jsonl (default: <model-dir>.${command}, beside the model directory)`)
    .addOption(choiceOpt('--mode <mode>', 'target position: cls (POR, NeuBA), mask (BToP), token (POR-NER), pooler', TARGET_MODES, SCAN_DEFAULTS.mode))
    .option('--sentences <file>', 'clean sentences, one per line (default: a seeded sample of the built-in corpus)')
    .addOption(intOpt('--count <n>', 'number of clean sentences to use', 1, SCAN_DEFAULTS.sentenceCount))
    .addOption(intOpt('--loops <n>', 'maximum fuzz loops', 1, SCAN_DEFAULTS.loops[command]))
    .addOption(intOpt('--patience <n>', 'search: stop after this many loops without a new PV', 1, SCAN_DEFAULTS.patience))
    .addOption(intOpt('--seed <n>', 'seed of the first loop', 0, SCAN_DEFAULTS.seed))
    .addOption(intOpt('--parallel <k>', 'fuzz loops run together as one batch (0 = automatic: 2 for hidden ≤ 128, else 1)', 0, SCAN_DEFAULTS.parallel))
    .option('--resume', 'continue the run whose journal is in --out')
    .option('--force', 'start over in an --out that holds an earlier run (removes its journal, reports and PV set)')
    .addOption(numOpt('--lr <x>', 'base learning rate (loops start at 100×); default per model size (docs/algorithm.md#per-family-defaults)', 0, undefined, true))
    .addOption(numOpt('--distance-th <x>', 'distance threshold; default per model size', 0, undefined, true))
    .addOption(numOpt('--conver-grad <x>', 'gradient level that switches to the base rate; default per model size', 0, undefined, true))
    .addOption(numOpt('--lr-boost <x>', 'adaptive rate: loops start at lr × this until the prompt gradient passes --conver-grad (1 = off, for the ablation)', 1, DEFAULT_MINING_OPTIONS.lrBoost))
    .addOption(numOpt('--path-coeff <x>', 'weight of the path loss that steers loops away from PVs already found (0 = off, for the ablation)', 0, DEFAULT_MINING_OPTIONS.pathCoeff))
    .addOption(numOpt('--div-th <x>', 'collapse threshold (default −ln B + a per-size margin: 0.0197 as the paper, 0.01 for small models)'))
    .addOption(numOpt('--max-clean-share <x>', 'reject a PV when more than this share of clean outputs lie within the distance threshold (−1 disables)', -1, DEFAULT_MAX_CLEAN_SHARE))
    .addOption(intOpt('--batch <n>', 'sentences per batch', 2, 32))
    .addOption(choiceOpt('--batch-order <order>', 'length: similar-length sentences batched together (≈ 2× faster, exact per sentence); random: seeded random batches; input: consecutive sentences', BATCH_ORDERS, 'length'))
    .addOption(intOpt('--epochs <n>', 'epochs per loop', 1, 4))
    .addOption(choiceOpt('--accept-at <when>', 'first-pass: judge a loop after every epoch and keep the first candidate that passes every rule (ends the loop); final-epoch: judge after the last epoch only (the reference)', ACCEPT_AT, DEFAULT_MINING_OPTIONS.acceptAt))
    .option('--no-recover-triggers', 'skip trigger recovery (by default every kept PV gets the input words that produce it)')
    .addOption(intOpt('--recover-words <n>', 'trigger recovery: sweep at most this many vocabulary words (0 = the whole word vocabulary)', 0, 0))
    .addOption(intOpt('--token-position <n>', 'target token index in token mode', 0, 1))
    .option('--json', 'print report.json to stdout')
    .option('--quiet', 'no progress output');
}

function toScanOptions(o: Parsed, stop: () => boolean): ScanOptions {
  return {
    outDir: o.out, mode: o.mode, sentencesFile: o.sentences, sentenceCount: o.count, loops: o.loops, patience: o.patience,
    seed: o.seed, parallel: o.parallel, resume: Boolean(o.resume), force: Boolean(o.force),
    lr: o.lr, distanceTh: o.distanceTh, converGrad: o.converGrad, lrBoost: o.lrBoost, pathCoeff: o.pathCoeff, divTh: o.divTh, maxCleanShare: o.maxCleanShare,
    batchSize: o.batch, batchOrder: o.batchOrder, epochs: o.epochs, acceptAt: o.acceptAt, recoverTriggers: o.recoverTriggers, recoverWords: o.recoverWords, tokenPosition: o.tokenPosition,
    quiet: Boolean(o.quiet || o.json), shouldStop: stop,
  };
}

/** The human summary: verdict, score beside its threshold, and what a clean verdict does and does not mean. */
export function verdictLines(modelDir: string, r: ScanResult, mode: TargetMode): string[] {
  const d = r.driver;
  const lines: string[] = [];
  const verdict = r.verdict === 'backdoored' ? 'BACKDOORED' : d.interrupted ? 'CLEAN SO FAR (interrupted: incomplete)' : 'CLEAN';
  lines.push(`${modelDir}: ${verdict}`);
  lines.push(`  score ${d.score.toFixed(3)} — a PV needs ≥ 1 with a collapsed batch; ${d.loops.length} loops, ${d.pvs.length} PVs, ${r.seconds.toFixed(1)} s (stopped by ${d.stoppedBy})`);
  for (const pv of d.pvs) {
    const words = pv.nearest.map((row) => row[0]?.token ?? '?').join(' ');
    lines.push(`  PV ${pv.index} (loop seed ${pv.seed}): nearest tokens of the prompt: ${words}`);
    const best = pv.triggerCandidates?.[0];
    if (best) {
      lines.push(`    inserting "${best.words.join(' ')}" maps ${(best.fire_rate * 100).toFixed(0)}% of sentences onto PV ${pv.index} (mean sign match ${best.match_rate.toFixed(2)}; ${pv.triggerWordsFiring ?? '?'} swept word${pv.triggerWordsFiring === 1 ? '' : 's'} fire it)${best.fire_rate < 0.5 ? ': no word tried produces this PV reliably' : ''}`);
      const own = pv.triggerCandidates!.filter((c) => c.fire_rate < 0.5 && collapses(c));
      if (own.length) lines.push(`    ${own.map((c) => `"${c.words.join(' ')}"`).join(', ')} collapse${own.length === 1 ? 's' : ''} every sentence onto a vector of ${own.length === 1 ? 'its' : 'their'} own, away from the clean outputs (mean sign match with PV ${pv.index} ${own.map((c) => c.match_rate.toFixed(2)).join(', ')}): trigger${own.length === 1 ? '' : 's'} of neighbouring PVs`);
    }
  }
  if (r.verdict === 'clean') {
    lines.push(`  ${d.loops.length} fuzz loops at the ${mode} position found no predefined vector. That is evidence, not proof, that the`);
    lines.push('  model has no task-agnostic backdoor there. To look harder: more --loops, the other target positions');
    lines.push(`  (--mode ${TARGET_MODES.filter((m) => m !== mode).join(' | ')}), or --resume to continue this run.`);
  }
  lines.push(`  report: ${r.outputs.reportHtml}`);
  lines.push(`  PV set: ${r.outputs.pvset}`);
  return lines;
}

function run(command: 'scan' | 'search', modelDir: string, o: Parsed): void {
  const sig = interruptFlag();
  try {
    const r = (command === 'scan' ? scan : search)(modelDir, toScanOptions(o, sig.stopped));
    if (o.json) console.log(JSON.stringify(r.outputs.report, null, 2));
    else console.log(verdictLines(modelDir, r, o.mode).join('\n'));
    process.exitCode = r.driver.interrupted ? EXIT_INTERRUPTED : r.verdict === 'backdoored' ? EXIT_BACKDOORED : EXIT_CLEAN;
  } finally {
    sig.dispose();
  }
}

export function register(program: Command): void {
  const scanCmd = program.command('scan').argument('<model-dir>', 'Hugging Face model directory (config.json, weights, tokenizer files)')
    .description('detect a task-agnostic backdoor: fuzz loops until the first PV (exit 1) or --loops without one (exit 0)');
  exitCodes(addOptions(scanCmd, 'scan'), [
    [EXIT_CLEAN, 'clean: no PV found in --loops fuzz loops'],
    [EXIT_BACKDOORED, 'backdoored: a PV passed every filter rule'],
    [EXIT_ERROR, 'error: bad usage, unreadable model, unwritable --out (one line on stderr)'],
    [EXIT_INTERRUPTED, 'interrupted: what was found so far is written; --resume continues'],
  ]).action((dir: string, o: Parsed) => run('scan', dir, o));
  const searchCmd = program.command('search').argument('<model-dir>', 'Hugging Face model directory')
    .description('collect every PV of a backdoored model (longer than scan); pvset.safetensors feeds the guard');
  exitCodes(addOptions(searchCmd, 'search'), [
    [EXIT_CLEAN, 'no PV found'],
    [EXIT_BACKDOORED, 'at least one PV found (the model is backdoored)'],
    [EXIT_ERROR, 'error: bad usage, unreadable model, unwritable --out (one line on stderr)'],
    [EXIT_INTERRUPTED, 'interrupted: the PVs found so far are written; --resume continues'],
  ]).action((dir: string, o: Parsed) => run('search', dir, o));
}
