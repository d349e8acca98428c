/**
 * The metrics prompt-tuned models are selected and reported by: accuracy
 * and macro-F1 for classification, and entity-level micro-F1 for NER
 * computed exactly as seqeval does in its default (conlleval-compatible,
 * non-strict) mode — the number P-tuning v2 reports for CoNLL04.
 *
 * seqeval's default mode is lenient about malformed BIO: an I- tag with no
 * B- before it opens an entity, and a change of type inside a run closes
 * one entity and opens another. Reimplementing it loosely (e.g. only
 * counting B-…I-* runs) changes F1 on exactly the sequences an
 * undertrained tagger emits, so get_entities / end_of_chunk /
 * start_of_chunk are transcribed rule by rule (seqeval 1.2.2,
 * seqeval/metrics/sequence_labeling.py).
 */

export interface ClassificationMetrics {
  examples: number;
  accuracy: number;
  /** Unweighted mean of the per-label F1 over every label (labels never seen nor predicted count as F1 0, as sklearn with labels=range(C)). */
  macroF1: number;
}

export function accuracy(gold: ArrayLike<number>, pred: ArrayLike<number>): number {
  sameLength(gold.length, pred.length);
  if (gold.length === 0) return NaN;
  let ok = 0;
  for (let i = 0; i < gold.length; i++) if (gold[i] === pred[i]) ok++;
  return ok / gold.length;
}

/**
 * Macro-F1 over labels 0…numLabels−1 (sklearn's f1_score(average='macro',
 * labels=range(numLabels)), zero_division=0): a label with no gold and no
 * predicted example scores 0.
 */
export function macroF1(gold: ArrayLike<number>, pred: ArrayLike<number>, numLabels: number): number {
  sameLength(gold.length, pred.length);
  if (numLabels <= 0) throw new RangeError('macroF1: numLabels must be positive');
  const tp = new Float64Array(numLabels);
  const fp = new Float64Array(numLabels);
  const fn = new Float64Array(numLabels);
  for (let i = 0; i < gold.length; i++) {
    if (gold[i] === pred[i]) tp[gold[i]]++;
    else {
      fp[pred[i]]++;
      fn[gold[i]]++;
    }
  }
  let s = 0;
  for (let c = 0; c < numLabels; c++) s += f1From(tp[c], tp[c] + fp[c], tp[c] + fn[c]);
  return s / numLabels;
}

export function classificationMetrics(gold: ArrayLike<number>, pred: ArrayLike<number>, numLabels: number): ClassificationMetrics {
  return { examples: gold.length, accuracy: accuracy(gold, pred), macroF1: gold.length ? macroF1(gold, pred, numLabels) : NaN };
}

// ---------------------------------------------------------------- seqeval

/** One entity: type, first and last token index (inclusive) in the flattened sequence. */
export type Entity = [type: string, begin: number, end: number];

/** seqeval's tag/type split of one label (prefix mode): "B-PER" → ["B", "PER"], "O" → ["O", "_"]. */
function splitTag(chunk: string): [string, string] {
  const tag = chunk.length ? chunk[0]! : '';
  const rest = chunk.slice(1);
  const dash = rest.lastIndexOf('-');
  // Python: chunk[1:].rsplit('-', maxsplit=1)[-1] or '_'
  const type = dash < 0 ? rest : rest.slice(dash + 1);
  return [tag, type === '' ? '_' : type];
}

function endOfChunk(prevTag: string, tag: string, prevType: string, type: string): boolean {
  if (prevTag === 'E' || prevTag === 'S') return true;
  if ((prevTag === 'B' || prevTag === 'I') && (tag === 'B' || tag === 'S' || tag === 'O')) return true;
  return prevTag !== 'O' && prevTag !== '.' && prevType !== type;
}

function startOfChunk(prevTag: string, tag: string, prevType: string, type: string): boolean {
  if (tag === 'B' || tag === 'S') return true;
  if ((prevTag === 'E' || prevTag === 'S' || prevTag === 'O') && (tag === 'E' || tag === 'I')) return true;
  return tag !== 'O' && tag !== '.' && prevType !== type;
}

