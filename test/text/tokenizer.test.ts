import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bertUncasedTokenizer, robertaGpt2Tokenizer, ROBERTA_GPT2_VOCAB_SIZE } from '../../src/text/pretrained.js';
import { TextTokenizer, type Encoding } from '../../src/text/tokenizer.js';
import * as hfModule from '@huggingface/tokenizers';

// The raw library, to compare against full-text encoding (its .d.ts does not resolve under NodeNext).
const RawTokenizer = (hfModule as unknown as { Tokenizer: new (json: object, config: object) => { encode(s: string): { ids: number[] } } }).Tokenizer;

const bert = bertUncasedTokenizer();
const roberta = robertaGpt2Tokenizer();

const words = (n: number) => Array.from({ length: n }, (_, i) => ['cat', 'dog', 'house', 'tree'][i % 4]).join(' ');

function assertConsistent(e: Encoding): void {
  const n = e.ids.length;
  for (const k of ['tokens', 'attentionMask', 'tokenTypeIds', 'wordIds', 'sequenceIds', 'specialTokensMask'] as const) {
    assert.equal(e[k].length, n, k);
  }
}

describe('bert-base-uncased WordPiece', () => {
  test('vocabulary layout', () => {
    assert.equal(bert.kind, 'wordpiece');
    assert.equal(bert.vocabSize, 30522);
    assert.deepEqual(bert.specialIds, { cls: 101, sep: 102, pad: 0, mask: 103, unk: 100 });
    assert.equal(bert.idToToken(1), '[unused0]');
    assert.equal(bert.idToToken(2015), '##s');
    assert.equal(bert.tokenToId('hello'), 7592);
    assert.equal(bert.tokenToId('no-such-token'), undefined);
  });

  test('known tokenisations', () => {
    const e = bert.encode('Hello, world!');
    assert.deepEqual(e.ids, [101, 7592, 1010, 2088, 999, 102]);
    assert.deepEqual(e.tokens, ['[CLS]', 'hello', ',', 'world', '!', '[SEP]']);
    assert.deepEqual(e.attentionMask, [1, 1, 1, 1, 1, 1]);
    assert.deepEqual(e.tokenTypeIds, [0, 0, 0, 0, 0, 0]);
    assert.deepEqual(e.specialTokensMask, [1, 0, 0, 0, 0, 1]);
    assert.equal(e.truncated, false);
    assertConsistent(e);
    // Greedy longest-match over the real vocabulary: "##ffa" is in it, so it wins over "##ff".
    assert.deepEqual(bert.encode('unaffable').tokens.slice(1, -1), ['una', '##ffa', '##ble']);
    assert.deepEqual(bert.encode('Héllo').tokens.slice(1, -1), ['hello']);
    assert.deepEqual(bert.encode('Héllo WÖRLD').tokens.slice(1, -1), ['hello', 'world']);
  });

  test('pair: [CLS] a [SEP] b [SEP] with type ids 0/1', () => {
    const e = bert.encode('hello world', 'how are you');
    assert.deepEqual(e.ids, [101, 7592, 2088, 102, 2129, 2024, 2017, 102]);
    assert.deepEqual(e.tokenTypeIds, [0, 0, 0, 0, 1, 1, 1, 1]);
    assert.deepEqual(e.wordIds, [null, 0, 1, null, 0, 1, 2, null]);
    assert.deepEqual(e.sequenceIds, [null, 0, 0, null, 1, 1, 1, null]);
    assert.deepEqual(e.specialTokensMask, [1, 0, 0, 1, 0, 0, 0, 1]);
  });

  test('word alignment follows whitespace words, through punctuation and word pieces', () => {
    assert.deepEqual(bert.encode('hello, world').wordIds, [null, 0, 0, 1, null]);
    const e = bert.encode('unaffable is odd');
    assert.deepEqual(e.wordIds, [null, 0, 0, 0, 1, 2, null]);
    assert.deepEqual(bert.encode("it's  fine\n(really)").wordIds, [null, 0, 0, 0, 1, 2, 2, 2, null]);
  });

  test('special tokens typed in the text are recognised and belong to their word', () => {
    const e = bert.encode('the [MASK] is here.');
    assert.deepEqual(e.ids, [101, 1996, 103, 2003, 2182, 1012, 102]);
    assert.deepEqual(e.wordIds, [null, 0, 1, 2, 3, 3, null]);
    assert.equal(e.specialTokensMask[2], 0);
  });

  test('isSpecialOrUnused covers specials and [unused] rows only', () => {
    for (const id of [0, 1, 99, 100, 101, 102, 103, 104, 998]) assert.ok(bert.isSpecialOrUnused(id), `id ${id}`);
    for (const id of [999, 1010, 2015, 7592, 30521]) assert.ok(!bert.isSpecialOrUnused(id), `id ${id}`);
    assert.ok(bert.isSpecialOrUnused(-1) && bert.isSpecialOrUnused(30522));
    const mask = bert.specialOrUnusedMask();
    assert.equal(mask.length, 30522);
    // [PAD], [unused0..993] (994 rows), [UNK], [CLS], [SEP], [MASK]
    assert.equal(mask.reduce((a, b) => a + b, 0), 1 + 994 + 4);
  });

  test('decode', () => {
    assert.equal(bert.decode(bert.encode('Hello, world!').ids), '[CLS] hello, world! [SEP]');
    assert.equal(bert.decode(bert.encode('Hello, world!').ids, { skipSpecialTokens: true }), 'hello, world!');
    assert.equal(bert.decode([]), '');
  });
});

