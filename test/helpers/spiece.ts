/**
 * A hand-made XLNet-style spiece.model (protobuf, Unigram) of exactly V
 * pieces, for tests that need XLNet's tokenizer on a small golden model:
 * <unk> 0, <s> 1, </s> 2, control <cls> 3, <sep> 4, <pad> 5, <mask> 6, then
 * ▁w7 … ▁w{V−1}. So "w7 w8 w9" is [7, 8, 9, <sep> 4, <cls> 3], types [0, 0, 0, 0, 2].
 */
import { PieceType } from '../../src/text/sentencepiece-proto.js';

/** Protobuf writers for hand-made spiece.model files (tests only). */
export function varint(n: number | bigint): number[] {
  // Negative int32 values are written as 64-bit two's complement (10 bytes), as protobuf does.
  let v = BigInt.asUintN(64, BigInt(n));
  const out: number[] = [];
  do {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? b | 0x80 : b);
  } while (v > 0n);
  return out;
}
export const tag = (field: number, wire: number) => varint(field * 8 + wire);
export const lenField = (field: number, payload: number[]) => [...tag(field, 2), ...varint(payload.length), ...payload];
export const intField = (field: number, n: number) => [...tag(field, 0), ...varint(n)];
export const utf8 = (s: string) => [...Buffer.from(s, 'utf8')];
export function floatField(field: number, x: number): number[] {
  const b = Buffer.alloc(4);
  b.writeFloatLE(x);
  return [...tag(field, 5), ...b];
}
/** One SentencePiece {piece, score, type} entry of ModelProto's field 1. */
export function piece(text: string, score: number, type: number = PieceType.NORMAL): number[] {
  return lenField(1, [...lenField(1, utf8(text)), ...floatField(2, score), ...intField(3, type)]);
}

export function xlnetSpieceModel(V: number): Uint8Array {
  const parts = [
    piece('<unk>', 0, PieceType.UNKNOWN), piece('<s>', 0, PieceType.CONTROL), piece('</s>', 0, PieceType.CONTROL),
    ...['<cls>', '<sep>', '<pad>', '<mask>'].map((p) => piece(p, 0, PieceType.CONTROL)),
    ...Array.from({ length: V - 7 }, (_, i) => piece(`▁w${i + 7}`, -1 - i * 0.01, PieceType.NORMAL)),
    // trainer_spec: Unigram, unk 0, bos 1, eos 2, pad 5.
    lenField(2, [...intField(3, 1), ...intField(40, 0), ...intField(41, 1), ...intField(42, 2), ...intField(43, 5)]),
  ];
  return new Uint8Array(parts.flat());
}
