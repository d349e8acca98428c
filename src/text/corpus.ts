// Sentence streams for PV mining and attack data, from real text: the
// nlp-corpus package (always available), WikiText (the paper's clean-sentence
// source) and the text fields of the task datasets in shared/data. Everything
// is cleaned the same way (clean.ts) and shuffled with a seed (random.ts) so
// that a run is reproducible from its seed alone.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { all as nlpCorpusAll } from 'nlp-corpus';
import { type CleanOptions, cleanSentences, detokenizeWikitext, isHeading, splitSentences } from './clean.js';
import { resolveDataDir } from './data-dir.js';
import { readNerDataset, readTextDataset, DATASETS } from './datasets.js';
import { Rng } from './random.js';

export type CorpusOptions = CleanOptions & { dedupe?: boolean };

/** nlp-corpus's sentences (about 100k, mixed genres), cleaned. */
export function nlpCorpusSentences(o: CorpusOptions = {}): string[] {
  return cleanSentences(nlpCorpusAll(), o);
}

export type WikitextSplit = 'valid' | 'test';

export interface WikitextOptions extends CorpusOptions {
  dataDir?: string;
  /** Default both. */
  splits?: WikitextSplit[];
  /** Undo WikiText's " @-@ " / " , " tokenisation. Default true. */
  detokenize?: boolean;
}

/** Sentences of a WikiText raw file's content: headings and blank lines dropped, paragraphs split. */
export function wikitextSentencesFrom(content: string, o: Omit<WikitextOptions, 'dataDir' | 'splits'> = {}): string[] {
  const raw: string[] = [];
  for (const line of content.split('\n')) {
    if (line.trim() === '' || isHeading(line)) continue;
    const para = (o.detokenize ?? true) ? detokenizeWikitext(line.trim()) : line.trim();
    raw.push(...splitSentences(para));
  }
  return cleanSentences(raw, o);
}

/** `o` may be just the data directory. */
export function wikitextSentences(o: WikitextOptions | string = {}): string[] {
  if (typeof o === 'string') o = { dataDir: o };
  const dir = path.join(resolveDataDir(o.dataDir), 'wikitext', 'wikitext-2-raw');
  const out: string[] = [];
  for (const split of o.splits ?? ['valid', 'test']) {
    const file = path.join(dir, `wiki.${split}.raw`);
    if (!fs.existsSync(file)) throw new Error(`${file}: file not found`);
    out.push(...wikitextSentencesFrom(fs.readFileSync(file, 'utf8'), o));
  }
  // The two splits are different articles; dedupe across them all the same.
  return (o.dedupe ?? true) ? [...new Set(out)] : out;
}

export interface DatasetSentenceOptions extends CorpusOptions {
  dataDir?: string;
  /** Split paragraphs (AG News descriptions, reviews, passages) into sentences. Default true. */
  split?: boolean;
}

/** The text fields (text and textB, or NER tokens joined) of one dataset split, as clean sentences. `o` may be just the data directory. */
export function datasetSentences(name: string, split: string, o: DatasetSentenceOptions | string = {}): string[] {
  if (typeof o === 'string') o = { dataDir: o };
  const spec = DATASETS[name];
  if (!spec) throw new Error(`unknown dataset ${JSON.stringify(name)} (known: ${Object.keys(DATASETS).join(', ')})`);
  let texts: string[];
  if (spec.kind === 'ner') {
    texts = readNerDataset(name, split, o.dataDir).sentences.map((s) => s.tokens.join(' '));
  } else {
    texts = readTextDataset(name, split, o.dataDir).examples.flatMap((e) => (e.textB === undefined ? [e.text] : [e.text, e.textB]));
  }
  // AG News and Yelp keep their original CSV escapes: "\n" (a break), '\"' (a
  // quote) and a lone "\" standing for a line break inside a description.
  texts = texts.map((t) => t.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\/g, ' '));
  const pieces = (o.split ?? true) ? texts.flatMap((t) => t.split(/\n+/).flatMap(splitSentences)) : texts;
  return cleanSentences(pieces, o);
}

/** A shuffled copy, reproducible from the seed. */
export function shuffleSentences<T>(items: readonly T[], seed: number | string): T[] {
  return new Rng(seed).shuffled(items);
}

/** `n` items drawn without replacement, reproducible from the seed (all of them, shuffled, if n >= length). */
export function sampleSentences<T>(items: readonly T[], n: number, seed: number | string): T[] {
  return new Rng(seed).sample(items, n);
}

export interface SplitOptions {
  seed: number | string;
  /** Fraction in [0, 1] that goes to the held-out part (rounded to a whole count). */
  heldoutFraction: number;
}

/** Seeded shuffle, then the first (1 - f) go to train and the rest to heldout. */
export function splitTrainHeldout<T>(items: readonly T[], o: SplitOptions): { train: T[]; heldout: T[] } {
  if (!(o.heldoutFraction >= 0 && o.heldoutFraction <= 1)) throw new RangeError(`heldoutFraction must be in [0, 1], got ${o.heldoutFraction}`);
  const shuffled = new Rng(o.seed).shuffled(items);
  const nHeld = Math.round(shuffled.length * o.heldoutFraction);
  const cut = shuffled.length - nHeld;
  return { train: shuffled.slice(0, cut), heldout: shuffled.slice(cut) };
}
