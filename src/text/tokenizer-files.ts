// Reading and writing tokenizer directories as Hugging Face lays them out.
// A model directory may carry a fast tokenizer (tokenizer.json) or only the
// slow files (vocab.txt for WordPiece, vocab.json + merges.txt for byte-level
// BPE, spiece.model / spm.model for SentencePiece Unigram); all of them are
// turned into one validated tokenizer.json object.
// Files are untrusted: they are read through the model directory's ModelDir
// (regular files inside it only, with a byte cap), JSON nesting is bounded,
// every id is bounded, and every parse error names the file.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { quote } from '../formats/errors.js';
import { writeTextFileAtomic } from '../formats/file-io.js';
import { isPlainObject, parseGuardedJson } from '../formats/json-guard.js';
import { CONFIG_FILE, type ModelDir, openModelDir } from '../formats/model-dir.js';
import { SENTENCEPIECE_LIMITS, parseSentencePieceModel } from './sentencepiece-proto.js';
import {
  type SentencePieceFamily,
  SENTENCEPIECE_FAMILIES,
  SENTENCEPIECE_FAMILY_NAMES,
  familySpecials,
  sentencePieceTokenizerJson,
} from './sentencepiece.js';
import {
  type AddedTokenJson,
  type IdBound,
  type SpecialTokenNames,
  type TokenizerJson,
  BERT_SPECIALS,
  DEFAULT_ID_BOUND,
  LIMITS,
  ROBERTA_SPECIALS,
  TokenizerFileError,
  byteLevelBpeTokenizerJson,
  checkAddedChars,
  checkId,
  parseMergesTxt,
  parseVocabJson,
  parseVocabTxt,
  validateTokenizerJson,
  wordPieceTokenizerJson,
} from './tokenizer-spec.js';

const MAX_TOKENIZER_JSON_BYTES = 128 * 1024 * 1024;
const MAX_VOCAB_FILE_BYTES = 32 * 1024 * 1024;
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
/** tokenizer.json nests ~6 deep (post_processor.single[i].SpecialToken.id); Sequences add a few levels. */
const TOKENIZER_JSON_DEPTH = 32;
/** tokenizer_config.json: added_tokens_decoder.<id>.content is three levels. */
const CONFIG_DEPTH = 16;
/** config.json is read only for its model_type here; the same cap and depth as hf-config.ts. */
const MAX_MODEL_CONFIG_BYTES = 1 << 20;
const MODEL_CONFIG_DEPTH = 16;
/** SentencePiece file names: ALBERT and XLNet use the first, DeBERTa-v2 the second. */
const SENTENCEPIECE_FILES = ['spiece.model', 'spm.model'] as const;

export type TokenizerConfig = Record<string, unknown>;

export interface TokenizerDirContents {
  json: TokenizerJson;
  /** tokenizer_config.json with special_tokens_map.json applied over it. */
  config: TokenizerConfig;
  /** Which file(s) the tokenizer came from, for messages. */
  source: string;
}

function readJsonObject(md: ModelDir, name: string, cap: number, depth: number): Record<string, unknown> {
  const parsed = parseGuardedJson(md.readText(name, cap), depth);
  if ('error' in parsed) throw new TokenizerFileError(md.file(name), parsed.error);
  if (!isPlainObject(parsed.value)) throw new TokenizerFileError(md.file(name), 'expected a JSON object');
  return parsed.value;
}

/** Special token values may be strings or AddedToken dicts ({content, ...}). */
export function tokenName(v: unknown): string | undefined {
  if (typeof v === 'string' && v.length > 0) return v;
  if (typeof v === 'object' && v !== null && typeof (v as { content?: unknown }).content === 'string') {
    return (v as { content: string }).content;
  }
  return undefined;
}

const ROLE_KEYS = { cls: 'cls_token', sep: 'sep_token', pad: 'pad_token', mask: 'mask_token', unk: 'unk_token', bos: 'bos_token', eos: 'eos_token' } as const;

