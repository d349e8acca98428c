// The text layer in one import: tokenizers, sentence corpora, dataset readers
// and the seeded random numbers the rest of the project shares.
export * from './random.js';
export * from './words.js';
export * from './tokenizer-spec.js';
export { readTokenizerDir, type TokenizerConfig } from './tokenizer-files.js';
export * from './tokenizer.js';
export * from './pretrained.js';
export * from './batch.js';
export * from './clean.js';
export * from './data-dir.js';
export * from './datasets.js';
export * from './corpus.js';
