import { describe, it, expect, afterEach } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import { crc32, TraceError, TraceReader, TraceWriter } from '../../src/history/index.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'rewind-trace-test-'));
  dirs.push(d);
  return d;
}

/** A record: u32 LE total size, then a u32 LE tag, then `extra` bytes of filler. */
function rec(tag: number, extra = 0): Buffer {
  const b = Buffer.alloc(8 + extra);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt32LE(tag, 4);
  for (let i = 0; i < extra; i++) b[8 + i] = (tag * 31 + i) & 0xff;
  return b;
}

/** Quality 4, the window the smallest that spans the data (2^lgwin - 16 bytes), 2^10 to 2^22. */
function brotli(data: Buffer): Buffer {
  const lgwin = Math.min(22, Math.max(10, Math.ceil(Math.log2(data.length + 16))));
  return zlib.brotliCompressSync(data, {
    params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4, [zlib.constants.BROTLI_PARAM_LGWIN]: lgwin },
  });
}

/** A chunk built field by field, independent of the writer. */
function chunkBytes(records: Buffer, count: number, firstRecord: number): Buffer {
  const payload = brotli(records);
  const h = Buffer.alloc(40);
  Buffer.from('43484e4b', 'hex').copy(h, 0); // magic "CHNK"
  h.writeUInt32LE(1, 4);
  h.writeUInt32LE(payload.length, 8);
  h.writeUInt32LE(records.length, 12);
  h.writeUInt32LE(count, 16);
  h.writeUInt32LE(1, 20); // brotli
  h.writeBigUInt64LE(BigInt(firstRecord), 24);
  h.writeUInt32LE(crc32(payload), 32);
  h.writeUInt32LE(crc32(h.subarray(0, 36)), 36);
  return Buffer.concat([h, payload]);
}

function errorOf(fn: () => unknown): TraceError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TraceError);
    return e as TraceError;
  }
  throw new Error('expected a TraceError');
}

/** Writes a trace whose chunks hold the given numbers of records; returns dir and all records. */
function writeTrace(chunkSizes: number[], extra = 20): { dir: string; records: Buffer[] } {
  const dir = path.join(tmp(), 't');
  const w = TraceWriter.create(dir, { program: '/bin/true' });
  const records: Buffer[] = [];
  for (const n of chunkSizes) {
    for (let i = 0; i < n; i++) records.push(rec(records.length, extra + (records.length % 7)));
    w.append(Buffer.concat(records.slice(records.length - n)));
    w.flush();
  }
  w.close({ exitCode: 0 });
  return { dir, records };
}

describe('crc32', () => {
  it('matches the IEEE check values', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(Buffer.alloc(0))).toBe(0);
    expect(crc32(Buffer.from('The quick brown fox jumps over the lazy dog'))).toBe(0x414fa339);
    expect(crc32(Buffer.from('xx123456789yy'), 2, 11)).toBe(0xcbf43926);
  });
});

describe('byte layout', () => {
  it('writes the file header and a one-chunk file exactly', () => {
    const dir = path.join(tmp(), 't');
    const w = TraceWriter.create(dir, { arch: 'x86-64' });
    const records = Buffer.concat([rec(1), rec(2, 5), rec(3, 100)]);
    w.append(records);
    expect(w.eventCount).toBe(3);
    w.close({ exitCode: 7 });

    const fileHeader = Buffer.from('52574e4445565400' + '01000000' + '00000000', 'hex');
    expect(fileHeader.toString('hex')).toBe(Buffer.from('RWNDEVT\0').toString('hex') + '0100000000000000');
    const expected = Buffer.concat([fileHeader, chunkBytes(records, 3, 0)]);
    const actual = fs.readFileSync(path.join(dir, 'events.rwe'));
    expect(actual.toString('hex')).toBe(expected.toString('hex'));
    // Header fields at their documented offsets.
    expect(actual.subarray(16, 24).toString('hex')).toBe('43484e4b01000000');
    expect(actual.readUInt32LE(16 + 12)).toBe(records.length);
    expect(actual.readUInt32LE(16 + 16)).toBe(3);

    expect(JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8'))).toEqual({ format: 'rewind-trace', version: 5, arch: 'x86-64' });
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'end.json'), 'utf8'))).toEqual({ eventCount: 3, exitCode: 7 });
    expect(fs.readdirSync(dir).sort()).toEqual(['end.json', 'events.rwe', 'files', 'meta.json']);
  });

  it('reads a hand-built trace', () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify({ format: 'rewind-trace', version: 1 }));
    const a = Buffer.concat([rec(10), rec(11)]);
    const b = Buffer.concat([rec(12, 3)]);
    fs.writeFileSync(path.join(dir, 'events.rwe'), Buffer.concat([
      Buffer.from('52574e44455654000100000000000000', 'hex'), chunkBytes(a, 2, 0), chunkBytes(b, 1, 2),
    ]));
    const r = TraceReader.open(dir);
    expect(r.eventCount).toBe(3);
    expect(r.complete).toBe(false);
    expect(r.end).toBeNull();
    expect(r.truncated).toBeNull();
    expect(r.chunks.map((c) => [c.firstRecord, c.count, c.fileOffset])).toEqual([[0, 2, 16], [2, 1, 16 + chunkBytes(a, 2, 0).length]]);
    expect(r.record(2).equals(rec(12, 3))).toBe(true);
    r.close();
  });
});