/**
 * The special-token names to use: explicit config values first, then the first
 * conventional name the vocabulary actually contains.
 */
export function resolveSpecialNames(
  config: TokenizerConfig,
  has: (tok: string) => boolean,
  fallback: SpecialTokenNames,
  where: string,
): SpecialTokenNames {
  const candidates: Record<keyof typeof ROLE_KEYS, string[]> = {
    cls: ['[CLS]', '<s>'], sep: ['[SEP]', '</s>'], pad: ['[PAD]', '<pad>'], mask: ['[MASK]', '<mask>'], unk: ['[UNK]', '<unk>'],
    bos: ['<s>'], eos: ['</s>'],
  };
  const out: Partial<SpecialTokenNames> = {};
  for (const role of Object.keys(ROLE_KEYS) as (keyof typeof ROLE_KEYS)[]) {
    const configured = tokenName(config[ROLE_KEYS[role]]);
    const found = configured ?? candidates[role].find(has) ?? fallback[role];
    if (found !== undefined) out[role] = found;
  }
  for (const role of ['cls', 'sep', 'pad', 'mask', 'unk'] as const) {
    if (out[role] === undefined) throw new TokenizerFileError(where, `no ${ROLE_KEYS[role]} configured and none of ${candidates[role].join(', ')} in the vocabulary`);
  }
  return out as SpecialTokenNames;
}

/**
 * Newer tokenizer_config.json files list extra added tokens under
 * added_tokens_decoder, keyed by id. Keys must be plain decimal ids below the
 * bound: Number("2e9") or Number("1e300") is an integer too, and the
 * tokenizer sizes arrays by its largest id.
 */
function addedFromConfig(config: TokenizerConfig, file: string, bound: IdBound): AddedTokenJson[] {
  const dec = config.added_tokens_decoder;
  if (dec === undefined || dec === null) return [];
  if (!isPlainObject(dec)) throw new TokenizerFileError(file, '"added_tokens_decoder" must be an object');
  const n = Object.keys(dec).length;
  if (n > LIMITS.maxAddedTokens) throw new TokenizerFileError(file, `"added_tokens_decoder" has ${n} entries (limit ${LIMITS.maxAddedTokens})`);
  const out = Object.entries(dec).map(([idStr, t]) => {
    const what = `added_tokens_decoder entry ${quote(idStr, 40)}`;
    if (!/^(0|[1-9][0-9]{0,15})$/.test(idStr)) throw new TokenizerFileError(file, `${what}: the key is not a token id`);
    const id = checkId(Number(idStr), file, what, bound);
    const content = tokenName(t);
    if (content === undefined) throw new TokenizerFileError(file, `${what} has no token content`);
    const o = t as Record<string, unknown>;
    const special = o.special === true;
    return {
      id, content, special,
      single_word: o.single_word === true, lstrip: o.lstrip === true, rstrip: o.rstrip === true,
      normalized: typeof o.normalized === 'boolean' ? o.normalized : !special,
    };
  });
  checkAddedChars(out, file, '"added_tokens_decoder" entries');
  return out;
}

function readConfig(md: ModelDir): TokenizerConfig {
  const cfgName = 'tokenizer_config.json';
  const mapName = 'special_tokens_map.json';
  const config: TokenizerConfig = md.has(cfgName) ? readJsonObject(md, cfgName, MAX_CONFIG_BYTES, CONFIG_DEPTH) : {};
  if (md.has(mapName)) {
    // HF applies special_tokens_map.json over tokenizer_config.json's values.
    for (const [k, v] of Object.entries(readJsonObject(md, mapName, MAX_CONFIG_BYTES, CONFIG_DEPTH))) {
      if (k.endsWith('_token') && tokenName(v) !== undefined) config[k] = v;
      else if (k === 'additional_special_tokens' && Array.isArray(v)) config[k] = v;
    }
  }
  for (const k of Object.values(ROLE_KEYS)) {
    const name = tokenName(config[k]);
    if (config[k] !== undefined && config[k] !== null && name === undefined) {
      throw new TokenizerFileError(md.file(cfgName), `"${k}" must be a string or {"content": string}`);
    }
    if (name !== undefined && name.length > LIMITS.maxTokenChars) {
      throw new TokenizerFileError(md.file(cfgName), `"${k}" is longer than ${LIMITS.maxTokenChars} characters`);
    }
  }
  return config;
}

