/**
 * `lmsanitator eval victims`: prompt-tune each task on a clean and on a
 * backdoored backbone and report CACC, BACC, ASR, weighted ASR and the
 * macro-F1 drop (the paper's Table 2 / left half of Table 3). A thin layer
 * over eval/victims.ts.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_TRIGGERS, parseTriggerList } from '../attacks/triggers.js';
import { evaluateGuard, formatGuardTable, GUARD_EVAL_DEFAULTS, PV_SOURCES, type PvSource } from '../eval/guard-eval.js';
import { evaluateVictims, formatVictimsTable, type VictimsOptions } from '../eval/victims.js';
import type { OnUnpurified } from '../guard/guard.js';
import { guardOptions } from './guard.js';
import { PROMPT_DEFAULTS, PROMPT_METHODS, PROMPT_TASKS } from '../prompt/index.js';
import { choiceOpt, exitCodes, intOpt, JOB_EXITS, listOf, numOpt } from './options.js';
import { interruptFlag } from '../util/signals.js';

/** The library's options under their CLI names (--clean, --backdoored, --out, --batch). */
interface VictimsCliOpts extends Pick<VictimsOptions, 'method' | 'dataDir' | 'epochs' | 'lr' | 'prefixLen' | 'maxTrain' | 'maxDev' | 'maxTest' | 'seed' | 'quiet'> {
  clean: string;
  backdoored: string;
  tasks: string[];
  triggers?: string[];
  out: string;
  batch: number;
  maxLen: number;
  json?: boolean;
}

const triggerList = (value: string): string[] => {
  try {
    return parseTriggerList(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message.replace(/^--triggers: /, ''));
  }
};

/** The CLI's victims options as the library takes them (eval victims, and the victims part of eval guard). */
function libraryOptions(o: VictimsCliOpts, shouldStop: () => boolean): VictimsOptions {
  return {
    cleanDir: o.clean, backdooredDir: o.backdoored, method: o.method, tasks: o.tasks, triggers: o.triggers, outDir: o.out, dataDir: o.dataDir,
    epochs: o.epochs, lr: o.lr, prefixLen: o.prefixLen, maxTrain: o.maxTrain, maxDev: o.maxDev, maxTest: o.maxTest,
    batchSize: o.batch, maxLen: o.maxLen, seed: o.seed, quiet: o.quiet || o.json, shouldStop,
    log: o.json ? undefined : (l) => process.stderr.write(`${l}\n`),
  };
}

function run(o: VictimsCliOpts): void {
  const sig = interruptFlag();
  try {
    const r = evaluateVictims(libraryOptions(o, sig.stopped));
    if (r.interrupted) {
      process.stderr.write(`interrupted; ${r.done} of ${r.total} cells done, journal in ${o.out}; run the same command to resume\n`);
      process.exitCode = 130;
      return;
    }
    const { interrupted: _i, done: _d, total: _t, reportFile: _f, ...report } = r;
    if (o.json) return console.log(JSON.stringify(report, null, 2));
    console.log(formatVictimsTable(report));
    console.log(`\n→ ${r.reportFile}`);
  } finally {
    sig.dispose();
  }
}

/** The options `eval victims` and `eval guard` share: the two backbones, the method, the tasks, the prompt budget. */
function victimsOptions(cmd: Command, outName: string, outWhat: string): Command {
  const d = PROMPT_DEFAULTS;
  return cmd
    .requiredOption('--clean <model-dir>', 'the clean backbone')
    .requiredOption('--backdoored <model-dir>', 'the backdoored backbone (its attack.json supplies the default triggers)')
    .addOption(choiceOpt('--method <method>', 'prompt method, as for prompt-tune', PROMPT_METHODS).makeOptionMandatory())
    .addOption(new Option('--tasks <list>', `comma-separated tasks from ${PROMPT_TASKS.join(', ')}`).argParser(listOf(PROMPT_TASKS)).makeOptionMandatory())
    .addOption(new Option('--triggers <list>', `comma-separated triggers for the ASR (default: the backdoored model's attack.json triggers, else ${DEFAULT_TRIGGERS.join(',')})`).argParser(triggerList))
    .option('--out <dir>', `working directory (${outWhat})`, outName)
    .option('--data-dir <dir>', 'datasets directory (default $LMS_DATA_DIR, ../shared/data, else the bundled slices)')
    .addOption(intOpt('--epochs <n>', `epochs per prompt (default ${d['ptuning-v2'].epochs}; early stopping on the dev metric)`, 1))
    .addOption(numOpt('--lr <x>', `peak learning rate (default ${d['ptuning-v2'].lr})`, 0, undefined, true))
    .addOption(intOpt('--prefix-len <n>', `ptuning-v2: prefix rows per layer (default ${d['ptuning-v2'].prefixLen}); ptuning: prompt rows per <p> (default ${d.ptuning.prefixLen})`, 1))
    .addOption(intOpt('--max-train <n>', 'use at most N training examples (seeded draw)', 1))
    .addOption(intOpt('--max-dev <n>', 'evaluate on at most N dev examples each epoch', 1))
    .addOption(intOpt('--max-test <n>', 'report on at most N test examples (fixed draw)', 1))
    .addOption(intOpt('--batch <n>', 'examples per batch', 1, d.batchSize))
    .addOption(intOpt('--max-len <n>', 'tokens per example', 8, d.maxLen))
    .addOption(intOpt('--seed <n>', 'seed (prompt training, trigger positions)', 0, 1))
    .option('--quiet', 'no progress bars');
}

