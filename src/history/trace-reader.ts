import { checkedBefore, rememberChecked } from './checked-files.js';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { brotliDecompress, sha256, sha256Of } from '../native/codecs.js';
import { ChunkCache } from './chunk-cache.js';
import { crc32 } from './crc32.js';
import { TraceError } from './errors.js';
import {
  CHUNK_HEADER_SIZE, CHUNK_HEADER_VERSION, CHUNK_MAGIC, CODEC_BROTLI, END_FILE, EVENTS_FILE, EVENTS_MAGIC,
  EVENTS_VERSION, FILE_HEADER_SIZE, FILES_DIR, FORMAT_NAME, FORMAT_VERSIONS_READ, META_FILE, SHA256_RE,
  PACKED_SUFFIX, decodeChunkHeader,
} from './container-format.js';
import { FileStore } from './file-store.js';

export interface TraceMeta { format: string; version: number; [key: string]: unknown }
export interface TraceEnd { eventCount: number; [key: string]: unknown }

export interface ChunkInfo {
  firstRecord: number;
  count: number;
  /** Offset of the chunk header in events.rwe; the payload follows it. */
  fileOffset: number;
  compressedLength: number;
  uncompressedLength: number;
}

export interface Chunk {
  firstRecord: number;
  data: Buffer;
  /** Start of each record in data. */
  offsets: number[];
}

export interface Truncation {
  /** Index of the first record that is not readable. */
  atRecord: number;
  /** Bytes after the last complete chunk (0 when end.json alone shows records are missing). */
  bytes: number;
}

const CACHE_BYTES = 64 * 1024 * 1024;

function readJson(file: string): unknown | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new TraceError('CORRUPT', `trace is corrupt: ${file} is not valid JSON`);
  }
}

function readFull(fd: number, buf: Buffer, length: number, position: number): void {
  for (let done = 0; done < length;) {
    const n = fs.readSync(fd, buf, done, length - done, position + done);
    if (n === 0) throw new TraceError('CORRUPT', `trace is corrupt: ${EVENTS_FILE} ended while reading at offset ${position + done}`);
    done += n;
  }
}

function unsupported(what: string, version: unknown, supported: number | readonly number[], where: string): TraceError {
  const reads = typeof supported === 'number' ? `version ${supported}`
    : `versions ${supported.slice(0, -1).join(', ')} and ${supported[supported.length - 1]}`;
  return new TraceError('VERSION', `${what} version ${version} is not supported (this rewind reads ${reads}): ${where}`);
}

const HASH_PIECE = Buffer.allocUnsafe(1 << 20);

let zlibModule: typeof import('node:zlib') | undefined;
/**
 * node:zlib, for decompressing on libuv's thread pool (prefetchChunk): loaded when a
 * replay first prefetches, not at start (it loads all of Node's streams, ~2 ms; the
 * synchronous codecs are src/native/codecs.ts).
 */
function asyncZlib(): typeof import('node:zlib') {
  zlibModule ??= createRequire(import.meta.url)('node:zlib') as typeof import('node:zlib');
  return zlibModule;
}

/**
 * sha256 of a file, read a piece at a time into one buffer: reading cc1 (25 MB)
 * whole into a fresh buffer cost more than hashing it (page faults).
 */