/** The files readTokenizerDir looks for; a directory with none of them has no tokenizer (a broken one is another matter). */
const TOKENIZER_FILES = ['tokenizer.json', 'vocab.txt', 'vocab.json', 'merges.txt', ...SENTENCEPIECE_FILES] as const;
/** The same, as messages name them. */
export const TOKENIZER_FILES_TEXT = 'tokenizer.json, vocab.txt, vocab.json + merges.txt, or spiece.model / spm.model';

export function hasTokenizerFiles(dir: string | ModelDir): boolean {
  const md = openModelDir(dir);
  return TOKENIZER_FILES.some((n) => md.has(n));
}

/**
 * Read the tokenizer of a model directory. Every token id must lie below
 * `bound` (by default the global limit; loading a model passes its
 * embedding's rows).
 */
export function readTokenizerDir(dir: string | ModelDir, bound: IdBound = DEFAULT_ID_BOUND): TokenizerDirContents {
  const md = openModelDir(dir);
  const config = readConfig(md);
  const cfgFile = md.file('tokenizer_config.json');

  if (md.has('tokenizer.json')) {
    const file = md.file('tokenizer.json');
    const raw = readJsonObject(md, 'tokenizer.json', MAX_TOKENIZER_JSON_BYTES, TOKENIZER_JSON_DEPTH);
    return { json: validateTokenizerJson(raw, file, bound), config, source: file };
  }
  if (md.has('vocab.txt')) {
    const file = md.file('vocab.txt');
    const vocab = parseVocabTxt(md.readText('vocab.txt', MAX_VOCAB_FILE_BYTES), file, bound);
    const set = new Set(vocab);
    const specials = resolveSpecialNames(config, (t) => set.has(t), BERT_SPECIALS, cfgFile);
    const lower = config.do_lower_case;
    const strip = config.strip_accents;
    const chinese = config.tokenize_chinese_chars;
    const json = wordPieceTokenizerJson(vocab, {
      doLowerCase: typeof lower === 'boolean' ? lower : true,
      stripAccents: typeof strip === 'boolean' ? strip : null,
      tokenizeChineseChars: typeof chinese === 'boolean' ? chinese : true,
      specials,
      extraAdded: addedFromConfig(config, cfgFile, bound),
    });
    return { json, config, source: file };
  }
  const hasVocabJson = md.has('vocab.json');
  const hasMerges = md.has('merges.txt');
  if (hasVocabJson && hasMerges) {
    const vocab = parseVocabJson(md.readText('vocab.json', MAX_VOCAB_FILE_BYTES), md.file('vocab.json'), bound);
    const merges = parseMergesTxt(md.readText('merges.txt', MAX_VOCAB_FILE_BYTES), md.file('merges.txt'));
    const specials = resolveSpecialNames(config, (t) => Object.hasOwn(vocab, t), ROBERTA_SPECIALS, cfgFile);
    const json = byteLevelBpeTokenizerJson(vocab, merges, {
      addPrefixSpace: config.add_prefix_space === true,
      specials,
      extraAdded: addedFromConfig(config, cfgFile, bound),
    });
    return { json, config, source: `${md.file('vocab.json')} + merges.txt` };
  }
  if (SENTENCEPIECE_FILES.some((n) => md.has(n))) return readSentencePieceDir(md, config, bound);
  const partial = hasVocabJson ? ' (found vocab.json but not merges.txt)' : hasMerges ? ' (found merges.txt but not vocab.json)' : '';
  throw new TokenizerFileError(md.dir, `no tokenizer files: looked for ${TOKENIZER_FILES_TEXT}${partial}`);
}

