// The tokenizer.json object model: validation of untrusted files and builders
// that turn the "slow" vocabulary files (vocab.txt, vocab.json + merges.txt)
// into the same object Hugging Face's fast tokenizers would write. Keeping one
// in-memory representation means every directory layout goes through the same
// @huggingface/tokenizers code path, and save() can always write tokenizer.json.
// Pure data, no file system: tokenizer-files.ts does the reading and writing.

import { FormatError, describeJsonValue, quote } from '../formats/errors.js';
import { isPlainObject, parseGuardedJson } from '../formats/json-guard.js';
import { stripBom } from '../formats/file-io.js';
import { checkComponents } from './tokenizer-components.js';

/**
 * A problem with a tokenizer file: a FormatError (one line, starting with the
 * file), so the CLI and the loaders treat it like any other model file error.
 */
export class TokenizerFileError extends FormatError {
  constructor(file: string, detail: string) {
    super(file, detail);
    this.name = 'TokenizerFileError';
  }
}

/** Upper bounds for untrusted files. Largest real vocabularies are ~260k (XLM-R, Gemma). */
export const LIMITS = {
  maxVocab: 1_000_000,
  maxMerges: 2_000_000,
  maxTokenChars: 4096,
  maxAddedTokens: 100_000,
  /**
   * Characters over all added tokens: the library builds a trie of them, a
   * few hundred bytes per character, so this bounds its memory. Real files
   * have a few thousand.
   */
  maxAddedChars: 1 << 18,
} as const;

/**
 * Every token id must be below `limit`; `what` says where the limit comes
 * from, for the message. Loading a model sets it to the embedding's rows, so
 * a tokenizer cannot name ids the model has no row for.
 */
export interface IdBound {
  limit: number;
  what: string;
}

export const DEFAULT_ID_BOUND: IdBound = { limit: LIMITS.maxVocab, what: `the limit of ${LIMITS.maxVocab.toLocaleString('en-US')} ids` };

export interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

export type ComponentJson = { type: string; [key: string]: unknown };

export interface WordPieceModelJson {
  type: 'WordPiece';
  unk_token: string;
  continuing_subword_prefix: string;
  max_input_chars_per_word: number;
  vocab: Record<string, number>;
}

export interface BpeModelJson {
  type: 'BPE';
  dropout: number | null;
  unk_token: string | null;
  continuing_subword_prefix: string | null;
  end_of_word_suffix: string | null;
  fuse_unk: boolean;
  byte_fallback: boolean;
  ignore_merges?: boolean;
  vocab: Record<string, number>;
  merges: string[] | [string, string][];
}

export interface UnigramModelJson {
  type: 'Unigram';
  unk_id: number | null;
  vocab: [string, number][];
  byte_fallback?: boolean;
}

export type ModelJson = WordPieceModelJson | BpeModelJson | UnigramModelJson;

export interface TokenizerJson {
  version: string;
  truncation: unknown;
  padding: unknown;
  added_tokens: AddedTokenJson[];
  normalizer: ComponentJson | null;
  pre_tokenizer: ComponentJson | null;
  post_processor: ComponentJson | null;
  decoder: ComponentJson | null;
  model: ModelJson;
}

/** Names (strings) of the five special tokens an encoder needs, plus bos/eos where they exist. */
export interface SpecialTokenNames {
  cls: string;
  sep: string;
  pad: string;
  mask: string;
  unk: string;
  bos?: string;
  eos?: string;
}

export const BERT_SPECIALS: SpecialTokenNames = { cls: '[CLS]', sep: '[SEP]', pad: '[PAD]', mask: '[MASK]', unk: '[UNK]' };
export const ROBERTA_SPECIALS: SpecialTokenNames = {
  cls: '<s>', sep: '</s>', pad: '<pad>', mask: '<mask>', unk: '<unk>', bos: '<s>', eos: '</s>',
};

// ---------------------------------------------------------------- validation

/** What a message names; a function when building the name per entry of a 30,000-token vocabulary would cost more than the check. */
type Subject = string | (() => string);
const named = (what: Subject): string => (typeof what === 'string' ? what : what());

export function checkId(id: unknown, file: string, what: Subject, bound: IdBound = DEFAULT_ID_BOUND): number {
  if (typeof id === 'number' && Number.isInteger(id) && id >= 0 && id < bound.limit) return id;
  if (id === undefined) throw new TokenizerFileError(file, `${named(what)} has no id`);
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
    throw new TokenizerFileError(file, `${named(what)} has an invalid id: ${describeJsonValue(id)}; expected a non-negative integer`);
  }
  throw new TokenizerFileError(file, `${named(what)} has an invalid id ${id}, beyond ${bound.what}`);
}

