// TextTokenizer: a Hugging Face tokenizer (run by @huggingface/tokenizers) with
// the word alignment, prompt placeholders and truncation rules the scanner needs.
//
// @huggingface/tokenizers returns ids only (no offsets, no word ids), so the
// alignment is built here: the text is split into whitespace words (words.ts)
// and each word is tokenised on its own, with a leading space when it followed
// whitespace in the original text. For whitespace-insensitive pre-tokenizers
// (BERT) that is exactly the full-text result; for byte-level BPE it is the
// full-text result of the single-spaced text (runs of spaces/newlines between
// words count as one space), which is also what the scanner feeds back after
// inserting or deleting words. Special tokens and their type ids come from the
// tokenizer's own post-processor, so any tokenizer.json layout works.
//
// Tokenizer files are untrusted: every call into the library goes through a
// LibraryGuard (tokenizer-guard.ts: errors name the file, the file's own
// regexes run under a time budget), ids are bounded before anything is sized
// by them, and construction ends with a probe encoding so a tokenizer that
// cannot encode text fails when it is loaded rather than in the middle of a
// scan.

import { Tokenizer } from '@huggingface/tokenizers';
import { quote } from '../formats/errors.js';
import { splitWords } from './words.js';
import {
  type IdBound,
  type SpecialTokenNames,
  type TokenizerJson,
  type WordPieceBuildOptions,
  type BpeBuildOptions,
  BERT_SPECIALS,
  DEFAULT_ID_BOUND,
  ROBERTA_SPECIALS,
  TokenizerFileError,
  byteLevelBpeTokenizerJson,
  validateTokenizerJson,
  wordPieceTokenizerJson,
} from './tokenizer-spec.js';
import { type TokenizerConfig, readTokenizerDir, resolveSpecialNames, writeTokenizerDir } from './tokenizer-files.js';
import { usesFileRegexes } from './tokenizer-components.js';
import { DEFAULT_TIME_BUDGET_MS, LibraryGuard } from './tokenizer-guard.js';
import type { ModelDir } from '../formats/model-dir.js';

export type TokenizerKind = 'wordpiece' | 'bpe' | 'unigram';

export interface SpecialIds {
  cls: number;
  sep: number;
  pad: number;
  /** −1 when the vocabulary has no mask token. */
  mask: number;
  unk: number;
}

export interface EncodeOptions {
  /** Total length including special tokens. Default 128. */
  maxLength?: number;
  /** Default true. Pairs are cut "longest first", as HF does. */
  truncation?: boolean;
  /** Default true. */
  addSpecialTokens?: boolean;
}

export interface Encoding {
  ids: number[];
  tokens: string[];
  attentionMask: number[];
  /** All zeros for tokenizers whose models take no token types (RoBERTa). */
  tokenTypeIds: number[];
  /** Index of the whitespace word (of its own sequence) each token came from; null for special tokens and placeholders. */
  wordIds: (number | null)[];
  /** 0 or 1 for tokens of the first / second sequence (placeholders count as 0); null for special tokens. */
  sequenceIds: (0 | 1 | null)[];
  /** 1 for the tokens the post-processor added ([CLS], [SEP], <s>, </s>), as HF fast tokenizers report it. */
  specialTokensMask: number[];
  /** Whether any token of the input was cut by truncation. */
  truncated: boolean;
}

export interface PlaceholderOptions extends EncodeOptions {
  /** Optional second sequence; placeholders always go into the first. */
  pair?: string | null;
  /** Id written at placeholder positions (the caller overwrites their embeddings). Default: the pad id. */
  placeholderId?: number;
}

export interface PlaceholderEncoding extends Encoding {
  /** Token indices of the placeholders, ascending and contiguous. */
  placeholderPositions: number[];
}

export interface TokenizerSaveOptions {
  modelMaxLength?: number;
}

export interface TokenizerLoadOptions {
  /** Every token id must lie below this; loadModel passes the embedding's rows. */
  idBound?: IdBound;
  /** Per-call time limit when the file brings its own regular expressions (default 1000 ms). */
  timeBudgetMs?: number;
  /**
   * Token type ids must lie below this (loadModel: the rows of the model's
   * token type embeddings). Single sequences over it are refused at load;
   * a pair template over it makes encoding a pair an error.
   */
  typeIdBound?: IdBound;
}

