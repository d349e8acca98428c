// nlp-corpus ships no type declarations; this is the part of its API we use.
declare module 'nlp-corpus' {
  /** Every sentence of the corpus (reads all of its JSON files). */
  export function all(): string[];
  /** The first `max` sentences. */
  export function some(max?: number): string[];
  const corpus: { all: typeof all; some: typeof some };
  export default corpus;
}