function checkToken(tok: unknown, file: string, what: Subject): string {
  if (typeof tok !== 'string') throw new TokenizerFileError(file, `${named(what)} is not a string`);
  if (tok.length > LIMITS.maxTokenChars) throw new TokenizerFileError(file, `${named(what)} is longer than ${LIMITS.maxTokenChars} characters`);
  return tok;
}

function checkVocabObject(v: unknown, file: string, bound: IdBound, what = 'model.vocab'): Record<string, number> {
  if (!isPlainObject(v)) throw new TokenizerFileError(file, `${what} must be an object mapping tokens to ids`);
  const entries = Object.keys(v);
  if (entries.length === 0) throw new TokenizerFileError(file, `${what} is empty`);
  if (entries.length > LIMITS.maxVocab) throw new TokenizerFileError(file, `${what} has ${entries.length} entries (limit ${LIMITS.maxVocab})`);
  for (const tok of entries) {
    checkToken(tok, file, 'a vocab token');
    checkId(v[tok], file, () => `vocab token ${quote(tok, 40)}`, bound);
  }
  return v as Record<string, number>;
}

function inferModelType(m: Record<string, unknown>): string | undefined {
  if (typeof m.type === 'string') return m.type;
  // Older tokenizer.json files omit model.type; the Rust loader infers it the same way.
  if (Array.isArray(m.vocab)) return 'Unigram';
  if (isPlainObject(m.vocab) && 'merges' in m) return 'BPE';
  if (isPlainObject(m.vocab) && 'continuing_subword_prefix' in m) return 'WordPiece';
  return undefined;
}

function checkModel(m: unknown, file: string, bound: IdBound): ModelJson {
  if (!isPlainObject(m)) throw new TokenizerFileError(file, 'not a tokenizer: missing "model" object');
  const type = inferModelType(m);
  switch (type) {
    case 'WordPiece': {
      const vocab = checkVocabObject(m.vocab, file, bound);
      const unk = m.unk_token ?? '[UNK]';
      checkToken(unk, file, 'model.unk_token');
      const prefix = m.continuing_subword_prefix ?? '##';
      checkToken(prefix, file, 'model.continuing_subword_prefix');
      const maxChars = m.max_input_chars_per_word ?? 100;
      // WordPiece is quadratic in the word length it accepts; real files say 100.
      if (typeof maxChars !== 'number' || !(maxChars > 0) || maxChars > LIMITS.maxTokenChars) {
        throw new TokenizerFileError(file, `model.max_input_chars_per_word must be a number from 1 to ${LIMITS.maxTokenChars}`);
      }
      return { ...m, type: 'WordPiece', vocab, unk_token: unk as string, continuing_subword_prefix: prefix as string, max_input_chars_per_word: maxChars };
    }
    case 'BPE': {
      const vocab = checkVocabObject(m.vocab, file, bound);
      const merges = m.merges;
      if (!Array.isArray(merges)) throw new TokenizerFileError(file, 'model.merges must be an array');
      if (merges.length > LIMITS.maxMerges) throw new TokenizerFileError(file, `model.merges has ${merges.length} entries (limit ${LIMITS.maxMerges})`);
      merges.forEach((mg, i) => {
        const ok = typeof mg === 'string'
          ? mg.split(' ').length === 2
          : Array.isArray(mg) && mg.length === 2 && typeof mg[0] === 'string' && typeof mg[1] === 'string';
        if (!ok) throw new TokenizerFileError(file, `model.merges[${i}] is not a pair of tokens`);
      });
      for (const k of ['unk_token', 'continuing_subword_prefix', 'end_of_word_suffix'] as const) {
        if (m[k] !== undefined && m[k] !== null) checkToken(m[k], file, `model.${k}`);
      }
      return {
        dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
        fuse_unk: false, byte_fallback: false,
        ...m, type: 'BPE', vocab, merges: merges as string[] | [string, string][],
      } as BpeModelJson;
    }
    case 'Unigram': {
      const vocab = m.vocab;
      if (!Array.isArray(vocab) || vocab.length === 0) throw new TokenizerFileError(file, 'model.vocab must be a non-empty array of [token, score]');
      if (vocab.length > LIMITS.maxVocab) throw new TokenizerFileError(file, `model.vocab has ${vocab.length} entries (limit ${LIMITS.maxVocab})`);
      // Unigram ids are positions in the list.
      if (vocab.length > bound.limit) throw new TokenizerFileError(file, `model.vocab has ${vocab.length} entries, beyond ${bound.what}`);
      vocab.forEach((e, i) => {
        if (!Array.isArray(e) || e.length !== 2 || typeof e[1] !== 'number') throw new TokenizerFileError(file, `model.vocab[${i}] is not a [token, score] pair`);
        checkToken(e[0], file, () => `model.vocab[${i}][0]`);
      });
      if (m.unk_id !== undefined && m.unk_id !== null) checkId(m.unk_id, file, 'model.unk_id', { limit: vocab.length, what: `the ${vocab.length} entries of model.vocab` });
      return { unk_id: null, ...m, type: 'Unigram', vocab: vocab as [string, number][] } as UnigramModelJson;
    }
    default:
      throw new TokenizerFileError(file, `not a supported tokenizer: model.type ${typeof m.type === 'string' ? quote(m.type, 40) : describeJsonValue(m.type)} (expected WordPiece, BPE or Unigram)`);
  }
}

