import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  CONLL04_TAGS, DATASETS, DatasetFormatError, LABEL_NAMES, datasetNames, decodeLenient, parseAgNews, parseBoolq, parseConll,
  parseRte, parseSmsSpam, parseSst2, parseYelp5, readEnronDir, readNerDataset, readTextDataset, tagNamesOf,
} from '../../src/text/datasets.js';
import { DATA_DIR, NO_DATA, fixture, readFixture, tmpDir } from './helpers.js';

function formatError(fn: () => unknown, ...fragments: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DatasetFormatError, String(e));
    for (const f of fragments) assert.ok(e.message.includes(f), `"${e.message}" lacks "${f}"`);
    return true;
  });
}

describe('parsers on committed fixtures', () => {
  test('sst2: TSV with header, raw quotes kept, label 0/1', () => {
    const ex = parseSst2(readFixture('sst2-dev-head.tsv'), 'sst2-dev-head.tsv');
    assert.equal(ex.length, 30);
    assert.deepEqual(ex[0], { text: "it 's a charming and often affecting journey .", label: 1, labelNames: LABEL_NAMES.sst2 });
    assert.ok(ex.every((e) => e.text === e.text.trim() && (e.label === 0 || e.label === 1)));
    assert.ok(ex.some((e) => e.label === 0));
    formatError(() => parseSst2('sentence\tlabel\nfine\t1\nbad line\n', 'x.tsv'), 'x.tsv:3', '2 TAB-separated');
    formatError(() => parseSst2('sentence\tlabel\nfine\t2\n', 'x.tsv'), 'x.tsv:2', 'label');
    formatError(() => parseSst2('text\tlabel\n', 'x.tsv'), 'header');
    // A '"' opening a field is text, not CSV quoting.
    assert.equal(parseSst2('sentence\tlabel\n"quoted\t0\n', 'q')[0]!.text, '"quoted');
  });

  test('rte: premise/hypothesis pairs', () => {
    const ex = parseRte(readFixture('rte-dev-head.tsv'), 'rte');
    assert.equal(ex.length, 5);
    assert.ok(ex[0]!.text.startsWith('Dana Reeve'));
    assert.ok(typeof ex[0]!.textB === 'string' && ex[0]!.textB.length > 0);
    assert.deepEqual(ex[0]!.labelNames, ['entailment', 'not_entailment']);
    formatError(() => parseRte('index\tsentence1\tsentence2\tlabel\n0\ta\tb\tmaybe\n', 'r'), 'unknown label');
  });

  test('sms-spam: first TAB splits, no header', () => {
    const ex = parseSmsSpam(readFixture('sms-spam-head.tsv'), 'sms');
    assert.equal(ex.length, 20);
    assert.equal(ex[0]!.label, 0);
    assert.ok(ex.some((e) => e.label === 1));
    assert.equal(parseSmsSpam('spam\ta\tb\n', 's')[0]!.text, 'a\tb');
    formatError(() => parseSmsSpam('junk\n', 's'), 's:1');
  });

  test('ag-news: both formats map to title + " " + description and labels 0-3', () => {
    const orig = parseAgNews(readFixture('ag-news-test-head.csv'), 'ag');
    assert.equal(orig.length, 5);
    assert.equal(orig[0]!.text, "Fears for T N pension after talks Unions representing workers at Turner   Newall say they are 'disappointed' after talks with stricken parent firm Federal Mogul.");
    assert.equal(orig[0]!.label, 2);
    const hf = parseAgNews(readFixture('ag-news-train-hf-head.csv'), 'ag-hf');
    assert.equal(hf.length, 5);
    assert.equal(hf[0]!.label, 3);
    assert.ok(hf[0]!.text.startsWith('BEA buzzing about Beehive'));
    formatError(() => parseAgNews('"5","t","d"\n', 'ag'), 'label');
    formatError(() => parseAgNews('"1","unterminated\n', 'ag'), 'malformed CSV');
  });

  test('yelp-5: CSV with header, quoted fields, embedded newlines', () => {
    const ex = parseYelp5(readFixture('yelp-5-head.csv'), 'yelp');
    assert.equal(ex.length, 4);
    assert.ok(ex.every((e) => e.label >= 0 && e.label <= 4 && e.text.length > 0));
    const multi = parseYelp5('label,text,id\n4,"Great.\nReally ""great"".",12\n', 'y');
    assert.deepEqual(multi[0]!.text, 'Great.\nReally "great".');
    formatError(() => parseYelp5('stars,text\n1,x\n', 'y'), 'header');
  });

  test('boolq: question + passage, boolean labels', () => {
    const ex = parseBoolq(readFixture('boolq-dev32-head.jsonl'), 'b');
    assert.equal(ex.length, 3);
    assert.equal(ex[0]!.text, 'can a real image be obtained on a screen');
    assert.ok(ex[0]!.textB!.startsWith('Real image -- '));
    assert.deepEqual(ex[0]!.labelNames, ['false', 'true']);
    formatError(() => parseBoolq('{"question": "q"}\n', 'b'), 'b:1');
    formatError(() => parseBoolq('not json\n', 'b'), 'not valid JSON');
  });

  test('conll04: token/tag lines, blank-line sentences, DOCSTART skipped', () => {
    const s = parseConll(readFixture('conll04-train-head.txt'), 'c');
    assert.equal(s.length, 6);
    assert.deepEqual(s[0]!.tokens.slice(0, 5), ['Newspaper', '`', 'Explains', "'", 'U.S.']);
    assert.deepEqual(s[0]!.tags.slice(0, 5), ['O', 'O', 'O', 'O', 'B-Loc']);
    for (const x of s) {
      assert.equal(x.tokens.length, x.tags.length);
      for (const t of x.tags) assert.ok((CONLL04_TAGS as readonly string[]).includes(t), t);
    }
    assert.deepEqual(tagNamesOf(s).slice(0, 3), ['O', 'B-Loc', 'I-Loc']);
    formatError(() => parseConll('a O\nb c d\n', 'c'), 'c:2');
    formatError(() => parseConll('a X-Foo\n', 'c'), 'BIO tag');
  });

  test('enron: one mail per file, lenient decoding, CR LF normalised', () => {
    const ex = readEnronDir(fixture('enron1'));
    assert.equal(ex.length, 4);
    assert.deepEqual(ex.map((e) => e.label), [0, 0, 1, 1]);
    assert.equal(ex[0]!.text, 'christmas tree farm pictures');
    assert.ok(ex.every((e) => !e.text.includes('\r') && !e.text.startsWith('Subject:')));
    assert.ok(ex[3]!.text.includes('\u00a9'), 'Latin-1 bytes decode to their characters');
    formatError(() => readEnronDir(fixture('nowhere')), 'ham/ and spam/');
  });

  test('decodeLenient', () => {
    assert.equal(decodeLenient(Buffer.from('héllo', 'utf8')), 'héllo');
    assert.equal(decodeLenient(Buffer.from([0x68, 0xe9, 0x6c])), 'hél');
  });
});

