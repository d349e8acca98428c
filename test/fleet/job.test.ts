/** The job a worker takes off a shared queue: what it accepts, what it refuses, and how errors are kept. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkJobData, jobIdFor, LIMITS, oneLineError } from '../../src/fleet/job.js';

const good = { v: 1, model: '/m/a', sha256: 'c'.repeat(64), modes: ['cls', 'mask'], loops: 30, scan: { sentenceCount: 200, epochs: 2 }, enqueuedAt: 5 };

test('a well-formed job passes with only its known fields', () => {
  assert.deepEqual(checkJobData({ ...good, extra: 'ignored', scan: { ...good.scan, evil: 1 } }), { ...good });
});

test('malformed jobs are refused with one line naming the field', () => {
  const cases: [unknown, RegExp][] = [
    [null, /not an object/],
    [[1], /not an object/],
    [{ ...good, v: 2 }, /unknown version 2/],
    [{ ...good, model: 'relative' }, /absolute path/],
    [{ ...good, model: '/a\0b' }, /model must be a path/],
    [{ ...good, model: `/${'x'.repeat(LIMITS.pathChars)}` }, /model must be a path/],
    [{ ...good, sha256: 'xyz' }, /sha256 must be 64 hex digits/],
    [{ ...good, modes: [] }, /modes must be a non-empty list/],
    [{ ...good, modes: ['cls', 'cls'] }, /modes repeat/],
    [{ ...good, modes: ['rm -rf'] }, /mode "rm -rf" is not one of/],
    [{ ...good, loops: 0 }, /loops must be an integer in \[1, 100000\]/],
    [{ ...good, loops: 1.5 }, /loops must be an integer/],
    [{ ...good, scan: { sentencesFile: 'rel.txt' } }, /sentencesFile must be an absolute path/],
    [{ ...good, scan: { batchSize: 1 } }, /scan.batchSize/],
    [{ ...good, model: '/m', scan: { sentencesFile: `/${'y'.repeat(LIMITS.jobBytes)}` } }, /over 16384 bytes/],
  ];
  for (const [raw, re] of cases) {
    assert.throws(() => checkJobData(raw), (e: Error) => re.test(e.message) && e.message.startsWith('malformed job: ') && !e.message.includes('\n'), JSON.stringify(raw).slice(0, 80));
  }
});

test('job ids: the weights\' sha256, or a path-keyed id when they could not be hashed', () => {
  assert.equal(jobIdFor(good.sha256, '/m/a'), good.sha256);
  assert.match(jobIdFor(null, '/m/a'), /^unhashed-[0-9a-f]{32}$/);
  assert.notEqual(jobIdFor(null, '/m/a'), jobIdFor(null, '/m/b'));
});

test('errors are kept as one bounded line', () => {
  assert.equal(oneLineError(new Error('first\n  second')), 'first second');
  const long = oneLineError(new Error('z'.repeat(5000)));
  assert.equal(long.length, LIMITS.errorChars);
  assert.ok(long.endsWith('…'));
  assert.equal(oneLineError(new Error('')), 'unknown error');
});
