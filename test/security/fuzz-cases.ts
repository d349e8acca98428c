/**
 * Seeded generator of hostile model directories for fuzz.test.ts. Each case
 * copies one of a few valid tiny models (model-files.ts) and mutates one of
 * its files, knowing the format where that finds deeper bugs than random
 * bytes would: safetensors headers are re-serialised with a correct length,
 * zip records are rewritten with correct CRCs so the pickle parser sees the
 * mutation, JSON is mutated as a tree (with "interesting" values: huge ids,
 * 1e400, deep nesting, tokenizer components the library mishandles), text
 * files line by line. A few cases swap a file for a symlink, a directory or
 * nothing. The same seed always gives the same directory.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Rng } from '../../src/text/random.js';
import { readZipEntries } from '../../src/formats/torch-zip.js';
import { buildZip } from '../formats/helpers.js';
import { writeTinyModel, type TokenizerLayout, type WeightsLayout } from './model-files.js';

export interface FuzzCase {
  seed: number;
  dir: string;
  /** The file that was mutated (relative to dir) and how, for the failure report. */
  target: string;
  mutation: string;
}

const EVIL_REGEX = '(.?.?.?.?.?.?.?.?.?.?){10}#';
const INF_MARK = '"@@1e400@@"';

/** Values that have broken loaders before: sizes, ids, types, nesting. */
const INTERESTING: unknown[] = [
  0, -1, 1, 2, 7, 255, 65_535, 2 ** 31, 2 ** 32 + 1, 2 ** 53 + 2, 1e300, -1e300, 0.5, -0.0, 1e-320,
  '', 'x'.repeat(5000), 'a\nb\u2028c', '__proto__', 'constructor', '[CLS]', '</s>', '2e9', '1e300',
  null, true, false, [], {}, [0, 1], [[['deep']]], { content: '<x>', special: true },
  JSON.parse('['.repeat(40) + ']'.repeat(40)),
  '@@1e400@@',
];

/** Tokenizer components that the library loops on, misreads or runs slowly. */
const COMPONENTS: unknown[] = [
  { type: 'Split', pattern: { Regex: EVIL_REGEX }, behavior: 'Isolated', invert: false },
  { type: 'Replace', pattern: { Regex: EVIL_REGEX }, content: '' },
  { type: 'Replace', pattern: { String: 'e' }, content: 'E'.repeat(4000) },
  { type: 'FixedLength', length: 0 },
  { type: 'FixedLength', length: 3 },
  { type: 'TemplateProcessing', single: [{ Sequence: { id: 'A', type_id: 0 } }] },
  { type: 'TemplateProcessing', single: [{ Sequence: { id: 'B', type_id: 0 } }], pair: [] },
  { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '[CLS]', type_id: 9 } }], pair: [{ Sequence: { id: 'A', type_id: 1e9 } }] },
  { type: 'BertProcessing', sep: ['[SEP]', 3], cls: ['[CLS]', 2] },
  { type: 'RobertaProcessing', sep: ['</s>', 2e9], cls: ['<s>', 0] },
  { type: 'Sequence', normalizers: [null] },
  { type: 'Sequence', pretokenizers: [{ type: 'Sequence', pretokenizers: [{ type: 'Sequence', pretokenizers: [] }] }] },
  { type: 'Sequence', decoders: [{ type: 'Strip', content: ' ', start: 1e9, stop: -1 }] },
  { type: 'Precompiled', precompiled_charsmap: 'AAAA' },
  { type: 'Precompiled', precompiled_charsmap: 'not base64 at all !!' },
  { type: 'Metaspace', replacement: '', prepend_scheme: 'never' },
  { type: 'Digits', individual_digits: true },
  { type: 'Punctuation', behavior: 'Frob' },
  { type: 'WordPiece', prefix: 42 },
  { type: 'Lowercase' },
  { type: 'NoSuchThing' },
];

interface Base {
  dir: string;
  files: string[];
}

export class CaseFactory {
  private readonly bases: Base[] = [];

