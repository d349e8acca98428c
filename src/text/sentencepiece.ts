// SentencePiece models (spiece.model / spm.model) as tokenizer.json objects,
// for ALBERT, XLNet and DeBERTa-v2/v3 directories that ship no tokenizer.json.
// The layout follows what transformers' convert_slow_tokenizer.py builds for
// AlbertConverter, XLNetConverter and DebertaV2Converter, so the result
// encodes as those models' fast tokenizers do and save() writes a
// tokenizer.json Hugging Face loads. Pure data, no file system:
// tokenizer-files.ts reads the file and the configs.
//
// Where the result differs from running sentencepiece itself:
//
//  - Normalisation. @huggingface/tokenizers 0.2 has a Precompiled normalizer,
//    but it ignores the charsmap: it drops control characters, maps a fixed
//    set of space-like characters to a space, and applies NFKC. That is
//    sentencepiece's default nmt_nfkc rule set up to a few rare characters,
//    so real ALBERT/XLNet/DeBERTa models normalise the same for ordinary
//    text (plain ASCII is unaffected either way). A model trained with other
//    rules (nmt_nfkc_cf case folding, a custom TSV, "identity" plus a
//    charsmap) normalises as NFKC here instead. The charsmap is still kept,
//    base64, in the tokenizer.json, so a saved directory carries the real
//    rules for the Python library, which does apply them.
//  - Byte fallback. The converters for these families leave it off (a
//    trainer_spec.byte_fallback model gives <unk> for unknown characters
//    instead of byte pieces), and so does this.
//  - Whitespace. sentencepiece strips and collapses whitespace
//    (remove_extra_whitespaces); the normalizers below collapse runs of
//    spaces as HF does, and TextTokenizer feeds the library one
//    whitespace-separated word at a time anyway.
//
// Only Unigram models are converted: the three families all use Unigram, and
// HF turns a BPE SentencePiece model into merges by a heuristic over the
// scores that we would have to trust blindly.

import {
  type AddedTokenJson,
  type ComponentJson,
  type IdBound,
  type SpecialTokenNames,
  type TokenizerJson,
  DEFAULT_ID_BOUND,
  LIMITS,
  TokenizerFileError,
  checkAddedChars,
  mergeExtraAdded,
  validateTokenizerJson,
} from './tokenizer-spec.js';
import { ModelType, PieceType, type SentencePieceModel, parseSentencePieceModel } from './sentencepiece-proto.js';

export type SentencePieceFamily = 'albert' | 'xlnet' | 'deberta-v2';

export interface SentencePieceFamilyInfo {
  /** The slow tokenizer's default special tokens. unk defaults to the model's own unk piece instead. */
  specials: SpecialTokenNames;
  /** do_lower_case when tokenizer_config.json does not say. */
  lowercase: boolean;
  /** The file name the family's slow tokenizer reads. */
  vocabFile: string;
  /** tokenizer_class values (tokenizer_config.json) that mean this family. */
  tokenizerClasses: readonly string[];
  /** The fast tokenizers make the mask token swallow the space before it ("a [MASK]"). */
  maskLstrip: boolean;
}

export const SENTENCEPIECE_FAMILIES: Record<SentencePieceFamily, SentencePieceFamilyInfo> = {
  albert: {
    specials: { cls: '[CLS]', sep: '[SEP]', pad: '<pad>', mask: '[MASK]', unk: '<unk>' },
    lowercase: true, vocabFile: 'spiece.model', tokenizerClasses: ['AlbertTokenizer', 'AlbertTokenizerFast'], maskLstrip: true,
  },
  xlnet: {
    specials: { cls: '<cls>', sep: '<sep>', pad: '<pad>', mask: '<mask>', unk: '<unk>', bos: '<s>', eos: '</s>' },
    lowercase: false, vocabFile: 'spiece.model', tokenizerClasses: ['XLNetTokenizer', 'XLNetTokenizerFast'], maskLstrip: true,
  },
  'deberta-v2': {
    specials: { cls: '[CLS]', sep: '[SEP]', pad: '[PAD]', mask: '[MASK]', unk: '[UNK]', bos: '[CLS]', eos: '[SEP]' },
    lowercase: false, vocabFile: 'spm.model', tokenizerClasses: ['DebertaV2Tokenizer', 'DebertaV2TokenizerFast'], maskLstrip: false,
  },
};

export const SENTENCEPIECE_FAMILY_NAMES = Object.keys(SENTENCEPIECE_FAMILIES) as SentencePieceFamily[];