describe('registry and errors', () => {
  test('unknown names and splits, wrong kind, missing files', () => {
    assert.ok(datasetNames('text').includes('sst2'));
    assert.deepEqual(datasetNames('ner'), ['conll04']);
    assert.throws(() => readTextDataset('imdb', 'train', '/tmp'), /unknown dataset/);
    assert.throws(() => readTextDataset('sst2', 'test', '/tmp'), /no split "test"/);
    assert.throws(() => readTextDataset('conll04', 'train', '/tmp'), /readNerDataset/);
    const empty = tmpDir('data');
    try {
      formatError(() => readTextDataset('sst2', 'dev', empty), path.join(empty, 'sst2', 'dev.tsv'), 'file not found');
      fs.mkdirSync(path.join(empty, 'conll04'));
      fs.writeFileSync(path.join(empty, 'conll04', 'dev.txt'), 'Paris B-City\n');
      formatError(() => readNerDataset('conll04', 'dev', empty), 'B-City');
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('the real files in shared/data', () => {
  // Row counts and label balances from each dataset's SOURCE.md.
  const expected: [string, string, number, number[]][] = [
    ['sst2', 'train', 67349, [29780, 37569]],
    ['sst2', 'dev', 872, [428, 444]],
    ['sms-spam', 'all', 5574, [4827, 747]],
    ['rte', 'train', 2490, [1249, 1241]],
    ['rte', 'dev', 277, [146, 131]],
    ['ag-news', 'test', 7600, [1900, 1900, 1900, 1900]],
    ['ag-news', 'train', 5000, [1259, 1257, 1281, 1203]],
    ['ag-news', 'train-subset581', 581, [163, 132, 137, 149]],
    ['yelp-5', 'train', 1000, [200, 200, 200, 200, 200]],
    ['boolq', 'val', 3270, [1237, 2033]],
    ['boolq', 'train', 32, [14, 18]],
    ['boolq', 'dev32', 32, [13, 19]],
    ['enron-spam', 'enron1', 5172, [3672, 1500]],
  ];
  for (const [name, split, n, counts] of expected) {
    test(`${name}/${split}`, { skip: NO_DATA }, () => {
      const ds = readTextDataset(name, split, DATA_DIR);
      assert.equal(ds.examples.length, n);
      const got = new Array(counts.length).fill(0);
      for (const e of ds.examples) got[e.label]++;
      assert.deepEqual(got, counts);
      assert.ok(ds.examples.every((e) => e.labelNames === ds.labelNames));
      // enron1 has 16 spam files that are only "Subject: " (kept: they are part of the corpus).
      const empty = ds.examples.filter((e) => e.text.length === 0).length;
      assert.equal(empty, name === 'enron-spam' ? 16 : 0);
    });
  }

  test('conll04 splits', { skip: NO_DATA }, () => {
    const sizes: Record<string, [number, number]> = { train: [922, 26525], dev: [231, 6993], test: [288, 8336] };
    for (const [split, [sents, toks]] of Object.entries(sizes)) {
      const ds = readNerDataset('conll04', split, DATA_DIR);
      assert.equal(ds.sentences.length, sents);
      assert.equal(ds.sentences.reduce((a, s) => a + s.tokens.length, 0), toks);
      const b = ds.sentences.flatMap((s) => s.tags).filter((t) => t === 'B-Loc').length;
      assert.equal(b, { train: 1219, dev: 322, test: 427 }[split]);
    }
  });

  test('every registered split exists', { skip: NO_DATA }, () => {
    for (const spec of Object.values(DATASETS)) for (const rel of Object.values(spec.splits)) {
      assert.ok(fs.existsSync(path.join(DATA_DIR!, rel)), rel);
    }
  });
});
