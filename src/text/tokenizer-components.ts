// The normalizer, pre-tokenizer, post-processor and decoder of a tokenizer.json,
// checked before @huggingface/tokenizers sees them. The library trusts its
// input: a TemplateProcessing without "pair" fails deep inside it with "type
// is not iterable", a FixedLength pre-tokenizer of length 0 loops forever while
// filling memory, a Sequence nested thousands deep overflows the stack. So
// every component must be a type the library implements, in the shape it
// reads, with bounded nesting, counts and string lengths. Regular expressions
// from the file are found by usesFileRegexes; tokenizer-guard.ts runs them
// under a time budget.

import { describeJsonValue, quote } from '../formats/errors.js';
import { isPlainObject } from '../formats/json-guard.js';
import { type ComponentJson, type IdBound, LIMITS, TokenizerFileError, checkId } from './tokenizer-spec.js';

/** Component types per slot as @huggingface/tokenizers 0.2 implements them, and the key of Sequence's children. */
const KINDS = {
  normalizer: {
    children: 'normalizers',
    types: ['BertNormalizer', 'Precompiled', 'Sequence', 'Replace', 'NFC', 'NFD', 'NFKC', 'NFKD', 'Strip', 'StripAccents', 'Lowercase', 'Prepend'],
  },
  pre_tokenizer: {
    children: 'pretokenizers',
    types: ['BertPreTokenizer', 'Sequence', 'Whitespace', 'WhitespaceSplit', 'Metaspace', 'ByteLevel', 'Split', 'Punctuation', 'Digits', 'Replace', 'FixedLength'],
  },
  post_processor: {
    children: 'processors',
    types: ['TemplateProcessing', 'ByteLevel', 'BertProcessing', 'RobertaProcessing', 'Sequence'],
  },
  decoder: {
    children: 'decoders',
    types: ['ByteLevel', 'WordPiece', 'Metaspace', 'BPEDecoder', 'CTC', 'Sequence', 'Replace', 'Fuse', 'Strip', 'ByteFallback'],
  },
} as const;

type Slot = keyof typeof KINDS;

/** Sequences in real files are one level deep; a few levels more is generous. */
const MAX_SEQUENCE_DEPTH = 8;
const MAX_CHILDREN = 64;
const MAX_COMPONENTS = 1024;
const MAX_PATTERN_CHARS = 4096;
const MAX_TEMPLATE_ITEMS = 64;
const MAX_TEMPLATE_SPECIALS = 1024;
/** Token type ids index the model's token_type_embeddings; no config allows more rows than this. */
export const MAX_TYPE_ID = 1023;
/** Fields whose strings may be long: the base64 charsmap of a Precompiled normalizer. */
const LONG_STRINGS: ReadonlySet<string> = new Set(['precompiled_charsmap']);

export interface CheckedComponents {
  normalizer: ComponentJson | null;
  pre_tokenizer: ComponentJson | null;
  post_processor: ComponentJson | null;
  decoder: ComponentJson | null;
}

export function checkComponents(x: Record<string, unknown>, file: string, bound: IdBound): CheckedComponents {
  const state: State = { file, bound, count: 0 };
  const one = (slot: Slot): ComponentJson | null => {
    const v = x[slot];
    if (v === undefined || v === null) return null;
    return checkComponent(v, slot, slot, 0, state);
  };
  return { normalizer: one('normalizer'), pre_tokenizer: one('pre_tokenizer'), post_processor: one('post_processor'), decoder: one('decoder') };
}

/**
 * Whether a component brings a regular expression of its own (a "pattern"
 * with "Regex"); those run under tokenizer-guard.ts's time budget.
 */
export function usesFileRegexes(components: Partial<CheckedComponents>): boolean {
  const walk = (v: unknown, depth: number): boolean => {
    if (depth > 64 || typeof v !== 'object' || v === null) return false;
    if (Array.isArray(v)) return v.some((x) => walk(x, depth + 1));
    const o = v as Record<string, unknown>;
    if (isPlainObject(o.pattern) && 'Regex' in o.pattern) return true;
    return Object.values(o).some((x) => walk(x, depth + 1));
  };
  return [components.normalizer, components.pre_tokenizer, components.decoder].some((c) => walk(c, 0));
}

