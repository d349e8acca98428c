// A reader for SentencePiece model files (spiece.model, spm.model): a
// serialized protobuf `sentencepiece.ModelProto`.
//
// Hand-written rather than a protobuf library: the file comes from strangers
// and we need only a handful of fields, while a general protobuf decoder
// accepts whatever nesting, sizes and repetitions the bytes describe and
// keeps unknown fields in memory. This reader descends only into the three
// messages it knows (pieces, trainer_spec, normalizer_spec), skips every
// other field by its wire type without looking inside, and checks every
// length prefix against the bytes that remain, every varint against the
// 10-byte maximum, and the piece count and sizes against fixed limits. It
// rejects what protobuf itself would tolerate but a real model never holds:
// groups, a known field with another wire type, duplicate or empty pieces,
// scores that are not finite, piece types it does not know. Every failure is
// one TokenizerFileError naming the file.
//
// Field numbers are those of sentencepiece_model.proto.

import { bytesText, quote } from '../formats/errors.js';
import { LIMITS, TokenizerFileError } from './tokenizer-spec.js';

export const SENTENCEPIECE_LIMITS = {
  /** Real models are under 5 MB (a 250k-piece vocabulary is ~5 MB). */
  maxFileBytes: 64 * 1024 * 1024,
  maxPieces: LIMITS.maxVocab,
  /** UTF-8 bytes of one piece; real pieces are a few dozen bytes. */
  maxPieceBytes: 4 * LIMITS.maxTokenChars,
  /** The default nmt_nfkc charsmap is about 240 KB. */
  maxCharsmapBytes: 8 * 1024 * 1024,
} as const;

/** SentencePiece.Type */
export const PieceType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;
export type PieceType = (typeof PieceType)[keyof typeof PieceType];

/** TrainerSpec.ModelType */
export const ModelType = { UNIGRAM: 1, BPE: 2, WORD: 3, CHAR: 4 } as const;

export interface SentencePiece {
  piece: string;
  score: number;
  type: PieceType;
}

/** The parts of a ModelProto a tokenizer needs, with the proto's defaults filled in. */
export interface SentencePieceModel {
  pieces: SentencePiece[];
  /** trainer_spec.model_type (1 Unigram, 2 BPE, 3 Word, 4 Char). */
  modelType: number;
  unkId: number;
  bosId: number;
  eosId: number;
  padId: number;
  byteFallback: boolean;
  /** normalizer_spec.name, e.g. "nmt_nfkc"; "" when absent. */
  normalizerName: string;
  /** normalizer_spec.precompiled_charsmap; empty for the identity normalizer. */
  precompiledCharsmap: Uint8Array;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
}

const WIRE = { VARINT: 0, I64: 1, LEN: 2, I32: 5 } as const;
const WIRE_NAMES = ['varint', '64-bit', 'length-delimited', 'group start', 'group end', '32-bit', 'reserved 6', 'reserved 7'];
const MAX_VARINT_BYTES = 10;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads one message: bytes [pos, end) of `buf`; `where` names it in messages ("pieces[3]"). */
class ProtoReader {
  pos: number;

  constructor(
    private readonly buf: Uint8Array,
    start: number,
    private readonly end: number,
    private readonly file: string,
    readonly where: string,
  ) {
    this.pos = start;
  }

  fail(problem: string): never {
    throw new TokenizerFileError(this.file, `${this.where}: ${problem}`);
  }

  done(): boolean {
    return this.pos >= this.end;
  }

  /**
   * A varint as its low 32 bits (int32/enum/bool/tag fields) and its value as
   * a double (exact up to 2^53; lengths are checked against the bytes left,
   * so a larger one is an error anyway).
   */
  varint(): { low32: number; value: number } {
    const at = this.pos;
    let low = 0;
    let value = 0;
    let scale = 1;
    for (let i = 0; ; i++) {
      if (i === MAX_VARINT_BYTES) this.fail(`varint at byte ${at} is longer than ${MAX_VARINT_BYTES} bytes`);
      if (this.pos >= this.end) this.fail(`truncated: varint at byte ${at} runs past the end`);
      const b = this.buf[this.pos++]!;
      // Shifts past bit 31 drop the high bits, which is what int32 fields keep.
      if (i < 5) low |= (b & 0x7f) << (7 * i);
      value += (b & 0x7f) * scale;
      scale *= 128;
      if ((b & 0x80) === 0) break;
    }
    return { low32: low >>> 0, value };
  }

