/**
 * JSON from model files is parsed with JSON.parse, which silently keeps the
 * last of two duplicate keys and accepts any nesting. A duplicate tensor name
 * is an ambiguity attack (another reader may pick the other entry), and the
 * shapes we expect are shallow, so both are checked by a cheap linear scan
 * before parsing.
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
 * null: JSON.parse reports that better.
 */
export function checkJsonStructure(text: string, maxDepth: number): string | null {
  const stack: Frame[] = [];
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d === 0x5c /* \ */) j += 2;
        else if (d === 0x22) break;
        else j++;
      }
      if (j >= n) return null;
      const top = stack[stack.length - 1];
      if (top && top.isObject && top.expectKey) {
        let key: string;
        try {
          key = JSON.parse(text.slice(i, j + 1)) as string;
        } catch {
          return null;
        }
        if (top.keys!.has(key)) return `duplicate key ${quote(key)}`;
        top.keys!.add(key);
        top.expectKey = false;
      }
      i = j;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (stack.length >= maxDepth) return `JSON nests deeper than ${maxDepth} levels`;
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

/** Parse JSON text after the structure check; errors come back as one-line strings. */
export function parseGuardedJson(text: string, maxDepth: number): { value: unknown } | { error: string } {
  const problem = checkJsonStructure(text, maxDepth);
  if (problem) return { error: problem };
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (e) {
    return { error: `invalid JSON (${e instanceof Error ? e.message : String(e)})` };
  }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
