import * as fs from 'node:fs';
import * as path from 'node:path';
import { brotliCompress, sha256Of } from '../native/codecs.js';
import { carryCheckAcrossLink, checkBeforeLink } from './checked-files.js';
import { crc32 } from './crc32.js';
import { TraceError } from './errors.js';
import { copyHashing, FileStore } from './file-store.js';
import {
  CHUNK_HEADER_SIZE, CODEC_BROTLI, END_FILE, EVENTS_FILE, FILES_DIR, FORMAT_NAME, FORMAT_VERSION, META_FILE,
  encodeChunkHeader, encodeFileHeader,
} from './container-format.js';

export const CHUNK_TARGET_BYTES = 256 * 1024;
export const FLUSH_DELAY_MS = 200;

/**
 * The brotli window for data of n bytes: the smallest that spans it (2^lgwin - 16
 * bytes, 2^22 at most, 2^10 at least). Each chunk is a stream of its own, so a larger
 * window finds nothing more; it only costs its memory, set up at every call: 0.25 ms
 * for the few KB of a short recording at 2^22, 0.05 ms at 2^16.
 */
function windowFor(n: number): number {
  let lgwin = 10;
  while (lgwin < 22 && (1 << lgwin) - 16 < n) lgwin++;
  return lgwin;
}
// Quality 4: on recorded event streams about twice as fast as 5 for data-heavy
// chunks (file reads), with nearly the same ratio.
const NORMAL = 4;
// Incompressible data (reads of compressed or random files) costs brotli as much
// time at quality 4 as it saves nothing: such chunks use the fastest quality.
const FAST = 1;
const SAMPLE = 32 * 1024;

function incompressible(data: Buffer): boolean {
  if (data.length < 4 * SAMPLE) return false;
  const mid = data.length >> 1;
  const sample = Buffer.concat([data.subarray(0, SAMPLE), data.subarray(mid, mid + SAMPLE)]);
  return brotliCompress(sample, FAST, windowFor(sample.length)).length > 0.9 * sample.length;
}

export function compressPayload(data: Buffer): Buffer {
  return brotliCompress(data, incompressible(data) ? FAST : NORMAL, windowFor(data.length));
}

let tmpCounter = 0;
function tmpName(target: string): string {
  return `${target}.tmp-${process.pid}-${tmpCounter++}`;
}

function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = tmpName(file);
  fs.writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n');
  fs.renameSync(tmp, file);
}

export class TraceWriter {
  private fd: number;
  private pending = Buffer.allocUnsafe(2 * CHUNK_TARGET_BYTES);
  private pendingBytes = 0;
  private pendingCount = 0;
  /** records appended per tid (the thread event index of a point, src/points/record-point.ts) */
  private readonly perThread = new Map<number, number>();
  private flushedCount = 0;
  private timer: NodeJS.Timeout | null = null;
  private failure: unknown = null;
  private closed = false;
  private readonly filesDir: string;
  /** the machine's file store (undefined: not opened yet; null: none, files are copied) */
  private store: FileStore | null | undefined;

  private constructor(readonly dir: string, store: FileStore | null | undefined) {
    this.filesDir = path.join(dir, FILES_DIR);
    this.store = store;
    this.fd = fs.openSync(path.join(dir, EVENTS_FILE), 'wx');
  }