  tag(): { field: number; wire: number; at: number } {
    const at = this.pos;
    const { value } = this.varint();
    const field = Math.floor(value / 8);
    // Field numbers are 1 .. 2^29 - 1.
    if (field < 1 || field >= 2 ** 29) this.fail(`invalid field number ${field} at byte ${at}`);
    return { field, wire: value % 8, at };
  }

  /** The extent of a length-delimited field's payload; the reader moves past it. */
  lengthDelimited(what: string): { start: number; end: number } {
    const at = this.pos;
    const { value } = this.varint();
    const left = this.end - this.pos;
    if (value > left) this.fail(`truncated: ${what} at byte ${at} says ${bytesText(value)} but only ${bytesText(left)} remain`);
    const start = this.pos;
    this.pos += value;
    return { start, end: this.pos };
  }

  bytes(what: string): Uint8Array {
    const { start, end } = this.lengthDelimited(what);
    return this.buf.subarray(start, end);
  }

  message(where: string): ProtoReader {
    const { start, end } = this.lengthDelimited(where);
    return new ProtoReader(this.buf, start, end, this.file, where);
  }

  string(what: string, maxBytes: number): string {
    const b = this.bytes(what);
    if (b.length > maxBytes) this.fail(`${what} is ${bytesText(b.length)} long (limit ${bytesText(maxBytes)})`);
    try {
      return utf8.decode(b);
    } catch {
      return this.fail(`${what} is not valid UTF-8`);
    }
  }

  float32(what: string): number {
    if (this.end - this.pos < 4) this.fail(`truncated: ${what} at byte ${this.pos} runs past the end`);
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }

  skip(field: number, wire: number, at: number): void {
    switch (wire) {
      case WIRE.VARINT:
        this.varint();
        return;
      case WIRE.I64:
      case WIRE.I32: {
        const n = wire === WIRE.I64 ? 8 : 4;
        if (this.end - this.pos < n) this.fail(`truncated: field ${field} at byte ${at} runs past the end`);
        this.pos += n;
        return;
      }
      case WIRE.LEN:
        this.lengthDelimited(`field ${field}`);
        return;
      default:
        // Groups (3, 4) are deprecated and absent from sentencepiece's schema; 6 and 7 do not exist.
        this.fail(`field ${field} at byte ${at} has wire type ${wire} (${WIRE_NAMES[wire]}), which a SentencePiece model never uses`);
    }
  }

  expectWire(field: number, wire: number, expected: number, name: string): void {
    if (wire !== expected) {
      this.fail(`${name} (field ${field}) has wire type ${wire} (${WIRE_NAMES[wire]}); expected ${expected} (${WIRE_NAMES[expected]})`);
    }
  }
}

const PIECE_TYPES: ReadonlySet<number> = new Set(Object.values(PieceType));

function readPiece(r: ProtoReader): SentencePiece {
  let piece: string | undefined;
  let score = 0;
  let type: PieceType = PieceType.NORMAL;
  while (!r.done()) {
    const { field, wire, at } = r.tag();
    if (field === 1) {
      r.expectWire(field, wire, WIRE.LEN, 'piece');
      piece = r.string('the piece text', SENTENCEPIECE_LIMITS.maxPieceBytes);
    } else if (field === 2) {
      r.expectWire(field, wire, WIRE.I32, 'score');
      score = r.float32('the score');
      // A NaN or infinite score poisons every Viterbi path through the piece.
      if (!Number.isFinite(score)) r.fail(`score is ${score}; expected a finite number`);
    } else if (field === 3) {
      r.expectWire(field, wire, WIRE.VARINT, 'type');
      const t = r.varint().low32 | 0;
      if (!PIECE_TYPES.has(t)) r.fail(`type ${t} is not a SentencePiece piece type (1 to 6)`);
      type = t as PieceType;
    } else {
      r.skip(field, wire, at);
    }
  }
  if (piece === undefined) r.fail('has no piece text');
  if (piece.length === 0) r.fail('has an empty piece text');
  if (piece.length > LIMITS.maxTokenChars) r.fail(`piece text is longer than ${LIMITS.maxTokenChars} characters`);
  return { piece, score, type };
}

