// In-process hit counters in a stopped replayed process (docs/timeline.md,
// "Counting in the process"): pages mapped near the counted code (a `jmp rel32`
// reaches ±2 GiB), the stubs planned by counter-stub.ts written there, the jumps
// written over the counted instructions, and, after the run, the counts read and
// everything put back. They live for one run inside one interval: no recorded
// event (an mmap replayed at its recorded address) can meet the pages, and no copy
// of the process is taken while they are in it.
//
// In a process of several threads the pages are shared by all of them, the
// syscalls go to the thread the replay stands in, and no patch covers the middle of
// an instruction where any thread stands (counter-host.ts).
//
// The layout of a page: the run's hit sequence at offset 0 of the first page (one
// for all counters), each counter's words (count, left, last) from offset 64, the
// stubs' code in the second half.
import * as fs from 'node:fs';
import type { NativeTracee } from '../native/addon.js';
import type { CounterHost } from './counter-host.js';
import { branchesInto, negatedRegisters, planStub, STUB_MAX, type CounterWords, type FingerprintCompare, type Refusal, type StubPlan } from './counter-stub.js';

const PAGE = 4096n;
const PAGES = 2n;
const SIZE = PAGE * PAGES;
/** the bytes each set of counters' pages takes */
export const COUNTER_PAGES_SIZE = SIZE;
const WORDS_AT = 64n;
const WORDS_SIZE = 32n;
const CODE_AT = PAGE;
/** a fingerprint stub's expected registers (one per set of pages), past the counters' words */
const FP_WORDS_AT = 2048n;
/** the code slots a fingerprint stub takes (its comparisons make it about three times as long) */
const FP_SLOTS = 3;
/** counters one page set holds: as many stubs as fit in its code half */
const PER_PAGE = Math.floor(Number(PAGE) / STUB_MAX);
/** how far from the counted pc branches into the displaced bytes are looked for */
const SCAN = 2048n;
/** the lowest address a mapping may take (the kernel's usual mmap_min_addr) */
const MIN_ADDR = 0x10000n;
const REACH = 2n ** 31n - 2n * SIZE;
/** the end of a process's address space on x86-64 (4-level paging) */
const TASK_TOP = 0x7ffffffff000n;

const NR_MMAP = 9;
const NR_MUNMAP = 11;
const PROT_RWX = 7n;
const MAP_PRIVATE_ANON_NOREPLACE = 0x02n | 0x20n | 0x100000n;

export interface CounterSite {
  pc: bigint;
  /** trap (end the run at its target) at this arrival; undefined: only count */
  target?: number;
  /** when its instruction cannot be counted, leave it out (listed in `uncounted`) instead of refusing all */
  optional?: boolean;
  /** trap where the state's fingerprint is this one (counter-stub.ts, FingerprintCompare); one such site per set */
  fp?: Buffer;
}

interface Placed {
  site: CounterSite;
  plan: StubPlan;
  /** the bytes the patch covers, as they were */
  original: Buffer;
  words: { count: bigint; left: bigint; last: bigint };
}

/** Counters installed in a process, for one run. */
export interface InstalledCounters {
  /** the process (its memory as gdb sees it: patched CPUID sites read as CPUID; its threads) */
  host: CounterHost;
  pages: bigint[];
  placed: Placed[];
  /** the run option: [int3 address, counted pc] pairs */
  traps: bigint[];
  /** the run's hit sequence (a u64 in the process) */
  seq: bigint;
  /** optional sites left out, with why */
  uncounted: { pc: bigint; why: string }[];
}

export interface CounterReading {
  pc: bigint;
  /** arrivals since the run began (the start state at pc counts as one) */
  count: number;
  /** the hit sequence number of the latest arrival (0: none) */
  last: number;
}

interface Region { start: bigint; end: bigint; perms: string; name: string }

function mapsOf(pid: number): Region[] {
  return fs.readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').filter(Boolean).map((line) => {
    const [range, perms, , , , name = ''] = line.split(/\s+/);
    const [a, b] = range.split('-');
    return { start: BigInt(`0x${a}`), end: BigInt(`0x${b}`), perms, name };
  }).sort((x, y) => (x.start < y.start ? -1 : 1));
}

/** A free, page-aligned place for SIZE bytes within a jump's reach of pc, closest first. */
function holeNear(maps: Region[], pc: bigint, taken: bigint[], later: { start: bigint; end: bigint }[]): bigint | undefined {
  const busy = [
    ...maps,
    ...taken.map((a) => ({ start: a, end: a + SIZE, perms: '', name: '' })),
    ...later.map((m) => ({ ...m, perms: '', name: '' })),
  ].sort((x, y) => (x.start < y.start ? -1 : 1));
  let best: bigint | undefined;
  const consider = (addr: bigint) => {
    const d = addr > pc ? addr - pc : pc - addr;
    if (addr < MIN_ADDR || addr + SIZE > TASK_TOP || d > REACH) return;
    if (best === undefined || d < (best > pc ? best - pc : pc - best)) best = addr;
  };
  let prevEnd = MIN_ADDR;
  for (const r of busy) {
    // never just below the stack: it grows down into its guard gap
    if (r.start - prevEnd >= SIZE && r.name !== '[stack]') {
      consider(r.start - SIZE);
      consider(prevEnd);
    }
    if (r.end > prevEnd) prevEnd = r.end;
  }
  return best;
}