describe('GPT-2 BPE in the RoBERTa layout', () => {
  test('vocabulary layout', () => {
    assert.equal(roberta.kind, 'bpe');
    assert.equal(roberta.vocabSize, ROBERTA_GPT2_VOCAB_SIZE);
    assert.equal(roberta.vocabSize, 50262);
    assert.deepEqual(roberta.specialIds, { cls: 0, sep: 2, pad: 1, mask: 50261, unk: 3 });
    assert.equal(roberta.idToToken(4), '!'); // GPT-2 id 0 + 4
    assert.equal(roberta.tokenToId('<|endoftext|>'), 50260);
    assert.ok(roberta.isSpecialOrUnused(50260));
    assert.ok(!roberta.isSpecialOrUnused(15500));
    assert.equal(roberta.usesTokenTypeIds, false);
  });

  test('"Hello world" is GPT-2 [15496, 995] shifted by 4', () => {
    const e = roberta.encode('Hello world');
    assert.deepEqual(e.ids, [0, 15496 + 4, 995 + 4, 2]);
    assert.deepEqual(e.tokens, ['<s>', 'Hello', 'Ġworld', '</s>']);
    assertConsistent(e);
  });

  test('pair: <s> a </s></s> b </s>, token types all 0', () => {
    const e = roberta.encode('Hello world', 'How are you');
    assert.deepEqual(e.ids, [0, 15500, 999, 2, 2, 2437 + 4, 389 + 4, 345 + 4, 2]);
    assert.deepEqual(e.tokenTypeIds, new Array(9).fill(0));
    assert.deepEqual(e.wordIds, [null, 0, 1, null, null, 0, 1, 2, null]);
    assert.deepEqual(e.sequenceIds, [null, 0, 0, null, null, 1, 1, 1, null]);
  });

  test('word alignment with punctuation and contractions', () => {
    const e = roberta.encode('Hello, world!');
    assert.deepEqual(e.tokens, ['<s>', 'Hello', ',', 'Ġworld', '!', '</s>']);
    assert.deepEqual(e.wordIds, [null, 0, 0, 1, 1, null]);
    assert.deepEqual(roberta.encode("don't stop").wordIds, [null, 0, 0, 1, null]);
  });

  test('<mask> absorbs the space before it', () => {
    const e = roberta.encode('the <mask> is');
    assert.deepEqual(e.ids, [0, 1169 + 4, 50261, 318 + 4, 2]);
  });

  test('decode round-trips text', () => {
    assert.equal(roberta.decode(roberta.encode('Hello, world!').ids, { skipSpecialTokens: true }), 'Hello, world!');
  });

  test('per-word encoding equals full-text encoding of single-spaced text', () => {
    const hf = new RawTokenizer(roberta.toJSON(), {});
    for (const s of ['A man, a plan: a canal -- Panama!', "I'm 42 years old (really?)", 'naïve café 😀 ok', 'x  y']) {
      const single = s.split(/\s+/).join(' ');
      assert.deepEqual(roberta.encode(s, null, { truncation: false }).ids, hf.encode(single).ids, s);
    }
  });
});