/**
 * The part of @huggingface/tokenizers' Tokenizer used here. Its .d.ts files use
 * extensionless relative imports that NodeNext resolution cannot follow, so the
 * class arrives untyped; this interface pins down what we rely on.
 */
interface HfTokenizer {
  encode(text: string, options?: { add_special_tokens?: boolean }): { ids: (number | undefined)[] };
  decode(ids: number[], options?: { skip_special_tokens?: boolean }): string;
  token_to_id(token: string): number | undefined;
  id_to_token(id: number): string | undefined;
  post_processor: null | ((tokens: string[], pair: string[] | null, addSpecial: boolean) => { tokens: string[]; token_type_ids?: number[] });
}

type LayoutItem =
  | { kind: 'special'; id: number; token: string; typeId: number }
  | { kind: 'seq'; seq: 0 | 1; typeId: number };

/** Token ids of one sequence with the word each came from; -1 marks a placeholder. */
interface Content {
  ids: number[];
  words: number[];
}

const PLACEHOLDER = -1;
/** Encoded (and decoded) once at load: ordinary text, digits, non-ASCII, and one long word. */
const PROBE = ['The quick brown fox jumps over the lazy dog.', '0123456789 ¿Qué? 東京 😀', 'x'.repeat(1000)];
const WORD_CACHE_LIMIT = 200_000;
const UNUSED_RE = /^(\[unused\d+\]|<unused\d+>|madeupword\d+)$/;
// Pre-tokenizers that split on whitespace and so ignore a leading space.
const SPACE_INSENSITIVE = new Set(['BertPreTokenizer', 'Whitespace', 'WhitespaceSplit']);
// Model families whose tokenizers return no token_type_ids (model_input_names
// is input_ids + attention_mask), so their models always see type 0.
const NO_TYPE_IDS_CLASS = /^(Roberta|XLMRoberta|Camembert|Longformer|Bart|GPT2|MPNet|DistilBert|Bloom)/;

export class TextTokenizer {
  readonly kind: TokenizerKind;
  readonly specialTokens: SpecialTokenNames;
  readonly specialIds: SpecialIds;
  readonly vocabSize: number;
  readonly modelMaxLength: number;
  /** Whether the tokenizer lower-cases (null when it cannot be told). */
  readonly doLowerCase: boolean | null;
  readonly usesTokenTypeIds: boolean;
  /** Where it was loaded from, for messages. */
  readonly source: string;

  private readonly hf: HfTokenizer;
  private readonly guard: LibraryGuard;
  private readonly json: TokenizerJson;
  private readonly config: TokenizerConfig;
  private readonly spaceSensitive: boolean;
  private readonly layoutSingle: LayoutItem[];
  private readonly layoutPair: LayoutItem[];
  private readonly skipMask: Uint8Array;
  /** Set when pairs would carry type ids the model has no row for. */
  private readonly pairProblem: TokenizerFileError | null = null;
  private readonly wordCache = new Map<string, number[]>();

