/** Adapts a loaded Hugging Face model to the scanner's small ScanTarget interface. */
import { noGrad } from '../engine/index.js';
import { backboneOf } from '../models/backbone.js';
import type { LoadedModel } from '../models/model.js';
import { summaryPosition } from '../models/summary.js';
import { countWords } from '../text/words.js';
import type { ScanTarget } from './target.js';

export function scanTargetOf(model: LoadedModel): ScanTarget {
  const tok = model.tokenizer;
  if (!tok) throw new Error('the model has no tokenizer; the scanner needs one to place soft prompts');
  const enc = model.encoder;
  const ids = tok.specialIds;
  const vocabSize = enc.wordEmbeddings.shape[0];
  if (tok.vocabSize > vocabSize) {
    throw new Error(`tokenizer has ${tok.vocabSize} tokens but the embedding matrix only ${vocabSize} rows`);
  }
  // The encoder runs frozen: no parameter may ask for gradients here.
  enc.setTrainable(false);
  const backbone = backboneOf(enc);
  return {
    modelHash: model.hash,
    hidden: enc.hidden,
    vocabSize,
    wordEmbeddings: enc.wordEmbeddings,
    specialIds: { cls: ids.cls, sep: ids.sep, pad: ids.pad, mask: ids.mask >= 0 ? ids.mask : null, unk: ids.unk },
    isSpecialOrUnused: (id) => id >= tok.vocabSize || tok.isSpecialOrUnused(id),
    tokenString: (id) => tok.idToToken(id) ?? `#${id}`,
    wordCount: countWords,
    summaryPosition: (length) => summaryPosition(model.config, length),
    encodeWithPlaceholders(text, insertAtWord, count, maxLen) {
      // Placeholders carry [UNK], not [PAD]: RoBERTa numbers positions by skipping pad ids.
      const e = tok.encodeWithPlaceholders(text, insertAtWord, count, { maxLength: maxLen, placeholderId: ids.unk });
      const wordStarts: number[] = [];
      let prev: number | null = null;
      e.wordIds.forEach((w, i) => {
        if (w !== null && w !== prev && e.sequenceIds[i] === 0) wordStarts.push(i);
        prev = w;
      });
      return { ids: e.ids, placeholderPositions: e.placeholderPositions, wordStarts };
    },
    embedIds: (tokenIds, batch, seqLen) => noGrad(() => backbone.embedIds(tokenIds, batch, seqLen)),
    forward: backbone.forward,
  };
}
