/**
 * Trigger recovery judged against an attack's ground truth (`eval
 * triggers`): each PV a scan or search kept is paired with the planted PV
 * it agrees with most in sign; when that agreement passes η the PV is
 * *matched*, and recovery *hits* when its top candidate's words are that
 * planted PV's trigger (any of them, when several triggers share a PV).
 * The sweep covers whole words of the vocabulary, so a trigger the
 * tokenizer splits into word-pieces (qt → q ##t) cannot be its candidate;
 * when the top candidate is such a trigger's first piece, inserted alone,
 * that is recorded apart (`first_piece`), not counted as a hit. A
 * kept PV that matches no planted one (a mixture: the demo's POR copy has
 * such a PV, its block signs a combination no trigger makes) is explained
 * by its *collapsing* candidates instead — words that send every sentence
 * onto one vector of their own, away from the clean outputs — when those
 * words are planted triggers.
 */
import { join } from 'node:path';
import type { AttackManifest } from '../attacks/manifest.js';
import { readTextFile } from '../formats/file-io.js';
import { loadPvSet } from '../sanitizer/pvset.js';
import { MATCH_THRESHOLD } from '../sanitizer/monitor.js';
import { collapses, type TriggerCandidate } from '../sanitizer/recover.js';
import { signAgreement } from '../util/vectors.js';


export interface TriggerJudgement {
  pv: number;
  /** The planted PV this kept PV agrees with most, its sign agreement, and whether that passes η. */
  planted: number;
  agreement: number;
  matched: boolean;
  /** The planted PV's triggers (attack.json). */
  planted_triggers: string[];
  top: TriggerCandidate | null;
  /** Matched PVs: the top candidate is one of the planted PV's triggers. */
  hit: boolean;
  /** Matched PVs, no hit: the top candidate is the first word-piece of a one-word planted trigger the tokenizer splits (q for qt). */
  first_piece: boolean;
  /** Candidates that collapse the sentences away from the clean outputs and are planted triggers, with the planted PV each belongs to. */
  collapsing_triggers: { words: string[]; planted: number; collapse_rate: number; clean_agreement: number }[];
}

export interface TriggerEvaluation {
  found_pvs: number;
  matched: number;
  /** Hits over matched PVs (null when none matched). */
  top1_accuracy: number | null;
  per_pv: TriggerJudgement[];
}

const same = (words: readonly string[], trigger: string) => words.join(' ') === trigger;

/** A piece as the tokenizer spells it, without its word-start mark (GPT-2's Ġ, SentencePiece's ▁). */
const bare = (piece: string) => piece.replace(/^[\u0120\u2581]/, '');

const firstPieceOf = (words: readonly string[], t: AttackManifest['triggers'][number]) =>
  words.length === 1 && t.words.length === 1 && t.tokens.length > 1 && bare(t.tokens[0]!) === words[0];

/** A kept PV and its recovered candidates (FoundPv has this shape; so does readRecoveredPvs). */
export interface RecoveredPv {
  vector: Float32Array;
  triggerCandidates?: readonly TriggerCandidate[];
}

export function judgeTriggers(found: readonly RecoveredPv[], manifest: AttackManifest, planted: readonly Float32Array[]): TriggerEvaluation {
  const triggersOf = (k: number) => manifest.triggers.filter((t) => t.pv_index === k).map((t) => t.text);
  const entriesOf = (k: number) => manifest.triggers.filter((t) => t.pv_index === k);
  const per = found.map((f, pv): TriggerJudgement => {
    let best = -1;
    let agreement = -1;
    planted.forEach((p, k) => {
      if (p.length !== f.vector.length) return;
      const a = signAgreement(f.vector, p);
      if (a > agreement) [best, agreement] = [k, a];
    });
    const matched = best >= 0 && agreement > MATCH_THRESHOLD;
    const plantedTriggers = best >= 0 ? triggersOf(best) : [];
    const top = f.triggerCandidates?.[0] ?? null;
    const collapsing = (f.triggerCandidates ?? []).filter(collapses).flatMap((c) => {
      const t = manifest.triggers.find((x) => same(c.words, x.text));
      return t ? [{ words: c.words, planted: t.pv_index, collapse_rate: c.collapse_rate, clean_agreement: c.clean_agreement }] : [];
    });
    const hit = matched && top !== null && plantedTriggers.some((t) => same(top.words, t));
    return {
      pv, planted: best, agreement, matched, planted_triggers: plantedTriggers, top, hit,
      first_piece: matched && !hit && top !== null && entriesOf(best).some((t) => firstPieceOf(top.words, t)),
      collapsing_triggers: collapsing,
    };
  });
  const matched = per.filter((p) => p.matched);
  return {
    found_pvs: found.length, matched: matched.length,
    top1_accuracy: matched.length ? matched.filter((p) => p.hit).length / matched.length : null, per_pv: per,
  };
}

/** report.json of a scan is ours but may have been edited: at most this many bytes are read. */
const MAX_REPORT_BYTES = 256 * 1024 * 1024;

/** The kept PVs of a scan or search directory (pvset.safetensors) with their candidates (report.json). */
export function readRecoveredPvs(dir: string): RecoveredPv[] {
  const reportFile = join(dir, 'report.json');
  let report: unknown;
  try {
    report = JSON.parse(readTextFile(reportFile, MAX_REPORT_BYTES));
  } catch (e) {
    throw new Error(`${reportFile}: ${(e as Error).message}`);
  }
  const pvs = (report as { pvs?: unknown }).pvs;
  if (!Array.isArray(pvs)) throw new Error(`${reportFile}: no "pvs" list (not a scan or search report)`);
  const set = loadPvSet(join(dir, 'pvset.safetensors'));
  if (set.pvs.length !== pvs.length) throw new Error(`${dir}: report.json lists ${pvs.length} PVs, pvset.safetensors holds ${set.pvs.length}`);
  return set.pvs.map((vector, i) => {
    const c = (pvs[i] as { trigger_candidates?: unknown }).trigger_candidates;
    if (c !== null && c !== undefined && !(Array.isArray(c) && c.every(isCandidate))) throw new Error(`${reportFile}: pvs[${i}].trigger_candidates is malformed`);
    return Array.isArray(c) ? { vector, triggerCandidates: c as TriggerCandidate[] } : { vector };
  });
}

function isCandidate(x: unknown): x is TriggerCandidate {
  const c = x as TriggerCandidate;
  return typeof c === 'object' && c !== null && Array.isArray(c.words) && c.words.every((w) => typeof w === 'string')
    && ['match_rate', 'fire_rate', 'collapse_rate', 'clean_agreement'].every((k) => typeof (c as unknown as Record<string, unknown>)[k] === 'number');
}