  /** Prefer the static constructors; `json` must already be validated. */
  constructor(json: TokenizerJson, config: TokenizerConfig = {}, source = '<memory>', opts: TokenizerLoadOptions = {}) {
    this.json = json;
    this.config = config;
    this.source = source;
    // Before anything is sized by the ids (the skip mask below, the library's id table).
    const bound = opts.idBound ?? DEFAULT_ID_BOUND;
    this.vocabSize = computeVocabSize(json);
    if (!(this.vocabSize <= bound.limit)) throw new TokenizerFileError(source, `has token ids up to ${this.vocabSize - 1}, beyond ${bound.what}`);
    this.guard = new LibraryGuard(source, usesFileRegexes(json) ? opts.timeBudgetMs ?? DEFAULT_TIME_BUDGET_MS : null);
    this.hf = this.guard.call('while building the tokenizer', () => new Tokenizer(json, config) as HfTokenizer);
    this.kind = json.model.type === 'WordPiece' ? 'wordpiece' : json.model.type === 'BPE' ? 'bpe' : 'unigram';

    const fallback = this.kind === 'wordpiece' ? BERT_SPECIALS : ROBERTA_SPECIALS;
    this.specialTokens = resolveSpecialNames(config, (t) => this.hf.token_to_id(t) !== undefined, fallback, source);
    const idOf = (role: keyof SpecialIds): number => {
      const tok = this.specialTokens[role];
      const id = this.hf.token_to_id(tok);
      // A vocabulary without a mask token still encodes text; only masked-LM uses need it (they check for −1).
      if (id === undefined && role === 'mask') return -1;
      if (id === undefined) throw new TokenizerFileError(source, `${role} token ${quote(tok, 40)} is not in the vocabulary`);
      return id;
    };
    this.specialIds = { cls: idOf('cls'), sep: idOf('sep'), pad: idOf('pad'), mask: idOf('mask'), unk: idOf('unk') };

    const mml = config.model_max_length;
    this.modelMaxLength = typeof mml === 'number' && mml > 0 && mml < 1e7 ? mml : 512;
    const norm = json.normalizer;
    this.doLowerCase = norm?.type === 'BertNormalizer' ? norm.lowercase !== false
      : typeof config.do_lower_case === 'boolean' ? config.do_lower_case : null;
    this.usesTokenTypeIds = decideTypeIds(json, config);
    this.spaceSensitive = !SPACE_INSENSITIVE.has(json.pre_tokenizer?.type ?? '');
    this.layoutSingle = this.deriveLayout(false);
    this.layoutPair = this.deriveLayout(true);
    const types = opts.typeIdBound;
    if (types) {
      const single = maxTypeId(this.layoutSingle);
      if (single >= types.limit) throw new TokenizerFileError(source, `emits token type id ${single}, beyond ${types.what}`);
      const pair = maxTypeId(this.layoutPair);
      if (pair >= types.limit) {
        this.pairProblem = new TokenizerFileError(source, `emits token type id ${pair} for a second sequence, beyond ${types.what}; the model takes single sequences only`);
      }
    }
    this.skipMask = this.buildSkipMask();
    for (const text of PROBE) this.decode(this.encode(text, this.pairProblem ? null : text, { maxLength: 4096 }).ids);
    this.wordCache.clear();
  }

  // ------------------------------------------------------------ construction

  /** Load tokenizer.json (+ configs), or build it from vocab.txt, vocab.json + merges.txt, or spiece.model / spm.model. */
  static fromDir(dir: string | ModelDir, opts: TokenizerLoadOptions = {}): TextTokenizer {
    const { json, config, source } = readTokenizerDir(dir, opts.idBound);
    return new TextTokenizer(json, config, source, opts);
  }

  /** From an already parsed tokenizer.json object (validated here). */
  static fromTokenizerJson(raw: unknown, config: TokenizerConfig = {}, source = 'tokenizer.json', opts: TokenizerLoadOptions = {}): TextTokenizer {
    return new TextTokenizer(validateTokenizerJson(raw, source, opts.idBound), config, source, opts);
  }

  /** BERT-style WordPiece from a vocab list (id = index). */
  static fromWordPieceVocab(vocab: readonly string[], o: WordPieceBuildOptions & { modelMaxLength?: number } = {}): TextTokenizer {
    const json = wordPieceTokenizerJson(vocab, o);
    return new TextTokenizer(json, { do_lower_case: o.doLowerCase ?? true, model_max_length: o.modelMaxLength ?? 512, ...specialsConfig(o.specials ?? BERT_SPECIALS) }, '<wordpiece vocab>');
  }

  /** RoBERTa-style byte-level BPE from a vocab map and merges ("a b" strings). */
  static fromByteLevelBpe(vocab: Record<string, number>, merges: readonly string[], o: BpeBuildOptions & { modelMaxLength?: number } = {}): TextTokenizer {
    const json = byteLevelBpeTokenizerJson(vocab, merges, o);
    return new TextTokenizer(json, { add_prefix_space: o.addPrefixSpace ?? false, model_max_length: o.modelMaxLength ?? 512, ...specialsConfig(o.specials ?? ROBERTA_SPECIALS) }, '<byte-level bpe vocab>');
  }

  // ------------------------------------------------------------ encoding

