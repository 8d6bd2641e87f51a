// What the recorded events that change the address space do to counters left in a
// debugged replay across them (docs/timeline.md, "Counting across mapping events").
// A counted span (counted-spans.ts) patches gdb's breakpoints with jumps and maps
// counter pages for one run; the replay then applies each event as the debugger's
// replay does it (addon/replay_loop.cc): an mmap becomes a private anonymous
// MAP_FIXED mapping at the recorded address (a map-file event, applied by JS, puts
// the file's contents over it), brk maps or unmaps the pages between the old and the
// new break with MAP_FIXED, mremap moves with MREMAP_FIXED to the recorded result,
// munmap, mprotect and madvise run as recorded. Two things could go wrong: such an
// event meets a counter page (mapped over, unmapped, zeroed), or it replaces the
// bytes of a patched site (the jump gone, or worse, the site's original bytes put
// back later over other code). The first cannot happen when counter pages avoid
// every range a later event names (`rangesNamedAfter`), the second when no event
// of the span names a range holding a patched site (`mappingRefusal`). A fork, vfork
// or clone of a process is crossed: under a debugger the replay makes no child
// (src/replay/replay-process.ts sets followChildren off; the call's result is
// emulated), so nothing inherits the patches or the pages. An exec, shmat, shmdt or
// remap_file_pages still ends a span. Scans of the trace's records; no process is
// touched here.
import { CLONE_THREAD, decodeEvent, EventKind, eventKindOf } from '../history/events.js';
import type { TraceReader } from '../history/index.js';

const NR_MMAP = 9;
const NR_MPROTECT = 10;
const NR_MUNMAP = 11;
const NR_BRK = 12;
const NR_MREMAP = 25;
const NR_MADVISE = 28;
const NR_PKEY_MPROTECT = 329;
const PAGE = 0x1000n;
const pageUp = (v: bigint) => (v + PAGE - 1n) & ~(PAGE - 1n);
const failed = (result: bigint) => result < 0n && result >= -4095n;

/** A range of addresses an event names, from event `e` on. */
export interface LaterMapping {
  e: number;
  start: bigint;
  end: bigint;
}

/** What one recorded event does to the address space. */
interface Change {
  e: number;
  tid: number;
  /** every range the event names (mapped, unmapped, moved, advised, protected), succeeded or not */
  ranges: { start: bigint; end: bigint }[];
  /** a site's bytes inside a range would be replaced or dropped (false: mprotect, which keeps them) */
  replaces: boolean;
  what: string;
}

/** each trace's changes, in event order (found once) */
const changesOf = new WeakMap<TraceReader, Change[]>();

/** syscalls whose records are read for their ranges */
const RANGE_CALLS = new Set([NR_MMAP, NR_MPROTECT, NR_MUNMAP, NR_BRK, NR_MREMAP, NR_MADVISE, NR_PKEY_MPROTECT]);

/**
 * The address-space changes of a trace. brk's range is the one the replay maps or
 * unmaps: from the previous break of the same process (each brk call returns the
 * break, whatever it asked) to the new one; a forked child starts with its parent's
 * break, an exec with none.
 */
function changes(trace: TraceReader): Change[] {
  let all = changesOf.get(trace);
  if (all) return all;
  all = [];
  const groupOf = new Map<number, number>(); // tid -> its process's first tid
  const breakOf = new Map<number, bigint | undefined>(); // process -> its break
  const group = (tid: number) => groupOf.get(tid) ?? tid;
  for (let i = 0; i < trace.eventCount; i++) {
    const rec = trace.record(i);
    const kind = eventKindOf(rec);
    if (kind === EventKind.Clone) {
      const ev = decodeEvent(rec);
      if (ev.kind !== 'clone') continue;
      const g = group(ev.tid);
      if ((ev.flags & CLONE_THREAD) !== 0n) groupOf.set(ev.child, g);
      else breakOf.set(ev.child, breakOf.get(g));
      continue;
    }
    if (kind === EventKind.Exec) {
      breakOf.set(group(decodeEvent(rec).tid), undefined);
      continue;
    }
    if (kind === EventKind.MapFile) {
      const ev = decodeEvent(rec);
      if (ev.kind !== 'map-file') continue;
      const start = BigInt(ev.map.addr);
      all.push({ e: i, tid: ev.tid, ranges: [{ start, end: pageUp(start + BigInt(ev.map.length)) }], replaces: true, what: `the mapping of ${ev.map.path}` });
      continue;
    }
    if (kind !== EventKind.Syscall || !RANGE_CALLS.has(rec.readUInt32LE(12))) continue;
    const ev = decodeEvent(rec);
    if (ev.kind !== 'syscall') continue;
    const [a0, a1, a2] = ev.args;
    const range = (start: bigint, len: bigint) => ({ start: start & ~(PAGE - 1n), end: pageUp(start + len) });
    const push = (ranges: { start: bigint; end: bigint }[], replaces: boolean, what: string) => all!.push({ e: i, tid: ev.tid, ranges, replaces, what });
    switch (ev.nr) {
      case NR_MMAP:
        // a failed mmap is annulled by the replay: it names nothing
        if (!failed(ev.result)) push([range(ev.result, a1)], true, 'an mmap');
        break;
      case NR_MUNMAP:
        // a munmap fails only on bad arguments (EINVAL), unmapping nothing; one that
        // succeeds may cover holes, where a counter page could be
        if (!failed(ev.result)) push([range(a0, a1)], true, 'a munmap');
        break;
      case NR_MREMAP:
        push(failed(ev.result) ? [range(a0, a1)] : [range(a0, a1), range(ev.result, a2)], true, 'an mremap');
        break;
      case NR_MADVISE:
        push([range(a0, a1)], true, 'an madvise');
        break;
      case NR_MPROTECT:
      case NR_PKEY_MPROTECT:
        push([range(a0, a1)], false, 'an mprotect');
        break;
      case NR_BRK: {
        const g = group(ev.tid);
        const before = breakOf.get(g);
        if (failed(ev.result)) break;
        if (before !== undefined && pageUp(before) !== pageUp(ev.result)) {
          const [lo, hi] = before < ev.result ? [pageUp(before), pageUp(ev.result)] : [pageUp(ev.result), pageUp(before)];
          push([{ start: lo, end: hi }], true, 'a brk');
        }
        breakOf.set(g, ev.result);
        break;
      }
    }
  }
  changesOf.set(trace, all);
  return all;
}