export interface SentencePieceBuildOptions {
  family: SentencePieceFamily;
  /** Default: the family's (ALBERT true; XLNet, DeBERTa-v2 false). */
  lowercase?: boolean;
  /** ALBERT/XLNet keep_accents: without it text is NFKD-decomposed and stripped of accents. Default false. */
  keepAccents?: boolean;
  /** DeBERTa-v2 split_by_punct: punctuation becomes words of its own. Default false. */
  splitByPunct?: boolean;
  /** Default: familySpecials(model, family). */
  specials?: SpecialTokenNames;
  /** More added tokens (tokenizer_config.json's added_tokens_decoder). */
  extraAdded?: AddedTokenJson[];
  /** Every id must lie below this (loadModel: the embedding's rows). */
  bound?: IdBound;
}

const SPACE = '\u2581';

/** The family's special-token names, with unk taken from the model's unk piece. */
export function familySpecials(model: SentencePieceModel, family: SentencePieceFamily): SpecialTokenNames {
  const unk = model.pieces[model.unkId]?.piece;
  return { ...SENTENCEPIECE_FAMILIES[family].specials, ...(unk !== undefined ? { unk } : {}) };
}

/**
 * The tokenizer.json HF's converter would build for this SentencePiece model
 * (raw file bytes, or a model parseSentencePieceModel returned), validated.
 */
export function sentencePieceTokenizerJson(source: Uint8Array | SentencePieceModel, file: string, o: SentencePieceBuildOptions): TokenizerJson {
  const model = source instanceof Uint8Array ? parseSentencePieceModel(source, file) : source;
  const family = SENTENCEPIECE_FAMILIES[o.family];
  checkModelType(model, file);
  if (!(model.unkId >= 0 && model.unkId < model.pieces.length)) {
    throw new TokenizerFileError(file, `trainer_spec.unk_id ${model.unkId} is not a piece id (the model has ${model.pieces.length} pieces)`);
  }
  const specials = o.specials ?? familySpecials(model, o.family);
  const added = addedTokens(model, specials, family.maskLstrip, file);
  mergeExtraAdded(added, o.extraAdded);
  const idOf = (name: string): number => added.find((a) => a.content === name)!.id;

  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: normalizer(model, o),
    pre_tokenizer: preTokenizer(model, o),
    post_processor: postProcessor(o.family, specials, idOf),
    decoder: metaspace(model),
    model: {
      type: 'Unigram',
      unk_id: model.unkId,
      vocab: vocabWithScores(model, o.family),
      byte_fallback: false,
    },
  };
  return validateTokenizerJson(json, file, o.bound ?? DEFAULT_ID_BOUND);
}

function checkModelType(model: SentencePieceModel, file: string): void {
  if (model.modelType === ModelType.UNIGRAM) return;
  const names: Record<number, string> = { [ModelType.BPE]: 'BPE', [ModelType.WORD]: 'word', [ModelType.CHAR]: 'character' };
  const name = names[model.modelType];
  throw new TokenizerFileError(file, name
    ? `is a ${name} SentencePiece model (trainer_spec.model_type ${model.modelType}); only Unigram models are supported`
    : `trainer_spec.model_type ${model.modelType} is not a SentencePiece model type (1 to 4)`);
}

/**
 * Scores as HF's ALBERT and XLNet converters set them: a piece ending in a
 * digit and a comma ("▁9,") loses 100, because the slow tokenizers re-split
 * such pieces and the fast ones imitate that by never choosing them.
 */
function vocabWithScores(model: SentencePieceModel, family: SentencePieceFamily): [string, number][] {
  const demoteDigitComma = family === 'albert' || family === 'xlnet';
  return model.pieces.map(({ piece, score }) => {
    if (demoteDigitComma && piece.endsWith(',')) {
      const chars = Array.from(piece);
      if (chars.length >= 2 && /^\p{Nd}$/u.test(chars[chars.length - 2]!)) return [piece, score - 100];
    }
    return [piece, score];
  });
}

/**
 * Control and user-defined pieces become added tokens (matched before the
 * model sees the text, never normalised), as in HF's converters; control
 * pieces and the special tokens are "special". Special tokens missing from
 * the pieces are appended after the last id, as HF's slow tokenizers do.
 */