  encode(text: string, pair?: string | null, opts: EncodeOptions = {}): Encoding {
    return this.encodeWords(splitWords(text), pair == null ? null : splitWords(pair), opts);
  }

  /** Each entry of `words` is one word unit (it may itself contain spaces, e.g. a phrase trigger). */
  encodeWords(words: readonly string[], pairWords?: readonly string[] | null, opts: EncodeOptions = {}): Encoding {
    const a = this.content(words, 0);
    const b = pairWords == null ? null : this.content(pairWords, 0);
    return this.assemble(a, b, opts, null);
  }

  /**
   * Encode `text` with `count` placeholder tokens before word `insertAtWord`
   * (0-based; == #words appends them after the last word). Truncation cuts text,
   * never placeholders: first the tokens after them, then those before them.
   */
  encodeWithPlaceholders(text: string, insertAtWord: number, count: number, opts: PlaceholderOptions = {}): PlaceholderEncoding {
    return this.encodeWordsWithPlaceholders(splitWords(text), insertAtWord, count, opts);
  }

  encodeWordsWithPlaceholders(words: readonly string[], insertAtWord: number, count: number, opts: PlaceholderOptions = {}): PlaceholderEncoding {
    if (!Number.isInteger(insertAtWord) || insertAtWord < 0 || insertAtWord > words.length) {
      throw new RangeError(`insertAtWord ${insertAtWord} outside [0, ${words.length}]`);
    }
    if (!Number.isInteger(count) || count < 0) throw new RangeError(`placeholder count must be a non-negative integer, got ${count}`);
    const before = this.content(words.slice(0, insertAtWord), 0);
    const after = this.content(words.slice(insertAtWord), insertAtWord);
    const a: Content = {
      ids: [...before.ids, ...new Array<number>(count).fill(opts.placeholderId ?? this.specialIds.pad), ...after.ids],
      words: [...before.words, ...new Array<number>(count).fill(PLACEHOLDER), ...after.words],
    };
    const b = opts.pair == null ? null : this.content(splitWords(opts.pair), 0);
    const enc = this.assemble(a, b, opts, { start: before.ids.length, count });
    const placeholderPositions: number[] = [];
    enc.wordIds.forEach((w, i) => { if (w === null && enc.sequenceIds[i] === 0) placeholderPositions.push(i); });
    return { ...enc, placeholderPositions };
  }

  /** Token ids of one word; `afterSpace` = it followed whitespace in the text. */
  wordPieces(word: string, afterSpace = false): number[] {
    const key = afterSpace && this.spaceSensitive ? ' ' + word : word;
    let ids = this.wordCache.get(key);
    if (ids === undefined) {
      ids = this.guard.call('while encoding', () => this.hf.encode(key, { add_special_tokens: false }).ids, true)
        .map((id) => (id !== undefined && id >= 0 && id < this.vocabSize ? id : this.specialIds.unk));
      if (this.wordCache.size >= WORD_CACHE_LIMIT) this.wordCache.clear();
      this.wordCache.set(key, ids);
    }
    return ids;
  }

  private content(words: readonly string[], firstIndex: number): Content {
    const ids: number[] = [];
    const out: number[] = [];
    words.forEach((w, i) => {
      const idx = firstIndex + i;
      for (const id of this.wordPieces(w, idx > 0)) {
        ids.push(id);
        out.push(idx);
      }
    });
    return { ids, words: out };
  }

