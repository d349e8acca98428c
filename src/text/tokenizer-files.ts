// Reading and writing tokenizer directories as Hugging Face lays them out.
// A model directory may carry a fast tokenizer (tokenizer.json) or only the
// slow files (vocab.txt for WordPiece, vocab.json + merges.txt for byte-level
// BPE); all of them are turned into one validated tokenizer.json object.
// Files are untrusted: sizes are capped before reading and every parse error
// names the file.

import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  type AddedTokenJson,
  type SpecialTokenNames,
  type TokenizerJson,
  BERT_SPECIALS,
  ROBERTA_SPECIALS,
  TokenizerFileError,
  byteLevelBpeTokenizerJson,
  parseMergesTxt,
  parseVocabJson,
  parseVocabTxt,
  validateTokenizerJson,
  wordPieceTokenizerJson,
} from './tokenizer-spec.js';

const MAX_TOKENIZER_JSON_BYTES = 128 * 1024 * 1024;
const MAX_VOCAB_FILE_BYTES = 32 * 1024 * 1024;
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

export type TokenizerConfig = Record<string, unknown>;

export interface TokenizerDirContents {
  json: TokenizerJson;
  /** tokenizer_config.json with special_tokens_map.json applied over it. */
  config: TokenizerConfig;
  /** Which file(s) the tokenizer came from, for messages. */
  source: string;
}

function readCapped(file: string, cap: number): string {
  let size: number;
  try {
    size = fs.statSync(file).size;
  } catch (e) {
    throw new TokenizerFileError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (size > cap) throw new TokenizerFileError(file, `file is ${size} bytes, above the ${cap}-byte limit`);
  const text = fs.readFileSync(file, 'utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function readJsonObject(file: string, cap: number): Record<string, unknown> {
  const text = readCapped(file, cap);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new TokenizerFileError(file, `not valid JSON (${(e as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TokenizerFileError(file, 'expected a JSON object');
  return v as Record<string, unknown>;
}

const exists = (f: string) => fs.existsSync(f) && fs.statSync(f).isFile();

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

/** Newer tokenizer_config.json files list extra added tokens under added_tokens_decoder. */
function addedFromConfig(config: TokenizerConfig, file: string): AddedTokenJson[] {
  const dec = config.added_tokens_decoder;
  if (dec === undefined || dec === null) return [];
  if (typeof dec !== 'object' || Array.isArray(dec)) throw new TokenizerFileError(file, '"added_tokens_decoder" must be an object');
  return Object.entries(dec as Record<string, unknown>).map(([idStr, t]) => {
    const id = Number(idStr);
    const content = tokenName(t);
    if (!Number.isInteger(id) || id < 0 || content === undefined) throw new TokenizerFileError(file, `added_tokens_decoder entry ${JSON.stringify(idStr)} is malformed`);
    const o = t as Record<string, unknown>;
    const special = o.special === true;
    return {
      id, content, special,
      single_word: o.single_word === true, lstrip: o.lstrip === true, rstrip: o.rstrip === true,
      normalized: typeof o.normalized === 'boolean' ? o.normalized : !special,
    };
  });
}

function readConfig(dir: string): TokenizerConfig {
  const cfgFile = path.join(dir, 'tokenizer_config.json');
  const mapFile = path.join(dir, 'special_tokens_map.json');
  const config: TokenizerConfig = exists(cfgFile) ? readJsonObject(cfgFile, MAX_CONFIG_BYTES) : {};
  if (exists(mapFile)) {
    // HF applies special_tokens_map.json over tokenizer_config.json's values.
    for (const [k, v] of Object.entries(readJsonObject(mapFile, MAX_CONFIG_BYTES))) {
      if (k.endsWith('_token') && tokenName(v) !== undefined) config[k] = v;
      else if (k === 'additional_special_tokens' && Array.isArray(v)) config[k] = v;
    }
  }
  for (const k of Object.values(ROLE_KEYS)) {
    if (config[k] !== undefined && config[k] !== null && tokenName(config[k]) === undefined) {
      throw new TokenizerFileError(cfgFile, `"${k}" must be a string or {"content": string}`);
    }
  }
  return config;
}

export function readTokenizerDir(dir: string): TokenizerDirContents {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new TokenizerFileError(dir, 'not a directory');
  }
  const config = readConfig(dir);
  const cfgFile = path.join(dir, 'tokenizer_config.json');
  const f = (name: string) => path.join(dir, name);

  if (exists(f('tokenizer.json'))) {
    const file = f('tokenizer.json');
    const raw = readJsonObject(file, MAX_TOKENIZER_JSON_BYTES);
    return { json: validateTokenizerJson(raw, file), config, source: file };
  }
  if (exists(f('vocab.txt'))) {
    const file = f('vocab.txt');
    const vocab = parseVocabTxt(readCapped(file, MAX_VOCAB_FILE_BYTES), file);
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
      extraAdded: addedFromConfig(config, cfgFile),
    });
    return { json, config, source: file };
  }
  const hasVocabJson = exists(f('vocab.json'));
  const hasMerges = exists(f('merges.txt'));
  if (hasVocabJson && hasMerges) {
    const vocab = parseVocabJson(readCapped(f('vocab.json'), MAX_VOCAB_FILE_BYTES), f('vocab.json'));
    const merges = parseMergesTxt(readCapped(f('merges.txt'), MAX_VOCAB_FILE_BYTES), f('merges.txt'));
    const specials = resolveSpecialNames(config, (t) => Object.hasOwn(vocab, t), ROBERTA_SPECIALS, cfgFile);
    const json = byteLevelBpeTokenizerJson(vocab, merges, {
      addPrefixSpace: config.add_prefix_space === true,
      specials,
      extraAdded: addedFromConfig(config, cfgFile),
    });
    return { json, config, source: `${f('vocab.json')} + merges.txt` };
  }
  const partial = hasVocabJson ? ' (found vocab.json but not merges.txt)' : hasMerges ? ' (found merges.txt but not vocab.json)' : '';
  throw new TokenizerFileError(dir, `no tokenizer files: looked for tokenizer.json, vocab.txt, or vocab.json + merges.txt${partial}`);
}

/** Write files atomically enough for our use: each file goes to a temp name, then is renamed. */
export function writeTokenizerDir(dir: string, files: Record<string, string>): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    const target = path.join(dir, name);
    const tmp = `${target}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, content, 'utf8');
    fs.renameSync(tmp, target);
  }
}