describe('placeholders for soft prompts', () => {
  test('before a middle word, at word 0, and at the end', () => {
    const mid = bert.encodeWithPlaceholders('a b c', 1, 3);
    assert.deepEqual(mid.ids, [101, 1037, 0, 0, 0, 1038, 1039, 102]);
    assert.deepEqual(mid.placeholderPositions, [2, 3, 4]);
    assert.deepEqual(mid.wordIds, [null, 0, null, null, null, 1, 2, null]);
    assert.deepEqual(mid.sequenceIds, [null, 0, 0, 0, 0, 0, 0, null]);
    assert.deepEqual(mid.specialTokensMask, [1, 0, 0, 0, 0, 0, 0, 1]);
    assertConsistent(mid);

    const first = bert.encodeWithPlaceholders('a b c', 0, 2);
    assert.deepEqual(first.placeholderPositions, [1, 2]);
    assert.deepEqual(first.ids.slice(3), [1037, 1038, 1039, 102]);

    const end = bert.encodeWithPlaceholders('a b c', 3, 2, { placeholderId: 100 });
    assert.deepEqual(end.ids, [101, 1037, 1038, 1039, 100, 100, 102]);
    assert.deepEqual(end.placeholderPositions, [4, 5]);

    const none = bert.encodeWithPlaceholders('', 0, 2);
    assert.deepEqual(none.ids, [101, 0, 0, 102]);
    assert.throws(() => bert.encodeWithPlaceholders('a b c', 4, 1), RangeError);
    assert.throws(() => bert.encodeWithPlaceholders('a b c', -1, 1), RangeError);
  });

  test('multi-piece words stay whole around the insertion point', () => {
    const e = bert.encodeWithPlaceholders('unaffable people', 1, 2);
    assert.deepEqual(e.tokens.slice(0, 7), ['[CLS]', 'una', '##ffa', '##ble', '[PAD]', '[PAD]', 'people']);
    assert.deepEqual(e.placeholderPositions, [4, 5]);
  });

  test('BPE keeps the leading-space form of the word after the placeholders', () => {
    const e = roberta.encodeWithPlaceholders('Hello world', 1, 2);
    assert.deepEqual(e.ids, [0, 15500, 1, 1, 999, 2]);
    assert.deepEqual(e.placeholderPositions, [2, 3]);
  });

  test('truncation cuts text after the placeholders first', () => {
    const e = bert.encodeWithPlaceholders(words(200), 5, 7, { maxLength: 16 });
    assert.equal(e.ids.length, 16);
    assert.equal(e.truncated, true);
    assert.deepEqual(e.placeholderPositions, [6, 7, 8, 9, 10, 11, 12]);
    assert.equal(e.ids[0], 101);
    assert.equal(e.ids[15], 102);
    assert.deepEqual(e.wordIds.slice(13, 15), [5, 6]);
  });

  test('placeholders beyond maxLength pull the prompt in by cutting words before it', () => {
    const e = bert.encodeWithPlaceholders(words(200), 100, 7, { maxLength: 16 });
    assert.equal(e.ids.length, 16);
    assert.deepEqual(e.placeholderPositions, [8, 9, 10, 11, 12, 13, 14]);
    assert.deepEqual(e.wordIds.slice(1, 8), [0, 1, 2, 3, 4, 5, 6]);
    assert.equal(e.ids[15], 102);
    assert.throws(() => bert.encodeWithPlaceholders('a b', 1, 20, { maxLength: 10 }), RangeError);
  });

  test('with a second sequence the placeholders go into the first', () => {
    const e = bert.encodeWithPlaceholders('a b', 1, 2, { pair: 'c d' });
    assert.deepEqual(e.ids, [101, 1037, 0, 0, 1038, 102, 1039, 1040, 102]);
    assert.deepEqual(e.placeholderPositions, [2, 3]);
    assert.deepEqual(e.tokenTypeIds, [0, 0, 0, 0, 0, 0, 1, 1, 1]);
    const long = bert.encodeWithPlaceholders(words(100), 50, 5, { pair: words(100), maxLength: 40 });
    assert.equal(long.ids.length, 40);
    assert.equal(long.placeholderPositions.length, 5);
  });
});

describe('truncation', () => {
  test('single sequence keeps [CLS] and [SEP]', () => {
    const e = bert.encode(words(300));
    assert.equal(e.ids.length, 128);
    assert.equal(e.ids[0], 101);
    assert.equal(e.ids[127], 102);
    assert.equal(e.truncated, true);
    assert.equal(bert.encode(words(300), null, { truncation: false }).ids.length, 302);
    assert.equal(bert.encode(words(300), null, { maxLength: 10 }).ids.length, 10);
    const r = roberta.encode(words(300), null, { maxLength: 20 });
    assert.equal(r.ids.length, 20);
    assert.deepEqual([r.ids[0], r.ids[19]], [0, 2]);
  });

  test('pairs are cut longest-first, as HF does', () => {
    const count = (e: Encoding, s: 0 | 1) => e.sequenceIds.filter((x) => x === s).length;
    const a = bert.encode(words(100), words(10), { maxLength: 50 });
    assert.equal(a.ids.length, 50);
    assert.deepEqual([count(a, 0), count(a, 1)], [37, 10]);
    const b = bert.encode(words(100), words(80), { maxLength: 51 });
    assert.deepEqual([count(b, 0), count(b, 1)], [24, 24]);
    const c = bert.encode(words(10), words(100), { maxLength: 50 });
    assert.deepEqual([count(c, 0), count(c, 1)], [10, 37]);
  });

  test('addSpecialTokens: false', () => {
    assert.deepEqual(bert.encode('Hello, world!', null, { addSpecialTokens: false }).ids, [7592, 1010, 2088, 999]);
  });

  test('maxLength too small for the special tokens is an error', () => {
    assert.throws(() => bert.encode('a b c', null, { maxLength: 1 }), RangeError);
  });
});