  private assemble(a: Content, b: Content | null, opts: EncodeOptions, ph: { start: number; count: number } | null): Encoding {
    if (b !== null && this.pairProblem) throw this.pairProblem;
    const maxLength = opts.maxLength ?? 128;
    const addSpecial = opts.addSpecialTokens ?? true;
    let layout = b === null ? this.layoutSingle : this.layoutPair;
    if (!addSpecial) layout = layout.filter((it) => it.kind === 'seq');
    const nSpecial = layout.filter((it) => it.kind === 'special').length;

    let keepA = a.ids.length;
    let keepB = b?.ids.length ?? 0;
    let truncated = false;
    if ((opts.truncation ?? true) && keepA + keepB + nSpecial > maxLength) {
      const target = maxLength - nSpecial;
      const phCount = ph?.count ?? 0;
      if (target < phCount || target < 0) {
        throw new RangeError(`maxLength ${maxLength} cannot hold ${nSpecial} special tokens${phCount ? ` and ${phCount} placeholders` : ''}`);
      }
      if (b === null) keepA = target;
      else {
        [keepA, keepB] = longestFirst(keepA, keepB, target);
        if (keepA < phCount) [keepA, keepB] = [phCount, target - phCount];
      }
      truncated = true;
    }
    const ta = ph ? keepAroundPlaceholders(a, keepA, ph.start, ph.count) : sliceContent(a, keepA);
    const tb = b ? sliceContent(b, keepB) : null;

    const enc: Encoding = {
      ids: [], tokens: [], attentionMask: [], tokenTypeIds: [], wordIds: [], sequenceIds: [], specialTokensMask: [], truncated,
    };
    for (const it of layout) {
      if (it.kind === 'special') {
        enc.ids.push(it.id);
        enc.wordIds.push(null);
        enc.sequenceIds.push(null);
        enc.specialTokensMask.push(1);
        enc.tokenTypeIds.push(it.typeId);
      } else {
        const c = it.seq === 0 ? ta : tb;
        if (c === null) continue;
        for (let i = 0; i < c.ids.length; i++) {
          enc.ids.push(c.ids[i]!);
          const w = c.words[i]!;
          enc.wordIds.push(w === PLACEHOLDER ? null : w);
          enc.sequenceIds.push(it.seq);
          enc.specialTokensMask.push(0);
          enc.tokenTypeIds.push(it.typeId);
        }
      }
    }
    enc.attentionMask = new Array<number>(enc.ids.length).fill(1);
    enc.tokens = enc.ids.map((id) => this.idToToken(id) ?? this.specialTokens.unk);
    return enc;
  }

  /**
   * Run the tokenizer's own post-processor on sentinel tokens to learn where it
   * puts special tokens and which type ids it gives each part.
   */
  private deriveLayout(pair: boolean): LayoutItem[] {
    const A = '\u0000lms-seq-A\u0000';
    const B = '\u0000lms-seq-B\u0000';
    const pp = this.hf.post_processor;
    if (pp === null) return pair ? [{ kind: 'seq', seq: 0, typeId: 0 }, { kind: 'seq', seq: 1, typeId: 1 }] : [{ kind: 'seq', seq: 0, typeId: 0 }];
    const out = this.guard.call('while running the post-processor', () => pp([A], pair ? [B] : null, true));
    const templateIds = collectTemplateSpecials(this.json.post_processor);
    const items: LayoutItem[] = [];
    out.tokens.forEach((tok, i) => {
      const typeId = this.usesTokenTypeIds ? (out.token_type_ids?.[i] ?? 0) : 0;
      if (tok === A) items.push({ kind: 'seq', seq: 0, typeId });
      else if (tok === B) items.push({ kind: 'seq', seq: 1, typeId });
      else {
        const ids = templateIds.get(tok) ?? (this.hf.token_to_id(tok) !== undefined ? [this.hf.token_to_id(tok)!] : undefined);
        if (ids === undefined) throw new TokenizerFileError(this.source, `post-processor uses special token ${quote(String(tok), 40)} that is not in the vocabulary`);
        for (const id of ids) items.push({ kind: 'special', id, token: this.hf.id_to_token(id) ?? tok, typeId });
      }
    });
    // The JS ByteLevel post-processor passes the pair through without joining it.
    if (pair && !items.some((it) => it.kind === 'seq' && it.seq === 1)) items.push({ kind: 'seq', seq: 1, typeId: this.usesTokenTypeIds ? 1 : 0 });
    if (!items.some((it) => it.kind === 'seq' && it.seq === 0)) items.unshift({ kind: 'seq', seq: 0, typeId: 0 });
    return items;
  }

  // ------------------------------------------------------------ vocabulary

  idToToken(id: number): string | undefined {
    return this.hf.id_to_token(id);
  }

