/**
 * `lmsanitator guard`: a prompt on its backbone behind the PV sign monitor
 * and sliding-window trigger removal. JSONL out, one object per input with
 * the keys of GuardResult (label, probs, triggered, match_rate, pv, action,
 * removed, purified_text, …).
 */
import type { Command } from 'commander';
import { Guard, GUARD_DEFAULTS, MONITOR_PLACEMENTS, monitorFor, ON_UNPURIFIED, type GuardResult, type MonitorPlacement, type OnUnpurified } from '../guard/guard.js';
import { loadModel } from '../models/model.js';
import { selfCheck, selfCheckWarning } from '../guard/self-check.js';
import { loadPvSet } from '../sanitizer/pvset.js';
import { choiceOpt, exitCodes, intOpt, numOpt, STANDARD_EXITS } from './options.js';
import { openPrompt, readPromptInputs } from './prompt-io.js';

export interface GuardCliOptions {
  prompt: string;
  pvs: string;
  task?: string;
  threshold: number;
  maxWindow: number;
  onUnpurified: OnUnpurified;
  monitor: MonitorPlacement;
  batch: number;
}

/** The guard the options describe: backbone, prompt, PV set, checked against each other. */
export function openGuard(modelDir: string, o: GuardCliOptions): Guard {
  const model = openPrompt(o.prompt, loadModel(modelDir), o.task);
  const monitor = monitorFor(model, loadPvSet(o.pvs), o.pvs, o.threshold);
  return new Guard(model, monitor, { threshold: o.threshold, maxWindow: o.maxWindow, onUnpurified: o.onUnpurified, monitor: o.monitor, batchSize: o.batch });
}

function humanLine(r: GuardResult): string {
  const match = `match ${r.match_rate.toFixed(3)}${r.pv === null ? '' : ` (PV ${r.pv})`}`;
  const what = r.tags ? r.words!.map((w, j) => `${w}/${r.tags![j]}`).join(' ') : r.label === null ? '-' : `${r.label}\t${r.probs!.map((x) => x.toFixed(4)).join(' ')}`;
  const action = r.action === 'purified' ? `purified: removed ${r.removed.map((w) => JSON.stringify(w)).join(' ')}` : r.action;
  return `${what}\t${action}, ${match}`;
}

function guard(modelDir: string, o: GuardCliOptions & { text?: string; textPair?: string; input?: string; json?: boolean }): void {
  const inputs = readPromptInputs(o);
  const g = openGuard(modelDir, o);
  const warning = selfCheckWarning(selfCheck(g), `the guard of ${o.prompt}`);
  if (warning) console.error(warning);
  const results = g.run(inputs);
  results.forEach((r, i) => {
    const row = { text: inputs[i]!.text, ...(inputs[i]!.text_pair !== undefined && { text_pair: inputs[i]!.text_pair }), ...r };
    console.log(o.json || o.input ? JSON.stringify(row) : humanLine(r));
  });
}

/** The guard's options, shared by `guard` and `eval prompt --guard`. */
export function guardOptions(cmd: Command): Command {
  return cmd
    .addOption(numOpt('--threshold <x>', 'η: flag an output whose signs agree with a PV on more than this share of dimensions', 0, GUARD_DEFAULTS.threshold))
    .addOption(intOpt('--max-window <n>', 'longest run of words the trigger removal deletes', 1, GUARD_DEFAULTS.maxWindow))
    .addOption(choiceOpt('--on-unpurified <action>', 'what to do with an input still flagged after every window', ON_UNPURIFIED, GUARD_DEFAULTS.onUnpurified))
    .addOption(choiceOpt('--monitor <where>', 'post: monitor the output the prompt model computes anyway; pre: a bare-backbone pass first (for comparison)', MONITOR_PLACEMENTS, GUARD_DEFAULTS.monitor));
}

export function register(program: Command): void {
  guardOptions(exitCodes(program.command('guard <model-dir>'), STANDARD_EXITS)
    .description('classify inputs through the guard: flag triggered inputs with the PV sign monitor, delete the trigger words, classify the purified input; JSONL out')
    .requiredOption('--prompt <prompt-dir>', 'a prompt directory (prompt.json, or a PEFT adapter_config.json)')
    .requiredOption('--pvs <pvset.safetensors>', 'the PV set scan or search found on this backbone (in the mode the prompt is monitored in)')
    .option('--task <task>', 'the task of a PEFT adapter trained elsewhere (ours record it)')
    .option('--text <text>', 'one input')
    .option('--text-pair <text>', 'its second segment (RTE hypothesis, BoolQ question)')
    .option('--input <file.jsonl>', 'inputs, one JSON object per line: {"text": …} or {"text": …, "text_pair": …}; bad lines are reported and skipped'))
    .addOption(intOpt('--batch <n>', 'inputs per batch', 1, GUARD_DEFAULTS.batchSize))
    .option('--json', 'JSON lines even for --text')
    .action(guard);
}
