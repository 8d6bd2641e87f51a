// The replayed program's memory regions as it had them when recorded, for LLDB's
// qMemoryRegionInfo (its dynamic loader finds ld.so by the name of the region at
// AT_BASE; its unwinder asks whether a pc is in executable memory).
//
// Extents and permissions come from the replay process's /proc/PID/maps: that is
// the memory the debugger reads. Names cannot: replay rebuilds every mapping as
// anonymous memory filled from the trace. They come from the recording instead:
// the exec snapshot, then, in event order, mmap/munmap/mremap/brk results and the
// map-file events that name file mappings. rewind's own stub page is left out, as
// the recorded program never had it.
import type { TraceReader } from '../history/index.js';
import { decodeEvent, EventKind, eventKindOf, type ExecSnapshot } from '../history/events.js';
import { readMaps, type ProcMapping } from './proc-maps.js';
import { STUB_BASE, STUB_SIZE } from './stub.js';

export interface MemoryRegion {
  start: bigint;
  /** exclusive */
  end: bigint;
  /** 'r', 'w', 'x' letters; absent for unmapped addresses */
  perms?: string;
  /** file path, [stack], [heap]; absent for anonymous memory */
  name?: string;
}

/** A named stretch of the recorded address space ('' = anonymous). */
export interface NamedSpan {
  start: bigint;
  end: bigint;
  name: string;
}

type NameOp =
  | { event: number; kind: 'set'; start: bigint; end: bigint; name: string | undefined }
  | { event: number; kind: 'move'; from: bigint; fromEnd: bigint; to: bigint; toEnd: bigint }
  | { event: number; kind: 'brk'; at: bigint }
  | { event: number; kind: 'exec'; snapshot: ExecSnapshot };

const NR_MMAP = 9;
const NR_MUNMAP = 11;
const NR_BRK = 12;
const NR_MREMAP = 25;
const PAGE = 0x1000n;
const ADDRESS_SPACE_END = 1n << 64n;

const pageUp = (v: bigint) => (v + PAGE - 1n) & ~(PAGE - 1n);
const failed = (result: bigint) => result < 0n && result >= -4095n;

/** Sets [start, end) to `name` (undefined: unmapped) in a sorted, non-overlapping list. */
function setSpan(spans: NamedSpan[], start: bigint, end: bigint, name: string | undefined): NamedSpan[] {
  if (end <= start) return spans;
  const out: NamedSpan[] = [];
  for (const s of spans) {
    if (s.end <= start || s.start >= end) out.push(s);
    else {
      if (s.start < start) out.push({ ...s, end: start });
      if (s.end > end) out.push({ ...s, start: end });
    }
  }
  if (name !== undefined) out.push({ start, end, name });
  return out.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
}

function spanAt(spans: NamedSpan[], addr: bigint): NamedSpan | undefined {
  return spans.find((s) => s.start <= addr && addr < s.end);
}

function fromSnapshot(snapshot: ExecSnapshot): NamedSpan[] {
  return snapshot.mappings
    .map((m) => ({ start: BigInt(m.start), end: BigInt(m.end), name: m.name }))
    .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
}

/** What each address of the recorded program was called, at any point of the replay. */
export class RecordedNames {
  private constructor(private readonly first: ExecSnapshot, private readonly ops: NameOp[]) {}

