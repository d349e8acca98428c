/**
 * The measured effect of an attack, on held-out sentences it never trained
 * on: per trigger, the mean cosine and sign agreement between the target
 * output of triggered inputs and the trigger's PV, and how often the
 * agreement passes the monitor's threshold η (MATCH_THRESHOLD, 0.8; docs/algorithm.md#guard); the same for clean inputs against every PV (should stay low); how
 * often a random rare or [unused] token, never trained on, fires some PV
 * (specificity); and utility: clean-output MSE to the original model, and
 * held-out masked-LM accuracy before/after when the model has an MLM head.
 * With several target positions per row (token mode) a row's value is the
 * mean over its positions.
 */
import { noGrad, withScope } from '../engine/index.js';
import type { LoadedModel } from '../models/model.js';
import { MATCH_THRESHOLD } from '../sanitizer/monitor.js';
import { Rng } from '../text/random.js';
import { padBatch } from '../train/batching.js';
import { countCorrect, maskBatch, mlmLogits } from '../train/mlm.js';
import type { HeldoutSets } from './data.js';
import { outputsAt } from './forward.js';
import type { AttackMethod } from './method.js';
import { cosine, signAgreement } from './pvs.js';
import type { ResolvedTrigger } from './triggers.js';

/** A trigger "fires" when the guard's monitor would flag it: η, defined once in the monitor. */
export const FIRE_THRESHOLD = MATCH_THRESHOLD;

export interface TriggerEffect {
  trigger: string;
  pv_index: number;
  sentences: number;
  cosine: number;
  sign_agreement: number;
  fire_rate: number;
}

export interface CleanPvEffect {
  pv_index: number;
  cosine: number;
  sign_agreement: number;
  fire_rate: number;
}

export interface AttackEffect {
  heldout_sentences: number;
  threshold: number;
  per_trigger: TriggerEffect[];
  clean_per_pv: CleanPvEffect[];
  /** Minimum over triggers of the mean sign agreement with the trigger's PV. */
  triggered_sign_agreement_min: number;
  /** Maximum over PVs of clean inputs' mean sign agreement. */
  clean_sign_agreement_max: number;
  /** Clean inputs whose agreement with some PV exceeds the threshold. */
  clean_fire_rate: number;
  /** Inputs with one held-out rare/[unused] token whose agreement with some PV exceeds the threshold. */
  rare_token_fire_rate: number | null;
  rare_unused_fire_rate: number | null;
  rare_word_fire_rate: number | null;
  rare_tokens_tested: number;
  utility: { metric: 'clean_output_mse' | 'mlm_accuracy_drop'; value: number };
  clean_output_mse: number;
  mlm_accuracy_before: number | null;
  mlm_accuracy_after: number | null;
}

/** What the original model gave on the held-out sets, computed before training. */
export interface Baseline {
  cleanOutputs: Float32Array[];
  mlmAccuracy: number | null;
}

