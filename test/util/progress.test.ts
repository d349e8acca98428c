/** The progress line's own arithmetic: the time left is measured on this run's work only, and never printed as infinity. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { duration, secondsLeft } from '../../src/util/progress.js';

test('duration: seconds, minutes, hours; an unknown time is a dash, not "NFs"', () => {
  assert.equal(duration(42.4), '42s');
  assert.equal(duration(185), '3m05s');
  assert.equal(duration(3725), '1h02m');
  assert.equal(duration(Infinity), '—');
  assert.equal(duration(NaN), '—');
});

test('secondsLeft: none before any work, and a resumed run is timed on its own loops', () => {
  assert.equal(secondsLeft(0, 30, 0, 10), null, 'nothing done yet');
  assert.equal(secondsLeft(5, 30, 0, 0.5), null, 'too early to tell');
  assert.equal(secondsLeft(10, 30, 0, 100), 200);
  // 20 loops came from the journal; 2 done here in 60 s: 8 left at 30 s each.
  assert.equal(secondsLeft(22, 30, 20, 60), 240);
  assert.equal(secondsLeft(20, 30, 20, 60), null, 'the journaled loops are not this run\'s rate');
  assert.equal(secondsLeft(30, 30, 0, 50), 0);
});