interface State {
  file: string;
  bound: IdBound;
  count: number;
}

function checkComponent(v: unknown, slot: Slot, where: string, depth: number, st: State): ComponentJson {
  const fail = (problem: string): never => {
    throw new TokenizerFileError(st.file, `${where}: ${problem}`);
  };
  if (!isPlainObject(v) || typeof v.type !== 'string') return fail('must be an object with a string "type"');
  const kind = KINDS[slot];
  if (!(kind.types as readonly string[]).includes(v.type)) {
    fail(`type ${quote(v.type, 40)} is not supported (supported: ${kind.types.join(', ')})`);
  }
  if (++st.count > MAX_COMPONENTS) fail(`more than ${MAX_COMPONENTS} components`);
  for (const [key, value] of Object.entries(v)) {
    if (key === kind.children && v.type === 'Sequence') continue;
    checkField(key, value, where, st, fail);
  }
  if (v.type === 'Sequence') {
    if (depth >= MAX_SEQUENCE_DEPTH) fail(`Sequence nests deeper than ${MAX_SEQUENCE_DEPTH} levels`);
    const children = v[kind.children];
    if (!Array.isArray(children)) return fail(`Sequence needs a "${kind.children}" array`);
    if (children.length > MAX_CHILDREN) fail(`Sequence has ${children.length} entries (limit ${MAX_CHILDREN})`);
    children.forEach((c, i) => checkComponent(c, slot, `${where}.${kind.children}[${i}]`, depth + 1, st));
  }
  if (slot === 'post_processor') checkPostProcessor(v, st, fail);
  if (slot === 'pre_tokenizer' && v.type === 'FixedLength') {
    // The library steps through the text by `length`: 0 or a non-number never advances.
    positiveInt(v.length, 'length', LIMITS.maxTokenChars, fail);
  }
  if (slot === 'decoder' && v.type === 'Strip') {
    for (const k of ['start', 'stop']) if (v[k] !== undefined) nonNegativeInt(v[k], k, LIMITS.maxTokenChars, fail);
  }
  return v as ComponentJson;
}

/** Plain fields: bounded strings, a well-formed "pattern", scalars; nested values only where a component reads them. */
function checkField(key: string, value: unknown, where: string, st: State, fail: (p: string) => never): void {
  if (key === 'pattern') {
    checkPattern(value, fail);
  } else if (typeof value === 'string') {
    const max = LONG_STRINGS.has(key) ? Number.MAX_SAFE_INTEGER : LIMITS.maxTokenChars;
    if (value.length > max) fail(`"${key}" is longer than ${max} characters`);
  } else if (Array.isArray(value) || isPlainObject(value)) {
    // Post-processors carry arrays and objects (checked in checkPostProcessor); elsewhere they are unexpected.
    if (!where.startsWith('post_processor')) fail(`"${key}" is ${describeJsonValue(value)}; expected a string, number or boolean`);
  }
}

function checkPattern(p: unknown, fail: (p: string) => never): void {
  if (!isPlainObject(p)) return fail('"pattern" must be {"Regex": string} or {"String": string}');
  const keys = Object.keys(p);
  const k = keys[0];
  if (keys.length !== 1 || (k !== 'Regex' && k !== 'String')) fail('"pattern" must be {"Regex": string} or {"String": string}');
  const s = p[k!];
  if (typeof s !== 'string') return fail(`"pattern".${k} is ${describeJsonValue(s)}; expected a string`);
  if (s.length > MAX_PATTERN_CHARS) fail(`"pattern".${k} is longer than ${MAX_PATTERN_CHARS} characters`);
}

