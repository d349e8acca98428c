/**
 * How training and mining batches are drawn, the same three choices for
 * every command: `length` groups sentences of similar length (batches in a
 * seeded random order; about half the padding), `random` draws seeded
 * random batches, `input` takes consecutive sentences in input order.
 */
export const BATCH_ORDERS = ['length', 'random', 'input'] as const;
export type BatchOrder = (typeof BATCH_ORDERS)[number];
