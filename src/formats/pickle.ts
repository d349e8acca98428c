/**
 * A pickle interpreter that builds data and nothing else.
 *
 * Python's unpickler imports whatever module a GLOBAL names and calls whatever
 * REDUCE hands it, which is how a "model file" runs `os.system`. Here GLOBAL
 * goes through the caller's allow-list (`findGlobal`) and anything not on it
 * stops the load at that opcode, naming the global; REDUCE may only call the
 * stand-ins the allow-list returned, which are plain TypeScript functions that
 * build values. Only the opcodes that pickled PyTorch state dicts use are
 * implemented; any other opcode is an error naming it.
 *
 * All reads are bounds-checked, every length comes from the remaining byte
 * count rather than trusted, and the stack, memo and MARK nesting are capped.
 */
import { quote } from './errors.js';

export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}

export class PyList {
  readonly items: PyValue[] = [];
}

export type PyKey = string | number | bigint | boolean | null;

export class PyDict {
  readonly map = new Map<PyKey, PyValue>();
  /** Instance attributes set by BUILD (OrderedDict's `_metadata` in state dicts). */
  attrs: PyDict | null = null;
  constructor(readonly className = 'dict') {}
}

/** An allow-listed global. `call` is set when REDUCE may call it. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
    readonly call?: (args: readonly PyValue[]) => PyValue,
  ) {}
  get qualname(): string {
    return `${this.module}.${this.name}`;
  }
}

/** A value made by the host (a tensor, a storage reference): opaque to the interpreter. */
export class PyHost<T = unknown> {
  constructor(readonly kind: string, readonly value: T) {}
}

export type PyValue = null | boolean | number | bigint | string | PyTuple | PyList | PyDict | PyGlobal | PyHost;

export interface PickleHooks {
  /** Return the stand-in for an allowed global, or undefined to refuse it. */
  findGlobal(module: string, name: string): PyGlobal | undefined;
  /** BINPERSID handler; absent means persistent ids are an error. */
  persistentLoad?(pid: PyValue): PyValue;
}

export interface PickleLimits {
  maxStack: number;
  maxMemo: number;
  maxMarkDepth: number;
}

const DEFAULT_LIMITS: PickleLimits = { maxStack: 1_000_000, maxMemo: 1_000_000, maxMarkDepth: 1_000 };

export type PickleErrorKind = 'forbidden-global' | 'unsupported' | 'malformed';

export class PickleError extends Error {
  constructor(readonly kind: PickleErrorKind, message: string, readonly offset: number) {
    super(message);
    this.name = 'PickleError';
  }
}

/** Names of opcodes we do not implement, so the error says what was found. */
const OPCODE_NAMES: Record<number, string> = {
  0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT', 0x4c: 'LONG', 0x50: 'PERSID',
  0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING', 0x56: 'UNICODE', 0x67: 'GET', 0x69: 'INST',
  0x6f: 'OBJ', 0x70: 'PUT', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x8b: 'LONG4',
  0x42: 'BINBYTES', 0x43: 'SHORT_BINBYTES', 0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8', 0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX', 0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER',
  0x98: 'READONLY_BUFFER',
};

const MAX_GLOBAL_LINE = 256;

/**
 * Run the pickle in `data` and return the object it builds. Throws PickleError
 * (message without a file name; the caller adds it).
 */