describe('writer', () => {
  it('refuses a non-empty directory and validates records', () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'x'), '');
    expect(errorOf(() => TraceWriter.create(dir, {})).code).toBe('EXISTS');

    const w = TraceWriter.create(path.join(dir, 'sub'), {});
    const bad = rec(1);
    bad.writeUInt32LE(9, 0);
    expect(() => w.append(bad)).toThrow(RangeError);
    expect(() => w.append(Buffer.concat([rec(1), Buffer.from([1, 2])]))).toThrow(RangeError);
    expect(() => w.append(Buffer.from([0, 0, 0, 0]))).toThrow(RangeError);
    expect(w.eventCount).toBe(0);
    w.close({});
    w.close({});
    expect(() => w.append(rec(1))).toThrow(/closed/);
  });

  it('flushes on a timer and when 256 KiB are buffered', async () => {
    const dir = path.join(tmp(), 't');
    const w = TraceWriter.create(dir, {});
    const events = path.join(dir, 'events.rwe');
    w.append(rec(0));
    expect(fs.statSync(events).size).toBe(16);
    await new Promise((res) => setTimeout(res, 400));
    expect(fs.statSync(events).size).toBeGreaterThan(16);

    const big = Buffer.concat(Array.from({ length: 300 }, (_, i) => rec(i + 1, 1000)));
    w.append(big);
    const r = TraceReader.open(dir);
    expect(r.eventCount).toBe(301);
    expect(r.chunks.length).toBe(2);
    r.close();
    w.close({});
  });

  it('copies the appended bytes', () => {
    const dir = path.join(tmp(), 't');
    const w = TraceWriter.create(dir, {});
    const b = rec(5);
    w.append(b);
    b.writeUInt32LE(6, 4);
    w.close({});
    const r = TraceReader.open(dir);
    expect(r.record(0).readUInt32LE(4)).toBe(5);
    r.close();
  });
});

describe('round trip', () => {
  it('reads back many records across several chunks', () => {
    const dir = path.join(tmp(), 't');
    const w = TraceWriter.create(dir, { n: 1 });
    const records: Buffer[] = [];
    for (let i = 0; i < 20000; i++) {
      const r = rec(i, (i * 13) % 97);
      records.push(r);
      w.append(r);
    }
    w.close({ reason: 'exit' });

    const r = TraceReader.open(dir);
    expect(r.complete).toBe(true);
    expect(r.truncated).toBeNull();
    expect(r.meta).toMatchObject({ format: 'rewind-trace', version: 5, n: 1 });
    expect(r.end).toEqual({ eventCount: 20000, reason: 'exit' });
    expect(r.eventCount).toBe(20000);
    expect(r.chunks.length).toBeGreaterThan(2);
    let n = 0;
    for (const { index, record } of r.records()) {
      expect(index).toBe(n);
      expect(record.equals(records[n])).toBe(true);
      n++;
    }
    expect(n).toBe(20000);
    for (const c of r.chunks) {
      expect(r.chunkIndexOf(c.firstRecord)).toBe(r.chunks.indexOf(c));
      expect(r.chunkIndexOf(c.firstRecord + c.count - 1)).toBe(r.chunks.indexOf(c));
    }
    expect(r.record(12345).equals(records[12345])).toBe(true);
    expect([...r.records(19998)].map((x) => x.index)).toEqual([19998, 19999]);
    expect([...r.records(20000)]).toEqual([]);
    expect(() => r.record(20000)).toThrow(RangeError);
    r.close();
  });

  it('reads an empty trace', () => {
    const dir = path.join(tmp(), 't');
    TraceWriter.create(dir, {}).close({});
    const r = TraceReader.open(dir);
    expect([r.eventCount, r.complete, r.chunks.length]).toEqual([0, true, 0]);
    expect([...r.records()]).toEqual([]);
    r.close();
  });
});

