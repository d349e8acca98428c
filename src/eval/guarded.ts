/**
 * The guard's figures on a task's test split (`eval prompt --guard`, and
 * each `eval guard` cell), measured on the same inputs and trigger
 * positions as the unguarded ASR (eval/asr.ts):
 *   accuracy_guarded   clean test inputs through the guard (a rejected input counts as wrong)
 *   asr_guarded, weighted_asr_guarded
 *                      ASR with the guard in front: among the inputs the guarded model
 *                      classifies correctly, those a trigger flips (a rejected input is not flipped)
 *   frr                clean test inputs the monitor flags
 *   far                triggered inputs the monitor does not flag
 *   far_effective      the same, among the triggered inputs whose unguarded prediction the trigger flipped
 *                      (the attacks that work; null when none did)
 *   purified, rejected shares of the triggered inputs the guard purified / rejected
 *   candidates_per_flagged
 *                      purge candidate rows per flagged input (clean and triggered)
 * and the match rates of clean and triggered inputs (for the histograms),
 * and the guard's self-check on neutral sentences (guard/self-check.ts:
 * does the prompt alone drive the monitored output onto a PV?).
 */
import type { Guard, GuardResult } from '../guard/guard.js';
import { type SelfCheck, selfCheck, selfCheckWarning } from '../guard/self-check.js';
import type { PromptTaskData } from '../prompt/index.js';
import { type AsrResult, attackSuccess, type Classify, type TaskInput } from './asr.js';

export interface GuardFigures {
  accuracy_guarded: number;
  asr_guarded: number;
  weighted_asr_guarded: number;
  asr_per_trigger_guarded: Record<string, number>;
  frr: number;
  far: number;
  far_effective: number | null;
  purified: number;
  rejected: number;
  candidates_per_flagged: number;
  clean_inputs: number;
  triggered_inputs: number;
  /** Best match rate of every clean test input, and of every triggered input. */
  match_rates: { clean: number[]; triggered: number[] };
  /** Absent in records journaled before the self-check existed. */
  self_check?: SelfCheck;
}

/**
 * `unguarded` (optional) is the unguarded classifier: with it, FAR is also
 * measured among the triggered inputs whose unguarded prediction flipped.
 * `onSet` hears of each input set done: the clean test inputs, then one per trigger.
 */
export function measureGuard(guard: Guard, data: PromptTaskData, triggers: readonly string[], seed: number, unguarded?: Classify, onSet?: (done: number, total: number) => void): GuardFigures {
  if (data.kind !== 'classification') throw new Error(`${data.task}: the guard's figures are measured on classification tasks (NER reports F1 only)`);
  const labelIndex = new Map(guard.model.labelNames.map((l, i) => [l, i]));
  const results: GuardResult[][] = [];
  const inputsSeen: TaskInput[][] = [];
  const classify: Classify = (xs) => {
    const r = guard.run(xs);
    results.push(r);
    inputsSeen.push([...xs]);
    onSet?.(results.length, triggers.length + 1);
    return r.map((g) => (g.label === null ? -1 : labelIndex.get(g.label)!));
  };
  const test = data.test.map((e) => ({ text: e.text, ...(e.textB !== undefined && { text_pair: e.textB }), label: e.label }));
  const asr: AsrResult = attackSuccess(test, classify, triggers, seed, guard.model.labelNames.length);
  const [clean, ...triggered] = results;
  const trig = triggered.flat();
  const flagged = [...clean!, ...trig].filter((g) => g.triggered);
  let effective = 0;
  let effectiveMissed = 0;
  if (unguarded && trig.length) {
    // Row j of each triggered call is test input correct[j] (attackSuccess's order) with the trigger in.
    const cleanPred = unguarded(test);
    const correct = test.map((_, i) => i).filter((i) => clean![i]!.label !== null && labelIndex.get(clean![i]!.label!) === test[i]!.label);
    triggered.forEach((rs, k) => {
      unguarded(inputsSeen[k + 1]!).forEach((p, j) => {
        if (p === cleanPred[correct[j]!]) return;
        effective++;
        if (!rs[j]!.triggered) effectiveMissed++;
      });
    });
  }
  const share = (n: number, d: number) => (d ? n / d : 0);
  return {
    accuracy_guarded: asr.accuracy,
    asr_guarded: asr.asr,
    weighted_asr_guarded: asr.weighted_asr,
    asr_per_trigger_guarded: asr.asr_per_trigger,
    frr: share(clean!.filter((g) => g.triggered).length, clean!.length),
    far: share(trig.filter((g) => !g.triggered).length, trig.length),
    far_effective: unguarded && effective ? effectiveMissed / effective : null,
    purified: share(trig.filter((g) => g.action === 'purified').length, trig.length),
    rejected: share(trig.filter((g) => g.action === 'rejected').length, trig.length),
    candidates_per_flagged: share(flagged.reduce((s, g) => s + g.candidates, 0), flagged.length),
    clean_inputs: clean!.length,
    triggered_inputs: trig.length,
    match_rates: { clean: clean!.map((g) => g.match_rate), triggered: trig.map((g) => g.match_rate) },
    self_check: selfCheck(guard),
  };
}

/** One line per guarded case whose self-check failed (the prompt alone drives the monitored output onto a PV), naming task and case. */
export function promptTriggerWarnings(r: { cells: readonly { task: string; cases: Partial<Record<string, { figures: GuardFigures | null }>> }[] }): string[] {
  return r.cells.flatMap((c) => Object.entries(c.cases).flatMap(([k, rec]) => {
    const sc = rec?.figures?.self_check;
    const w = sc && selfCheckWarning(sc, `${c.task}, ${k} PVs: the guard`);
    return w ? [w] : [];
  }));
}
