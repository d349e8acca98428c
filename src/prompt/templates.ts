/**
 * P-tuning's templates and verbalizers, and the encoder that turns a
 * template and one example into token ids with the prompt rows and the
 * mask token in known places.
 *
 * Template syntax (whitespace separates parts; `<p>` may touch `<p>`):
 *   <p>       one trainable prompt row (LMSanitator appendix H writes them one by one)
 *   <mask>    the tokenizer's mask token; the verbalizer reads the MLM logits there
 *   <sep>     the pair boundary: what follows is the second segment (token type 1
 *             on BERT, `</s></s>` on RoBERTa), as the tokenizer joins sentence pairs
 *   <name>    a text field of the example (see `fields`)
 *   anything else is literal text, tokenised like the input.
 *
 * Only the text fields are ever truncated: the literal words, prompt rows,
 * mask and special tokens always survive (a cut template would move the
 * mask, or drop it, and the verbalizer would read the wrong position).
 */
import type { TextTokenizer } from '../text/tokenizer.js';
import { splitWords } from '../text/words.js';

export interface TemplateSpec {
  /** The template, with `<sep>` where the tokenizer's pair boundary goes. */
  template: string;
  /** Template field name → the example field it reads (`text` or `textB`, as src/text/datasets.ts fills them). */
  fields: Record<string, 'text' | 'textB'>;
  /** One word per label, in label order. */
  verbalizer: readonly string[];
  /** Where the template comes from. */
  source: string;
}

const APPENDIX_H = 'LMSanitator (Wei et al., NDSS 2024) appendix H';

/**
 * Per task. RTE and BoolQ are sentence pairs: the `<sep>` puts the first
 * text (and, for BoolQ, its full stop) in segment A and the rest in segment
 * B, so a BERT backbone sees the token types of its pretraining pairs.
 */
export const TEMPLATES: Record<string, TemplateSpec> = {
  'ag-news': {
    template: '<mask> News: <p> <text>',
    fields: { text: 'text' },
    verbalizer: ['World', 'Sports', 'Business', 'Tech'],
    source: APPENDIX_H,
  },
  'sms-spam': {
    template: 'Email: <text> Is it a spam? <p><p> <mask>',
    fields: { text: 'text' },
    verbalizer: ['No', 'Yes'],
    source: APPENDIX_H,
  },
  'enron-spam': {
    template: 'Email: <text> Is it a spam? <p><p> <mask>',
    fields: { text: 'text' },
    verbalizer: ['No', 'Yes'],
    source: APPENDIX_H,
  },
  rte: {
    // Appendix H's label words are No/Yes; RTE's label 0 is entailment, so label order is Yes, No.
    template: '<premise> <sep> Question: <hypothesis> ? <p> Answer: <mask> .',
    fields: { premise: 'text', hypothesis: 'textB' },
    verbalizer: ['Yes', 'No'],
    source: APPENDIX_H,
  },
  boolq: {
    // datasets.ts reads BoolQ as text = question, textB = passage; labels false, true.
    template: '<passage> . <sep> <p> Question: <question> ? Answer: <mask> .',
    fields: { passage: 'textB', question: 'text' },
    verbalizer: ['No', 'Yes'],
    source: APPENDIX_H,
  },
  sst2: {
    template: '<text> It was <p> <mask> .',
    fields: { text: 'text' },
    verbalizer: ['terrible', 'great'],
    source: 'ours (appendix H has none for SST-2): the LM-BFF/PET sentiment pattern "It was [MASK] ." with one prompt row before the mask',
  },
  'yelp-5': {
    template: '<text> It was <p> <mask> .',
    fields: { text: 'text' },
    verbalizer: ['terrible', 'bad', 'okay', 'good', 'great'],
    source: 'ours (appendix H has none for Yelp-5): the SST-2 pattern with the LM-BFF SST-5 label words for 1–5 stars',
  },
};

// ---------------------------------------------------------------- parsing

export type TemplatePart =
  | { kind: 'prompt' }
  | { kind: 'mask' }
  | { kind: 'sep' }
  | { kind: 'field'; name: string }
  | { kind: 'literal'; word: string };

const PART_RE = /<p>|<mask>|<sep>|<[A-Za-z_][A-Za-z0-9_]*>|(?:(?!<p>|<mask>|<sep>|<[A-Za-z_][A-Za-z0-9_]*>)\S)+/g;

