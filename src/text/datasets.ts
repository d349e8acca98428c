// Readers for the task datasets in shared/data (formats in its README and each
// SOURCE.md). Every reader returns the same shape so that attacks, prompt
// tuning and evaluation can treat datasets alike:
//   text tasks: { text, textB?, label, labelNames }
//   NER:        { tokens, tags }
// Parsers take the file content and the file name (for errors) so tests can
// run them on fixtures; read* functions add the file system and the registry.
// The TSV files contain raw '"' and must be split on TAB with no CSV quoting;
// the CSV files have quoted fields with embedded newlines and need a real parser.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { resolveDataDir } from './data-dir.js';

export interface TextExample {
  text: string;
  /** Second sequence of a pair task (RTE hypothesis, BoolQ passage). */
  textB?: string;
  label: number;
  /** The dataset's label names, indexed by label (one shared array per dataset). */
  labelNames: readonly string[];
}

export interface TextDataset {
  name: string;
  split: string;
  file: string;
  labelNames: readonly string[];
  examples: TextExample[];
}

export interface NerSentence {
  tokens: string[];
  tags: string[];
}

export interface NerDataset {
  name: string;
  split: string;
  file: string;
  /** "O" first, then B-/I- per entity type in the dataset's order. */
  tagNames: readonly string[];
  sentences: NerSentence[];
}

export class DatasetFormatError extends Error {
  constructor(readonly file: string, detail: string, line?: number) {
    super(`${file}${line !== undefined ? `:${line}` : ''}: ${detail}`);
    this.name = 'DatasetFormatError';
  }
}

export const LABEL_NAMES = {
  sst2: ['negative', 'positive'],
  'sms-spam': ['ham', 'spam'],
  rte: ['entailment', 'not_entailment'],
  'ag-news': ['World', 'Sports', 'Business', 'Sci/Tech'],
  'yelp-5': ['1 star', '2 stars', '3 stars', '4 stars', '5 stars'],
  boolq: ['false', 'true'],
  'enron-spam': ['ham', 'spam'],
} as const satisfies Record<string, readonly string[]>;

export const CONLL04_TAGS = ['O', 'B-Loc', 'I-Loc', 'B-Peop', 'I-Peop', 'B-Org', 'I-Org', 'B-Other', 'I-Other'] as const;

// ---------------------------------------------------------------- helpers

/** Lines with their 1-based numbers; a final empty line (trailing newline) is not a line. */
function lines(content: string): [string, number][] {
  const ls = content.split('\n');
  if (ls.length > 0 && ls[ls.length - 1] === '') ls.pop();
  return ls.map((l, i) => [l.endsWith('\r') ? l.slice(0, -1) : l, i + 1]);
}

function labelIndex(names: readonly string[], value: string, file: string, line: number): number {
  const i = names.indexOf(value);
  if (i < 0) throw new DatasetFormatError(file, `unknown label ${JSON.stringify(value)} (expected one of ${names.join(', ')})`, line);
  return i;
}

function intLabel(value: string, n: number, file: string, line: number, offset = 0): number {
  const v = Number(value.trim());
  if (!Number.isInteger(v) || v - offset < 0 || v - offset >= n) {
    throw new DatasetFormatError(file, `label ${JSON.stringify(value)} is not an integer in [${offset}, ${n - 1 + offset}]`, line);
  }
  return v - offset;
}

function csvRecords(content: string, file: string): string[][] {
  try {
    return parseCsv(content, { bom: true, skip_empty_lines: true, relax_column_count: false }) as string[][];
  } catch (e) {
    throw new DatasetFormatError(file, `malformed CSV (${(e as Error).message})`);
  }
}

/** Decode bytes as UTF-8, falling back to Latin-1 for files that are not valid UTF-8. */
export function decodeLenient(buf: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch {
    return Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('latin1');
  }
}