/**
 * A SentencePiece model: the family (which decides normalizer and template)
 * comes from tokenizer_config.json's tokenizer_class, else config.json's
 * model_type, as AutoTokenizer picks it. The family's special-token names
 * count as configured unless the configs name others, so XLNet's <cls> is
 * not mistaken for the <s> its vocabulary also holds.
 */
function readSentencePieceDir(md: ModelDir, config: TokenizerConfig, bound: IdBound): TokenizerDirContents {
  const cfgFile = md.file('tokenizer_config.json');
  const family = sentencePieceFamily(md, config);
  const preferred = SENTENCEPIECE_FAMILIES[family].vocabFile;
  const name = md.has(preferred) ? preferred : SENTENCEPIECE_FILES.find((n) => md.has(n))!;
  const file = md.file(name);
  const model = parseSentencePieceModel(md.read(name, SENTENCEPIECE_LIMITS.maxFileBytes), file);
  const lower = config.do_lower_case;
  const lowercase = typeof lower === 'boolean' ? lower : SENTENCEPIECE_FAMILIES[family].lowercase;
  const defaults = familySpecials(model, family);
  const merged: TokenizerConfig = { ...config, do_lower_case: lowercase };
  // A null entry ("mask_token": null) means "not configured" here too.
  for (const [key, name] of Object.entries(specialsAsConfig(defaults))) merged[key] ??= name;
  const pieces = new Set(model.pieces.map((p) => p.piece));
  const specials = resolveSpecialNames(merged, (t) => pieces.has(t), defaults, cfgFile);
  const json = sentencePieceTokenizerJson(model, file, {
    family,
    lowercase,
    keepAccents: config.keep_accents === true,
    splitByPunct: config.split_by_punct === true,
    specials,
    extraAdded: addedFromConfig(config, cfgFile, bound),
    bound,
  });
  return { json, config: merged, source: file };
}

function sentencePieceFamily(md: ModelDir, config: TokenizerConfig): SentencePieceFamily {
  const cls = config.tokenizer_class;
  const byClass = SENTENCEPIECE_FAMILY_NAMES.find((f) => typeof cls === 'string' && SENTENCEPIECE_FAMILIES[f].tokenizerClasses.includes(cls));
  if (byClass) return byClass;
  let why = `no ${CONFIG_FILE}`;
  if (md.has(CONFIG_FILE)) {
    const modelType = readJsonObject(md, CONFIG_FILE, MAX_MODEL_CONFIG_BYTES, MODEL_CONFIG_DEPTH).model_type;
    const byType = SENTENCEPIECE_FAMILY_NAMES.find((f) => f === modelType);
    if (byType) return byType;
    why = typeof modelType === 'string' ? `${CONFIG_FILE} says model_type ${quote(modelType, 40)}` : `${CONFIG_FILE} has no model_type`;
  }
  const name = SENTENCEPIECE_FILES.find((n) => md.has(n))!;
  throw new TokenizerFileError(md.file(name),
    `cannot tell which tokenizer family this SentencePiece model belongs to (${why}); supported: model_type ${SENTENCEPIECE_FAMILY_NAMES.join(', ')} ` +
    `or tokenizer_class ${SENTENCEPIECE_FAMILY_NAMES.map((f) => SENTENCEPIECE_FAMILIES[f].tokenizerClasses[0]).join(', ')} in tokenizer_config.json`);
}

function specialsAsConfig(s: SpecialTokenNames): TokenizerConfig {
  const out: TokenizerConfig = {};
  for (const [role, key] of Object.entries(ROLE_KEYS)) {
    const name = s[role as keyof typeof ROLE_KEYS];
    if (name !== undefined) out[key] = name;
  }
  return out;
}

/** Write the files, each atomically (temporary file, then rename). */
export function writeTokenizerDir(dir: string, files: Record<string, string>): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) writeTextFileAtomic(path.join(dir, name), content);
}