/**
 * seqeval.metrics.sequence_labeling.get_entities for a list of sentences:
 * they are flattened with an "O" after each (so no entity spans two
 * sentences) and entities carry flattened offsets.
 */
export function getEntities(sentences: readonly (readonly string[])[]): Entity[] {
  const seq: string[] = [];
  for (const s of sentences) seq.push(...s, 'O');
  const chunks: Entity[] = [];
  let prevTag = 'O';
  let prevType = '';
  let begin = 0;
  for (let i = 0; i <= seq.length; i++) {
    const [tag, type] = splitTag(i < seq.length ? seq[i]! : 'O');
    if (endOfChunk(prevTag, tag, prevType, type)) chunks.push([prevType, begin, i - 1]);
    if (startOfChunk(prevTag, tag, prevType, type)) begin = i;
    prevTag = tag;
    prevType = type;
  }
  return chunks;
}

export interface SeqevalScores {
  precision: number;
  recall: number;
  f1: number;
  /** Entity counts behind the micro average. */
  trueEntities: number;
  predictedEntities: number;
  correctEntities: number;
  /** Per entity type, as seqeval's classification_report lists them. */
  perType: Record<string, { precision: number; recall: number; f1: number; support: number }>;
}

/**
 * seqeval's precision/recall/f1 with average="micro" (the default
 * f1_score), zero_division="warn" → 0: an entity counts as correct only
 * with the same type and exactly the same span.
 */
export function seqevalScores(gold: readonly (readonly string[])[], pred: readonly (readonly string[])[]): SeqevalScores {
  sameLength(gold.length, pred.length, 'sentences');
  gold.forEach((g, i) => sameLength(g.length, pred[i]!.length, `tags in sentence ${i}`));
  const byType = (sents: readonly (readonly string[])[]) => {
    const m = new Map<string, Set<string>>();
    for (const [type, b, e] of getEntities(sents)) {
      if (!m.has(type)) m.set(type, new Set());
      m.get(type)!.add(`${b}:${e}`);
    }
    return m;
  };
  const t = byType(gold);
  const p = byType(pred);
  const types = [...new Set([...t.keys(), ...p.keys()])].sort();
  let tp = 0;
  let nTrue = 0;
  let nPred = 0;
  const perType: SeqevalScores['perType'] = {};
  for (const type of types) {
    const ts = t.get(type) ?? new Set<string>();
    const ps = p.get(type) ?? new Set<string>();
    let hit = 0;
    for (const e of ps) if (ts.has(e)) hit++;
    tp += hit;
    nTrue += ts.size;
    nPred += ps.size;
    const precision = ps.size ? hit / ps.size : 0;
    const recall = ts.size ? hit / ts.size : 0;
    perType[type] = { precision, recall, f1: f1From(hit, ps.size, ts.size), support: ts.size };
  }
  return {
    precision: nPred ? tp / nPred : 0,
    recall: nTrue ? tp / nTrue : 0,
    f1: f1From(tp, nPred, nTrue),
    trueEntities: nTrue,
    predictedEntities: nPred,
    correctEntities: tp,
    perType,
  };
}

/** seqeval.metrics.f1_score(gold, pred) in default mode. */
export function seqevalF1(gold: readonly (readonly string[])[], pred: readonly (readonly string[])[]): number {
  return seqevalScores(gold, pred).f1;
}

/** F1 from counts; 0 when precision + recall is 0 (sklearn/seqeval's zero_division=0 behaviour). */
function f1From(tp: number, predicted: number, actual: number): number {
  const p = predicted ? tp / predicted : 0;
  const r = actual ? tp / actual : 0;
  return p + r === 0 ? 0 : (2 * p * r) / (p + r);
}

function sameLength(a: number, b: number, what = 'labels'): void {
  if (a !== b) throw new RangeError(`gold and predicted ${what} differ in length (${a} vs ${b})`);
}