function readText(file: string): string {
  if (!fs.existsSync(file)) throw new DatasetFormatError(file, 'file not found');
  const text = fs.readFileSync(file, 'utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

// ---------------------------------------------------------------- parsers

/** GLUE SST-2: header "sentence<TAB>label", label 0/1. */
export function parseSst2(content: string, file: string): TextExample[] {
  const labelNames = LABEL_NAMES.sst2;
  const ls = lines(content);
  if (ls.length === 0 || ls[0]![0] !== 'sentence\tlabel') throw new DatasetFormatError(file, 'expected the header "sentence<TAB>label"', 1);
  return ls.slice(1).filter(([l]) => l !== '').map(([l, n]) => {
    const f = l.split('\t');
    if (f.length !== 2) throw new DatasetFormatError(file, `expected 2 TAB-separated fields, got ${f.length}`, n);
    return { text: f[0]!.trim(), label: intLabel(f[1]!, 2, file, n), labelNames };
  });
}

/** UCI SMS Spam Collection: "ham|spam<TAB>text", no header; only the first TAB splits. */
export function parseSmsSpam(content: string, file: string): TextExample[] {
  const labelNames = LABEL_NAMES['sms-spam'];
  return lines(content).filter(([l]) => l !== '').map(([l, n]) => {
    const tab = l.indexOf('\t');
    if (tab < 0) throw new DatasetFormatError(file, 'expected "label<TAB>text"', n);
    return { text: l.slice(tab + 1).trim(), label: labelIndex(labelNames, l.slice(0, tab), file, n), labelNames };
  });
}

/** GLUE RTE: header "index<TAB>sentence1<TAB>sentence2<TAB>label"; text = premise, textB = hypothesis. */
export function parseRte(content: string, file: string): TextExample[] {
  const labelNames = LABEL_NAMES.rte;
  const ls = lines(content);
  if (ls.length === 0 || ls[0]![0] !== 'index\tsentence1\tsentence2\tlabel') {
    throw new DatasetFormatError(file, 'expected the header "index<TAB>sentence1<TAB>sentence2<TAB>label"', 1);
  }
  return ls.slice(1).filter(([l]) => l !== '').map(([l, n]) => {
    const f = l.split('\t');
    if (f.length !== 4) throw new DatasetFormatError(file, `expected 4 TAB-separated fields, got ${f.length}`, n);
    return { text: f[1]!.trim(), textB: f[2]!.trim(), label: labelIndex(labelNames, f[3]!, file, n), labelNames };
  });
}

/**
 * AG News in either of its two formats, detected from the first record:
 * original `"class","title","description"` (class 1–4) or Hugging Face
 * `text,label` (label 0–3). Text = title + " " + description, as HF builds it;
 * the original's `\` escapes and entity remnants are kept verbatim.
 */
export function parseAgNews(content: string, file: string): TextExample[] {
  const labelNames = LABEL_NAMES['ag-news'];
  const recs = csvRecords(content, file);
  if (recs.length === 0) return [];
  const original = recs[0]!.length === 3;
  if (!original && recs[0]!.length !== 2) throw new DatasetFormatError(file, `expected 3 (class,title,description) or 2 (text,label) columns, got ${recs[0]!.length}`, 1);
  return recs.map((r, i) => {
    if (original) {
      return { text: `${r[1]} ${r[2]}`, label: intLabel(r[0]!, 4, file, i + 1, 1), labelNames };
    }
    return { text: r[0]!, label: intLabel(r[1]!, 4, file, i + 1), labelNames };
  });
}

/** Yelp Review Full sample: CSV header "label,text,id", label 0–4 (= 1–5 stars). */
export function parseYelp5(content: string, file: string): TextExample[] {
  const labelNames = LABEL_NAMES['yelp-5'];
  const recs = csvRecords(content, file);
  const header = recs[0]?.join(',');
  if (header !== 'label,text,id') throw new DatasetFormatError(file, `expected the header "label,text,id", got ${JSON.stringify(header)}`, 1);
  return recs.slice(1).map((r, i) => ({ text: r[1]!, label: intLabel(r[0]!, 5, file, i + 2), labelNames }));
}

/** SuperGLUE BoolQ JSON Lines: text = question, textB = passage (P-tuning v2's key order), label true = 1. */
export function parseBoolq(content: string, file: string): TextExample[] {
  const labelNames = LABEL_NAMES.boolq;
  return lines(content).filter(([l]) => l.trim() !== '').map(([l, n]) => {
    let o: unknown;
    try {
      o = JSON.parse(l);
    } catch (e) {
      throw new DatasetFormatError(file, `not valid JSON (${(e as Error).message})`, n);
    }
    const r = o as { question?: unknown; passage?: unknown; label?: unknown };
    if (typeof r.question !== 'string' || typeof r.passage !== 'string' || typeof r.label !== 'boolean') {
      throw new DatasetFormatError(file, 'expected {"question": string, "passage": string, "label": boolean}', n);
    }
    return { text: r.question, textB: r.passage, label: r.label ? 1 : 0, labelNames };
  });
}

/** CoNLL-style "token<SPACE>tag" lines, blank line between sentences, -DOCSTART- ignored. */
export function parseConll(content: string, file: string): NerSentence[] {
  const out: NerSentence[] = [];
  let cur: NerSentence = { tokens: [], tags: [] };
  const flush = () => {
    if (cur.tokens.length > 0) out.push(cur);
    cur = { tokens: [], tags: [] };
  };
  for (const [l, n] of lines(content)) {
    const t = l.trim();
    if (t === '') {
      flush();
      continue;
    }
    if (t.startsWith('-DOCSTART-')) continue;
    const f = t.split(/\s+/);
    if (f.length !== 2) throw new DatasetFormatError(file, `expected "token tag", got ${f.length} fields`, n);
    if (!/^(O|[BI]-[A-Za-z]+)$/.test(f[1]!)) throw new DatasetFormatError(file, `malformed BIO tag ${JSON.stringify(f[1])}`, n);
    cur.tokens.push(f[0]!);
    cur.tags.push(f[1]!);
  }
  flush();
  return out;
}

/** Tag inventory in a stable order: O, then B-X/I-X for X in first-seen order. */
export function tagNamesOf(sentences: readonly NerSentence[]): string[] {
  const types: string[] = [];
  for (const s of sentences) for (const t of s.tags) {
    const ty = t === 'O' ? null : t.slice(2);
    if (ty !== null && !types.includes(ty)) types.push(ty);
  }
  return ['O', ...types.flatMap((t) => [`B-${t}`, `I-${t}`])];
}

/**
 * Enron-Spam: one e-mail per file under ham/ and spam/, first line
 * "Subject: ...". Text = subject and body joined by a newline. Files are read
 * as bytes and decoded leniently (15 files of enron1 are Latin-1).
 */
export function readEnronDir(dir: string): TextExample[] {
  const labelNames = LABEL_NAMES['enron-spam'];
  const out: TextExample[] = [];
  for (const [label, sub] of ['ham', 'spam'].entries()) {
    const d = path.join(dir, sub);
    if (!fs.existsSync(d) || !fs.statSync(d).isDirectory()) throw new DatasetFormatError(d, 'directory not found (expected ham/ and spam/)');
    for (const name of fs.readdirSync(d).filter((f) => f.endsWith('.txt')).sort()) {
      const raw = decodeLenient(fs.readFileSync(path.join(d, name))).replace(/\r\n?/g, '\n');
      const nl = raw.indexOf('\n');
      const first = nl < 0 ? raw : raw.slice(0, nl);
      const body = nl < 0 ? '' : raw.slice(nl + 1);
      const subject = first.replace(/^Subject:\s?/, '');
      out.push({ text: `${subject.trim()}\n${body.trim()}`.trim(), label, labelNames });
    }
  }
  return out;
}

// ---------------------------------------------------------------- registry

type TextParser = (content: string, file: string) => TextExample[];

interface TextSpec {
  kind: 'text';
  labelNames: readonly string[];
  splits: Record<string, string>;
  parse: TextParser | 'enron-dir';
}

interface NerSpec {
  kind: 'ner';
  splits: Record<string, string>;
  tagNames?: readonly string[];
}

/** Splits are the files in shared/data; see each SOURCE.md for what they are. */
export const DATASETS: Record<string, TextSpec | NerSpec> = {
  sst2: { kind: 'text', labelNames: LABEL_NAMES.sst2, parse: parseSst2, splits: { train: 'sst2/train.tsv', dev: 'sst2/dev.tsv' } },
  'sms-spam': { kind: 'text', labelNames: LABEL_NAMES['sms-spam'], parse: parseSmsSpam, splits: { all: 'sms-spam/SMSSpamCollection' } },
  rte: { kind: 'text', labelNames: LABEL_NAMES.rte, parse: parseRte, splits: { train: 'rte/train.tsv', dev: 'rte/dev.tsv' } },
  'ag-news': {
    kind: 'text', labelNames: LABEL_NAMES['ag-news'], parse: parseAgNews,
    splits: { test: 'ag-news/test.csv', train: 'ag-news/train-sample5000-hf.csv', 'train-subset581': 'ag-news/train-subset581.csv' },
  },
  'yelp-5': { kind: 'text', labelNames: LABEL_NAMES['yelp-5'], parse: parseYelp5, splits: { train: 'yelp-5/train-sample1000-hf.csv' } },
  boolq: {
    kind: 'text', labelNames: LABEL_NAMES.boolq, parse: parseBoolq,
    splits: { val: 'boolq/val.jsonl', train: 'boolq/train-fewglue32.jsonl', dev32: 'boolq/dev32.jsonl' },
  },
  'enron-spam': { kind: 'text', labelNames: LABEL_NAMES['enron-spam'], parse: 'enron-dir', splits: { enron1: 'enron-spam/enron1' } },
  conll04: { kind: 'ner', tagNames: CONLL04_TAGS, splits: { train: 'conll04/train.txt', dev: 'conll04/dev.txt', test: 'conll04/test.bio' } },
};

export function datasetNames(kind?: 'text' | 'ner'): string[] {
  return Object.keys(DATASETS).filter((n) => kind === undefined || DATASETS[n]!.kind === kind);
}

function specFor(name: string, split: string): { spec: TextSpec | NerSpec; rel: string } {
  const spec = DATASETS[name];
  if (!spec) throw new Error(`unknown dataset ${JSON.stringify(name)} (known: ${Object.keys(DATASETS).join(', ')})`);
  const rel = spec.splits[split];
  if (rel === undefined) throw new Error(`dataset ${name} has no split ${JSON.stringify(split)} (splits: ${Object.keys(spec.splits).join(', ')})`);
  return { spec, rel };
}

export function readTextDataset(name: string, split: string, dataDir?: string): TextDataset {
  const { spec, rel } = specFor(name, split);
  if (spec.kind !== 'text') throw new Error(`dataset ${name} is a NER dataset: use readNerDataset`);
  const file = path.join(resolveDataDir(dataDir), rel);
  const examples = spec.parse === 'enron-dir' ? readEnronDir(file) : spec.parse(readText(file), file);
  if (examples.length === 0) throw new DatasetFormatError(file, 'no examples');
  return { name, split, file, labelNames: spec.labelNames, examples };
}

export function readNerDataset(name: string, split: string, dataDir?: string): NerDataset {
  const { spec, rel } = specFor(name, split);
  if (spec.kind !== 'ner') throw new Error(`dataset ${name} is a text dataset: use readTextDataset`);
  const file = path.join(resolveDataDir(dataDir), rel);
  const sentences = parseConll(readText(file), file);
  if (sentences.length === 0) throw new DatasetFormatError(file, 'no sentences');
  const tagNames = spec.tagNames ?? tagNamesOf(sentences);
  for (const s of sentences) for (const t of s.tags) {
    if (!tagNames.includes(t)) throw new DatasetFormatError(file, `tag ${JSON.stringify(t)} is not one of ${tagNames.join(', ')}`);
  }
  return { name, split, file, tagNames, sentences };
}
