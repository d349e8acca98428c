import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unpickle, PickleError, PyDict, PyGlobal, PyList, PyTuple, type PickleHooks, type PyValue } from '../../src/formats/pickle.js';
import { PickleBuilder } from './helpers.js';

const noGlobals: PickleHooks = { findGlobal: () => undefined };
const P = () => new PickleBuilder().proto();

function fails(data: Uint8Array, kind: PickleError['kind'], pattern: RegExp, hooks: PickleHooks = noGlobals, limits = {}): void {
  assert.throws(() => unpickle(data, hooks, limits), (e: unknown) => {
    assert.ok(e instanceof PickleError, String(e));
    assert.equal(e.kind, kind, e.message);
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes('\n'));
    return true;
  });
}

test('builds dicts, lists, tuples, numbers, strings, booleans and None', () => {
  const data = P()
    .emptyDict().put(0)
    .mark()
    .str('list').emptyList().mark().int(1).int(300).int(70000).int(-5).appends().int(2 ** 40).append()
    .shortStr('tuple').mark().none().bool(true).bool(false).float(1.5).tuple()
    .str('t123').int(1).int(2).int(3).tuple3()
    .str('neg').long(-(2n ** 40n))
    .str('big').long(2n ** 63n)
    .str('self').get(0)
    .setitems()
    .stop().toBuffer();
  const v = unpickle(data, noGlobals);
  assert.ok(v instanceof PyDict);
  const list = v.map.get('list');
  assert.ok(list instanceof PyList);
  assert.deepEqual(list.items, [1, 300, 70000, -5, 2 ** 40]);
  const tuple = v.map.get('tuple');
  assert.ok(tuple instanceof PyTuple);
  assert.deepEqual(tuple.items, [null, true, false, 1.5]);
  assert.deepEqual((v.map.get('t123') as PyTuple).items, [1, 2, 3]);
  assert.equal(v.map.get('neg'), -(2 ** 40));
  assert.equal(v.map.get('big'), 2n ** 63n, 'ints past 2^53 stay exact as bigint');
  assert.equal(v.map.get('self'), v, 'memo returns the same object');
});

test('calls only the stand-ins the allow-list returns', () => {
  const calls: PyValue[][] = [];
  const hooks: PickleHooks = {
    findGlobal: (m, n) => (m === 'my' && n === 'fn' ? new PyGlobal(m, n, (args) => { calls.push([...args]); return 'made'; }) : undefined),
  };
  const data = P().global('my', 'fn').mark().int(1).str('x').tuple().reduce().stop().toBuffer();
  assert.equal(unpickle(data, hooks), 'made');
  assert.deepEqual(calls, [[1, 'x']]);
});

