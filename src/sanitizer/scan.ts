/**
 * The detection and search drivers (docs/algorithm.md#scan-and-search):
 * fuzz loops with seeds s, s+1, …, each filtered; detection stops at the
 * first legitimate PV, search keeps every unique PV and stops after
 * `patience` loops without a new one. Every finished loop and every PV
 * goes to the journal at once, so an interrupted run resumes where it was.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type FilterVerdict, EmbeddingRange, filterCandidate, nearestTokens } from './filter.js';
import { decodeF32, encodeF32, Journal, type JournalHeader, type JournalLoop } from './journal.js';
import { type LoopResult, type MiningHooks, type MiningOptions, runFuzzLoops } from './mining.js';
import { allAux, type MiningData } from './data.js';
import type { ScanTarget } from './target.js';
import { loopScore } from './score.js';
import type { TriggerCandidate } from './recover.js';

export interface DriverOptions {
  command: 'scan' | 'search';
  /** Maximum number of fuzz loops. */
  loops: number;
  /** Search only: stop after this many loops without a new PV. */
  patience: number;
  firstSeed: number;
  /** Loops run together as one batch. */
  parallel: number;
  mining: MiningOptions;
  divTh: number;
  /** The clean-output rule (filter.ts); undefined disables it. */
  maxCleanShare?: number;
  outDir: string;
  resume: boolean;
  modelDir: string;
  sentencesHash: string;
}

export interface FoundPv {
  index: number;
  seed: number;
  vector: Float32Array;
  prompt: Float32Array;
  nearest: { token: string; id: number; cosine: number }[][];
  /** Input words that produce this PV, best first (trigger recovery; absent when not run). */
  triggerCandidates?: TriggerCandidate[];
  /** Trigger recovery: how many swept words fire this PV (RecoveryResult.wordsFiring). */
  triggerWordsFiring?: number;
}

export interface LoopRecord extends JournalLoop {
  filter?: FilterVerdict;
}

export interface DriverResult {
  pvs: FoundPv[];
  loops: LoopRecord[];
  /** The continuous backdoor score (max over loops; see score.ts). */
  score: number;
  interrupted: boolean;
  stoppedBy: 'first-pv' | 'patience' | 'max-loops' | 'interrupt';
  seconds: number;
}

/** The scan's journal inside its output directory. */
export const SCAN_JOURNAL_FILE = 'journal.jsonl';

export function hashSentences(sentences: readonly string[]): string {
  const h = createHash('sha256');
  for (const s of sentences) h.update(s).update('\n');
  return h.digest('hex');
}

export interface DriverHooks extends MiningHooks {
  /** Before the first new loop: how many loops and PVs the journal already holds (0 for a fresh run). */
  onStart?: (journaledLoops: number, journaledPvs: number) => void;
  onLoop?: (rec: LoopRecord, pvs: FoundPv[]) => void;
}

