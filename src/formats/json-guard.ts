/**
 * JSON from model files is parsed with JSON.parse, which silently keeps the
 * last of two duplicate keys and accepts any nesting. A duplicate tensor name
 * is an ambiguity attack (another reader may pick the other entry), and the
 * shapes we expect are shallow, so both are checked by a cheap linear scan
 * before parsing; the depth bound also keeps every later recursive walk over
 * the parsed value (ours or a library's) off the end of the call stack.
 *
 * Errors never quote the text: JSON.parse's messages echo a fragment of the
 * file, which for a config.json symlinked to /proc/self/environ would be the
 * user's environment. A syntax error is reported as a byte offset instead.
 */
import { quote } from './errors.js';

interface Frame {
  isObject: boolean;
  expectKey: boolean;
  keys: Set<string> | null;
}

/**
 * Returns a problem description, or null when the text has no duplicate keys
 * and nests at most `maxDepth` containers deep. Malformed JSON also returns
 * null: the syntax check reports that better.
 */
export function checkJsonStructure(text: string, maxDepth: number): string | null {
  const stack: Frame[] = [];
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      let escaped = false;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d === 0x5c /* \ */) {
          escaped = true;
          j += 2;
        } else if (d === 0x22) break;
        else j++;
      }
      if (j >= n) return null;
      const top = stack[stack.length - 1];
      if (top && top.isObject && top.expectKey) {
        let key: string;
        try {
          // Most keys have no escapes; their text is the key.
          key = escaped ? JSON.parse(text.slice(i, j + 1)) as string : text.slice(i + 1, j);
        } catch {
          return null;
        }
        if (top.keys!.has(key)) return `duplicate key ${quote(key)}`;
        top.keys!.add(key);
        top.expectKey = false;
      }
      i = j;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (stack.length >= maxDepth) return `JSON nests deeper than ${maxDepth} levels (at byte ${byteOffset(text, i)})`;
      const isObject = c === 0x7b;
      stack.push({ isObject, expectKey: isObject, keys: isObject ? new Set() : null });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top && top.isObject) top.expectKey = true;
    }
  }
  return null;
}

/**
 * Parse JSON text after the structure check; errors come back as one-line
 * strings that say where the text broke, never what it says. A leading BOM
 * is skipped (and counted in offsets).
 */
export function parseGuardedJson(text: string, maxDepth: number): { value: unknown } | { error: string } {
  const bom = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const body = bom ? text.slice(1) : text;
  const problem = checkJsonStructure(body, maxDepth);
  if (problem) return { error: problem };
  try {
    return { value: JSON.parse(body) as unknown };
  } catch {
    const at = jsonSyntaxErrorIndex(body);
    if (at < 0) return { error: 'invalid JSON' }; // the two parsers disagree: say no more than that
    const where = byteOffset(text, at + bom);
    return { error: at >= body.length ? `invalid JSON: unexpected end of text at byte ${where}` : `invalid JSON at byte ${where}` };
  }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** UTF-8 byte offset of UTF-16 index `i` in `text`. */
function byteOffset(text: string, i: number): number {
  return Buffer.byteLength(text.slice(0, i), 'utf8');
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const HEX4 = /[0-9a-fA-F]{4}/y;

/**
 * Index of the first character at which `s` stops being JSON (RFC 8259), or
 * `s.length` when it ends too early, or -1 when it is valid. Iterative, so
 * nesting cannot exhaust the stack; only run after JSON.parse has failed.
 */
export function jsonSyntaxErrorIndex(s: string): number {
  const n = s.length;
  const closers: number[] = [];
  let i = 0;
  const ws = (): void => {
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return;
    }
  };
  /** At an opening quote; true when the string closes properly. */
  const str = (): boolean => {
    for (i++; i < n;) {
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return true;
      }
      if (c < 0x20) return false;
      if (c !== 0x5c) {
        i++;
        continue;
      }
      const d = s.charCodeAt(i + 1);
      if (d === 0x75 /* u */) {
        HEX4.lastIndex = i + 2;
        if (!HEX4.test(s)) {
          i = Math.min(i + 2, n);
          return false;
        }
        i += 6;
      } else if ('"\\/bfnrt'.includes(s[i + 1] ?? '')) {
        i += 2;
      } else {
        i = Math.min(i + 1, n);
        return false;
      }
    }
    return false;
  };
  let state: 'value' | 'key' | 'after' = 'value';
  for (;;) {
    ws();
    if (state === 'value') {
      if (i >= n) return n;
      const c = s.charCodeAt(i);
      if (c === 0x7b || c === 0x5b) {
        i++;
        ws();
        const close = c === 0x7b ? 0x7d : 0x5d;
        if (s.charCodeAt(i) === close) {
          i++;
          state = 'after';
        } else {
          closers.push(close);
          state = c === 0x7b ? 'key' : 'value';
        }
      } else if (c === 0x22) {
        if (!str()) return i;
        state = 'after';
      } else if (s.startsWith('true', i) || s.startsWith('null', i)) {
        i += 4;
        state = 'after';
      } else if (s.startsWith('false', i)) {
        i += 5;
        state = 'after';
      } else {
        NUMBER.lastIndex = i;
        const m = NUMBER.exec(s);
        if (!m) return i;
        i += m[0].length;
        state = 'after';
      }
    } else if (state === 'key') {
      if (i >= n) return n;
      if (s.charCodeAt(i) !== 0x22 || !str()) return i;
      ws();
      if (i >= n) return n;
      if (s.charCodeAt(i) !== 0x3a /* : */) return i;
      i++;
      state = 'value';
    } else {
      const top = closers[closers.length - 1];
      if (top === undefined) return i < n ? i : -1;
      if (i >= n) return n;
      const c = s.charCodeAt(i);
      if (c === 0x2c) {
        i++;
        state = top === 0x7d ? 'key' : 'value';
      } else if (c === top) {
        closers.pop();
        i++;
      } else {
        return i;
      }
    }
  }
}
