import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cleanSentence, cleanSentences, cleanText, decodeEntities, detokenizeWikitext, isHeading, splitSentences,
} from '../../src/text/clean.js';

test('markup and entities are removed, whitespace collapsed', () => {
  assert.equal(cleanText('<p>Hello&nbsp;<b>big</b>\n\n world</p>'), 'Hello big world');
  assert.equal(cleanText('winners<ref name="Winners">by year'), 'winners by year');
  assert.equal(cleanText('AT&amp;T &lt;b&gt;rocks&lt;/b&gt; &#39;99 &#x263A;'), "AT&T rocks '99 ☺");
  assert.equal(decodeEntities('the company#39;s #36;10 million'), "the company's $10 million");
  assert.equal(cleanText('a < b and c > d'), 'a < b and c > d');
  assert.equal(cleanText('<b>x</b>', false), '<b>x</b>');
});

test('headings are recognised', () => {
  assert.ok(isHeading(' = Homarus gammarus = '));
  assert.ok(isHeading(' = = = Life cycle = = = '));
  assert.ok(isHeading('## Section'));
  assert.ok(!isHeading('x = y + z'));
});

test('length filters are configurable', () => {
  assert.equal(cleanSentence('too short'), null);
  assert.equal(cleanSentence('just long enough'), 'just long enough');
  assert.equal(cleanSentence('too short', { minWords: 1 }), 'too short');
  assert.equal(cleanSentence(Array(70).fill('w').join(' ')), null);
  assert.notEqual(cleanSentence(Array(70).fill('w').join(' '), { maxWords: 100 }), null);
  assert.equal(cleanSentence('a b ' + 'x'.repeat(600)), null);
  assert.equal(cleanSentence(' = A heading here = '), null);
  assert.deepEqual(cleanSentences(['one two three', 'one  two three', 'x']), ['one two three']);
  assert.deepEqual(cleanSentences(['one two three', 'one two three'], { dedupe: false }).length, 2);
});

test('WikiText detokenisation', () => {
  assert.equal(
    detokenizeWikitext("the city 's 1 @,@ 000 non @-@ white residents ( 61 @.@ 55 % ) , he did n't"),
    "the city's 1,000 non-white residents (61.55%), he didn't",
  );
});

test('sentence splitting respects abbreviations and initials', () => {
  assert.deepEqual(splitSentences('It is related to the American lobster, H. americanus. It may grow to 60 cm.'), [
    'It is related to the American lobster, H. americanus.',
    'It may grow to 60 cm.',
  ]);
  assert.deepEqual(splitSentences('Mr. Smith went to Washington. He met Dr. Jones in the U.S. Senate! "Really?" Yes.'), [
    'Mr. Smith went to Washington.',
    'He met Dr. Jones in the U.S. Senate!',
    '"Really?"',
    'Yes.',
  ]);
  assert.deepEqual(splitSentences('version 2.0 is out. see e.g. the notes'), ['version 2.0 is out. see e.g. the notes']);
  assert.deepEqual(splitSentences(''), []);
});