describe('encodeWords', () => {
  test('matches encode on the joined text, and accepts multi-word units', () => {
    assert.deepEqual(bert.encodeWords(['Hello,', 'world!']).ids, bert.encode('Hello, world!').ids);
    assert.deepEqual(roberta.encodeWords(['Hello,', 'world!']).ids, roberta.encode('Hello, world!').ids);
    const e = roberta.encodeWords(['New York', 'city']);
    assert.deepEqual(e.tokens, ['<s>', 'New', 'ĠYork', 'Ġcity', '</s>']);
    assert.deepEqual(e.wordIds, [null, 0, 0, 1, null]);
  });
});

describe('generic tokenizer.json layouts', () => {
  test('a TemplateProcessing post-processor inside a Sequence (modern RoBERTa files)', () => {
    const vocab: Record<string, number> = { '<s>': 0, '<pad>': 1, '</s>': 2, '<unk>': 3, '<mask>': 4, a: 5, b: 6, 'Ġb': 7, 'Ġa': 8, 'Ġ': 9 };
    const tok = TextTokenizer.fromTokenizerJson({
      added_tokens: ['<s>', '<pad>', '</s>', '<unk>', '<mask>'].map((content, id) => ({ id, content, special: true })),
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: {
        type: 'Sequence',
        processors: [
          { type: 'ByteLevel', trim_offsets: false },
          {
            type: 'TemplateProcessing',
            single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
            pair: [
              { SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } },
              { SpecialToken: { id: '</s>', type_id: 0 } }, { Sequence: { id: 'B', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } },
            ],
            special_tokens: { '<s>': { id: '<s>', ids: [0], tokens: ['<s>'] }, '</s>': { id: '</s>', ids: [2], tokens: ['</s>'] } },
          },
        ],
      },
      decoder: { type: 'ByteLevel' },
      model: { type: 'BPE', vocab, merges: ['Ġ a', 'Ġ b'] },
    }, { tokenizer_class: 'RobertaTokenizer' });
    assert.deepEqual(tok.encode('a b', 'b a').ids, [0, 5, 7, 2, 2, 6, 8, 2]);
    assert.deepEqual(tok.encode('a b').wordIds, [null, 0, 1, null]);
    assert.deepEqual(tok.specialIds, { cls: 0, sep: 2, pad: 1, mask: 4, unk: 3 });
  });

  test('a SentencePiece-style Unigram model with a Metaspace pre-tokenizer (ALBERT-like)', () => {
    const vocab = [['<pad>', 0], ['<unk>', 0], ['[CLS]', 0], ['[SEP]', 0], ['[MASK]', 0], ['▁hello', -1], ['▁world', -2], ['▁', -3],
      ['h', -5], ['e', -5], ['l', -5], ['o', -5]];
    const cls = { SpecialToken: { id: '[CLS]', type_id: 0 } };
    const tok = TextTokenizer.fromTokenizerJson({
      added_tokens: ['<pad>', '<unk>', '[CLS]', '[SEP]', '[MASK]'].map((content, id) => ({ id, content, special: true })),
      pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
      post_processor: {
        type: 'TemplateProcessing',
        single: [cls, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
        pair: [cls, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } },
          { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
      },
      decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always' },
      model: { type: 'Unigram', unk_id: 1, vocab },
    }, { pad_token: '<pad>', unk_token: '<unk>', cls_token: '[CLS]', sep_token: '[SEP]', mask_token: '[MASK]' });
    assert.equal(tok.kind, 'unigram');
    assert.deepEqual(tok.specialIds, { cls: 2, sep: 3, pad: 0, mask: 4, unk: 1 });
    const e = tok.encode('hello  world helo', 'world');
    assert.deepEqual(e.tokens, ['[CLS]', '▁hello', '▁world', '▁', 'h', 'e', 'l', 'o', '[SEP]', '▁world', '[SEP]']);
    assert.deepEqual(e.wordIds, [null, 0, 1, 2, 2, 2, 2, 2, null, 0, null]);
    assert.deepEqual(e.tokenTypeIds, [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
  });
});