function checkAddedTokens(x: unknown, file: string, bound: IdBound): AddedTokenJson[] {
  if (x === undefined || x === null) return [];
  if (!Array.isArray(x)) throw new TokenizerFileError(file, '"added_tokens" must be an array');
  if (x.length > LIMITS.maxAddedTokens) throw new TokenizerFileError(file, `"added_tokens" has ${x.length} entries (limit ${LIMITS.maxAddedTokens})`);
  const out = x.map((t, i) => {
    if (!isPlainObject(t)) throw new TokenizerFileError(file, `added_tokens[${i}] is not an object`);
    const content = checkToken(t.content, file, `added_tokens[${i}].content`);
    if (content.length === 0) throw new TokenizerFileError(file, `added_tokens[${i}].content is empty`);
    const special = t.special === true;
    return {
      id: checkId(t.id, file, `added_tokens[${i}]`, bound),
      content,
      single_word: t.single_word === true,
      lstrip: t.lstrip === true,
      rstrip: t.rstrip === true,
      normalized: typeof t.normalized === 'boolean' ? t.normalized : !special,
      special,
    };
  });
  checkAddedChars(out, file, '"added_tokens"');
  return out;
}

/** Added tokens go into a trie whose size grows with their total length. */
export function checkAddedChars(added: readonly AddedTokenJson[], file: string, what: string): void {
  let chars = 0;
  for (const t of added) chars += t.content.length;
  if (chars > LIMITS.maxAddedChars) throw new TokenizerFileError(file, `${what} hold ${chars} characters in all (limit ${LIMITS.maxAddedChars})`);
}

/**
 * Validate a parsed tokenizer.json; `file` names it in errors. Returns a
 * normalised copy. Token ids must lie below `bound`.
 */
export function validateTokenizerJson(x: unknown, file: string, bound: IdBound = DEFAULT_ID_BOUND): TokenizerJson {
  if (!isPlainObject(x)) throw new TokenizerFileError(file, 'not a tokenizer: expected a JSON object');
  if (!('model' in x)) throw new TokenizerFileError(file, 'not a tokenizer: missing "model"');
  const components = checkComponents(x, file, bound);
  return {
    version: typeof x.version === 'string' ? x.version : '1.0',
    truncation: null,
    padding: null,
    added_tokens: checkAddedTokens(x.added_tokens, file, bound),
    ...components,
    model: checkModel(x.model, file, bound),
  };
}

// ---------------------------------------------------------------- slow-file parsers

/** vocab.txt: one token per line, id = line number (as HF's BertTokenizer reads it). */
export function parseVocabTxt(text: string, file: string, bound: IdBound = DEFAULT_ID_BOUND): string[] {
  const lines = stripBom(text).split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) throw new TokenizerFileError(file, 'empty vocabulary');
  if (lines.length > LIMITS.maxVocab) throw new TokenizerFileError(file, `${lines.length} entries (limit ${LIMITS.maxVocab})`);
  if (lines.length > bound.limit) throw new TokenizerFileError(file, `${lines.length} entries, beyond ${bound.what}`);
  return lines.map((l, i) => checkToken(l.endsWith('\r') ? l.slice(0, -1) : l, file, () => `line ${i + 1}`));
}

/** vocab.json: {token: id}. Only an object of numbers is valid, so two levels of nesting is already wrong. */
export function parseVocabJson(text: string, file: string, bound: IdBound = DEFAULT_ID_BOUND): Record<string, number> {
  const parsed = parseGuardedJson(text, 2);
  if ('error' in parsed) throw new TokenizerFileError(file, parsed.error);
  return checkVocabObject(parsed.value, file, bound, 'the vocabulary');
}

/** merges.txt: optional "#version" header, then "left right" per line. */
export function parseMergesTxt(text: string, file: string): string[] {
  const out: string[] = [];
  const lines = stripBom(text).split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line === '' || (i === 0 && line.startsWith('#version'))) continue;
    const parts = line.split(' ').length;
    if (parts !== 2) throw new TokenizerFileError(file, `line ${i + 1} is not "left right" (${parts} space-separated parts)`);
    out.push(line);
    if (out.length > LIMITS.maxMerges) throw new TokenizerFileError(file, `more than ${LIMITS.maxMerges} merges`);
  }
  return out;
}

// ---------------------------------------------------------------- builders

