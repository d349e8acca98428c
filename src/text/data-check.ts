/**
 * What a data directory holds, and what each command needs of it
 * (`lmsanitator data check`). Each file is parsed by the same reader the
 * commands use, so "present" means "readable", not just "exists".
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { wikitextSentences } from './corpus.js';
import { type DataDirSource, locateDataDir } from './data-dir.js';
import { DATASETS, readNerDataset, readTextDataset } from './datasets.js';

/** The files a command reads, as "dataset/split" (wikitext: the valid and test files). */
export const NEEDED_BY: Record<string, string[]> = {
  'finetune --task sst2': ['sst2/train', 'sst2/dev'],
  'finetune --task ag-news': ['ag-news/train', 'ag-news/test'],
  'finetune --task sms-spam': ['sms-spam/all'],
  'finetune --task mlm --corpus wikitext': ['wikitext/valid+test'],
  'zoo build clean-set, eval detection': ['sst2/train', 'sst2/dev', 'ag-news/train', 'ag-news/test', 'sms-spam/all', 'wikitext/valid+test'],
};

export interface SplitStatus {
  id: string;
  file: string;
  present: boolean;
  /** Examples (sentences for NER and wikitext) when readable. */
  rows?: number;
  error?: string;
}

export interface DataCheck {
  dir: string | null;
  source: DataDirSource | null;
  splits: SplitStatus[];
  commands: { command: string; ready: boolean; missing: string[] }[];
}

function checkSplit(dir: string, id: string, rel: string, count: () => number): SplitStatus {
  const file = path.join(dir, rel);
  if (!fs.existsSync(file)) return { id, file, present: false };
  try {
    return { id, file, present: true, rows: count() };
  } catch (e) {
    return { id, file, present: true, error: (e as Error).message };
  }
}

export function checkDataDir(dataDir?: string): DataCheck {
  const found = locateDataDir(dataDir);
  const splits: SplitStatus[] = [];
  if (found && fs.existsSync(found.dir)) {
    for (const [name, spec] of Object.entries(DATASETS)) {
      for (const [split, rel] of Object.entries(spec.splits)) {
        const count = spec.kind === 'ner'
          ? () => readNerDataset(name, split, found.dir).sentences.length
          : () => readTextDataset(name, split, found.dir).examples.length;
        splits.push(checkSplit(found.dir, `${name}/${split}`, rel, count));
      }
    }
    splits.push(checkSplit(found.dir, 'wikitext/valid+test', 'wikitext/wikitext-2-raw', () => wikitextSentences({ dataDir: found.dir }).length));
  }
  const usable = new Set(splits.filter((s) => s.present && !s.error).map((s) => s.id));
  const commands = Object.entries(NEEDED_BY).map(([command, ids]) => {
    const missing = ids.filter((id) => !usable.has(id));
    return { command, ready: missing.length === 0, missing };
  });
  return { dir: found?.dir ?? null, source: found?.source ?? null, splits, commands };
}
