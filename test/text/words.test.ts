import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countWords, deleteWords, insertWords, splitWords } from '../../src/text/words.js';

test('words are whitespace-separated units of the original string', () => {
  assert.deepEqual(splitWords('hello, world'), ['hello,', 'world']);
  assert.deepEqual(splitWords('  a\tb\n\nc  '), ['a', 'b', 'c']);
  assert.deepEqual(splitWords(''), []);
  assert.equal(countWords("don't stop-me now!"), 3);
});

test('insert and delete by word index', () => {
  const w = ['a', 'b', 'c'];
  assert.deepEqual(insertWords(w, 0, ['cf']), ['cf', 'a', 'b', 'c']);
  assert.deepEqual(insertWords(w, 3, ['cf']), ['a', 'b', 'c', 'cf']);
  assert.throws(() => insertWords(w, 4, ['x']), RangeError);
  assert.deepEqual(deleteWords(w, 1, 1), ['a', 'c']);
  assert.deepEqual(deleteWords(w, 1, 5), ['a']);
});