  tokenToId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }

  /** Special tokens, BERT [unused…] / <unusedN> / madeupwordN rows, and ids with no token. */
  isSpecialOrUnused(id: number): boolean {
    return !(id >= 0 && id < this.vocabSize) || this.skipMask[id] === 1;
  }

  /** 1 at each id isSpecialOrUnused() is true for (a copy, length vocabSize). */
  specialOrUnusedMask(): Uint8Array {
    return this.skipMask.slice();
  }

  private buildSkipMask(): Uint8Array {
    const mask = new Uint8Array(this.vocabSize).fill(1);
    for (let id = 0; id < this.vocabSize; id++) {
      const tok = this.hf.id_to_token(id);
      if (tok !== undefined && !UNUSED_RE.test(tok)) mask[id] = 0;
    }
    for (const t of this.json.added_tokens) if (t.special && t.id < this.vocabSize) mask[t.id] = 1;
    for (const id of Object.values(this.specialIds)) mask[id] = 1;
    return mask;
  }

  decode(ids: readonly number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return '';
    return this.guard.call('while decoding', () => this.hf.decode(ids.slice(), { skip_special_tokens: opts.skipSpecialTokens ?? false }), true);
  }

  /** The validated tokenizer.json object (do not mutate). */
  toJSON(): TokenizerJson {
    return this.json;
  }

  // ------------------------------------------------------------ saving

  /**
   * Write tokenizer.json, tokenizer_config.json, special_tokens_map.json and the
   * slow-tokenizer files (vocab.txt, or vocab.json + merges.txt) so that both
   * HF fast and slow tokenizers load the directory.
   */
  save(dir: string, o: TokenizerSaveOptions = {}): void {
    const files: Record<string, string> = {};
    files['tokenizer.json'] = JSON.stringify(this.json);
    files['tokenizer_config.json'] = JSON.stringify(this.tokenizerConfig(o.modelMaxLength ?? this.modelMaxLength), null, 2) + '\n';
    files['special_tokens_map.json'] = JSON.stringify(specialsConfig(this.specialTokens), null, 2) + '\n';
    const m = this.json.model;
    if (m.type === 'WordPiece') {
      files['vocab.txt'] = this.vocabLines(m.vocab).join('\n') + '\n';
    } else if (m.type === 'BPE') {
      // Null prototype: a token spelled "__proto__" must stay an ordinary key.
      const vocab = Object.create(null) as Record<string, number>;
      for (const [tok, id] of Object.entries(m.vocab).sort((x, y) => x[1] - y[1])) vocab[tok] = id;
      for (const t of this.json.added_tokens) if (!Object.hasOwn(vocab, t.content)) vocab[t.content] = t.id;
      files['vocab.json'] = JSON.stringify(vocab);
      const merges = (m.merges as (string | [string, string])[]).map((x) => (typeof x === 'string' ? x : x.join(' ')));
      files['merges.txt'] = ['#version: 0.2', ...merges].join('\n') + '\n';
    }
    writeTokenizerDir(dir, files);
  }

  private vocabLines(vocab: Record<string, number>): string[] {
    const lines = new Array<string | undefined>(this.vocabSize);
    for (const [tok, id] of Object.entries(vocab)) lines[id] = tok;
    for (const t of this.json.added_tokens) lines[t.id] ??= t.content;
    const gap = lines.findIndex((l) => l === undefined);
    if (gap >= 0) throw new Error(`cannot write vocab.txt: no token has id ${gap}`);
    return lines as string[];
  }

  private tokenizerConfig(modelMaxLength: number): TokenizerConfig {
    const cfg: TokenizerConfig = { ...this.config };
    cfg.tokenizer_class ??= this.kind === 'wordpiece' ? 'BertTokenizerFast' : this.kind === 'bpe' ? 'RobertaTokenizerFast' : undefined;
    if (cfg.tokenizer_class === undefined) delete cfg.tokenizer_class;
    cfg.model_max_length = modelMaxLength;
    if (this.kind === 'wordpiece') {
      cfg.do_lower_case = this.doLowerCase ?? true;
      const n = this.json.normalizer;
      if (n?.type === 'BertNormalizer') {
        cfg.strip_accents = n.strip_accents ?? null;
        cfg.tokenize_chinese_chars = n.handle_chinese_chars !== false;
      }
    }
    if (this.kind === 'bpe' && this.json.pre_tokenizer?.type === 'ByteLevel') {
      cfg.add_prefix_space = this.json.pre_tokenizer.add_prefix_space === true;
      cfg.errors ??= 'replace';
      cfg.trim_offsets ??= true;
    }
    cfg.clean_up_tokenization_spaces ??= true;
    return { ...cfg, ...specialsConfig(this.specialTokens) };
  }
}

