// Constants and header codecs shared by the trace writer and reader.
import { crc32 } from './crc32.js';

export const FORMAT_NAME = 'rewind-trace';
/**
 * 5: threads: a record's tid is the thread it belongs to; a clone event with
 * CLONE_THREAD made a thread of the parent's process; enter events (kind 11) name
 * the order in which the threads of a process ended their runs of user code.
 * 4: the events of every process of the program (clone events, kind 10, where one
 * was created; records carry the pid they belong to); writes that reached the
 * recording's stdout or stderr are marked (syscall flag 4).
 * 3: map-file events name an emulated file and carry the mapped range in pieces;
 * file-data events (kind 9). 2: cpuid events (kind 4).
 */
export const FORMAT_VERSION = 5;
/** meta.json versions this rewind reads: 1 had no cpuid events, 1 and 2 only whole-file map-file events. */
export const FORMAT_VERSIONS_READ: readonly number[] = [1, 2, 3, 4, 5];

export const META_FILE = 'meta.json';
export const END_FILE = 'end.json';
export const EVENTS_FILE = 'events.rwe';
export const FILES_DIR = 'files';
/** files/<sha><PACKED_SUFFIX>: the file brotli-compressed, in a packed trace (src/history/pack.ts) */
export const PACKED_SUFFIX = '.br';

export const EVENTS_MAGIC = Buffer.from('RWNDEVT\0', 'latin1');
export const EVENTS_VERSION = 1;
export const FILE_HEADER_SIZE = 16;

export const CHUNK_MAGIC = 0x4b4e4843; // "CHNK" read as u32 LE
export const CHUNK_HEADER_VERSION = 1;
export const CHUNK_HEADER_SIZE = 40;
export const CODEC_BROTLI = 1;

export interface ChunkHeader {
  magic: number;
  version: number;
  compressedLength: number;
  uncompressedLength: number;
  count: number;
  codec: number;
  firstRecord: number;
  payloadCrc: number;
  headerCrc: number;
}

export function encodeFileHeader(): Buffer {
  const b = Buffer.alloc(FILE_HEADER_SIZE);
  EVENTS_MAGIC.copy(b, 0);
  b.writeUInt32LE(EVENTS_VERSION, 8);
  return b;
}

/** Writes a 40-byte chunk header into `out` at offset 0, computing the header crc. */
export function encodeChunkHeader(out: Buffer, h: Omit<ChunkHeader, 'magic' | 'version' | 'headerCrc'>): void {
  out.writeUInt32LE(CHUNK_MAGIC, 0);
  out.writeUInt32LE(CHUNK_HEADER_VERSION, 4);
  out.writeUInt32LE(h.compressedLength, 8);
  out.writeUInt32LE(h.uncompressedLength, 12);
  out.writeUInt32LE(h.count, 16);
  out.writeUInt32LE(h.codec, 20);
  out.writeBigUInt64LE(BigInt(h.firstRecord), 24);
  out.writeUInt32LE(h.payloadCrc, 32);
  out.writeUInt32LE(crc32(out, 0, 36), 36);
}

export function decodeChunkHeader(b: Buffer): ChunkHeader {
  return {
    magic: b.readUInt32LE(0),
    version: b.readUInt32LE(4),
    compressedLength: b.readUInt32LE(8),
    uncompressedLength: b.readUInt32LE(12),
    count: b.readUInt32LE(16),
    codec: b.readUInt32LE(20),
    firstRecord: Number(b.readBigUInt64LE(24)),
    payloadCrc: b.readUInt32LE(32),
    headerCrc: b.readUInt32LE(36),
  };
}

export const SHA256_RE = /^[0-9a-f]{64}$/;