  constructor(private readonly root: string) {
    const layouts: ['bert' | 'roberta', WeightsLayout, TokenizerLayout][] = [
      ['bert', 'safetensors', 'vocab.txt'], ['bert', 'safetensors', 'tokenizer.json'], ['bert', 'bin', 'vocab.txt'],
      ['bert', 'bin', 'tokenizer.json'], ['bert', 'sharded', 'vocab.txt'], ['bert', 'sharded', 'tokenizer.json'],
      ['roberta', 'safetensors', 'bpe'], ['roberta', 'safetensors', 'tokenizer.json'], ['roberta', 'bin', 'bpe'], ['roberta', 'sharded', 'tokenizer.json'],
    ];
    layouts.forEach(([modelType, weights, tokenizer], i) => {
      const dir = path.join(root, `base-${i}`);
      writeTinyModel(dir, { modelType, weights, tokenizer });
      // tokenizer_config.json gains an added_tokens_decoder, so that path is fuzzed too.
      const cfg = path.join(dir, 'tokenizer_config.json');
      const j = JSON.parse(fs.readFileSync(cfg, 'utf8'));
      j.added_tokens_decoder = { 0: { content: modelType === 'bert' ? '[PAD]' : '<s>', special: true } };
      fs.writeFileSync(cfg, JSON.stringify(j));
      this.bases.push({ dir, files: fs.readdirSync(dir).sort() });
    });
  }

  make(seed: number): FuzzCase {
    const rng = new Rng(seed);
    const base = this.bases[rng.int(this.bases.length)]!;
    const dir = path.join(this.root, `case-${seed}`);
    fs.cpSync(base.dir, dir, { recursive: true });
    // Weights and tokenizer files twice as likely as the small configs.
    const weighted = base.files.flatMap((f) => (/safetensors$|\.bin$|^tokenizer\.json$|^vocab/.test(f) ? [f, f] : [f]));
    const target = weighted[rng.int(weighted.length)]!;
    const file = path.join(dir, target);
    let mutation: string;
    if (rng.next() < 0.06) mutation = fileSystem(rng, file, this.root);
    else if (target.endsWith('.safetensors')) mutation = mutateSafetensors(rng, file);
    else if (target.endsWith('.bin')) mutation = mutateZip(rng, file);
    else if (target.endsWith('.json')) mutation = mutateJson(rng, file, target === 'tokenizer.json');
    else mutation = mutateLines(rng, file);
    return { seed, dir, target, mutation };
  }
}

// ------------------------------------------------------------------ bytes

function mutateBytes(rng: Rng, buf: Buffer): { bytes: Buffer; what: string } {
  const n = buf.length;
  const at = rng.int(Math.max(1, n));
  switch (rng.int(7)) {
    case 0: {
      const b = Buffer.from(buf);
      const k = 1 + rng.int(8);
      for (let i = 0; i < k && n > 0; i++) b[rng.int(n)]! ^= 1 << rng.int(8);
      return { bytes: b, what: `flip ${k} bits` };
    }
    case 1: return { bytes: buf.subarray(0, at), what: `truncate at ${at}` };
    case 2: return { bytes: Buffer.concat([buf.subarray(0, at), randomBytes(rng, 1 + rng.int(64)), buf.subarray(at)]), what: `insert at ${at}` };
    case 3: return { bytes: Buffer.concat([buf.subarray(0, at), buf.subarray(Math.min(n, at + 1 + rng.int(64)))]), what: `delete at ${at}` };
    case 4: return { bytes: Buffer.concat([buf, randomBytes(rng, 1 + rng.int(256))]), what: 'append junk' };
    case 5: {
      const b = Buffer.from(buf);
      b.fill(rng.int(2) ? 0xff : 0, at, Math.min(n, at + 1 + rng.int(32)));
      return { bytes: b, what: `fill at ${at}` };
    }
    default: {
      const len = 1 + rng.int(Math.max(1, Math.min(256, n - at)));
      return { bytes: Buffer.concat([buf.subarray(0, at + len), buf.subarray(at, at + len), buf.subarray(at + len)]), what: `duplicate ${len} bytes at ${at}` };
    }
  }
}