function addedToken(id: number, content: string, extra: Partial<AddedTokenJson> = {}): AddedTokenJson {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true, ...extra };
}

/**
 * Special tokens missing from a slow vocabulary are appended after its last id,
 * as HF's slow tokenizers do when a special token is not in vocab.txt/vocab.json.
 */
function specialAddedTokens(
  vocab: Map<string, number>,
  names: readonly string[],
  extra: (name: string) => Partial<AddedTokenJson>,
): AddedTokenJson[] {
  let next = 0;
  for (const id of vocab.values()) next = Math.max(next, id + 1);
  const out: AddedTokenJson[] = [];
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) continue;
    seen.add(name);
    let id = vocab.get(name);
    if (id === undefined) id = next++;
    out.push(addedToken(id, name, extra(name)));
  }
  return out.sort((a, b) => a.id - b.id);
}

function specialList(s: SpecialTokenNames): string[] {
  return [s.pad, s.unk, s.cls, s.sep, s.mask, ...(s.bos ? [s.bos] : []), ...(s.eos ? [s.eos] : [])];
}

export interface WordPieceBuildOptions {
  doLowerCase?: boolean;
  /** null = follow doLowerCase, as in HF. */
  stripAccents?: boolean | null;
  tokenizeChineseChars?: boolean;
  specials?: SpecialTokenNames;
  extraAdded?: AddedTokenJson[];
}

/** The tokenizer.json HF's BertTokenizerFast converter produces from a vocab.txt. */
export function wordPieceTokenizerJson(vocabList: readonly string[], o: WordPieceBuildOptions = {}): TokenizerJson {
  const s = o.specials ?? BERT_SPECIALS;
  const vocab: Record<string, number> = Object.create(null) as Record<string, number>;
  // Later duplicates win, as in HF's load_vocab (a dict built line by line).
  vocabList.forEach((tok, id) => { vocab[tok] = id; });
  const vocabMap = new Map(Object.entries(vocab));
  const added = specialAddedTokens(vocabMap, specialList(s), () => ({}));
  mergeExtraAdded(added, o.extraAdded);
  const idOf = (t: string) => added.find((a) => a.content === t)!.id;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: o.tokenizeChineseChars ?? true,
      strip_accents: o.stripAccents ?? null,
      lowercase: o.doLowerCase ?? true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: s.cls, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: s.sep, type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: s.cls, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: s.sep, type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: s.sep, type_id: 1 } },
      ],
      special_tokens: {
        [s.cls]: { id: s.cls, ids: [idOf(s.cls)], tokens: [s.cls] },
        [s.sep]: { id: s.sep, ids: [idOf(s.sep)], tokens: [s.sep] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: s.unk,
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab,
    },
  };
}

export interface BpeBuildOptions {
  addPrefixSpace?: boolean;
  specials?: SpecialTokenNames;
  extraAdded?: AddedTokenJson[];
}

/** The tokenizer.json HF's RobertaTokenizerFast converter produces from vocab.json + merges.txt. */
export function byteLevelBpeTokenizerJson(
  vocab: Record<string, number>,
  merges: readonly string[],
  o: BpeBuildOptions = {},
): TokenizerJson {
  const s = o.specials ?? ROBERTA_SPECIALS;
  const addPrefixSpace = o.addPrefixSpace ?? false;
  const vocabMap = new Map(Object.entries(vocab));
  // RoBERTa's <mask> absorbs the space before it ("the <mask>" -> the, <mask>).
  const added = specialAddedTokens(vocabMap, specialList(s), (n) => (n === s.mask ? { lstrip: true } : {}));
  mergeExtraAdded(added, o.extraAdded);
  const idOf = (t: string) => added.find((a) => a.content === t)!.id;
  const fullVocab: Record<string, number> = Object.create(null) as Record<string, number>;
  for (const [k, v] of vocabMap) fullVocab[k] = v;
  // Slow RoBERTa files list the specials inside vocab.json; keep the model vocab complete.
  for (const a of added) if (!Object.hasOwn(fullVocab, a.content)) fullVocab[a.content] = a.id;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: addPrefixSpace, trim_offsets: true, use_regex: true },
    post_processor: {
      type: 'RobertaProcessing',
      sep: [s.sep, idOf(s.sep)],
      cls: [s.cls, idOf(s.cls)],
      trim_offsets: true,
      add_prefix_space: addPrefixSpace,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab: fullVocab,
      merges: merges.slice(),
    },
  };
}

/** Add `extra` (e.g. tokenizer_config.json's added_tokens_decoder) where neither its id nor its text is taken yet. */
export function mergeExtraAdded(added: AddedTokenJson[], extra: AddedTokenJson[] | undefined): void {
  for (const e of extra ?? []) {
    if (!added.some((a) => a.id === e.id || a.content === e.content)) added.push(e);
  }
  added.sort((a, b) => a.id - b.id);
}