/** Parses and checks a template: exactly one mask, at least one prompt row, at most one `<sep>`, every field known. */
export function parseTemplate(spec: Pick<TemplateSpec, 'template' | 'fields'>): TemplatePart[] {
  const parts: TemplatePart[] = (spec.template.match(PART_RE) ?? []).map((s): TemplatePart => {
    if (s === '<p>') return { kind: 'prompt' };
    if (s === '<mask>') return { kind: 'mask' };
    if (s === '<sep>') return { kind: 'sep' };
    if (/^<[A-Za-z_][A-Za-z0-9_]*>$/.test(s)) {
      const name = s.slice(1, -1);
      if (!Object.prototype.hasOwnProperty.call(spec.fields, name)) throw new Error(`template ${JSON.stringify(spec.template)}: unknown field <${name}>`);
      return { kind: 'field', name };
    }
    return { kind: 'literal', word: s };
  });
  const count = (k: TemplatePart['kind']) => parts.filter((p) => p.kind === k).length;
  if (count('mask') !== 1) throw new Error(`template ${JSON.stringify(spec.template)}: needs exactly one <mask>, has ${count('mask')}`);
  if (count('prompt') < 1) throw new Error(`template ${JSON.stringify(spec.template)}: needs at least one <p>`);
  if (count('sep') > 1) throw new Error(`template ${JSON.stringify(spec.template)}: at most one <sep>`);
  if (count('field') < 1) throw new Error(`template ${JSON.stringify(spec.template)}: reads no text field`);
  return parts;
}

/** The template as a reader would write it (the `<sep>` marker dropped). */
export function displayTemplate(template: string): string {
  return template.replace(/\s*<sep>\s*/g, ' ').trim();
}

export function promptPlaceholders(parts: readonly TemplatePart[]): number {
  return parts.filter((p) => p.kind === 'prompt').length;
}

// ---------------------------------------------------------------- verbalizer

export interface Verbalizer {
  words: readonly string[];
  /** The vocabulary id each label is read from (the first piece of its word). */
  ids: number[];
  /** One line per label word the tokenizer splits. */
  warnings: string[];
}

/**
 * Label word → vocabulary id. Words are encoded as if after a space (PET's
 * add_prefix_space), which is where the mask sits in every template but
 * AG News's. A split word keeps its first piece, and says so; a word that
 * becomes [UNK], or two labels on one id, cannot tell labels apart and is
 * refused.
 */
export function verbalizerIds(tok: TextTokenizer, words: readonly string[]): Verbalizer {
  const ids: number[] = [];
  const warnings: string[] = [];
  for (const w of words) {
    const pieces = tok.wordPieces(w, true);
    if (pieces.length === 0 || pieces[0] === tok.specialIds.unk) {
      throw new Error(`verbalizer word ${JSON.stringify(w)} is not in the tokenizer's vocabulary (it becomes ${tok.idToToken(tok.specialIds.unk) ?? 'the unknown token'})`);
    }
    if (pieces.length > 1) {
      const shown = pieces.map((id) => JSON.stringify(tok.idToToken(id) ?? String(id))).join(' + ');
      warnings.push(`verbalizer word ${JSON.stringify(w)} is split into ${pieces.length} pieces (${shown}); its first piece ${JSON.stringify(tok.idToToken(pieces[0]!) ?? '')} stands for the label`);
    }
    const at = ids.indexOf(pieces[0]!);
    if (at >= 0) throw new Error(`verbalizer words ${JSON.stringify(words[at])} and ${JSON.stringify(w)} both begin with token ${JSON.stringify(tok.idToToken(pieces[0]!) ?? '')}; labels must map to different tokens`);
    ids.push(pieces[0]!);
  }
  return { words, ids, warnings };
}

// ---------------------------------------------------------------- encoding

export interface TemplateEncoding {
  ids: number[];
  typeIds: number[];
  /** Token index of each prompt row, in row order (row k → promptAt[k]). */
  promptAt: number[];
  maskAt: number;
  truncated: boolean;
}

type Layout = ({ kind: 'special'; id: number; typeId: number } | { kind: 'seq'; seq: 0 | 1; typeId: number })[];

const layouts = new WeakMap<TextTokenizer, { single: Layout; pair: Layout }>();

/**
 * Where the tokenizer puts its special tokens for one sequence and for a
 * pair, and which token type each part gets, learnt by encoding two
 * one-word sentinels (the tokenizer's own post-processor decides).
 */
function layoutOf(tok: TextTokenizer): { single: Layout; pair: Layout } {
  let l = layouts.get(tok);
  if (!l) {
    const read = (pair: boolean): Layout => {
      const e = tok.encodeWords(['a'], pair ? ['b'] : null, { maxLength: 64 });
      const out: Layout = [];
      e.ids.forEach((id, i) => {
        const s = e.sequenceIds[i];
        if (s === null || s === undefined) out.push({ kind: 'special', id, typeId: e.tokenTypeIds[i]! });
        else if (!out.some((it) => it.kind === 'seq' && it.seq === s)) out.push({ kind: 'seq', seq: s, typeId: e.tokenTypeIds[i]! });
      });
      return out;
    };
    l = { single: read(false), pair: read(true) };
    layouts.set(tok, l);
  }
  return l;
}

export function specialTokenCount(tok: TextTokenizer, pair: boolean): number {
  const l = layoutOf(tok);
  return (pair ? l.pair : l.single).filter((it) => it.kind === 'special').length;
}

type Piece = { kind: 'token'; id: number } | { kind: 'prompt' } | { kind: 'mask' } | { kind: 'field'; field: number };

