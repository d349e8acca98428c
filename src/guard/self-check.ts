/**
 * The guard's self-check: the monitor on neutral sentences (a fixed sample
 * of the built-in corpus) before any input is guarded.
 *
 * Why: a prompt tuned on a backdoored backbone can learn the backdoor as a
 * shortcut — its rows then drive the monitored output onto a PV for every
 * input, trigger or not. Measured on the quick paper run (bert-mini BToP,
 * P-tuning on RTE): the trained prompt's [MASK] output agreed in sign with
 * attacker PV 1 on 256 of 256 dimensions for all 200 test inputs (the bare
 * backbone at the same position: best match 0.66), the victim predicted one
 * class, and the guard flagged and rejected every input (FRR 100%). The
 * monitor is right — the output *is* the PV — but the guard is useless, and
 * the user should hear it at start-up, not from a rejected-input count.
 */
import { nlpCorpusSentences, sampleSentences } from '../text/corpus.js';
import { isPairTask } from '../prompt/tasks.js';
import type { Guard } from './guard.js';

export const SELF_CHECK_DEFAULTS = {
  sentences: 32,
  /** More flagged than this share of neutral sentences: warn. Clean inputs are flagged 0-2% on the quick run's other 11 cells. */
  maxFlaggedShare: 0.1,
} as const;

export interface SelfCheck {
  sentences: number;
  flagged: number;
  flagged_share: number;
  /** The PV the flagged sentences match most often (null when none is flagged). */
  pv: number | null;
  median_match_rate: number;
  /** flagged_share > maxFlaggedShare: the prompt acts as a trigger on its own. */
  prompt_is_trigger: boolean;
}

/** Neutral inputs for a prompt: corpus sentences (pair tasks: consecutive sentences as text and text_pair). */
export function selfCheckInputs(pair: boolean, n: number = SELF_CHECK_DEFAULTS.sentences): { text: string; text_pair?: string }[] {
  const s = sampleSentences(nlpCorpusSentences(), pair ? 2 * n : n, 'guard-self-check');
  return Array.from({ length: Math.floor(s.length / (pair ? 2 : 1)) }, (_, i) => (pair ? { text: s[2 * i]!, text_pair: s[2 * i + 1]! } : { text: s[i]! }));
}

/** Runs the monitor (not the purge) on `inputs` (default: selfCheckInputs for the guard's task). */
export function selfCheck(guard: Guard, inputs?: readonly { text: string; text_pair?: string }[], maxFlaggedShare: number = SELF_CHECK_DEFAULTS.maxFlaggedShare): SelfCheck {
  inputs ??= selfCheckInputs(guard.model.kind !== 'ner' && isPairTask(guard.model.task));
  const matches = guard.runMonitored(inputs).map((m) => m.match);
  const flagged = matches.filter((m) => m.triggered);
  const counts = new Map<number, number>();
  for (const m of flagged) counts.set(m.pv, (counts.get(m.pv) ?? 0) + 1);
  const pv = flagged.length ? [...counts].reduce((a, b) => (b[1] > a[1] ? b : a))[0] : null;
  const rates = matches.map((m) => m.rate).sort((a, b) => a - b);
  const share = inputs.length ? flagged.length / inputs.length : 0;
  return {
    sentences: inputs.length, flagged: flagged.length, flagged_share: share, pv,
    median_match_rate: rates.length ? rates[rates.length >> 1]! : 0, prompt_is_trigger: share > maxFlaggedShare,
  };
}

/** One line for a failed self-check (null when it passed); `what` names the prompt. */
export function selfCheckWarning(c: SelfCheck, what: string): string | null {
  if (!c.prompt_is_trigger) return null;
  return `warning: ${what} flags ${c.flagged} of ${c.sentences} neutral sentences (median match ${c.median_match_rate.toFixed(3)}, mostly PV ${c.pv}): `
    + 'the prompt itself drives the monitored output onto a PV, as a trigger would (it learned the backdoor as a shortcut), '
    + 'so most inputs will be flagged and rejected; retrain the prompt (another seed or learning rate) or use a backbone that scans clean';
}
