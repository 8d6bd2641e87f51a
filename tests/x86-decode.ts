// Decoding machine code the tests generated (counting stubs, the points' filter) back
// into instructions with iced-x86, to check what it does.
import { Decoder, DecoderOptions, type Instruction } from 'iced-x86';

/** Every instruction of `bytes`, decoded as 64-bit code at address `ip`. */
export function decodeAll(bytes: Uint8Array, ip: bigint): Instruction[] {
  const d = new Decoder(64, bytes, DecoderOptions.None);
  d.ip = ip;
  const out = d.decodeAll();
  d.free();
  return out;
}