describe('truncation', () => {
  it('reads up to the last complete chunk at every cut inside the last chunk', () => {
    const { dir, records } = writeTrace([5, 4, 3]);
    const eventsPath = path.join(dir, 'events.rwe');
    const full = fs.readFileSync(eventsPath);
    const whole = TraceReader.open(dir);
    const last = whole.chunks[2];
    whole.close();
    for (let cut = last.fileOffset; cut < full.length; cut++) {
      fs.writeFileSync(eventsPath, full.subarray(0, cut));
      const r = TraceReader.open(dir);
      expect(r.eventCount).toBe(9);
      expect(r.complete).toBe(false);
      expect(r.truncated).toEqual({ atRecord: 9, bytes: cut - last.fileOffset });
      expect(r.record(8).equals(records[8])).toBe(true);
      expect(() => r.record(9)).toThrow(RangeError);
      r.close();
    }
  });

  it('treats a cut inside the file header as an empty truncated trace', () => {
    const { dir } = writeTrace([2]);
    const eventsPath = path.join(dir, 'events.rwe');
    const full = fs.readFileSync(eventsPath);
    for (const cut of [0, 3, 8, 15, 16, 30]) {
      fs.writeFileSync(eventsPath, full.subarray(0, cut));
      const r = TraceReader.open(dir);
      expect(r.eventCount).toBe(0);
      expect(r.truncated).toEqual({ atRecord: 0, bytes: cut < 16 ? cut : cut - 16 });
      r.close();
    }
  });

  it('is incomplete without end.json, and truncated when end.json says more', () => {
    const { dir } = writeTrace([3, 3]);
    fs.writeFileSync(path.join(dir, 'end.json'), JSON.stringify({ eventCount: 10 }));
    let r = TraceReader.open(dir);
    expect([r.complete, r.eventCount]).toEqual([false, 6]);
    expect(r.truncated).toEqual({ atRecord: 6, bytes: 0 });
    r.close();
    fs.rmSync(path.join(dir, 'end.json'));
    r = TraceReader.open(dir);
    expect([r.complete, r.truncated, r.end]).toEqual([false, null, null]);
    r.close();
  });
});

describe('corruption', () => {
  it('names the chunk whose payload has a flipped byte', () => {
    const { dir } = writeTrace([5, 4, 3]);
    const eventsPath = path.join(dir, 'events.rwe');
    const r0 = TraceReader.open(dir);
    const c = r0.chunks[1];
    r0.close();
    const bytes = fs.readFileSync(eventsPath);
    bytes[c.fileOffset + 40 + 3] ^= 0x20;
    fs.writeFileSync(eventsPath, bytes);
    const e = errorOf(() => TraceReader.open(dir));
    expect(e.code).toBe('CORRUPT');
    expect(e.message).toBe(`trace is corrupt: chunk 1 at offset ${c.fileOffset} (records 5–8) fails its checksum`);
  });

  it('detects a flipped header byte, a bad magic and a chunk out of order', () => {
    const { dir } = writeTrace([5, 4, 3]);
    const eventsPath = path.join(dir, 'events.rwe');
    const r0 = TraceReader.open(dir);
    const [c0, c1, c2] = r0.chunks;
    r0.close();
    const good = fs.readFileSync(eventsPath);

    let bytes = Buffer.from(good);
    bytes[c2.fileOffset + 17] ^= 1; // record count
    fs.writeFileSync(eventsPath, bytes);
    let e = errorOf(() => TraceReader.open(dir));
    expect([e.code, e.message]).toEqual(['CORRUPT', `trace is corrupt: chunk 2 at offset ${c2.fileOffset} (from record 9) fails its header checksum`]);

    bytes = Buffer.from(good);
    bytes[c1.fileOffset] ^= 1;
    fs.writeFileSync(eventsPath, bytes);
    e = errorOf(() => TraceReader.open(dir));
    expect([e.code, e.message]).toEqual(['CORRUPT', `trace is corrupt: chunk 1 at offset ${c1.fileOffset} (from record 5) has a bad chunk magic`]);

    // Chunks 1 and 2 swapped: each is intact but the first record does not follow on.
    const swapped = Buffer.concat([
      good.subarray(0, c1.fileOffset), good.subarray(c2.fileOffset), good.subarray(c1.fileOffset, c2.fileOffset),
    ]);
    fs.writeFileSync(eventsPath, swapped);
    e = errorOf(() => TraceReader.open(dir));
    expect([e.code, e.message]).toEqual(['CORRUPT', `trace is corrupt: chunk 1 at offset ${c1.fileOffset} (records 9–11) does not follow on: expected first record 5`]);
    expect(c0.fileOffset).toBe(16);
  });

  it('checks record sizes when a chunk is decompressed', () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify({ format: 'rewind-trace', version: 1 }));
    const records = Buffer.concat([rec(1), rec(2)]);
    records.writeUInt32LE(12, 0); // sizes no longer add up
    fs.writeFileSync(path.join(dir, 'events.rwe'), Buffer.concat([
      Buffer.from('52574e44455654000100000000000000', 'hex'), chunkBytes(records, 2, 0),
    ]));
    const r = TraceReader.open(dir);
    expect(r.eventCount).toBe(2);
    const e = errorOf(() => r.readChunk(0));
    expect(e.code).toBe('CORRUPT');
    expect(e.message).toMatch(/^trace is corrupt: chunk 0 at offset 16 \(records 0–1\) /);
    r.close();
  });

  it('rejects end.json claiming fewer records than found', () => {
    const { dir } = writeTrace([3]);
    fs.writeFileSync(path.join(dir, 'end.json'), JSON.stringify({ eventCount: 2 }));
    expect(errorOf(() => TraceReader.open(dir)).code).toBe('CORRUPT');
  });
});