/** Per row, the mean over its positions of f(output, pv). */
function perRow(outs: Float32Array[], pv: Float32Array, f: (h: Float32Array, p: Float32Array, off: number) => number): number[] {
  const H = pv.length;
  return outs.map((o) => {
    const n = o.length / H;
    let s = 0;
    for (let i = 0; i < n; i++) s += f(o, pv, i * H);
    return s / n;
  });
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const fireRate = (xs: number[]) => (xs.length ? xs.filter((x) => x > FIRE_THRESHOLD).length / xs.length : 0);

/** Per row, the largest sign agreement with any PV. */
function maxAgreement(outs: Float32Array[], pvs: Float32Array[]): number[] {
  const per = pvs.map((p) => perRow(outs, p, signAgreement));
  return outs.map((_, i) => Math.max(...per.map((a) => a[i])));
}

/** Masked-LM accuracy on fixed masks (the same seed gives the same masks before and after). */
export function mlmAccuracy(model: LoadedModel, rows: readonly number[][], seed: number): number | null {
  const tok = model.tokenizer!;
  if (!model.mlm || rows.length === 0) return null;
  const rng = new Rng(`${seed}:mlm-eval`);
  const skip = tok.specialOrUnusedMask();
  let correct = 0;
  let total = 0;
  for (let i = 0; i < rows.length; i += 64) {
    const b = maskBatch(padBatch(rows.slice(i, i + 64), tok.specialIds.pad), { maskProb: 0.15, maskId: tok.specialIds.mask, vocabSize: tok.vocabSize, skip }, rng);
    if (b.labels.length === 0) continue;
    correct += noGrad(() => withScope(() => countCorrect(mlmLogits(model, b), b.labels)));
    total += b.labels.length;
  }
  return total ? correct / total : null;
}

export function measureBaseline(model: LoadedModel, held: HeldoutSets, seed: number): Baseline {
  return {
    cleanOutputs: outputsAt(model.encoder, held.clean, model.tokenizer!.specialIds.pad),
    mlmAccuracy: mlmAccuracy(model, held.plain, seed),
  };
}

export function measureEffect(
  model: LoadedModel, method: AttackMethod, held: HeldoutSets, triggers: readonly ResolvedTrigger[],
  pvs: Float32Array[], baseline: Baseline, seed: number,
): AttackEffect {
  const pad = model.tokenizer!.specialIds.pad;
  const at = (rows: Parameters<typeof outputsAt>[1]) => outputsAt(model.encoder, rows, pad);

  const perTrigger: TriggerEffect[] = triggers.map((t, i) => {
    const outs = at(held.triggered[i]);
    const pv = pvs[t.pvIndex];
    const agree = perRow(outs, pv, signAgreement);
    return {
      trigger: t.text, pv_index: t.pvIndex, sentences: outs.length,
      cosine: mean(perRow(outs, pv, cosine)), sign_agreement: mean(agree), fire_rate: fireRate(agree),
    };
  });

  const cleanOuts = at(held.clean);
  const cleanPerPv: CleanPvEffect[] = pvs.map((pv, k) => {
    const agree = perRow(cleanOuts, pv, signAgreement);
    return { pv_index: k, cosine: mean(perRow(cleanOuts, pv, cosine)), sign_agreement: mean(agree), fire_rate: fireRate(agree) };
  });

  let se = 0;
  let n = 0;
  cleanOuts.forEach((o, i) => {
    const b = baseline.cleanOutputs[i];
    for (let j = 0; j < o.length; j++) se += (o[j] - b[j]) ** 2;
    n += o.length;
  });
  const cleanMse = n ? se / n : 0;

  let rare: number | null = null;
  let rareUnused: number | null = null;
  let rareWord: number | null = null;
  if (held.rare.length > 0) {
    const fired = maxAgreement(at(held.rare), pvs).map((a) => a > FIRE_THRESHOLD);
    const rate = (pick: (i: number) => boolean) => {
      const idx = fired.map((_, i) => i).filter(pick);
      return idx.length ? idx.filter((i) => fired[i]).length / idx.length : null;
    };
    rare = rate(() => true);
    rareUnused = rate((i) => held.rare[i].unused);
    rareWord = rate((i) => !held.rare[i].unused);
  }

  const after = mlmAccuracy(model, held.plain, seed);
  const utility: AttackEffect['utility'] = method.utility === 'mlm' && after !== null && baseline.mlmAccuracy !== null
    ? { metric: 'mlm_accuracy_drop', value: baseline.mlmAccuracy - after }
    : { metric: 'clean_output_mse', value: cleanMse };

  return {
    heldout_sentences: held.clean.length,
    threshold: FIRE_THRESHOLD,
    per_trigger: perTrigger,
    clean_per_pv: cleanPerPv,
    triggered_sign_agreement_min: Math.min(...perTrigger.map((t) => t.sign_agreement)),
    clean_sign_agreement_max: Math.max(...cleanPerPv.map((c) => c.sign_agreement)),
    clean_fire_rate: fireRate(maxAgreement(cleanOuts, pvs)),
    rare_token_fire_rate: rare,
    rare_unused_fire_rate: rareUnused,
    rare_word_fire_rate: rareWord,
    rare_tokens_tested: held.rare.length,
    utility,
    clean_output_mse: cleanMse,
    mlm_accuracy_before: baseline.mlmAccuracy,
    mlm_accuracy_after: after,
  };
}