test('rejects forbidden globals by name, before anything could be called', () => {
  for (const [m, n] of [['posix', 'system'], ['os', 'system'], ['builtins', 'eval'], ['builtins', 'exec'], ['subprocess', 'Popen'], ['torch', 'load']]) {
    const data = P().global(m!, n!).str('echo pwned').tuple1().reduce().stop().toBuffer();
    fails(data, 'forbidden-global', new RegExp(`forbidden global "${m} ${n}" \\(GLOBAL at byte 2\\)`));
  }
  const viaStack = P().shortStr('builtins').shortStr('eval').stackGlobal().stop().toBuffer();
  fails(viaStack, 'forbidden-global', /forbidden global "builtins eval" \(STACK_GLOBAL/);
});

test('a global that is allowed but not callable cannot be REDUCEd', () => {
  const hooks: PickleHooks = { findGlobal: (m, n) => new PyGlobal(m, n) };
  fails(P().global('torch', 'FloatStorage').emptyTuple().reduce().stop().toBuffer(), 'malformed', /torch\.FloatStorage is not callable/, hooks);
  fails(P().str('x').emptyTuple().reduce().stop().toBuffer(), 'malformed', /string "x" is not callable/);
});

test('rejects truncated pickles', () => {
  const full = P().str('hello').stop().toBuffer();
  fails(full.subarray(0, 6), 'malformed', /pickle truncated: needs 4 more bytes, 3 left \(BINUNICODE at byte 2\)/);
  fails(full.subarray(0, full.length - 1), 'malformed', /pickle ended without STOP/);
  const lying = Buffer.from([0x80, 0x02, 0x58, 0xff, 0xff, 0xff, 0x7f, 0x41, 0x2e]);
  fails(lying, 'malformed', /needs 2147483647 more bytes/);
  fails(Buffer.from([0x80, 0x02, 0x8a, 0x08, 0x01]), 'malformed', /truncated/);
  fails(Buffer.from([0x80, 0x02, 0x63, 0x6f, 0x73]), 'malformed', /GLOBAL name is unterminated/);
});

test('rejects stack underflow and unbalanced MARKs', () => {
  fails(P().tuple2().stop().toBuffer(), 'malformed', /stack underflow \(TUPLE2 at byte 2\)/);
  fails(P().reduce().stop().toBuffer(), 'malformed', /stack underflow \(REDUCE/);
  fails(P().int(1).mark().tuple1().stop().toBuffer(), 'malformed', /stack underflow \(TUPLE1/);
  fails(P().int(1).tuple().stop().toBuffer(), 'malformed', /no MARK to pop to/);
  fails(P().mark().int(1).stop().toBuffer(), 'malformed', /unclosed MARK/);
  fails(P().int(1).int(2).stop().toBuffer(), 'malformed', /ended with 2 values on the stack/);
  fails(P().stop().toBuffer(), 'malformed', /ended with 0 values/);
  fails(P().int(1).setitem().stop().toBuffer(), 'malformed', /stack underflow/);
});

test('rejects bad memo use and caps the memo, stack and MARK depth', () => {
  fails(P().get(5).stop().toBuffer(), 'malformed', /memo has no entry 5 \(BINGET/);
  fails(P().put(0).stop().toBuffer(), 'malformed', /stack underflow \(BINPUT/);
  const many = P().int(1);
  for (let i = 0; i < 20; i++) many.longPut(1000 + i);
  fails(many.stop().toBuffer(), 'malformed', /memo exceeds 10 entries/, noGlobals, { maxMemo: 10 });
  const memoizes = P().int(1);
  for (let i = 0; i < 20; i++) memoizes.memoize();
  fails(memoizes.stop().toBuffer(), 'malformed', /memo exceeds 10 entries \(MEMOIZE/, noGlobals, { maxMemo: 10 });
  const deep = P().emptyList();
  for (let i = 0; i < 50; i++) deep.int(1);
  fails(deep.stop().toBuffer(), 'malformed', /stack exceeds 20 items/, noGlobals, { maxStack: 20 });
  const marks = P();
  for (let i = 0; i < 50; i++) marks.mark();
  fails(marks.stop().toBuffer(), 'malformed', /MARKs nest deeper than 10/, noGlobals, { maxMarkDepth: 10 });
});

test('names unsupported opcodes and protocols', () => {
  fails(P().bytes(0x81).stop().toBuffer(), 'unsupported', /unsupported pickle opcode NEWOBJ \(0x81\) at byte 2/);
  fails(P().bytes(0x69).toBuffer(), 'unsupported', /opcode INST \(0x69\)/);
  fails(P().bytes(0x82, 1).toBuffer(), 'unsupported', /opcode EXT1/);
  fails(P().bytes(0x43, 1, 0).toBuffer(), 'unsupported', /opcode SHORT_BINBYTES/);
  fails(P().bytes(0xff).toBuffer(), 'unsupported', /opcode unknown \(0xff\)/);
  fails(new PickleBuilder().proto(6).stop().toBuffer(), 'unsupported', /protocol 6/);
  fails(P().bytes(0x8b, 1, 0, 0, 0, 1).stop().toBuffer(), 'unsupported', /opcode LONG4/);
});

test('rejects type confusion: setitems on a list, append on a dict, unhashable keys, bad BUILD', () => {
  fails(P().emptyList().mark().int(1).int(2).setitems().stop().toBuffer(), 'malformed', /cannot set items on list/);
  fails(P().emptyDict().int(1).append().stop().toBuffer(), 'malformed', /cannot append to dict/);
  fails(P().emptyDict().emptyList().int(1).setitem().stop().toBuffer(), 'malformed', /unsupported dict key list/);
  fails(P().emptyDict().mark().int(1).setitems().stop().toBuffer(), 'malformed', /odd number of items/);
  fails(P().emptyList().emptyDict().build().stop().toBuffer(), 'unsupported', /BUILD on list/);
  fails(P().emptyDict().int(3).build().stop().toBuffer(), 'unsupported', /BUILD state number 3 is not a dict/);
  fails(P().int(1).binpersid().stop().toBuffer(), 'unsupported', /persistent ids/);
  fails(P().bytes(0x58, 2, 0, 0, 0, 0xc3, 0x28).stop().toBuffer(), 'malformed', /not valid UTF-8/);
});

test('BUILD keeps dict attributes such as OrderedDict._metadata', () => {
  const v = P().emptyDict().emptyDict().str('_metadata').int(1).setitem().build().stop().toBuffer();
  const d = unpickle(v, noGlobals) as PyDict;
  assert.equal(d.attrs?.map.get('_metadata'), 1);
});