export function unpickle(data: Uint8Array, hooks: PickleHooks, limits: Partial<PickleLimits> = {}): PyValue {
  const lim = { ...DEFAULT_LIMITS, ...limits };
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const memo = new Map<number, PyValue>();
  const metastack: PyValue[][] = [];
  let stack: PyValue[] = [];
  let depth = 0; // total items across stack and metastack
  let pos = 0;
  let opStart = 0;
  let opName = '';

  const err = (kind: PickleErrorKind, msg: string): never => {
    throw new PickleError(kind, `${msg} (${opName} at byte ${opStart})`, opStart);
  };
  const need = (n: number): void => {
    if (n > data.length - pos) err('malformed', `pickle truncated: needs ${n} more bytes, ${data.length - pos} left`);
  };
  const u8 = (): number => {
    need(1);
    return data[pos++]!;
  };
  const u16 = (): number => {
    need(2);
    const v = view.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const push = (v: PyValue): void => {
    if (depth >= lim.maxStack) err('malformed', `pickle stack exceeds ${lim.maxStack} items`);
    stack.push(v);
    depth++;
  };
  const pop = (): PyValue => {
    if (stack.length === 0) err('malformed', 'pickle stack underflow');
    depth--;
    return stack.pop()!;
  };
  const top = (): PyValue => {
    if (stack.length === 0) err('malformed', 'pickle stack underflow');
    return stack[stack.length - 1]!;
  };
  const popMark = (): PyValue[] => {
    const items = stack;
    const prev = metastack.pop();
    if (prev === undefined) err('malformed', 'pickle has no MARK to pop to');
    stack = prev!;
    depth -= items.length;
    return items;
  };
  const text = (n: number): string => {
    need(n);
    try {
      return utf8.decode(data.subarray(pos, (pos += n)));
    } catch {
      return err('malformed', 'string is not valid UTF-8');
    }
  };
  const line = (): string => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0 || end - pos > MAX_GLOBAL_LINE) err('malformed', 'GLOBAL name is unterminated or too long');
    const s = text(end - pos);
    pos++; // newline
    return s;
  };
  const memoPut = (key: number, v: PyValue): void => {
    if (!memo.has(key) && memo.size >= lim.maxMemo) err('malformed', `pickle memo exceeds ${lim.maxMemo} entries`);
    memo.set(key, v);
  };
  const memoGet = (key: number): PyValue => {
    if (!memo.has(key)) err('malformed', `pickle memo has no entry ${key}`);
    return memo.get(key)!;
  };
  const resolveGlobal = (module: string, name: string): PyGlobal => {
    const g = hooks.findGlobal(module, name);
    if (!g) err('forbidden-global', `pickle references forbidden global ${quote(`${module} ${name}`)}`);
    return g!;
  };
  const setItems = (target: PyValue, items: PyValue[]): void => {
    if (!(target instanceof PyDict)) err('malformed', `cannot set items on ${describe(target)}`);
    if (items.length % 2 !== 0) err('malformed', 'odd number of items for a dict');
    for (let i = 0; i < items.length; i += 2) {
      (target as PyDict).map.set(hashable(items[i]!, err), items[i + 1]!);
    }
  };
  const appendItems = (target: PyValue, items: PyValue[]): void => {
    if (!(target instanceof PyList)) err('malformed', `cannot append to ${describe(target)}`);
    for (const it of items) (target as PyList).items.push(it);
  };

  for (;;) {
    opStart = pos;
    if (pos >= data.length) {
      opName = 'end of data';
      err('malformed', 'pickle ended without STOP');
    }
    const op = data[pos++]!;
    opName = OPCODE_NAMES[op] ?? `opcode 0x${op.toString(16).padStart(2, '0')}`;
    switch (op) {
      case 0x80: { // PROTO
        opName = 'PROTO';
        const proto = u8();
        if (proto > 5) err('unsupported', `pickle protocol ${proto} is not supported`);
        break;
      }
      case 0x95: // FRAME: a buffering hint; frames are not nested, so just check the length
        opName = 'FRAME';
        need(8);
        pos += 8;
        break;
      case 0x2e: { // STOP
        opName = 'STOP';
        if (metastack.length > 0) err('malformed', 'pickle ended with an unclosed MARK');
        if (stack.length !== 1) err('malformed', `pickle ended with ${stack.length} values on the stack, expected 1`);
        return stack[0]!;
      }
      case 0x28: // MARK
        opName = 'MARK';
        if (metastack.length >= lim.maxMarkDepth) err('malformed', `pickle MARKs nest deeper than ${lim.maxMarkDepth}`);
        metastack.push(stack);
        stack = [];
        break;
      case 0x7d: opName = 'EMPTY_DICT'; push(new PyDict()); break;
      case 0x5d: opName = 'EMPTY_LIST'; push(new PyList()); break;
      case 0x29: opName = 'EMPTY_TUPLE'; push(new PyTuple([])); break;
      case 0x64: { // DICT
        opName = 'DICT';
        const items = popMark();
        const d = new PyDict();
        setItems(d, items);
        push(d);
        break;
      }
      case 0x6c: { // LIST
        opName = 'LIST';
        const l = new PyList();
        appendItems(l, popMark());
        push(l);
        break;
      }
      case 0x74: opName = 'TUPLE'; push(new PyTuple(popMark())); break;
      case 0x85: opName = 'TUPLE1'; { const a = pop(); push(new PyTuple([a])); } break;
      case 0x86: opName = 'TUPLE2'; { const b = pop(); const a = pop(); push(new PyTuple([a, b])); } break;
      case 0x87: opName = 'TUPLE3'; { const c = pop(); const b = pop(); const a = pop(); push(new PyTuple([a, b, c])); } break;
      case 0x4e: opName = 'NONE'; push(null); break;
      case 0x88: opName = 'NEWTRUE'; push(true); break;
      case 0x89: opName = 'NEWFALSE'; push(false); break;
      case 0x4b: opName = 'BININT1'; push(u8()); break;
      case 0x4d: opName = 'BININT2'; push(u16()); break;
      case 0x4a: { // BININT
        opName = 'BININT';
        need(4);
        push(view.getInt32(pos, true));
        pos += 4;
        break;
      }
      case 0x8a: { // LONG1
        opName = 'LONG1';
        const n = u8(); // at most 255 bytes, so the bigint stays small
        need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[pos + i]!);
        if (n > 0 && data[pos + n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
        pos += n;
        push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: { // BINFLOAT (big-endian, unlike everything else)
        opName = 'BINFLOAT';
        need(8);
        push(view.getFloat64(pos, false));
        pos += 8;
        break;
      }
      case 0x58: opName = 'BINUNICODE'; push(text(u32())); break;
      case 0x8c: opName = 'SHORT_BINUNICODE'; push(text(u8())); break;
      case 0x71: opName = 'BINPUT'; memoPut(u8(), top()); break;
      case 0x72: opName = 'LONG_BINPUT'; memoPut(u32(), top()); break;
      case 0x94: opName = 'MEMOIZE'; memoPut(memo.size, top()); break;
      case 0x68: opName = 'BINGET'; push(memoGet(u8())); break;
      case 0x6a: opName = 'LONG_BINGET'; push(memoGet(u32())); break;
      case 0x73: { // SETITEM
        opName = 'SETITEM';
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: { opName = 'SETITEMS'; const items = popMark(); setItems(top(), items); break; }
      case 0x61: { opName = 'APPEND'; const v = pop(); appendItems(top(), [v]); break; }
      case 0x65: { opName = 'APPENDS'; const items = popMark(); appendItems(top(), items); break; }
      case 0x63: { // GLOBAL
        opName = 'GLOBAL';
        const module = line();
        const name = line();
        push(resolveGlobal(module, name));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        opName = 'STACK_GLOBAL';
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') err('malformed', 'STACK_GLOBAL needs two strings');
        push(resolveGlobal(module as string, name as string));
        break;
      }
      case 0x52: { // REDUCE
        opName = 'REDUCE';
        const args = pop();
        const fn = pop();
        if (!(fn instanceof PyGlobal) || !fn.call) return err('malformed', `${describe(fn)} is not callable`);
        if (!(args instanceof PyTuple)) return err('malformed', `arguments to ${fn.qualname} are not a tuple`);
        let result: PyValue;
        try {
          result = fn.call(args.items);
        } catch (e) {
          if (e instanceof PickleError) throw e;
          return err('malformed', `${fn.qualname}: ${e instanceof Error ? e.message : String(e)}`);
        }
        push(result);
        break;
      }
      case 0x62: { // BUILD
        opName = 'BUILD';
        const state = pop();
        build(top(), state, err);
        break;
      }
      case 0x51: { // BINPERSID
        opName = 'BINPERSID';
        const pid = pop();
        if (!hooks.persistentLoad) err('unsupported', 'pickle uses persistent ids, which this file type does not allow');
        try {
          push(hooks.persistentLoad!(pid));
        } catch (e) {
          if (e instanceof PickleError) throw e;
          err('malformed', e instanceof Error ? e.message : String(e));
        }
        break;
      }
      default:
        throw new PickleError('unsupported',
          `unsupported pickle opcode ${OPCODE_NAMES[op] ?? 'unknown'} (0x${op.toString(16).padStart(2, '0')}) at byte ${opStart}`, opStart);
    }
  }
}

function hashable(k: PyValue, err: (kind: PickleErrorKind, msg: string) => never): PyKey {
  if (k === null || typeof k === 'string' || typeof k === 'number' || typeof k === 'bigint' || typeof k === 'boolean') return k;
  return err('malformed', `unsupported dict key ${describe(k)}`);
}

/** BUILD sets instance state; only plain attribute dicts on dict-like objects are meaningful here. */
function build(target: PyValue, state: PyValue, err: (kind: PickleErrorKind, msg: string) => never): void {
  if (!(target instanceof PyDict)) {
    err('unsupported', `BUILD on ${describe(target)} is not supported`);
    return;
  }
  let attrs: PyValue = state;
  // (state, slotstate) form: either half may be None.
  if (state instanceof PyTuple && state.items.length === 2) {
    const [a, b] = state.items;
    if (a !== null && !(a instanceof PyDict)) err('unsupported', 'BUILD state is not a dict');
    if (b !== null && !(b instanceof PyDict)) err('unsupported', 'BUILD slot state is not a dict');
    attrs = new PyDict();
    for (const part of [a, b]) {
      if (part instanceof PyDict) for (const [k, v] of part.map) attrs.map.set(k, v);
    }
  }
  if (attrs === null) return;
  if (!(attrs instanceof PyDict)) {
    err('unsupported', `BUILD state ${describe(attrs)} is not a dict`);
    return;
  }
  if (!target.attrs) target.attrs = new PyDict();
  for (const [k, v] of attrs.map) target.attrs.map.set(k, v);
}

/** Short description of a value for error messages. */
export function describe(v: PyValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'None';
  if (typeof v === 'string') return `string ${quote(v, 60)}`;
  if (typeof v === 'number' || typeof v === 'bigint') return `number ${v}`;
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (v instanceof PyTuple) return `tuple of ${v.items.length}`;
  if (v instanceof PyList) return `list of ${v.items.length}`;
  if (v instanceof PyDict) return v.className;
  if (v instanceof PyGlobal) return v.qualname;
  return v.kind;
}