function readTrainerSpec(r: ProtoReader, m: SentencePieceModel): void {
  const int32 = (field: number, wire: number, name: string): number => {
    r.expectWire(field, wire, WIRE.VARINT, name);
    return r.varint().low32 | 0;
  };
  while (!r.done()) {
    const { field, wire, at } = r.tag();
    switch (field) {
      case 3: m.modelType = int32(field, wire, 'model_type'); break;
      case 35: m.byteFallback = int32(field, wire, 'byte_fallback') !== 0; break;
      case 40: m.unkId = int32(field, wire, 'unk_id'); break;
      case 41: m.bosId = int32(field, wire, 'bos_id'); break;
      case 42: m.eosId = int32(field, wire, 'eos_id'); break;
      case 43: m.padId = int32(field, wire, 'pad_id'); break;
      default: r.skip(field, wire, at);
    }
  }
}

function readNormalizerSpec(r: ProtoReader, m: SentencePieceModel): void {
  while (!r.done()) {
    const { field, wire, at } = r.tag();
    switch (field) {
      case 1:
        r.expectWire(field, wire, WIRE.LEN, 'name');
        m.normalizerName = r.string('name', LIMITS.maxTokenChars);
        break;
      case 2: {
        r.expectWire(field, wire, WIRE.LEN, 'precompiled_charsmap');
        const b = r.bytes('precompiled_charsmap');
        if (b.length > SENTENCEPIECE_LIMITS.maxCharsmapBytes) {
          r.fail(`precompiled_charsmap is ${bytesText(b.length)} (limit ${bytesText(SENTENCEPIECE_LIMITS.maxCharsmapBytes)})`);
        }
        m.precompiledCharsmap = b;
        break;
      }
      case 3:
        r.expectWire(field, wire, WIRE.VARINT, 'add_dummy_prefix');
        m.addDummyPrefix = r.varint().value !== 0;
        break;
      case 4:
        r.expectWire(field, wire, WIRE.VARINT, 'remove_extra_whitespaces');
        m.removeExtraWhitespaces = r.varint().value !== 0;
        break;
      default:
        r.skip(field, wire, at);
    }
  }
}

/**
 * Parse a SentencePiece model file. `file` names it in errors. Repeated
 * occurrences of trainer_spec / normalizer_spec merge field by field, as
 * protobuf does.
 */
export function parseSentencePieceModel(bytes: Uint8Array, file: string): SentencePieceModel {
  if (bytes.length === 0) throw new TokenizerFileError(file, 'is empty (0 bytes); expected a SentencePiece model');
  if (bytes.length > SENTENCEPIECE_LIMITS.maxFileBytes) {
    throw new TokenizerFileError(file, `is ${bytesText(bytes.length)}, over the ${bytesText(SENTENCEPIECE_LIMITS.maxFileBytes)} limit for a SentencePiece model`);
  }
  // Defaults from sentencepiece_model.proto.
  const m: SentencePieceModel = {
    pieces: [], modelType: ModelType.UNIGRAM, unkId: 0, bosId: 1, eosId: 2, padId: -1, byteFallback: false,
    normalizerName: '', precompiledCharsmap: new Uint8Array(0), addDummyPrefix: true, removeExtraWhitespaces: true,
  };
  const top = new ProtoReader(bytes, 0, bytes.length, file, 'ModelProto');
  while (!top.done()) {
    const { field, wire, at } = top.tag();
    switch (field) {
      case 1: {
        top.expectWire(field, wire, WIRE.LEN, 'pieces');
        // Counted before the piece is read, so a flood of pieces stops here.
        if (m.pieces.length >= SENTENCEPIECE_LIMITS.maxPieces) top.fail(`more than ${SENTENCEPIECE_LIMITS.maxPieces.toLocaleString('en-US')} pieces`);
        m.pieces.push(readPiece(top.message(`pieces[${m.pieces.length}]`)));
        break;
      }
      case 2:
        top.expectWire(field, wire, WIRE.LEN, 'trainer_spec');
        readTrainerSpec(top.message('trainer_spec'), m);
        break;
      case 3:
        top.expectWire(field, wire, WIRE.LEN, 'normalizer_spec');
        readNormalizerSpec(top.message('normalizer_spec'), m);
        break;
      default:
        top.skip(field, wire, at);
    }
  }
  if (m.pieces.length === 0) throw new TokenizerFileError(file, 'has no pieces; not a SentencePiece model');
  const seen = new Map<string, number>();
  m.pieces.forEach((p, i) => {
    const first = seen.get(p.piece);
    // sentencepiece refuses these too; two ids for one piece would leave the id a text maps to up to the loader.
    if (first !== undefined) throw new TokenizerFileError(file, `pieces[${i}] repeats pieces[${first}] (${quote(p.piece, 40)})`);
    seen.set(p.piece, i);
  });
  return m;
}