function checkPostProcessor(v: Record<string, unknown>, st: State, fail: (p: string) => never): void {
  switch (v.type) {
    case 'TemplateProcessing': {
      for (const key of ['single', 'pair']) checkTemplate(v[key], key, fail);
      const sp = v.special_tokens;
      if (sp === undefined || sp === null) return;
      if (!isPlainObject(sp)) return fail('"special_tokens" must be an object');
      const names = Object.keys(sp);
      if (names.length > MAX_TEMPLATE_SPECIALS) fail(`"special_tokens" has ${names.length} entries (limit ${MAX_TEMPLATE_SPECIALS})`);
      for (const name of names) {
        const t = sp[name];
        const w = `special_tokens[${quote(name, 40)}]`;
        if (!isPlainObject(t) || !Array.isArray(t.ids) || t.ids.length === 0 || t.ids.length > MAX_TEMPLATE_ITEMS) {
          fail(`${w} must be an object with a non-empty "ids" array of at most ${MAX_TEMPLATE_ITEMS} ids`);
        }
        (t as { ids: unknown[] }).ids.forEach((id, i) => checkId(id, st.file, `post_processor.${w}.ids[${i}]`, st.bound));
        const tokens = (t as { tokens?: unknown }).tokens;
        if (tokens !== undefined && (!Array.isArray(tokens) || tokens.length > MAX_TEMPLATE_ITEMS ||
            !tokens.every((s) => typeof s === 'string' && s.length <= LIMITS.maxTokenChars))) {
          fail(`${w}.tokens must be an array of at most ${MAX_TEMPLATE_ITEMS} strings`);
        }
      }
      return;
    }
    case 'BertProcessing':
    case 'RobertaProcessing':
      for (const key of ['sep', 'cls']) {
        const pair = v[key];
        if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || pair[0].length > LIMITS.maxTokenChars) {
          return fail(`"${key}" must be [token, id]`);
        }
        checkId(pair[1], st.file, `post_processor "${key}"`, st.bound);
      }
      return;
    default:
  }
}

/** "single"/"pair": [{"SpecialToken": {id, type_id}} | {"Sequence": {id: "A"|"B", type_id}}, ...] */
function checkTemplate(t: unknown, key: string, fail: (p: string) => never): void {
  if (!Array.isArray(t)) return fail(`TemplateProcessing needs a "${key}" array`);
  if (t.length > MAX_TEMPLATE_ITEMS) fail(`"${key}" has ${t.length} items (limit ${MAX_TEMPLATE_ITEMS})`);
  t.forEach((item, i) => {
    const w = `"${key}"[${i}]`;
    const keys = isPlainObject(item) ? Object.keys(item) : [];
    if (keys.length !== 1 || (keys[0] !== 'SpecialToken' && keys[0] !== 'Sequence')) {
      fail(`${w} must be {"SpecialToken": {...}} or {"Sequence": {...}}`);
    }
    const body = (item as Record<string, unknown>)[keys[0]!];
    if (!isPlainObject(body)) return fail(`${w}.${keys[0]} must be an object`);
    if (keys[0] === 'Sequence') {
      if (body.id !== 'A' && body.id !== 'B') fail(`${w}.Sequence.id must be "A" or "B"`);
      if (key === 'single' && body.id === 'B') fail(`${w}: "single" cannot use sequence "B"`);
    } else if (typeof body.id !== 'string' || body.id.length > LIMITS.maxTokenChars) {
      fail(`${w}.SpecialToken.id must be a token string`);
    }
    nonNegativeInt(body.type_id ?? 0, `${w}.${keys[0]}.type_id`, MAX_TYPE_ID, fail);
  });
}

function positiveInt(v: unknown, what: string, max: number, fail: (p: string) => never): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) fail(`"${what}" is ${describeJsonValue(v)}; expected an integer from 1 to ${max}`);
}

function nonNegativeInt(v: unknown, what: string, max: number, fail: (p: string) => never): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) fail(`${what} is ${describeJsonValue(v)}; expected an integer from 0 to ${max}`);
}