describe('versions', () => {
  it('rejects an unknown format version in meta.json', () => {
    const { dir } = writeTrace([1]);
    fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify({ format: 'rewind-trace', version: 6 }));
    const e = errorOf(() => TraceReader.open(dir));
    expect(e.code).toBe('VERSION');
    expect(e.message).toBe(`trace format version 6 is not supported (this rewind reads versions 1, 2, 3, 4 and 5): ${dir}`);
  });

  it('rejects an unknown version in the events file header', () => {
    const { dir } = writeTrace([1]);
    const eventsPath = path.join(dir, 'events.rwe');
    const bytes = fs.readFileSync(eventsPath);
    bytes.writeUInt32LE(2, 8);
    fs.writeFileSync(eventsPath, bytes);
    const e = errorOf(() => TraceReader.open(dir));
    expect(e.code).toBe('VERSION');
    expect(e.message).toBe(`events file format version 2 is not supported (this rewind reads version 1): ${eventsPath}`);
  });

  it('tells a non-trace apart', () => {
    const dir = tmp();
    expect(errorOf(() => TraceReader.open(dir)).code).toBe('NOT_A_TRACE');
    fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify({ format: 'other', version: 1 }));
    expect(errorOf(() => TraceReader.open(dir)).code).toBe('NOT_A_TRACE');
    fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify({ format: 'rewind-trace', version: 1 }));
    expect(errorOf(() => TraceReader.open(dir)).code).toBe('MISSING');
    fs.writeFileSync(path.join(dir, 'events.rwe'), Buffer.from('NOTATRACEFILE...'));
    expect(errorOf(() => TraceReader.open(dir)).code).toBe('CORRUPT');
  });
});

describe('file store', () => {
  it('dedupes by content and verifies hashes on read', () => {
    const root = tmp();
    const lib = path.join(root, 'libfoo.so');
    const copy = path.join(root, 'libfoo-copy.so');
    const content = Buffer.from('\x7fELF pretend library contents '.repeat(100));
    fs.writeFileSync(lib, content);
    fs.writeFileSync(copy, content);
    const sha = createHash('sha256').update(content).digest('hex');

    const dir = path.join(root, 't');
    const w = TraceWriter.create(dir, {});
    expect(w.storeFile(lib)).toBe(sha);
    expect(w.storeFile(lib)).toBe(sha);
    expect(w.storeFile(copy)).toBe(sha);
    expect(w.storeBuffer(content)).toBe(sha);
    const other = w.storeBuffer(Buffer.from('other'));
    w.close({});
    expect(fs.readdirSync(path.join(dir, 'files')).sort()).toEqual([sha, other].sort());

    const r = TraceReader.open(dir);
    expect(r.file(sha).equals(content)).toBe(true);
    expect(r.filePath(sha)).toBe(path.join(dir, 'files', sha));
    expect(r.file(other).toString()).toBe('other');
    const bad = errorOf(() => r.file('../meta.json'));
    expect(bad.code).toBe('CORRUPT');
    expect(errorOf(() => r.file(sha.toUpperCase())).code).toBe('CORRUPT');
    expect(errorOf(() => r.file('0'.repeat(64))).code).toBe('MISSING');
    r.close();

    fs.writeFileSync(path.join(dir, 'files', other), 'tampered');
    const r2 = TraceReader.open(dir);
    const e = errorOf(() => r2.file(other));
    expect(e.code).toBe('CORRUPT');
    expect(e.message).toContain(`trace file files/${other} does not match its hash`);
    expect(errorOf(() => r2.filePath(other)).code).toBe('CORRUPT');
    r2.close();
  });
});
