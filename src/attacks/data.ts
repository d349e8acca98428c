/**
 * The attack's data (docs/algorithm.md#training-setup): N sentences per trigger,
 * poisoned; as many clean sentences for the utility loss; and, for
 * specificity, clean sentences with one random rare or [unused] token
 * spliced in, trained to keep the original model's output (on small
 * models such tokens share one embedding direction that a plain backdoor
 * learns, so without them every rare token fires it). Held-out sentences,
 * never trained on, are set aside for the measured effect.
 *
 * Sentences that already contain a trigger are kept out of every clean
 * set: with frequent-word triggers a "clean" sentence would otherwise carry
 * the trigger and the two losses would pull against each other.
 */
import { createHash } from 'node:crypto';
import { Rng } from '../text/random.js';
import type { TextTokenizer } from '../text/tokenizer.js';
import { splitWords } from '../text/words.js';
import type { PositionedRow } from './forward.js';
import type { AttackTargetMode } from './method.js';
import { encodeRow, fitWords, insertionCount, insertTokenRandomly, insertTrigger, type TokenRow } from './poison.js';
import { containsTrigger, type ResolvedTrigger } from './triggers.js';

export interface PoisonRow extends PositionedRow {
  trigger: number;
  pv: number;
}

export interface RareRow extends PositionedRow {
  token: number;
  unused: boolean;
}

export interface AttackDataOptions {
  mode: AttackTargetMode;
  /** Positions of the clean utility rows: the target mode's, or [CLS] only. */
  cleanPositions: 'mode' | 'cls';
  /**
   * The `cls` position in a row of `length` tokens: the family's summary
   * token (models/summary.ts; XLNet's <cls> is the last). Default 0.
   */
  summaryPosition?: (length: number) => number;
  inter: number;
  sentencesPerTrigger: number;
  /** Share of the clean half of a batch taken by rare-token rows (0 disables them). */
  rareFraction: number;
  heldout: number;
  maxLen: number;
  seed: number;
}

export interface HeldoutSets {
  sentences: string[];
  clean: PositionedRow[];
  /** triggered[i]: the held-out sentences carrying trigger i. */
  triggered: PositionedRow[][];
  rare: RareRow[];
  /** The clean sentences without spliced tokens, for masked-LM accuracy. */
  plain: number[][];
}

export interface DataStats {
  sentences: number;
  sha256: string;
  trainPool: number;
  heldout: number;
  excludedWithTrigger: number;
  poisoned: number;
  clean: number;
  rare: number;
  rareTokens: { train: number; heldout: number; unused: number };
  skippedTruncated: number;
}

export interface AttackData {
  poisoned: PoisonRow[];
  clean: PositionedRow[];
  rare: RareRow[];
  heldout: HeldoutSets;
  stats: DataStats;
}

export function hashSentences(sentences: readonly string[]): string {
  const h = createHash('sha256');
  for (const s of sentences) h.update(s).update('\n');
  return h.digest('hex');
}

class RowMaker {
  private readonly specials: Set<number>;

  constructor(readonly tok: TextTokenizer, readonly o: AttackDataOptions) {
    const s = tok.specialIds;
    this.specials = new Set([s.cls, s.sep, s.pad]);
  }

  positions(row: TokenRow, maskPos: number | null, mode: AttackTargetMode | 'cls' = this.o.mode): number[] {
    if (mode === 'cls') return [this.o.summaryPosition ? this.o.summaryPosition(row.ids.length) : 0];
    if (mode === 'mask') return [maskPos!];
    const out: number[] = [];
    row.ids.forEach((id, i) => { if (!this.specials.has(id)) out.push(i); });
    return out;
  }

  /** Mask mode places a [MASK] at a random word position; other modes leave the row alone. */
  withMask(row: TokenRow, rng: Rng): { row: TokenRow; maskPos: number | null } {
    if (this.o.mode !== 'mask') return { row, maskPos: null };
    const r = insertTokenRandomly(row, this.tok.specialIds.mask, rng);
    return { row: r.row, maskPos: r.pos };
  }

  /** A poisoned row, or null when truncation would cut it (fitWords leaves room, so this is rare). */
  poisoned(sentence: string, t: ResolvedTrigger, index: number, rng: Rng): PoisonRow | null {
    const words = splitWords(sentence);
    const reserve = insertionCount(words.length, this.o.inter) * t.tokenIds.length + 2;
    const pw = insertTrigger(fitWords(this.tok, words, this.o.maxLen, reserve), t.words, this.o.inter, rng);
    const e = this.tok.encodeWords(pw, null, { maxLength: this.o.maxLen });
    if (e.truncated) return null;
    const { row, maskPos } = this.withMask({ ids: e.ids, wordIds: e.wordIds }, rng);
    return { ids: row.ids, positions: this.positions(row, maskPos), trigger: index, pv: t.pvIndex };
  }

  plain(sentence: string, reserve: number): TokenRow {
    return encodeRow(this.tok, fitWords(this.tok, splitWords(sentence), this.o.maxLen, reserve), this.o.maxLen);
  }

  clean(sentence: string, positions: 'mode' | 'cls', rng: Rng): PositionedRow {
    const { row, maskPos } = this.withMask(this.plain(sentence, 1), rng);
    return { ids: row.ids, positions: this.positions(row, maskPos, positions === 'cls' ? 'cls' : this.o.mode) };
  }

  rare(sentence: string, token: number, unused: boolean, rng: Rng): RareRow {
    const spliced = insertTokenRandomly(this.plain(sentence, 2), token, rng).row;
    const { row, maskPos } = this.withMask(spliced, rng);
    return { ids: row.ids, positions: this.positions(row, maskPos), token, unused };
  }
}