function hashOfFile(file: string): string {
  const h = sha256();
  const fd = fs.openSync(file, 'r');
  try {
    for (let at = 0; ; ) {
      const n = fs.readSync(fd, HASH_PIECE, 0, HASH_PIECE.length, at);
      if (n <= 0) break;
      h.update(HASH_PIECE.subarray(0, n));
      at += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest();
}

export class TraceReader {
  readonly chunks: readonly ChunkInfo[];
  readonly eventCount: number;
  readonly truncated: Truncation | null;
  readonly complete: boolean;
  private readonly cache = new ChunkCache<Chunk>(CACHE_BYTES, (c) => c.data.length + 8 * c.offsets.length);
  private readonly verified = new Set<string>();
  /** chunks being decompressed off the JS thread (prefetchChunk) */
  private readonly pending = new Map<number, Promise<Chunk>>();
  /** checked files that are in files/ unpacked (unpackedFilePath) */
  private readonly unpacked = new Set<string>();
  private fd: number;

  private constructor(readonly dir: string, readonly meta: TraceMeta, readonly end: TraceEnd | null) {
    const eventsPath = path.join(dir, EVENTS_FILE);
    try {
      this.fd = fs.openSync(eventsPath, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new TraceError('MISSING', `trace has no ${EVENTS_FILE}: ${dir}`);
      throw e;
    }
    try {
      const scan = this.scan(eventsPath);
      this.chunks = scan.chunks;
      this.eventCount = scan.eventCount;
      let truncated = scan.truncated;
      if (end && end.eventCount > this.eventCount) truncated ??= { atRecord: this.eventCount, bytes: 0 };
      if (end && end.eventCount < this.eventCount) {
        throw new TraceError('CORRUPT', `trace is corrupt: ${END_FILE} says ${end.eventCount} records but ${EVENTS_FILE} holds ${this.eventCount}`);
      }
      this.truncated = truncated;
      this.complete = end !== null && truncated === null;
    } catch (e) {
      fs.closeSync(this.fd);
      throw e;
    }
  }

  static open(dir: string): TraceReader {
    const metaPath = path.join(dir, META_FILE);
    const meta = readJson(metaPath) as TraceMeta | undefined;
    if (meta === undefined) throw new TraceError('NOT_A_TRACE', `not a rewind trace (no ${META_FILE}): ${dir}`);
    if (typeof meta !== 'object' || meta === null || meta.format !== FORMAT_NAME) {
      throw new TraceError('NOT_A_TRACE', `not a rewind trace (${META_FILE} has no format "${FORMAT_NAME}"): ${dir}`);
    }
    if (!FORMAT_VERSIONS_READ.includes(meta.version)) throw unsupported('trace format', meta.version, FORMAT_VERSIONS_READ, dir);
    const end = readJson(path.join(dir, END_FILE)) as TraceEnd | undefined;
    if (end !== undefined && (typeof end !== 'object' || end === null || !Number.isSafeInteger(end.eventCount) || end.eventCount < 0)) {
      throw new TraceError('CORRUPT', `trace is corrupt: ${END_FILE} has no valid eventCount: ${dir}`);
    }
    return new TraceReader(dir, meta, end ?? null);
  }

  /** Reads every chunk header and payload once to check crcs; nothing is decompressed. */
  private scan(eventsPath: string): { chunks: ChunkInfo[]; eventCount: number; truncated: Truncation | null } {
    const size = fs.fstatSync(this.fd).size;
    const head = Buffer.alloc(FILE_HEADER_SIZE);
    const got = fs.readSync(this.fd, head, 0, FILE_HEADER_SIZE, 0);
    if (got < FILE_HEADER_SIZE) {
      // The writer creates the file and writes its header separately; a kill in between leaves a prefix.
      const n = Math.min(got, EVENTS_MAGIC.length);
      if (head.subarray(0, n).equals(EVENTS_MAGIC.subarray(0, n))) return { chunks: [], eventCount: 0, truncated: { atRecord: 0, bytes: got } };
    }
    if (!head.subarray(0, 8).equals(EVENTS_MAGIC)) throw new TraceError('CORRUPT', `trace is corrupt: ${eventsPath} does not start with the events magic`);
    const version = head.readUInt32LE(8);
    if (version !== EVENTS_VERSION) throw unsupported('events file format', version, EVENTS_VERSION, eventsPath);

    const chunks: ChunkInfo[] = [];
    const header = Buffer.alloc(CHUNK_HEADER_SIZE);
    let payload = Buffer.alloc(0);
    let next = 0;
    let off = FILE_HEADER_SIZE;
    while (off < size) {
      const where = `chunk ${chunks.length} at offset ${off}`;
      if (size - off < CHUNK_HEADER_SIZE) return { chunks, eventCount: next, truncated: { atRecord: next, bytes: size - off } };
      readFull(this.fd, header, CHUNK_HEADER_SIZE, off);
      const h = decodeChunkHeader(header);
      if (h.magic !== CHUNK_MAGIC) throw new TraceError('CORRUPT', `trace is corrupt: ${where} (from record ${next}) has a bad chunk magic`);
      if (crc32(header, 0, 36) !== h.headerCrc) throw new TraceError('CORRUPT', `trace is corrupt: ${where} (from record ${next}) fails its header checksum`);
      const range = `records ${h.firstRecord}–${h.firstRecord + h.count - 1}`;
      if (h.version !== CHUNK_HEADER_VERSION) throw unsupported('chunk header', h.version, CHUNK_HEADER_VERSION, `${where} in ${eventsPath}`);
      if (h.codec !== CODEC_BROTLI) throw new TraceError('VERSION', `${where} uses codec ${h.codec}, which this rewind does not read: ${eventsPath}`);
      if (h.firstRecord !== next) throw new TraceError('CORRUPT', `trace is corrupt: ${where} (${range}) does not follow on: expected first record ${next}`);
      if (h.count === 0) throw new TraceError('CORRUPT', `trace is corrupt: ${where} (from record ${next}) holds no records`);
      const end = off + CHUNK_HEADER_SIZE + h.compressedLength;
      if (end > size) return { chunks, eventCount: next, truncated: { atRecord: next, bytes: size - off } };
      if (payload.length < h.compressedLength) payload = Buffer.alloc(h.compressedLength);
      readFull(this.fd, payload, h.compressedLength, off + CHUNK_HEADER_SIZE);
      if (crc32(payload, 0, h.compressedLength) !== h.payloadCrc) throw new TraceError('CORRUPT', `trace is corrupt: ${where} (${range}) fails its checksum`);
      chunks.push({ firstRecord: h.firstRecord, count: h.count, fileOffset: off, compressedLength: h.compressedLength, uncompressedLength: h.uncompressedLength });
      next += h.count;
      off = end;
    }
    return { chunks, eventCount: next, truncated: null };
  }

  readChunk(i: number): Chunk {
    const cached = this.cache.get(i);
    if (cached) return cached;
    const { compressed, fail, info } = this.compressedChunk(i);
    let data: Buffer;
    try {
      data = brotliDecompress(compressed, info.uncompressedLength + 1);
    } catch (e) {
      throw fail(`does not decompress (${(e as Error).message})`);
    }
    return this.decodedChunk(i, data);
  }

  /**
   * Starts decompressing chunk i on libuv's thread pool, so that it is ready when the
   * replay gets there (readChunkAsync takes it): a replay that serves buffered calls
   * in-process spends a fifth of its time decompressing otherwise, while the tracer
   * waits. Does nothing for a chunk cached or under way, or out of range.
   */
  prefetchChunk(i: number): void {
    if (i < 0 || i >= this.chunks.length || this.cache.has(i) || this.pending.has(i)) return;
    let compressed: Buffer, fail: (why: string) => TraceError, info: ChunkInfo;
    try {
      ({ compressed, fail, info } = this.compressedChunk(i));
    } catch {
      return;  // readChunk reports it when the chunk is needed
    }
    const decoded = new Promise<Chunk>((resolve, reject) => {
      // One output buffer for the whole chunk: node's zlib otherwise decompresses 16 KiB
      // at a time, a round trip between the thread pool and this thread each (~20 for a
      // chunk of make's events; the first chunk took 16-37 ms, most of it waiting for
      // this thread, while the replay waited for the chunk).
      const whole = { maxOutputLength: info.uncompressedLength + 1, chunkSize: Math.max(64 * 1024, info.uncompressedLength + 1) };
      asyncZlib().brotliDecompress(compressed, whole, (e, data) => {
        if (e) reject(fail(`does not decompress (${e.message})`));
        else {
          try {
            resolve(this.decodedChunk(i, data));
          } catch (err) {
            reject(err);
          }
        }
      });
    });
    decoded.catch(() => undefined).finally(() => this.pending.delete(i));
    this.pending.set(i, decoded);
  }

  /** readChunk, taking the chunk prefetchChunk started decompressing if there is one. */
  async readChunkAsync(i: number): Promise<Chunk> {
    return this.cache.get(i) ?? (await this.pending.get(i)) ?? this.readChunk(i);
  }

  /** Chunk i's compressed payload, its checksum checked again (the file may have changed since open()). */
  private compressedChunk(i: number): { compressed: Buffer; fail: (why: string) => TraceError; info: ChunkInfo } {
    const info = this.chunks[i];
    if (!info) throw new RangeError(`chunk ${i} out of range (trace has ${this.chunks.length})`);
    const fail = (why: string) => new TraceError('CORRUPT',
      `trace is corrupt: chunk ${i} at offset ${info.fileOffset} (records ${info.firstRecord}–${info.firstRecord + info.count - 1}) ${why}`);
    const raw = Buffer.alloc(CHUNK_HEADER_SIZE + info.compressedLength);
    readFull(this.fd, raw, raw.length, info.fileOffset);
    const compressed = raw.subarray(CHUNK_HEADER_SIZE);
    // brotli's errors say nothing useful about a damaged chunk: the checksum does
    if (crc32(compressed) !== raw.readUInt32LE(32)) throw fail('fails its checksum');
    return { compressed, fail, info };
  }

  /** The records of decompressed chunk i, checked and cached. */
  private decodedChunk(i: number, data: Buffer): Chunk {
    const info = this.chunks[i];
    const fail = (why: string) => new TraceError('CORRUPT',
      `trace is corrupt: chunk ${i} at offset ${info.fileOffset} (records ${info.firstRecord}–${info.firstRecord + info.count - 1}) ${why}`);
    if (data.length !== info.uncompressedLength) throw fail(`decompresses to ${data.length} bytes, not ${info.uncompressedLength}`);
    const offsets: number[] = [];
    let off = 0;
    while (off < data.length && offsets.length < info.count) {
      const size = data.length - off >= 4 ? data.readUInt32LE(off) : 0;
      if (size < 4 || off + size > data.length) throw fail(`has a bad size for record ${info.firstRecord + offsets.length}`);
      offsets.push(off);
      off += size;
    }
    if (offsets.length !== info.count || off !== data.length) throw fail(`holds ${offsets.length} records in ${off} of ${data.length} bytes, not ${info.count}`);
    const chunk = { firstRecord: info.firstRecord, data, offsets };
    this.cache.set(i, chunk);
    return chunk;
  }

  chunkIndexOf(recordIndex: number): number {
    if (!Number.isInteger(recordIndex) || recordIndex < 0 || recordIndex >= this.eventCount) {
      throw new RangeError(`record ${recordIndex} out of range (trace has ${this.eventCount})`);
    }
    let lo = 0;
    let hi = this.chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.chunks[mid].firstRecord <= recordIndex) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  record(index: number): Buffer {
    const chunk = this.readChunk(this.chunkIndexOf(index));
    const j = index - chunk.firstRecord;
    return chunk.data.subarray(chunk.offsets[j], chunk.offsets[j + 1] ?? chunk.data.length);
  }

  *records(from = 0): Generator<{ index: number; record: Buffer }> {
    if (from >= this.eventCount) return;
    for (let i = this.chunkIndexOf(from); i < this.chunks.length; i++) {
      const chunk = this.readChunk(i);
      for (let j = Math.max(0, from - chunk.firstRecord); j < chunk.offsets.length; j++) {
        yield { index: chunk.firstRecord + j, record: chunk.data.subarray(chunk.offsets[j], chunk.offsets[j + 1] ?? chunk.data.length) };
      }
    }
  }

  /**
   * Contents of a stored file, checked against its hash the first time: files/<sha>,
   * or files/<sha>.br in a packed trace (src/history/pack.ts).
   */
  file(sha: string): Buffer {
    const p = this.storedPath(sha);
    let buf: Buffer;
    let links = 1;
    try {
      const fd = fs.openSync(p, 'r');
      try {
        links = fs.fstatSync(fd).nlink;
        buf = fs.readFileSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      buf = this.packedFile(sha);
    }
    if (!this.verified.has(sha)) {
      if (sha256Of(buf) !== sha) {
        // a hard link shared with the machine's file store: changed there, or through another trace
        const shared = links > 1 ? ` (it is one of ${links} hard links to a file shared with the file store and other traces, and was changed in place after it was stored)` : '';
        throw new TraceError('CORRUPT', `trace is corrupt: trace file ${FILES_DIR}/${sha} does not match its hash${shared}: ${this.dir}`);
      }
      this.verified.add(sha);
    }
    return buf;
  }

  /** A file of a packed trace: files/<sha>.br, brotli-compressed. */
  private packedFile(sha: string): Buffer {
    let packed: Buffer;
    try {
      packed = fs.readFileSync(`${this.storedPath(sha)}${PACKED_SUFFIX}`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new TraceError('MISSING', `trace file ${FILES_DIR}/${sha} is missing: ${this.dir}`);
      throw e;
    }
    try {
      return brotliDecompress(packed);
    } catch (e) {
      throw new TraceError('CORRUPT', `trace is corrupt: trace file ${FILES_DIR}/${sha}${PACKED_SUFFIX} does not decompress (${(e as Error).message}): ${this.dir}`);
    }
  }

  /**
   * Path of a stored file, after checking it against its hash. A packed file is
   * unpacked into the machine's file store first (the path is the store's).
   */
  filePath(sha: string): string {
    const buf = this.file(sha);
    const p = this.storedPath(sha);
    if (fs.existsSync(p)) return p;
    const store = FileStore.open();
    if (!store) throw new TraceError('MISSING', `trace file ${FILES_DIR}/${sha} is packed, and there is no file store to unpack it into: ${this.dir}`);
    return store.addContent(buf, sha);
  }

  /**
   * Path of a stored file the trace holds unpacked (files/<sha>, a hard link to the
   * store or its own), checked against its hash the first time; undefined for a
   * packed one. Replay maps these (a replay of make maps cc1, 25 MB, at each exec).
   * A file checked by an earlier replay and unchanged since is not read
   * (checked-files.ts).
   */
  unpackedFilePath(sha: string): string | undefined {
    const p = this.storedPath(sha);
    if (this.unpacked.has(sha)) return p;
    let st: fs.BigIntStats;
    try {
      st = fs.statSync(p, { bigint: true });
    } catch {
      return undefined;
    }
    if (!this.verified.has(sha) && !checkedBefore(sha, st)) {
      if (hashOfFile(p) !== sha) this.file(sha);  // throws the error file() gives
      this.verified.add(sha);
      rememberChecked(sha, st);
    }
    this.unpacked.add(sha);
    return p;
  }

  close(): void {
    if (this.fd < 0) return;
    fs.closeSync(this.fd);
    this.fd = -1;
    this.cache.clear();
  }

  private storedPath(sha: string): string {
    if (typeof sha !== 'string' || !SHA256_RE.test(sha)) throw new TraceError('CORRUPT', `trace is corrupt: ${JSON.stringify(sha)} is not a file hash`);
    return path.join(this.dir, FILES_DIR, sha);
  }
}