function inject(host: CounterHost, nr: number, ...args: bigint[]): Promise<bigint> {
  while (args.length < 6) args.push(0n);
  return host.syscall(nr, args);
}

/**
 * Installs counters at `sites` in the stopped process `host`, or says why they
 * cannot be (then nothing was changed). `keepClear`: addresses that must not fall
 * inside a patch past its first byte (where the process stands, the run's int3s;
 * where each of its threads stands is added here); a refusal for one of them names
 * it (`inside`).
 *
 * Each call into the tracer is a round trip between two threads, and on a loaded
 * machine each wake-up waits for a CPU (milliseconds each, 30 of them per window:
 * docs/load.md). So the calls that do not depend on each other's answers are
 * submitted together (the tracer runs its jobs in order, and answers them in one
 * wake-up of JS): every site's code is read at once, then the pages are mapped
 * (one call each, usually one), then every write goes in one batch, the jumps last.
 */
export async function installCounters(host: CounterHost, sites: CounterSite[], keepClear: bigint[]): Promise<InstalledCounters | (Refusal & { inside?: bigint })> {
  const tracee = host.tracee;
  const maps = mapsOf(tracee.pid);
  const regionOf = (pc: bigint) => maps.find((r) => pc >= r.start && pc < r.end);
  const [threadPcs, code] = await Promise.all([host.threadPcs(), Promise.all(sites.map((site) => codeAround(tracee, site.pc, regionOf(site.pc))))]);
  keepClear = [...keepClear, ...threadPcs];
  const pages: bigint[] = [];
  const used = new Map<bigint, number>();
  const placed: Placed[] = [];
  const uncounted: { pc: bigint; why: string }[] = [];
  const writes: [bigint, Buffer][] = [];
  const refuse = async (why: string, inside?: bigint): Promise<Refusal & { inside?: bigint }> => {
    for (const p of pages) await inject(host, NR_MUNMAP, p, SIZE);
    return inside === undefined ? { refused: why } : { refused: why, inside };
  };
  for (const [i, site] of sites.entries()) {
    const region = regionOf(site.pc);
    if (!region) return refuse(`0x${site.pc.toString(16)} is not mapped`);
    if (site.fp && sites.filter((x) => x.fp).length > 1) return refuse('one fingerprint target per run');
    const slots = site.fp ? FP_SLOTS : 1;
    let page = pages.find((p) => (used.get(p) ?? 0) + slots <= PER_PAGE && (p > site.pc ? p - site.pc : site.pc - p) < REACH);
    if (page === undefined) {
      const hole = holeNear(maps, site.pc, pages, host.later);
      if (hole === undefined) return refuse(`no free place within reach of 0x${site.pc.toString(16)}`);
      let got: bigint;
      try {
        got = await inject(host, NR_MMAP, hole, SIZE, PROT_RWX, MAP_PRIVATE_ANON_NOREPLACE, 0xffffffffffffffffn, 0n);
      } catch (e) {
        // a thread that cannot take the call (at a seccomp or ptrace event stop: EBUSY), nothing changed in it
        return refuse(`the counters' page cannot be mapped: ${(e as Error).message}`);
      }
      if (got !== hole) return refuse(`mmap of the counters' page failed (${got})`);
      pages.push(hole);
      page = hole;
    }
    const k = BigInt(used.get(page) ?? 0);
    const words = { count: page + WORDS_AT + k * WORDS_SIZE, left: page + WORDS_AT + k * WORDS_SIZE + 8n, last: page + WORDS_AT + k * WORDS_SIZE + 16n };
    const fp: FingerprintCompare | undefined = site.fp ? { negatedAt: page + FP_WORDS_AT } : undefined;
    const why = placeable(code[i], site, region, { ...words, seq: pages[0] }, page + CODE_AT + k * BigInt(STUB_MAX), fp, slots * STUB_MAX);
    if (typeof why === 'string') {
      if (!site.optional) return refuse(`0x${site.pc.toString(16)}: ${why}`);
      uncounted.push({ pc: site.pc, why });
      continue;
    }
    used.set(page, Number(k) + slots);
    if (site.fp && fp) writes.push([fp.negatedAt, negatedRegisters(site.fp)]);
    placed.push({ site, plan: why.plan, original: why.original, words });
  }
  if (!placed.length) return refuse(`nothing here can be counted (${uncounted.map((u) => u.why).join('; ')})`);
  for (const p of placed) {
    const end = p.site.pc + BigInt(p.plan.displaced);
    // a patch must not cover another, where the process stands, or an int3 of the run
    const inside = (x: bigint) => x > p.site.pc && x < end;
    const other = placed.find((q) => q !== p && (inside(q.site.pc) || (q.site.pc <= p.site.pc && q.site.pc + BigInt(q.plan.displaced) > p.site.pc)));
    if (other) return refuse(`the patches at 0x${p.site.pc.toString(16)} and 0x${other.site.pc.toString(16)} overlap`);
    const clash = [...keepClear, ...uncounted.map((u) => u.pc)].find(inside);
    if (clash !== undefined) return refuse(`0x${clash.toString(16)} is inside the patch at 0x${p.site.pc.toString(16)}`, clash);
  }
  // every page's words start at zero (a fresh anonymous mapping); the targets' counts to go
  for (const p of placed) {
    writes.push([p.plan.codeAt, p.plan.code]);
    if (p.site.target !== undefined) {
      const left = Buffer.alloc(8);
      left.writeBigUInt64LE(BigInt(p.site.target));
      writes.push([p.words.left, left]);
    }
  }
  // the jumps last: the tracer runs these in order, and the process is stopped meanwhile
  for (const p of placed) writes.push([p.site.pc, p.plan.patch]);
  await Promise.all(writes.map(([addr, data]) => tracee.writeMemory(addr, data)));
  const traps = [
    ...placed.filter((p) => p.site.target !== undefined).flatMap((p) => [p.plan.trapAt, p.site.pc]),
    ...placed.flatMap((p) => (p.plan.fpTrapAt !== undefined ? [p.plan.fpTrapAt, p.site.pc] : [])),
  ];
  return { host, pages, placed, traps, seq: pages[0] ?? 0n, uncounted };
}