function randomBytes(rng: Rng, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = rng.int(256);
  return b;
}

// ------------------------------------------------------------------ safetensors

function mutateSafetensors(rng: Rng, file: string): string {
  const buf = fs.readFileSync(file);
  const headerLen = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8')) as Record<string, unknown>;
  const data = buf.subarray(8 + headerLen);
  const op = rng.int(5);
  if (op === 0) {
    const { bytes, what } = mutateBytes(rng, buf);
    fs.writeFileSync(file, bytes);
    return `safetensors bytes: ${what}`;
  }
  if (op === 1) {
    const b = Buffer.from(buf);
    const choices = [0n, 1n, BigInt(headerLen - 1), BigInt(headerLen + 1), BigInt(buf.length), 2n ** 63n, BigInt(rng.int(1 << 30))];
    b.writeBigUInt64LE(choices[rng.int(choices.length)]!, 0);
    fs.writeFileSync(file, b);
    return 'safetensors length field';
  }
  if (op === 2) {
    // Non-finite floats (or random bytes) inside the data, at an element boundary.
    const b = Buffer.from(buf);
    const at = 8 + headerLen + 4 * rng.int(Math.floor(data.length / 4));
    const words = [0x7fc00000, 0x7f800000, 0xff800000, 0x7f7fffff, rng.int(2 ** 32)];
    b.writeUInt32LE(words[rng.int(words.length)]!, at);
    fs.writeFileSync(file, b);
    return `safetensors body word at ${at}`;
  }
  // Header as a tree, written back with a correct length field.
  const what = mutateTree(rng, header);
  const text = serialize(header);
  const h = Buffer.from(text, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  fs.writeFileSync(file, Buffer.concat([len, h, data]));
  return `safetensors header: ${what}`;
}

// ------------------------------------------------------------------ zip

function mutateZip(rng: Rng, file: string): string {
  const buf = fs.readFileSync(file);
  const op = rng.int(3);
  if (op === 0) {
    const { bytes, what } = mutateBytes(rng, buf);
    fs.writeFileSync(file, bytes);
    return `zip bytes: ${what}`;
  }
  // Rewrite the archive with one record changed and every CRC correct, so
  // the change reaches the pickle parser or the tensor reader.
  const entries = [...readZipEntries(buf, file).values()];
  const pick = op === 1 ? entries.find((e) => e.name.endsWith('data.pkl'))! : entries[rng.int(entries.length)]!;
  const specs = entries.map((e) => {
    let data: Uint8Array = buf.subarray(e.dataStart, e.dataStart + e.size);
    if (e === pick) data = mutateBytes(rng, Buffer.from(data)).bytes;
    return { name: e.name, data };
  });
  fs.writeFileSync(file, buildZip(specs, { align: 64 }));
  return `zip record ${pick.name} rewritten`;
}

// ------------------------------------------------------------------ JSON

function mutateJson(rng: Rng, file: string, tokenizer: boolean): string {
  const text = fs.readFileSync(file, 'utf8');
  if (rng.next() < 0.25) {
    const { bytes, what } = mutateBytes(rng, Buffer.from(text, 'utf8'));
    fs.writeFileSync(file, bytes);
    return `json bytes: ${what}`;
  }
  const tree = JSON.parse(text) as Record<string, unknown>;
  let what: string;
  if (tokenizer && rng.next() < 0.4) {
    const slot = ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder'][rng.int(4)]!;
    const c = structuredClone(COMPONENTS[rng.int(COMPONENTS.length)]);
    tree[slot] = rng.next() < 0.3 && tree[slot] ? { type: 'Sequence', [sequenceKey(slot)]: [tree[slot], c] } : c;
    what = `${slot} := ${JSON.stringify(c).slice(0, 80)}`;
  } else {
    what = mutateTree(rng, tree);
  }
  let out = serialize(tree);
  if (rng.next() < 0.1) {
    // A duplicate key, which JSON.parse would silently resolve.
    out = out.replace('{', '{"model_type": "bert", ');
    what += ' + duplicate key';
  }
  fs.writeFileSync(file, out);
  return `json: ${what}`;
}

function sequenceKey(slot: string): string {
  return ({ normalizer: 'normalizers', pre_tokenizer: 'pretokenizers', post_processor: 'processors', decoder: 'decoders' } as Record<string, string>)[slot]!;
}

/** Replace, delete or add one node of a JSON tree, chosen among a bounded sample of its paths. */
function mutateTree(rng: Rng, tree: Record<string, unknown>): string {
  const paths: (string | number)[][] = [];
  const walk = (v: unknown, p: (string | number)[]) => {
    if (paths.length > 4000) return;
    paths.push(p);
    if (Array.isArray(v)) v.slice(0, 50).forEach((x, i) => walk(x, [...p, i]));
    else if (v && typeof v === 'object') Object.keys(v).slice(0, 200).forEach((k) => walk((v as Record<string, unknown>)[k], [...p, k]));
  };
  walk(tree, []);
  const p = paths[1 + rng.int(Math.max(1, paths.length - 1))] ?? [];
  if (p.length === 0) return 'no change';
  const parent = p.slice(0, -1).reduce<any>((o, k) => o[k], tree);
  const key = p[p.length - 1]!;
  const value = structuredClone(INTERESTING[rng.int(INTERESTING.length)]);
  const op = rng.int(4);
  if (op === 0 && !Array.isArray(parent)) {
    delete parent[key];
    return `delete ${p.join('.')}`;
  }
  if (op === 1 && !Array.isArray(parent)) {
    const k = ['hidden_size', 'vocab_size', 'type', 'pair', 'ids', '999999999', '__proto__', 'dtype', 'shape'][rng.int(9)]!;
    Object.defineProperty(parent, k, { value, enumerable: true, configurable: true, writable: true });
    return `set ${[...p.slice(0, -1), k].join('.')}`;
  }
  parent[key] = value;
  return `replace ${p.join('.')}`;
}

function serialize(tree: unknown): string {
  return JSON.stringify(tree).split(INF_MARK).join('1e400');
}

// ------------------------------------------------------------------ text

function mutateLines(rng: Rng, file: string): string {
  const text = fs.readFileSync(file, 'utf8');
  if (rng.next() < 0.3) {
    const { bytes, what } = mutateBytes(rng, Buffer.from(text, 'utf8'));
    fs.writeFileSync(file, bytes);
    return `text bytes: ${what}`;
  }
  const lines = text.split('\n');
  const at = rng.int(lines.length);
  const choices = ['', 'x'.repeat(5000), 'a b c', '\r', '\u2028', '[CLS]', '#version: 0.2', 'Ġ t', '\ufeff'];
  const op = rng.int(4);
  if (op === 0) lines.splice(at, 1);
  else if (op === 1) lines.splice(at, 0, choices[rng.int(choices.length)]!);
  else if (op === 2) lines.splice(at, 0, ...lines.slice(0, 1 + rng.int(lines.length)));
  else lines.length = at;
  fs.writeFileSync(file, lines.join('\n'));
  return `lines: op ${op} at ${at}`;
}

// ------------------------------------------------------------------ file system

function fileSystem(rng: Rng, file: string, root: string): string {
  fs.rmSync(file, { force: true });
  switch (rng.int(6)) {
    case 0:
      fs.symlinkSync('/proc/self/environ', file);
      return 'symlink to /proc/self/environ';
    case 1:
      fs.symlinkSync('/dev/zero', file);
      return 'symlink to /dev/zero';
    case 2: {
      const outside = path.join(root, `outside-${path.basename(file)}`);
      if (!fs.existsSync(outside)) fs.writeFileSync(outside, '{}');
      fs.symlinkSync(outside, file);
      return 'symlink outside the model directory';
    }
    case 3:
      fs.mkdirSync(file);
      return 'a directory';
    case 4:
      fs.writeFileSync(file, '');
      return 'empty';
    default:
      return 'deleted';
  }
}