/**
 * Every range an event at `from` or later names: counter pages placed now must
 * avoid them all, or a replayed event (an mmap or brk at its recorded address, an
 * munmap or madvise of a range the recording had) would meet a counter's page.
 * Events of every process of the trace are kept (a child's ranges are usually its
 * parent's): avoiding more costs nothing but room.
 */
export function rangesNamedAfter(trace: TraceReader, from: number): LaterMapping[] {
  return changes(trace).filter((c) => c.e >= from).flatMap((c) => c.ranges.map((r) => ({ e: c.e, ...r })));
}

/**
 * Why event e, of the debugged process, cannot be crossed by a run whose patched
 * sites are `sites` (gdb's breakpoints and the run's end); undefined: it can. Only
 * asked for events that change the address space (isAddressSpaceEvent).
 */
export function mappingRefusal(trace: TraceReader, e: number, sites: bigint[]): string | undefined {
  const c = changeAt(trace, e);
  if (!c || !c.replaces) return undefined;
  for (const r of c.ranges) {
    const site = sites.find((pc) => pc >= r.start && pc < r.end);
    if (site !== undefined) return `${c.what} at event ${e} covers 0x${site.toString(16)}`;
  }
  return undefined;
}

/** The change event e makes (binary search: changes are in event order). */
function changeAt(trace: TraceReader, e: number): Change | undefined {
  const all = changes(trace);
  let lo = 0;
  let hi = all.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (all[mid].e < e) lo = mid + 1;
    else hi = mid;
  }
  return all[lo]?.e === e ? all[lo] : undefined;
}

/** Event e maps, unmaps, moves, protects or advises memory (a map-file event, or one of the calls above). */
export function isAddressSpaceEvent(ev: ReturnType<typeof decodeEvent>): boolean {
  return ev.kind === 'map-file' || (ev.kind === 'syscall' && RANGE_CALLS.has(ev.nr));
}

/** A fork, vfork or clone that made a process (or failed): no child is replayed under a debugger. */
export function isProcessClone(ev: ReturnType<typeof decodeEvent>): boolean {
  if (ev.kind === 'clone') return (ev.flags & CLONE_THREAD) === 0n;
  return ev.kind === 'syscall' && (ev.nr === 57 /* fork */ || ev.nr === 58 /* vfork */ || (ev.nr === 56 /* clone */ && (ev.args[0] & CLONE_THREAD) === 0n));
}

/** each trace's thread groups: the recorded tids of the process whose first thread is `first` (found once per first) */
const tidsOf = new WeakMap<TraceReader, Map<number, Set<number>>>();

/** The recorded tids of the process whose first thread is `first`: it and the threads it and they made. */
export function processTids(trace: TraceReader, first: number): Set<number> {
  let byFirst = tidsOf.get(trace);
  if (!byFirst) tidsOf.set(trace, (byFirst = new Map()));
  let tids = byFirst.get(first);
  if (tids) return tids;
  tids = new Set([first]);
  for (let i = 0; i < trace.eventCount; i++) {
    const rec = trace.record(i);
    if (eventKindOf(rec) !== EventKind.Clone) continue;
    const ev = decodeEvent(rec);
    if (ev.kind === 'clone' && tids.has(ev.tid) && (ev.flags & CLONE_THREAD) !== 0n) tids.add(ev.child);
  }
  byFirst.set(first, tids);
  return tids;
}

/**
 * The pcs of `sites` that a change of events from..to-1 of the process `own` (its
 * recorded tids; undefined: every event) maps, unmaps or replaces: a counted run
 * over those events traps them instead of patching them (their bytes change under
 * the run, as under a trapped window's int3s, which Traps takes out and puts back
 * around a file mapping).
 */
export function sitesMappedBy(trace: TraceReader, from: number, to: number, own: Set<number> | undefined, sites: bigint[]): bigint[] {
  const out = new Set<bigint>();
  for (const c of changes(trace)) {
    if (c.e < from || c.e >= to || !c.replaces || (own && !own.has(c.tid))) continue;
    for (const r of c.ranges) for (const pc of sites) if (pc >= r.start && pc < r.end) out.add(pc);
  }
  return [...out];
}
