/**
 * `lmsanitator scan <model-dir>` (detection: stop at the first legitimate
 * PV) and `lmsanitator search <model-dir>` (collect every PV). Exit codes
 * as ClamAV: 0 clean, 1 backdoored, 2 error; 130 when interrupted.
 */
import type { Command } from 'commander';
import { type RunOptions, runScan } from '../sanitizer/run.js';
import { TARGET_MODES, type TargetMode } from '../sanitizer/target.js';
import { interruptFlag, intOption, numOption } from './signals.js';

export const EXIT_CLEAN = 0;
export const EXIT_BACKDOORED = 1;

interface Raw {
  out?: string;
  mode: string;
  sentences?: string;
  count: string;
  loops?: string;
  patience: string;
  seed: string;
  parallel: string;
  resume?: boolean;
  lr?: string;
  distanceTh?: string;
  converGrad?: string;
  divTh?: string;
  maxCleanShare: string;
  batch: string;
  batchOrder: string;
  epochs: string;
  tokenPosition: string;
  json?: boolean;
  quiet?: boolean;
}

function addOptions(cmd: Command, loops: string): Command {
  return cmd
    .option('--out <dir>', 'output directory for pvset.safetensors, report.json, report.html and the journal')
    .option('--mode <mode>', `target position: ${TARGET_MODES.join(', ')}`, 'cls')
    .option('--sentences <file>', 'clean sentences, one per line (default: 2,000 from the built-in corpus)')
    .option('--count <n>', 'number of clean sentences to use', '2000')
    .option('--loops <n>', 'maximum fuzz loops', loops)
    .option('--patience <n>', 'search: stop after this many loops without a new PV', '200')
    .option('--seed <n>', 'seed of the first loop', '0')
    .option('--parallel <k>', 'fuzz loops run together as one batch (default: 2 for hidden ≤ 128, else 1)', '0')
    .option('--resume', 'continue from the journal in --out')
    .option('--lr <x>', 'base learning rate (loops start at 100×); default per model family')
    .option('--distance-th <x>', 'distance threshold; default per model family')
    .option('--conver-grad <x>', 'gradient level that switches to the base rate', undefined)
    .option('--div-th <x>', 'collapse threshold (default −ln B + a per-family margin: 0.0197 as the paper, 0.01 for small models)')
    .option('--max-clean-share <x>', 'reject a PV when more than this share of clean outputs lie within the distance threshold (−1 disables)', '0.01')
    .option('--batch <n>', 'sentences per batch', '32')
    .option('--batch-order <order>', 'length: batches of similar-length sentences in random order (≈ 2× faster); input: consecutive sentences', 'length')
    .option('--epochs <n>', 'epochs per loop', '4')
    .option('--token-position <n>', 'target token index in token mode', '1')
    .option('--json', 'print report.json to stdout')
    .option('--quiet', 'no progress output');
}

function toRunOptions(command: 'scan' | 'search', modelDir: string, o: Raw, stop: () => boolean): RunOptions {
  if (!TARGET_MODES.includes(o.mode as TargetMode)) throw new Error(`--mode must be one of ${TARGET_MODES.join(', ')}, got "${o.mode}"`);
  if (o.batchOrder !== 'length' && o.batchOrder !== 'input') throw new Error(`--batch-order must be length or input, got "${o.batchOrder}"`);
  return {
    command, modelDir, mode: o.mode as TargetMode,
    outDir: o.out ?? `${modelDir.replace(/\/+$/, '')}.${command}`,
    sentencesFile: o.sentences,
    sentenceCount: intOption('--count', o.count),
    loops: intOption('--loops', o.loops!),
    patience: intOption('--patience', o.patience),
    seed: intOption('--seed', o.seed, 0),
    parallel: intOption('--parallel', o.parallel, 0),
    resume: Boolean(o.resume),
    lr: o.lr !== undefined ? numOption('--lr', o.lr, 0) : undefined,
    distanceTh: o.distanceTh !== undefined ? numOption('--distance-th', o.distanceTh, 0) : undefined,
    converGrad: o.converGrad !== undefined ? numOption('--conver-grad', o.converGrad, 0) : undefined,
    divTh: o.divTh !== undefined ? numOption('--div-th', o.divTh) : undefined,
    maxCleanShare: numOption('--max-clean-share', o.maxCleanShare),
    batchSize: intOption('--batch', o.batch, 2),
    batchOrder: o.batchOrder as 'length' | 'input',
    epochs: intOption('--epochs', o.epochs),
    tokenPosition: intOption('--token-position', o.tokenPosition),
    quiet: o.quiet,
    shouldStop: stop,
  };
}

function run(command: 'scan' | 'search', modelDir: string, o: Raw): void {
  const sig = interruptFlag();
  try {
    const r = runScan(toRunOptions(command, modelDir, o, sig.stopped));
    if (o.json) {
      console.log(JSON.stringify(r.outputs.report, null, 2));
    } else {
      const d = r.driver;
      const verdict = r.verdict === 'backdoored' ? 'BACKDOORED' : d.interrupted ? 'CLEAN (incomplete: interrupted)' : 'CLEAN';
      console.log(`${modelDir}: ${verdict}`);
      console.log(`  score ${d.score.toFixed(3)} (≥ 1 with a collapsed batch means a PV); ${d.loops.length} loops, ${d.pvs.length} PVs, ${r.seconds.toFixed(1)} s (stopped by ${d.stoppedBy})`);
      for (const pv of d.pvs) {
        const words = pv.nearest.map((row) => row[0]?.token ?? '?').join(' ');
        console.log(`  PV ${pv.index} (loop seed ${pv.seed}): nearest tokens of the prompt: ${words}`);
      }
      console.log(`  report: ${r.outputs.reportHtml}`);
      console.log(`  PV set: ${r.outputs.pvset}`);
    }
    process.exitCode = r.driver.interrupted ? 130 : r.verdict === 'backdoored' ? EXIT_BACKDOORED : EXIT_CLEAN;
  } finally {
    sig.dispose();
  }
}

export function register(program: Command): void {
  addOptions(program.command('scan <model-dir>').description('detect a task-agnostic backdoor: exit 0 clean, 1 backdoored, 2 error'), '30')
    .action((dir: string, o: Raw) => run('scan', dir, o));
  addOptions(program.command('search <model-dir>').description('collect every PV of a backdoored model (longer than scan)'), '1000')
    .action((dir: string, o: Raw) => run('search', dir, o));
}
