import { test } from 'node:test';
import assert from 'node:assert/strict';
import { padBatch } from '../../src/text/batch.js';
import { bertUncasedTokenizer } from '../../src/text/pretrained.js';

test('pads to the longest row with the pad id and a zero mask', () => {
  const tok = bertUncasedTokenizer();
  const encs = [tok.encode('hello'), tok.encode('hello, world!')];
  const b = padBatch(encs, tok.specialIds.pad);
  assert.equal(b.batchSize, 2);
  assert.equal(b.seqLen, 6);
  assert.deepEqual([...b.ids], [101, 7592, 102, 0, 0, 0, 101, 7592, 1010, 2088, 999, 102]);
  assert.deepEqual([...b.attentionMask], [1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
  assert.deepEqual([...b.lengths], [3, 6]);
  assert.equal(padBatch(encs, 0, { padToMultipleOf: 8 }).seqLen, 8);
  assert.equal(padBatch([], 0).seqLen, 0);
});