/** What placeable looks at of the code around pc: its first bytes, and ±SCAN bytes within its mapping. */
interface CodeAround {
  code: Buffer;
  /** the bytes from `lo` on, for the branches that may land in the displaced bytes */
  around: Buffer;
  lo: bigint;
}

/** The code around pc, read together (undefined: pc is not in executable memory, placeable says so). */
async function codeAround(tracee: NativeTracee, pc: bigint, region: Region | undefined): Promise<CodeAround | undefined> {
  if (!region || !region.perms.includes('x')) return undefined;
  const lo = pc - SCAN > region.start ? pc - SCAN : region.start;
  const hi = pc + SCAN < region.end ? pc + SCAN : region.end;
  const [code, around] = await Promise.all([tracee.readMemory(pc, 32), tracee.readMemory(lo, Number(hi - lo))]);
  return { code, around, lo };
}

/** The stub of one site and the bytes its patch covers, or why its instruction cannot be counted. */
function placeable(read: CodeAround | undefined, site: CounterSite, region: Region, w: CounterWords, codeAt: bigint, fp: FingerprintCompare | undefined, room: number): { plan: StubPlan; original: Buffer } | string {
  // only code: a breakpoint gdb put in data is an int3 there, never a 5-byte patch
  if (!region.perms.includes('x') || !read) return 'not in executable memory';
  const plan = planStub(read.code, site.pc, codeAt, w, fp, room);
  if ('refused' in plan) return plan.refused;
  const into = branchesInto(read.around, read.lo, site.pc, plan.displaced);
  if (into.length) return `a branch at 0x${into[0].toString(16)} lands inside the displaced bytes`;
  return { plan, original: read.code.subarray(0, plan.displaced) };
}

/** The counts of an installed set, by pc. */
export async function readCounters(c: InstalledCounters): Promise<CounterReading[]> {
  // read together: one round trip to the tracer, not one per counter
  const words = await Promise.all(c.placed.map((p) => c.host.tracee.readMemory(p.words.count, 24)));
  return c.placed.map((p, i) => ({ pc: p.site.pc, count: Number(words[i].readBigUInt64LE(0)), last: Number(words[i].readBigUInt64LE(16)) }));
}

/**
 * Puts the counted instructions back and unmaps the pages. A process that
 * stands inside a stub (an interrupted run; any of its threads) keeps its pages:
 * the stub's jump back lands on the restored code, so it still runs as recorded.
 */
export async function removeCounters(c: InstalledCounters): Promise<void> {
  // the bytes put back and the threads' pcs asked in one batch (the tracer runs them in order)
  const [, pcs] = await Promise.all([Promise.all(c.placed.map((p) => c.host.tracee.writeMemory(p.site.pc, p.original))), c.host.threadPcs()]);
  for (const page of c.pages) if (pcs.every((rip) => rip < page || rip >= page + SIZE)) await inject(c.host, NR_MUNMAP, page, SIZE);
}
