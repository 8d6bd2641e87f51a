// The files a trace holds, by the paths the recorded program knew them by: the
// executable, ld.so and libraries (exec snapshot mappings and map-file events).
// gdb reads them over vFile; nothing outside the trace is ever served.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TraceReader } from '../history/index.js';
import { decodeEvent, EventKind, eventKindOf, type ExecSnapshot } from '../history/events.js';

export class TraceFiles {
  private readonly byPath = new Map<string, string>();

  constructor(private readonly trace: TraceReader, snapshot: ExecSnapshot) {
    for (const m of snapshot.mappings) if ('file' in m.source && m.name.startsWith('/')) this.byPath.set(m.name, m.source.file);
    for (let i = 1; i < trace.eventCount; i++) {
      const rec = trace.record(i);
      if (eventKindOf(rec) !== EventKind.MapFile) continue;
      const ev = decodeEvent(rec);
      if (ev.kind === 'map-file' && ev.map.sha && ev.map.path.startsWith('/') && !this.byPath.has(ev.map.path)) this.byPath.set(ev.map.path, ev.map.sha);
    }
  }

  paths(): string[] {
    return [...this.byPath.keys()];
  }

  /**
   * The stored sha for a path gdb asks for: the recorded path itself, the local
   * real path of that name (gdb asks for /lib64/ld-linux-x86-64.so.2, the recording
   * saw /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2), else a unique file name.
   */
  lookup(p: string): string | undefined {
    const direct = this.byPath.get(p);
    if (direct) return direct;
    try {
      const real = this.byPath.get(fs.realpathSync(p));
      if (real) return real;
    } catch {
      // not on this machine
    }
    const base = path.basename(p);
    const same = [...this.byPath.entries()].filter(([k]) => path.basename(k) === base);
    return same.length === 1 ? same[0][1] : undefined;
  }

  content(sha: string): Buffer {
    return this.trace.file(sha);
  }
}

interface ElfInfo {
  buildId?: string;
  loads: { offset: number; filesz: number }[];
}

function elfInfo(data: Buffer): ElfInfo | undefined {
  if (data.length < 64 || data.readUInt32BE(0) !== 0x7f454c46 || data[4] !== 2 || data[5] !== 1) return undefined;
  const phoff = Number(data.readBigUInt64LE(32));
  const phentsize = data.readUInt16LE(54);
  const phnum = data.readUInt16LE(56);
  const info: ElfInfo = { loads: [] };
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (ph + 56 > data.length) return undefined;
    const type = data.readUInt32LE(ph);
    const offset = Number(data.readBigUInt64LE(ph + 8));
    const filesz = Number(data.readBigUInt64LE(ph + 32));
    if (type === 1) info.loads.push({ offset, filesz });
    if (type === 4) {
      // PT_NOTE: namesz, descsz, type, name (4-aligned), desc (4-aligned)
      let at = offset;
      while (at + 12 <= offset + filesz && at + 12 <= data.length) {
        const namesz = data.readUInt32LE(at);
        const descsz = data.readUInt32LE(at + 4);
        const ntype = data.readUInt32LE(at + 8);
        const name = data.subarray(at + 12, at + 12 + namesz).toString('latin1');
        const desc = at + 12 + ((namesz + 3) & ~3);
        if (ntype === 3 && name.startsWith('GNU')) info.buildId = data.subarray(desc, desc + descsz).toString('hex');
        at = desc + ((descsz + 3) & ~3);
      }
    }
  }
  return info;
}

/**
 * Checks that FILE is the recorded executable: same GNU build-id, or (without
 * build-ids) the same bytes in every loaded segment. Returns an explanation when not.
 */
export function checkSymbolFile(file: string, recorded: Buffer): string | undefined {
  let data: Buffer;
  try {
    data = fs.readFileSync(file);
  } catch (e) {
    return `cannot read ${file}: ${(e as Error).message}`;
  }
  const mine = elfInfo(data);
  const theirs = elfInfo(recorded);
  if (!mine) return `${file} is not a 64-bit little-endian ELF file`;
  if (!theirs) return 'the recorded executable is not a 64-bit ELF file';
  if (mine.buildId && theirs.buildId) {
    return mine.buildId === theirs.buildId
      ? undefined
      : `${file} has build-id ${mine.buildId}, the recorded executable has ${theirs.buildId}`;
  }
  const seg = (d: Buffer, l: { offset: number; filesz: number }) => d.subarray(l.offset, l.offset + l.filesz);
  if (mine.loads.length !== theirs.loads.length || mine.loads.some((l, i) => !seg(data, l).equals(seg(recorded, theirs.loads[i]))))
    return `the loaded segments of ${file} differ from the recorded executable's`;
  return undefined;
}