// ---------------------------------------------------------------- helpers

function specialsConfig(s: SpecialTokenNames): Record<string, string> {
  const out: Record<string, string> = {};
  if (s.bos) out.bos_token = s.bos;
  if (s.eos) out.eos_token = s.eos;
  out.unk_token = s.unk;
  out.sep_token = s.sep;
  out.pad_token = s.pad;
  out.cls_token = s.cls;
  out.mask_token = s.mask;
  return out;
}

function maxTypeId(layout: readonly LayoutItem[]): number {
  return Math.max(0, ...layout.map((it) => it.typeId));
}

function computeVocabSize(json: TokenizerJson): number {
  let n = 0;
  const m = json.model;
  if (m.type === 'Unigram') n = m.vocab.length;
  else for (const id of Object.values(m.vocab)) n = Math.max(n, id + 1);
  for (const t of json.added_tokens) n = Math.max(n, t.id + 1);
  return n;
}

function decideTypeIds(json: TokenizerJson, config: TokenizerConfig): boolean {
  const names = config.model_input_names;
  if (Array.isArray(names)) return names.includes('token_type_ids');
  if (typeof config.tokenizer_class === 'string' && NO_TYPE_IDS_CLASS.test(config.tokenizer_class)) return false;
  const types = new Set<string>();
  const walk = (c: unknown) => {
    if (typeof c !== 'object' || c === null) return;
    const o = c as { type?: unknown; processors?: unknown };
    if (typeof o.type === 'string') types.add(o.type);
    if (Array.isArray(o.processors)) o.processors.forEach(walk);
  };
  walk(json.post_processor);
  return !types.has('RobertaProcessing');
}

/** TemplateProcessing may map a special-token name to several ids; the JS port only emits the name. */
function collectTemplateSpecials(pp: unknown): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const walk = (c: unknown) => {
    if (typeof c !== 'object' || c === null) return;
    const o = c as { special_tokens?: unknown; processors?: unknown };
    if (typeof o.special_tokens === 'object' && o.special_tokens !== null) {
      for (const [name, v] of Object.entries(o.special_tokens as Record<string, unknown>)) {
        const ids = (v as { ids?: unknown }).ids;
        if (Array.isArray(ids) && ids.length > 0 && ids.every((x) => Number.isInteger(x) && x >= 0)) out.set(name, ids as number[]);
      }
    }
    if (Array.isArray(o.processors)) o.processors.forEach(walk);
  };
  walk(pp);
  return out;
}

/** HF's "longest_first" pair truncation (tokenizers' TruncationStrategy::LongestFirst). */
function longestFirst(nA: number, nB: number, target: number): [number, number] {
  if (nA + nB <= target) return [nA, nB];
  let n1 = nA;
  let n2 = nB;
  const swap = n1 > n2;
  if (swap) [n1, n2] = [n2, n1];
  n2 = n1 > target ? n1 : Math.max(n1, target - n1);
  if (n1 + n2 > target) {
    n1 = Math.floor(target / 2);
    n2 = n1 + (target % 2);
  }
  return swap ? [n2, n1] : [n1, n2];
}

function sliceContent(c: Content, n: number): Content {
  return n >= c.ids.length ? c : { ids: c.ids.slice(0, n), words: c.words.slice(0, n) };
}

/** Keep `n` tokens of `c` including all placeholders: drop tokens after them first, then before them. */
function keepAroundPlaceholders(c: Content, n: number, start: number, count: number): Content {
  if (n >= c.ids.length) return c;
  const end = start + count;
  if (end <= n) return sliceContent(c, n);
  const keepBefore = n - count;
  return {
    ids: [...c.ids.slice(0, keepBefore), ...c.ids.slice(start, end)],
    words: [...c.words.slice(0, keepBefore), ...c.words.slice(start, end)],
  };
}