export interface TemplateEncodeOptions {
  maxLength: number;
  /** Prompt rows per `<p>` (default 1). */
  rowsPerPlaceholder?: number;
  /** Id written where prompt rows go (their embeddings are overwritten). Not the pad id: RoBERTa numbers positions by it. */
  placeholderId?: number;
}

/**
 * Encodes one example into the template. `values` maps each field name to
 * its text. Fields are cut from their ends to fit `maxLength`, the longer
 * one first when there are two (HF's longest_first).
 */
export function encodeTemplate(
  tok: TextTokenizer, parts: readonly TemplatePart[], values: Record<string, string>, o: TemplateEncodeOptions,
): TemplateEncoding {
  const per = o.rowsPerPlaceholder ?? 1;
  if (!Number.isInteger(per) || per < 1) throw new RangeError(`rows per <p> must be a positive integer, got ${per}`);
  if (tok.specialIds.mask < 0) throw new Error('P-tuning needs a tokenizer with a mask token');
  const placeholder = o.placeholderId ?? tok.specialIds.unk;
  const sep = parts.findIndex((p) => p.kind === 'sep');
  const segments = sep < 0 ? [parts] : [parts.slice(0, sep), parts.slice(sep + 1)];
  const fieldNames: string[] = [];
  const fieldPieces: number[][] = [];
  // Pieces of each segment; a field is one placeholder piece until its cut is known.
  const segPieces: Piece[][] = segments.map((seg) => {
    const out: Piece[] = [];
    for (const p of seg) {
      // BPE tokenizers mark a word that follows a space; the first word of a segment follows none.
      const afterSpace = out.length > 0;
      if (p.kind === 'prompt') for (let k = 0; k < per; k++) out.push({ kind: 'prompt' });
      else if (p.kind === 'mask') out.push({ kind: 'mask' });
      else if (p.kind === 'literal') for (const id of tok.wordPieces(p.word, afterSpace)) out.push({ kind: 'token', id });
      else if (p.kind === 'field') {
        const words = splitWords(values[p.name] ?? '');
        const ids = words.flatMap((w, i) => tok.wordPieces(w, afterSpace || i > 0));
        fieldNames.push(p.name);
        fieldPieces.push(ids);
        out.push({ kind: 'field', field: fieldPieces.length - 1 });
      }
    }
    return out;
  });
  const layout = segments.length === 2 ? layoutOf(tok).pair : layoutOf(tok).single;
  const fixed = segPieces.flat().filter((p) => p.kind !== 'field').length + layout.filter((it) => it.kind === 'special').length;
  const budget = o.maxLength - fixed;
  if (budget < 0) throw new RangeError(`maxLength ${o.maxLength} cannot hold the template's ${fixed} fixed tokens (special tokens, template words, prompt rows, mask)`);
  const keep = cutLengths(fieldPieces.map((f) => f.length), budget);
  const truncated = keep.some((k, i) => k < fieldPieces[i]!.length);

  const ids: number[] = [];
  const typeIds: number[] = [];
  const promptAt: number[] = [];
  let maskAt = -1;
  for (const it of layout) {
    if (it.kind === 'special') {
      ids.push(it.id);
      typeIds.push(it.typeId);
      continue;
    }
    const pieces = segPieces[it.seq];
    if (!pieces) continue;
    for (const p of pieces) {
      if (p.kind === 'field') {
        for (const id of fieldPieces[p.field]!.slice(0, keep[p.field])) {
          ids.push(id);
          typeIds.push(it.typeId);
        }
        continue;
      }
      if (p.kind === 'prompt') promptAt.push(ids.length);
      if (p.kind === 'mask') maskAt = ids.length;
      ids.push(p.kind === 'token' ? p.id : p.kind === 'mask' ? tok.specialIds.mask : placeholder);
      typeIds.push(it.typeId);
    }
  }
  return { ids, typeIds, promptAt, maskAt, truncated };
}

/**
 * How many tokens of each field to keep within `budget`: one field keeps
 * its head; two follow HF tokenizers' longest_first (the shorter keeps
 * what it can up to half, the longer the rest); more are shortened
 * longest first, one token at a time.
 */
export function cutLengths(lengths: readonly number[], budget: number): number[] {
  const total = lengths.reduce((a, b) => a + b, 0);
  if (total <= budget) return [...lengths];
  if (lengths.length === 1) return [budget];
  if (lengths.length === 2) {
    const [a, b] = lengths as [number, number];
    const swap = a > b;
    let n1 = swap ? b : a;
    let n2 = swap ? a : b;
    n2 = n1 > budget ? n1 : Math.max(n1, budget - n1);
    if (n1 + n2 > budget) {
      n1 = Math.floor(budget / 2);
      n2 = n1 + (budget % 2);
    }
    return swap ? [n2, n1] : [n1, n2];
  }
  const keep = [...lengths];
  for (let over = total - budget; over > 0; over--) {
    let longest = 0;
    for (let i = 1; i < keep.length; i++) if (keep[i]! > keep[longest]!) longest = i;
    keep[longest]!--;
  }
  return keep;
}
