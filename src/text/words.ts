// The project's single definition of a "word": a maximal run of non-whitespace
// characters of the original string. The scanner counts insertion positions in
// these units and the trigger remover deletes them, so the tokenizer's word
// alignment must use exactly this split, not the pre-tokenizer's finer
// punctuation split ("hello, world" is two words here).

const WORD_RE = /\S+/gu;

export function splitWords(text: string): string[] {
  return text.match(WORD_RE) ?? [];
}

export function joinWords(words: readonly string[]): string {
  return words.join(' ');
}

export function countWords(text: string): number {
  return splitWords(text).length;
}

/** Insert `inserted` words before word index `at` (0..words.length). */
export function insertWords(words: readonly string[], at: number, inserted: readonly string[]): string[] {
  if (!Number.isInteger(at) || at < 0 || at > words.length) {
    throw new RangeError(`insertWords: index ${at} outside [0, ${words.length}]`);
  }
  return [...words.slice(0, at), ...inserted, ...words.slice(at)];
}

/** Remove `count` words starting at word index `start`. */
export function deleteWords(words: readonly string[], start: number, count: number): string[] {
  if (!Number.isInteger(start) || start < 0 || start > words.length || count < 0) {
    throw new RangeError(`deleteWords: window (${start}, ${count}) outside [0, ${words.length}]`);
  }
  return [...words.slice(0, start), ...words.slice(start + count)];
}