function addedTokens(model: SentencePieceModel, s: SpecialTokenNames, maskLstrip: boolean, file: string): AddedTokenJson[] {
  const names = new Set([s.pad, s.unk, s.cls, s.sep, s.mask, s.bos, s.eos].filter((n): n is string => n !== undefined));
  const token = (id: number, content: string, special: boolean): AddedTokenJson => ({
    id, content, special, normalized: false, single_word: false, rstrip: false, lstrip: maskLstrip && content === s.mask,
  });
  const out: AddedTokenJson[] = [];
  const ids = new Map<string, number>();
  model.pieces.forEach((p, id) => {
    ids.set(p.piece, id);
    const named = names.has(p.piece);
    if (named || p.type === PieceType.CONTROL || p.type === PieceType.USER_DEFINED) out.push(token(id, p.piece, named || p.type === PieceType.CONTROL));
  });
  let next = model.pieces.length;
  for (const name of names) if (!ids.has(name)) out.push(token(next++, name, true));
  if (out.length > LIMITS.maxAddedTokens) {
    throw new TokenizerFileError(file, `has ${out.length} control and user-defined pieces (limit ${LIMITS.maxAddedTokens})`);
  }
  checkAddedChars(out, file, 'control and user-defined pieces');
  return out;
}

function normalizer(model: SentencePieceModel, o: SentencePieceBuildOptions): ComponentJson {
  const lowercase = o.lowercase ?? SENTENCEPIECE_FAMILIES[o.family].lowercase;
  const list: ComponentJson[] = [];
  if (o.family === 'deberta-v2') {
    if (lowercase) list.push({ type: 'Lowercase' });
    list.push({ type: 'Strip', strip_left: true, strip_right: true });
  } else {
    // The slow ALBERT/XLNet tokenizers turn LaTeX-style quotes into '"'.
    list.push({ type: 'Replace', pattern: { String: '``' }, content: '"' }, { type: 'Replace', pattern: { String: "''" }, content: '"' });
    if (!o.keepAccents) list.push({ type: 'NFKD' }, { type: 'StripAccents' });
    if (lowercase) list.push({ type: 'Lowercase' });
  }
  // An empty charsmap is sentencepiece's identity normalizer; HF adds no Precompiled then.
  if (model.precompiledCharsmap.length > 0) {
    list.push({ type: 'Precompiled', precompiled_charsmap: Buffer.from(model.precompiledCharsmap).toString('base64') });
  }
  list.push({ type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' });
  return { type: 'Sequence', normalizers: list };
}

/** "▁" for spaces, and one before the text when the model adds a dummy prefix (all three families do). */
function metaspace(model: SentencePieceModel): ComponentJson {
  return { type: 'Metaspace', replacement: SPACE, prepend_scheme: model.addDummyPrefix ? 'always' : 'never', split: true };
}

function preTokenizer(model: SentencePieceModel, o: SentencePieceBuildOptions): ComponentJson {
  if (o.family === 'deberta-v2' && o.splitByPunct) {
    return { type: 'Sequence', pretokenizers: [{ type: 'Punctuation', behavior: 'isolated' }, metaspace(model)] };
  }
  return metaspace(model);
}

/**
 * ALBERT and DeBERTa-v2: [CLS] A [SEP] (B [SEP]), types 0 then 1. XLNet puts
 * its specials at the end, A <sep> (B <sep>) <cls>, and gives <cls> type 2.
 */
function postProcessor(family: SentencePieceFamily, s: SpecialTokenNames, idOf: (name: string) => number): ComponentJson {
  const special = (id: string, typeId: number) => ({ SpecialToken: { id, type_id: typeId } });
  const seq = (id: 'A' | 'B', typeId: number) => ({ Sequence: { id, type_id: typeId } });
  const table = (names: string[]) => Object.fromEntries(names.map((n) => [n, { id: n, ids: [idOf(n)], tokens: [n] }]));
  if (family === 'xlnet') {
    return {
      type: 'TemplateProcessing',
      single: [seq('A', 0), special(s.sep, 0), special(s.cls, 2)],
      pair: [seq('A', 0), special(s.sep, 0), seq('B', 1), special(s.sep, 1), special(s.cls, 2)],
      special_tokens: table([s.sep, s.cls]),
    };
  }
  return {
    type: 'TemplateProcessing',
    single: [special(s.cls, 0), seq('A', 0), special(s.sep, 0)],
    pair: [special(s.cls, 0), seq('A', 0), special(s.sep, 0), seq('B', 1), special(s.sep, 1)],
    special_tokens: table([s.cls, s.sep]),
  };
}
