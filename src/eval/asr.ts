/**
 * The downstream attack metrics of a prompt-tuned victim, as the paper's
 * seed code measures them. CACC/BACC are the clean test accuracy on a clean
 * and on a backdoored backbone; ASR counts, among the test inputs the model
 * classifies correctly without a trigger, those whose prediction changes
 * when a trigger is inserted — once, at a seeded random word position
 * within the first 64 words (for pairs, into the longer segment). An input
 * is attacked when any one trigger flips it; the weighted ASR is the mean
 * of the per-class ASRs, so a model that flips only the majority class
 * does not look strong on a skewed test set.
 *
 * Targetability (the paper's Tgt, Table 8, optional): whether a trigger
 * sends inputs to one label of its own rather than just away from the
 * right one. A trigger's label is what the model predicts for the trigger
 * alone (as both segments for a pair task); its targetability is the share
 * of the ASR's triggered inputs (the correctly classified ones) predicted
 * as that label. An adaptive attack that scatters triggered outputs keeps
 * its ASR but loses targetability.
 */
import { insertWords, joinWords, splitWords } from '../text/words.js';
import { Rng } from '../text/random.js';

export interface TaskInput {
  text: string;
  text_pair?: string;
}

export interface LabelledInput extends TaskInput {
  label: number;
}

/** Predicts a label per input (a batch at a time, however the caller likes). */
export type Classify = (inputs: readonly TaskInput[]) => number[];

/** Trigger insertions stay within the first words, where truncation cannot cut them. */
export const TRIGGER_WINDOW_WORDS = 64;

/** The input with `trigger` inserted once at a random word position (within the first 64 words of the longer segment). */
export function withTrigger(input: TaskInput, trigger: string, rng: Rng): TaskInput {
  const intoPair = input.text_pair !== undefined && splitWords(input.text_pair).length > splitWords(input.text).length;
  const words = splitWords(intoPair ? input.text_pair! : input.text);
  const at = rng.int(Math.min(words.length, TRIGGER_WINDOW_WORDS) + 1);
  const text = joinWords(insertWords(words, at, splitWords(trigger)));
  return intoPair ? { text: input.text, text_pair: text } : { ...input, text };
}

export interface AsrResult {
  /** Test inputs classified correctly without a trigger: the denominator. */
  clean_correct: number;
  clean_total: number;
  accuracy: number;
  asr: number;
  weighted_asr: number;
  asr_per_trigger: Record<string, number>;
  /** ASR per true class (null where no input of that class was classified correctly). */
  asr_per_class: (number | null)[];
  /** Mean over triggers of their targetability (only when asked for; null with no correctly classified input). */
  targetability?: number | null;
  targetability_per_trigger?: Record<string, number>;
  /** The label each trigger alone is classified as. */
  trigger_labels?: Record<string, number>;
}

export function attackSuccess(test: readonly LabelledInput[], classify: Classify, triggers: readonly string[], seed: number, numLabels: number, o: { targetability?: boolean } = {}): AsrResult {
  const clean = classify(test);
  const correct = test.map((_, i) => i).filter((i) => clean[i] === test[i].label);
  const flipped = new Set<number>();
  const perTrigger: Record<string, number> = {};
  const triggeredPreds: number[][] = [];
  for (const trigger of triggers) {
    const inputs = correct.map((i) => withTrigger(test[i], trigger, new Rng(`${seed}:asr:${trigger}:${i}`)));
    const preds = classify(inputs);
    triggeredPreds.push(preds);
    let n = 0;
    preds.forEach((p, j) => {
      if (p !== clean[correct[j]]) {
        n++;
        flipped.add(correct[j]);
      }
    });
    perTrigger[trigger] = correct.length ? n / correct.length : 0;
  }
  const perClass = Array.from({ length: numLabels }, (_, c) => {
    const members = correct.filter((i) => test[i].label === c);
    return members.length ? members.filter((i) => flipped.has(i)).length / members.length : null;
  });
  const present = perClass.filter((x): x is number => x !== null);
  const target = o.targetability ? targetabilityOf(test, classify, triggers, triggeredPreds) : {};
  return {
    clean_correct: correct.length,
    clean_total: test.length,
    accuracy: test.length ? correct.length / test.length : 0,
    asr: correct.length ? flipped.size / correct.length : 0,
    weighted_asr: present.length ? present.reduce((a, b) => a + b, 0) / present.length : 0,
    asr_per_trigger: perTrigger,
    asr_per_class: perClass,
    ...target,
  };
}

/** Each trigger alone classified once (one batch), then the share of its triggered inputs predicted as that label. */
function targetabilityOf(test: readonly LabelledInput[], classify: Classify, triggers: readonly string[], triggeredPreds: readonly number[][]) {
  const pair = test.some((x) => x.text_pair !== undefined);
  const labels = triggers.length ? classify(triggers.map((t) => (pair ? { text: t, text_pair: t } : { text: t }))) : [];
  const perTrigger: Record<string, number> = {};
  const triggerLabels: Record<string, number> = {};
  triggers.forEach((t, k) => {
    const preds = triggeredPreds[k]!;
    triggerLabels[t] = labels[k]!;
    perTrigger[t] = preds.length ? preds.filter((p) => p === labels[k]).length / preds.length : 0;
  });
  const any = triggeredPreds.some((p) => p.length > 0);
  return {
    targetability: any ? Object.values(perTrigger).reduce((a, b) => a + b, 0) / triggers.length : null,
    targetability_per_trigger: perTrigger, trigger_labels: triggerLabels,
  };
}
