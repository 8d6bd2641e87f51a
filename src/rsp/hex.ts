// Hex and binary encodings used inside RSP payloads.

const HEX_RE = /^[0-9a-fA-F]+$/;
const ESCAPE = 0x7d; // '}'
const MAX_U64 = (1n << 64n) - 1n;

export function isHex(text: string): boolean {
  return HEX_RE.test(text);
}

/** Lowercase hex of the bytes (strings are taken as UTF-8). */
export function encodeHex(data: Buffer | string): string {
  return (typeof data === 'string' ? Buffer.from(data, 'utf8') : data).toString('hex');
}

/** Bytes of a hex string; undefined on odd length or a non-hex digit. */
export function decodeHex(text: string): Buffer | undefined {
  if (text.length % 2 !== 0 || (text.length > 0 && !HEX_RE.test(text))) return undefined;
  return Buffer.from(text, 'hex');
}

/** Unsigned hex number; undefined if not hex or above max. */
export function parseHexNumber(text: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (!HEX_RE.test(text)) return undefined;
  const v = parseInt(text, 16);
  return v <= max ? v : undefined;
}

/** Hex number that may be written "-1" (thread ids, pids, File-I/O results). */
export function parseSignedHex(text: string): number | undefined {
  if (text.startsWith('-')) {
    const v = parseHexNumber(text.slice(1));
    return v === undefined ? undefined : -v;
  }
  return parseHexNumber(text);
}

/** Unsigned hex address/value of at most `bits` bits. */
export function parseHexBigInt(text: string, bits = 64): bigint | undefined {
  if (!HEX_RE.test(text)) return undefined;
  const v = BigInt('0x' + text);
  return v <= (bits === 64 ? MAX_U64 : (1n << BigInt(bits)) - 1n) ? v : undefined;
}

/** Two lowercase hex digits of the low byte. */
export function hexByte(n: number): string {
  return (n & 0xff).toString(16).padStart(2, '0');
}

/** Minimal lowercase hex of a number; negatives as "-" + magnitude (File-I/O style). */
export function hexNumber(n: number | bigint): string {
  return n < 0 ? '-' + (-n).toString(16) : n.toString(16);
}

/** Little-endian bytes of the low `size` bytes of value (two's complement for negatives). */
export function leBytes(value: bigint, size: number): Buffer {
  const out = Buffer.alloc(size);
  let v = BigInt.asUintN(size * 8, value);
  for (let i = 0; i < size; i++, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}

/** Unsigned value of little-endian bytes. */
export function fromLeBytes(buf: Buffer): bigint {
  let v = 0n;
  for (let i = buf.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(buf[i]);
  return v;
}

/** Register value as gdb wants it in g/p/T packets: target (little-endian) byte order, in hex. */
export function encodeRegister(value: bigint, size: number): string {
  return leBytes(value, size).toString('hex');
}

export function decodeRegister(hex: string): bigint | undefined {
  const bytes = decodeHex(hex);
  return bytes === undefined ? undefined : fromLeBytes(bytes);
}

function mustEscape(b: number): boolean {
  return b === 0x24 || b === 0x23 || b === ESCAPE || b === 0x2a; // $ # } *
}

/** RSP binary escaping: '$', '#', '}' and '*' become '}' followed by byte ^ 0x20. */
export function escapeBinary(data: Buffer): Buffer {
  let extra = 0;
  for (const b of data) if (mustEscape(b)) extra++;
  if (extra === 0) return data;
  const out = Buffer.allocUnsafe(data.length + extra);
  let j = 0;
  for (const b of data) {
    if (mustEscape(b)) {
      out[j++] = ESCAPE;
      out[j++] = b ^ 0x20;
    } else out[j++] = b;
  }
  return out;
}

/** Reverse of escapeBinary (accepts any escaped byte); undefined on a dangling '}'. */
export function unescapeBinary(data: Buffer): Buffer | undefined {
  const first = data.indexOf(ESCAPE);
  if (first < 0) return data;
  const out = Buffer.allocUnsafe(data.length);
  data.copy(out, 0, 0, first);
  let j = first;
  for (let i = first; i < data.length; i++) {
    if (data[i] === ESCAPE) {
      if (++i >= data.length) return undefined;
      out[j++] = data[i] ^ 0x20;
    } else out[j++] = data[i];
  }
  return out.subarray(0, j);
}