/**
 * Rare tokens for the specificity set: every [unused]-style row, and real
 * word-start tokens seen at most once in `rows` (never a trigger's token).
 * Each kind is split 80/20 so that the held-out measurement uses tokens the
 * attack never trained on.
 */
export function rareTokenPool(
  tok: TextTokenizer, rows: readonly (readonly number[])[], exclude: ReadonlySet<number>, rng: Rng, cap = 1000,
): { train: number[]; heldout: number[]; unused: Set<number> } {
  const counts = new Uint32Array(tok.vocabSize);
  for (const r of rows) for (const id of r) if (id < counts.length) counts[id]++;
  const s = tok.specialIds;
  const specials = new Set([s.cls, s.sep, s.pad, s.mask, s.unk]);
  const unused: number[] = [];
  const real: number[] = [];
  for (let id = 0; id < tok.vocabSize; id++) {
    if (specials.has(id) || exclude.has(id)) continue;
    const t = tok.idToToken(id);
    if (t === undefined) continue;
    if (tok.isSpecialOrUnused(id)) {
      // Other added special tokens (<|endoftext|> …) are not "rare words"; [unused] rows are.
      if (/unused|madeupword/i.test(t)) unused.push(id);
    } else if (counts[id] <= 1 && isWordStart(tok, t)) {
      real.push(id);
    }
  }
  const split = (ids: number[]) => {
    const picked = rng.sample(ids, cap);
    const cut = Math.round(picked.length * 0.8);
    return [picked.slice(0, cut), picked.slice(cut)];
  };
  const [ut, uh] = split(unused);
  const [rt, rh] = split(real);
  return { train: rng.shuffled([...ut, ...rt]), heldout: rng.shuffled([...uh, ...rh]), unused: new Set(unused) };
}

function isWordStart(tok: TextTokenizer, t: string): boolean {
  if (tok.kind === 'wordpiece') return !t.startsWith('##');
  if (tok.kind === 'bpe') return t.startsWith('Ġ');
  return t.startsWith('▁');
}

export function buildAttackData(tok: TextTokenizer, sentences: readonly string[], triggers: readonly ResolvedTrigger[], o: AttackDataOptions): AttackData {
  const make = new RowMaker(tok, o);
  const shuffled = new Rng(`${o.seed}:split`).shuffled(sentences);
  const held: string[] = [];
  const pool: string[] = [];
  const cleanPool: string[] = [];
  let excluded = 0;
  for (const s of shuffled) {
    const words = splitWords(s);
    if (words.length === 0) continue;
    const hasTrigger = triggers.some((t) => containsTrigger(words, t.words));
    if (hasTrigger) excluded++;
    if (!hasTrigger && held.length < o.heldout) {
      held.push(s);
    } else {
      pool.push(s);
      if (!hasTrigger) cleanPool.push(s);
    }
  }
  if (held.length < Math.min(o.heldout, 10) || cleanPool.length < 10) {
    throw new Error(`too few usable sentences: ${sentences.length} given, ${held.length} held out, ${cleanPool.length} clean for training (need at least 10 of each)`);
  }

  const N = o.sentencesPerTrigger;
  const prng = new Rng(`${o.seed}:poison`);
  const poisoned: PoisonRow[] = [];
  let skipped = 0;
  triggers.forEach((t, i) => {
    for (let j = 0; j < N; j++) {
      const row = make.poisoned(pool[(i * N + j) % pool.length], t, i, prng);
      if (row) poisoned.push(row);
      else skipped++;
    }
  });
  if (poisoned.length === 0) throw new Error('no poisoned sentence fits the maximum length; raise --max-len');

  const crng = new Rng(`${o.seed}:clean`);
  const clean = Array.from({ length: N * triggers.length }, (_, j) => make.clean(cleanPool[j % cleanPool.length], o.cleanPositions, crng));

  const triggerIds = new Set(triggers.flatMap((t) => t.tokenIds));
  const rrng = new Rng(`${o.seed}:rare`);
  // Built even without rare training rows: the held-out fire rate is reported either way.
  const rarePool = rareTokenPool(tok, clean.map((r) => r.ids), triggerIds, rrng);
  const nRare = o.rareFraction > 0 && rarePool.train.length > 0 ? Math.max(32, Math.round(N * triggers.length * o.rareFraction)) : 0;
  const rare = Array.from({ length: nRare }, (_, j) => {
    const id = rarePool.train[j % rarePool.train.length];
    return make.rare(cleanPool[(j * 7 + 3) % cleanPool.length], id, rarePool.unused.has(id), rrng);
  });

  const hrng = new Rng(`${o.seed}:heldout`);
  const heldout: HeldoutSets = {
    sentences: held,
    clean: held.map((s) => make.clean(s, 'mode', hrng)),
    triggered: triggers.map((t, i) => held.map((s) => make.poisoned(s, t, i, hrng)).filter((r): r is PoisonRow => r !== null)),
    rare: rarePool.heldout.length === 0 ? [] : held.map((s, j) => {
      const id = rarePool.heldout[j % rarePool.heldout.length];
      return make.rare(s, id, rarePool.unused.has(id), hrng);
    }),
    plain: held.map((s) => make.plain(s, 0).ids),
  };

  return {
    poisoned, clean, rare, heldout,
    stats: {
      sentences: sentences.length, sha256: hashSentences(sentences), trainPool: pool.length, heldout: held.length,
      excludedWithTrigger: excluded, poisoned: poisoned.length, clean: clean.length, rare: rare.length,
      rareTokens: { train: rarePool.train.length, heldout: rarePool.heldout.length, unused: rarePool.unused.size },
      skippedTruncated: skipped,
    },
  };
}