  /**
   * `opts.fileStore`: where storeImage() keeps mapped files (default: the machine's
   * store, FileStore.open(), opened on first use; null: none, files are copied into
   * the trace).
   */
  static create(dir: string, meta: object, opts: { fileStore?: FileStore | null } = {}): TraceWriter {
    let entries: string[] | null = null;
    try {
      entries = fs.readdirSync(dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR') throw new TraceError('EXISTS', `cannot create trace: ${dir} exists and is not a directory`);
      if (code !== 'ENOENT') throw e;
    }
    if (entries && entries.length > 0) throw new TraceError('EXISTS', `cannot create trace: ${dir} exists and is not empty`);
    fs.mkdirSync(path.join(dir, FILES_DIR), { recursive: true });
    writeJsonAtomic(path.join(dir, META_FILE), { format: FORMAT_NAME, version: FORMAT_VERSION, ...meta });
    const w = new TraceWriter(dir, opts.fileStore);
    fs.writeSync(w.fd, encodeFileHeader());
    return w;
  }

  /** Records appended so far, flushed or not. */
  get eventCount(): number {
    return this.flushedCount + this.pendingCount;
  }

  /** Records of thread (or process) `tid` appended so far: the index of its next one in its own stream. */
  eventsOf(tid: number): number {
    return this.perThread.get(tid) ?? 0;
  }

  /** Appends one or more whole records; each starts with its u32 LE total size. The bytes are copied. */
  append(records: Buffer): void {
    this.check();
    let count = 0;
    const tids: number[] = [];
    for (let off = 0; off < records.length; count++) {
      if (records.length - off < 4) throw new RangeError(`record at byte ${off} is cut short: ${records.length - off} bytes left, a size needs 4`);
      const size = records.readUInt32LE(off);
      if (size < 4) throw new RangeError(`record at byte ${off} has invalid size ${size}`);
      if (off + size > records.length) throw new RangeError(`record at byte ${off} has size ${size} but only ${records.length - off} bytes are left`);
      if (size >= 12) tids.push(records.readUInt32LE(off + 8));
      off += size;
    }
    for (const tid of tids) this.perThread.set(tid, (this.perThread.get(tid) ?? 0) + 1);
    if (count === 0) return;
    if (this.pendingBytes + records.length > this.pending.length) {
      const grown = Buffer.allocUnsafe(Math.max(2 * this.pending.length, this.pendingBytes + records.length));
      this.pending.copy(grown, 0, 0, this.pendingBytes);
      this.pending = grown;
    }
    records.copy(this.pending, this.pendingBytes);
    this.pendingBytes += records.length;
    this.pendingCount += count;
    if (this.pendingBytes >= CHUNK_TARGET_BYTES) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        // An error here has no caller to go to; keep it for the next call.
        try { this.flush(); } catch (e) { this.failure = e; }
      }, FLUSH_DELAY_MS).unref();
    }
  }

  /** Writes buffered records as one chunk. */
  flush(): void {
    this.check();
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    if (this.pendingCount === 0) return;
    const raw = this.pending.subarray(0, this.pendingBytes);
    const payload = compressPayload(raw);
    const chunk = Buffer.allocUnsafe(CHUNK_HEADER_SIZE + payload.length);
    encodeChunkHeader(chunk, {
      compressedLength: payload.length,
      uncompressedLength: raw.length,
      count: this.pendingCount,
      codec: CODEC_BROTLI,
      firstRecord: this.flushedCount,
      payloadCrc: crc32(payload),
    });
    payload.copy(chunk, CHUNK_HEADER_SIZE);
    // One write per chunk, so a killed recorder leaves at most one partial chunk at the end.
    const n = fs.writeSync(this.fd, chunk);
    if (n !== chunk.length) {
      this.failure = new Error(`short write to ${EVENTS_FILE}: ${n} of ${chunk.length} bytes`);
      throw this.failure;
    }
    this.flushedCount += this.pendingCount;
    this.pendingCount = 0;
    this.pendingBytes = 0;
    if (this.pending.length > 2 * CHUNK_TARGET_BYTES) this.pending = Buffer.allocUnsafe(2 * CHUNK_TARGET_BYTES);
  }

  /**
   * Copies a file into files/<sha256> and returns the sha: read once, in pieces,
   * hashed as it is copied (any size; the bytes stored are the bytes hashed). Not
   * remembered by name or mtime: a file can change without its mtime changing
   * (stores through a shared mapping to a page that is already dirty).
   */
  storeFile(file: string): string {
    this.check();
    const tmp = tmpName(path.join(this.filesDir, 'file'));
    let sha: string;
    try {
      sha = copyHashing(file, tmp);
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      throw e;
    }
    const target = path.join(this.filesDir, sha);
    if (fs.existsSync(target)) fs.rmSync(tmp);
    else fs.renameSync(tmp, target);
    return sha;
  }

  /**
   * Stores a mapped image (an executable, a library) whose stat is `st`, through the
   * machine's file store: known there by its identity, it is linked into files/
   * without being read (src/history/file-store.ts). Without a store, storeFile().
   */
  storeImage(file: string, st: fs.BigIntStats): string {
    this.check();
    if (this.store === undefined) this.store = FileStore.open() ?? null;
    if (!this.store) return this.storeFile(file);
    const { sha, copiedAs } = this.store.add(file, st);
    const target = path.join(this.filesDir, sha);
    const checked = checkBeforeLink(sha, this.store.objectPath(sha), copiedAs);
    try {
      this.store.linkInto(sha, target);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      // pruned between add() and the link: stored again
      this.store.linkInto(this.store.add(file, st).sha, target);
    }
    carryCheckAcrossLink(checked, target);
    return sha;
  }

  storeBuffer(buf: Buffer): string {
    this.check();
    const sha = sha256Of(buf);
    const target = path.join(this.filesDir, sha);
    if (!fs.existsSync(target)) {
      const tmp = tmpName(target);
      fs.writeFileSync(tmp, buf);
      fs.renameSync(tmp, target);
    }
    return sha;
  }

  /** Flushes, writes end.json and closes. Calling it again does nothing. */
  close(end: object = {}): void {
    if (this.closed) return;
    try {
      this.flush();
      writeJsonAtomic(path.join(this.dir, END_FILE), { eventCount: this.eventCount, ...end });
    } finally {
      this.closed = true;
      if (this.timer) clearTimeout(this.timer);
      fs.closeSync(this.fd);
    }
  }

  private check(): void {
    if (this.failure) throw this.failure;
    if (this.closed) throw new Error(`trace writer for ${this.dir} is closed`);
  }
}