  /** One pass over the trace, keeping only the events that map, unmap or name memory. */
  static scan(trace: TraceReader, snapshot: ExecSnapshot): RecordedNames {
    const ops: NameOp[] = [];
    let execs = 0;
    for (let i = 1; i < trace.eventCount; i++) {
      const rec = trace.record(i);
      const kind = eventKindOf(rec);
      if (kind === EventKind.Exec) {
        // the first exec is the snapshot the replay starts from
        const ev = decodeEvent(rec);
        if (ev.kind === 'exec' && execs++ > 0) ops.push({ event: i, kind: 'exec', snapshot: ev.snapshot });
        continue;
      }
      if (kind === EventKind.MapFile) {
        const ev = decodeEvent(rec);
        if (ev.kind !== 'map-file') continue;
        const start = BigInt(ev.map.addr);
        ops.push({ event: i, kind: 'set', start, end: pageUp(start + BigInt(ev.map.length)), name: ev.map.path });
        continue;
      }
      if (kind !== EventKind.Syscall) continue;
      const nr = rec.readUInt32LE(12);
      if (nr !== NR_MMAP && nr !== NR_MUNMAP && nr !== NR_BRK && nr !== NR_MREMAP) continue;
      const ev = decodeEvent(rec);
      if (ev.kind !== 'syscall' || failed(ev.result)) continue;
      const [a0, a1, a2] = ev.args;
      if (nr === NR_MMAP) ops.push({ event: i, kind: 'set', start: ev.result, end: pageUp(ev.result + a1), name: '' });
      else if (nr === NR_MUNMAP) ops.push({ event: i, kind: 'set', start: a0, end: pageUp(a0 + a1), name: undefined });
      else if (nr === NR_BRK) ops.push({ event: i, kind: 'brk', at: ev.result });
      else ops.push({ event: i, kind: 'move', from: a0, fromEnd: pageUp(a0 + a1), to: ev.result, toEnd: pageUp(ev.result + a2) });
    }
    return new RecordedNames(snapshot, ops);
  }

  /** The named spans once every event before `event` has happened. */
  at(event: number): NamedSpan[] {
    let spans = fromSnapshot(this.first);
    let heap: { start: bigint; end: bigint } | undefined;
    for (const op of this.ops) {
      if (op.event >= event) break;
      switch (op.kind) {
        case 'set':
          spans = setSpan(spans, op.start, op.end, op.name);
          break;
        case 'move': {
          const name = spanAt(spans, op.from)?.name ?? '';
          spans = setSpan(setSpan(spans, op.from, op.fromEnd, undefined), op.to, op.toEnd, name);
          break;
        }
        case 'brk': {
          const at = pageUp(op.at);
          heap ??= { start: at, end: at };
          if (at > heap.end) spans = setSpan(spans, heap.end, at, '[heap]');
          else if (at < heap.end) spans = setSpan(spans, at, heap.end, undefined);
          heap.end = at < heap.start ? heap.start : at;
          break;
        }
        case 'exec':
          spans = fromSnapshot(op.snapshot);
          heap = undefined;
          break;
      }
    }
    return spans;
  }
}

/**
 * The region holding `addr`: a live mapping cut to the recorded span that names
 * it, or the gap between mappings (no permissions) that LLDB expects for an
 * unmapped address. `hidden` is memory of rewind's own, shown as unmapped.
 */
export function memoryRegionAt(live: ProcMapping[], spans: NamedSpan[], addr: bigint, hidden?: { start: bigint; end: bigint }): MemoryRegion {
  const mapped = live.filter((m) => !hidden || m.end <= hidden.start || m.start >= hidden.end);
  const m = mapped.find((x) => x.start <= addr && addr < x.end);
  if (!m) {
    const start = mapped.filter((x) => x.end <= addr).reduce((best, x) => (x.end > best ? x.end : best), 0n);
    const end = mapped.filter((x) => x.start > addr).reduce((best, x) => (x.start < best ? x.start : best), ADDRESS_SPACE_END);
    return { start, end };
  }
  let start = m.start;
  let end = m.end;
  let name = m.name;
  const s = spanAt(spans, addr);
  if (s) {
    if (s.start > start) start = s.start;
    if (s.end < end) end = s.end;
    name = s.name || name;
  } else {
    // memory the recording does not name: up to the neighbouring named spans
    for (const o of spans) {
      if (o.end <= addr && o.end > start) start = o.end;
      if (o.start > addr && o.start < end) end = o.start;
    }
  }
  const perms = m.perms.slice(0, 3).replace(/-/g, '');
  return name ? { start, end, perms, name } : { start, end, perms };
}

/** The region of the replay process `pid` holding addr, named as `spans` name it. */
export function replayRegion(pid: number, spans: NamedSpan[], addr: bigint): MemoryRegion {
  return memoryRegionAt(readMaps(pid), spans, addr, { start: STUB_BASE, end: STUB_BASE + STUB_SIZE });
}