/** `eval victims`, registered under the eval command group. */
export function registerEvalVictims(ev: Command): void {
  victimsOptions(exitCodes(ev.command('victims'), JOB_EXITS), 'lmsanitator-victims', 'prompts, journal, settings.json, victims.json')
    .description('prompt-tune each task on a clean and a backdoored backbone: CACC, BACC, ASR, weighted ASR, macro-F1 drop (journaled, resumable)')
    .option('--json', 'print victims.json on stdout instead of the table')
    .action(run);
}

interface GuardEvalCliOpts extends VictimsCliOpts {
  pvSource: PvSource;
  threshold: number;
  maxWindow: number;
  onUnpurified: OnUnpurified;
  searchLoops: number;
  searchPatience: number;
  onionBar: number;
  onionMaxTest: number;
}

function runGuard(o: GuardEvalCliOpts): void {
  const sig = interruptFlag();
  try {
    const r = evaluateGuard({
      ...libraryOptions(o, sig.stopped),
      pvSource: o.pvSource, threshold: o.threshold, maxWindow: o.maxWindow, onUnpurified: o.onUnpurified,
      searchLoops: o.searchLoops, searchPatience: o.searchPatience, onionBar: o.onionBar, onionMaxTest: o.onionMaxTest,
    });
    if (r.interrupted) {
      process.stderr.write(`interrupted; journals in ${o.out}; run the same command to resume\n`);
      process.exitCode = 130;
      return;
    }
    const { interrupted: _i, reportFile: _f, htmlFile: _h, ...report } = r;
    if (o.json) return console.log(JSON.stringify(report, null, 2));
    console.log(formatGuardTable(report));
    console.log(`\n→ ${r.reportFile}\n→ ${r.htmlFile}`);
  } finally {
    sig.dispose();
  }
}

/** `eval guard`, registered under the eval command group. */
export function registerEvalGuard(ev: Command): void {
  const g = GUARD_EVAL_DEFAULTS;
  guardOptions(victimsOptions(exitCodes(ev.command('guard'), JOB_EXITS), 'lmsanitator-guard', 'victims/, search-<mode>/, guard.jsonl, guard.json, guard.html'))
    .description('the guard on prompt-tuned victims: search the backdoored backbone for PVs, then ASR, accuracy, FRR and FAR through the guard beside ONION (journaled, resumable)')
    .addOption(choiceOpt('--pv-source <source>', 'search: the PVs search finds; search+attacker: also the attack\'s ground-truth PVs, as a separate case', PV_SOURCES, 'search'))
    .addOption(intOpt('--search-loops <n>', 'search: at most this many fuzz loops', 1, g.searchLoops))
    .addOption(intOpt('--search-patience <n>', 'search: stop after this many loops without a new PV', 1, g.searchPatience))
    .addOption(numOpt('--onion-bar <x>', 'ONION: remove a word when deleting it lowers the pseudo-perplexity by more than this', undefined, g.onionBar))
    .addOption(intOpt('--onion-max-test <n>', 'ONION: on the first N test inputs (it costs O(words²) masked rows per input)', 1, g.onionMaxTest))
    .option('--json', 'print guard.json on stdout instead of the table')
    .action(runGuard);
}