export function runDriver(target: ScanTarget, data: MiningData, o: DriverOptions, hooks: DriverHooks = {}): DriverResult {
  const started = process.hrtime.bigint();
  try {
    mkdirSync(o.outDir, { recursive: true });
  } catch (e) {
    throw new Error(`cannot create output directory ${o.outDir}: ${(e as Error).message}`);
  }
  const journalPath = join(o.outDir, SCAN_JOURNAL_FILE);
  const L = data.options.promptLen;
  const E = target.wordEmbeddings.shape[1];
  const header: JournalHeader = {
    type: 'header', version: 1, command: o.command, modelHash: target.modelHash, modelDir: o.modelDir,
    sentencesHash: o.sentencesHash, mode: data.options.mode,
    settings: { ...o.mining, divTh: o.divTh, data: data.options, loops: o.loops, patience: o.patience, firstSeed: o.firstSeed },
    started: new Date().toISOString(),
  };

  const pvs: FoundPv[] = [];
  const loops: LoopRecord[] = [];
  const doneSeeds = new Set<number>();
  let journal: Journal;
  if (o.resume) {
    const prev = Journal.read(journalPath);
    if (prev.header.modelHash !== target.modelHash) {
      throw new Error(`${journalPath} belongs to a different model (hash ${prev.header.modelHash.slice(0, 12)}…, this model ${target.modelHash.slice(0, 12)}…)`);
    }
    if (prev.header.sentencesHash !== o.sentencesHash || prev.header.mode !== data.options.mode) {
      throw new Error(`${journalPath} was written with other sentences or another mode; start a new run without --resume`);
    }
    for (const e of prev.entries) {
      doneSeeds.add(e.seed);
      if (e.type === 'pv') {
        const prompt = decodeF32(e.prompt, 'prompt');
        pvs.push({ index: pvs.length, seed: e.seed, vector: decodeF32(e.vector, 'pv'), prompt, nearest: nearestTokens(prompt, target.wordEmbeddings, 5, (id) => target.tokenString(id)) });
      } else {
        loops.push(e);
      }
    }
    journal = Journal.reopen(journalPath);
  } else {
    journal = Journal.create(journalPath, header);
  }

  const range = EmbeddingRange.of(target.wordEmbeddings);
  const filterOptions = { distanceTh: o.mining.distanceTh, divTh: o.divTh, maxCleanShare: o.maxCleanShare };
  const clean = { data: allAux(data), hidden: target.hidden };
  let interrupted = false;
  let stoppedBy: DriverResult['stoppedBy'] = 'max-loops';
  let sinceNew = 0;
  // Patience counts loops since the last new PV, resumed runs included.
  for (const l of loops) sinceNew = l.kept ? 0 : sinceNew + 1;
  hooks.onStart?.(loops.length, pvs.length);
  try {
    let seed = o.firstSeed;
    const lastSeed = o.firstSeed + o.loops - 1;
    outer: while (seed <= lastSeed) {
      if (o.command === 'scan' && pvs.length > 0) {
        stoppedBy = 'first-pv';
        break;
      }
      if (o.command === 'search' && sinceNew >= o.patience) {
        stoppedBy = 'patience';
        break;
      }
      const group: number[] = [];
      while (group.length < o.parallel && seed <= lastSeed) {
        if (!doneSeeds.has(seed)) group.push(seed);
        seed++;
      }
      if (group.length === 0) continue;
      const known = pvs.map((p) => p.vector);
      const accept = (r: LoopResult) => filterCandidate(r, known, range, filterOptions, clean).kept;
      const results = runFuzzLoops(target, data, group, known, o.mining, { ...hooks, accept });
      if (hooks.shouldStop?.()) {
        interrupted = true;
        stoppedBy = 'interrupt';
        break;
      }
      for (const r of results) {
        const verdict = filterCandidate(r, pvs.map((p) => p.vector), range, filterOptions, clean);
        if (verdict.kept && r.candidate) {
          const pv: FoundPv = {
            index: pvs.length, seed: r.seed, vector: r.candidate, prompt: r.prompt,
            nearest: nearestTokens(r.prompt, target.wordEmbeddings, 5, (id) => target.tokenString(id)),
          };
          pvs.push(pv);
          journal.append({ type: 'pv', index: pv.index, seed: r.seed, vector: encodeF32(r.candidate), prompt: encodeF32(r.prompt), promptShape: [L, E] });
          sinceNew = 0;
        } else {
          sinceNew++;
        }
        const rec = toRecord(r, verdict, o);
        journal.append(rec);
        loops.push({ ...rec, filter: verdict });
        hooks.onLoop?.(rec, pvs);
        if (o.command === 'scan' && verdict.kept) continue outer;
      }
    }
  } finally {
    journal.close();
  }
  const score = loops.reduce((m, l) => Math.max(m, l.score), 0);
  return { pvs, loops, score, interrupted, stoppedBy, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

function toRecord(r: LoopResult, v: FilterVerdict, o: DriverOptions): JournalLoop {
  return {
    type: 'loop', seed: r.seed, epochs: r.epochs, initialDistance: r.initialDistance, initialMaxGrad: r.initialMaxGrad,
    crossed: r.crossed, abandoned: r.abandoned, settled: r.settled, kept: v.kept, reasons: v.reasons, rangeViolations: v.rangeViolations,
    seconds: r.seconds, score: loopScore(r, v, o.mining.distanceTh, o.divTh), cleanShare: v.cleanShare, distanceCurve: r.distanceCurve,
  };
}
