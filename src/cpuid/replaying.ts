// CPUID in replay (docs/portability.md): every CPUID the program executes gets the
// answer recorded for it, through CPUID faulting where this machine has it and
// through the same patched traps as the recording otherwise. Before anything runs,
// a trace this CPU cannot replay faithfully is refused with the reason: features
// the program was told it could use and this CPU lacks, XCR0 state the program may
// have read, XSAVE areas sized too small for this CPU, signal frames of another size.
import * as fs from 'node:fs';
import type { TraceReader } from '../history/index.js';
import { EventKind, eventKindOf, type ExecSnapshot, type MapFileInfo } from '../history/events.js';
import type { CpuidTarget } from '../native/addon.js';
import { hostCpuidDump } from './host-dump.js';
import { type CpuidRow, featuresOnlyIn, FEATURES, regOf, trampolineXsave, xsaveWrites, xstateName } from './leaves.js';
import { forgetAllSites, forgetSitesIn, patchExecSnapshot, patchMappedFile } from './patching.js';
import { cpuidSitesOf } from './site-cache.js';
import { type CpuidMeta, faultingAvailable } from './recording.js';

const AT_MINSIGSTKSZ = 51n;

/** The trace's CPUID record, or undefined for traces from before rewind answered CPUID itself. */
export function cpuidMetaOf(trace: TraceReader): CpuidMeta | undefined {
  const c = trace.meta.cpuid as CpuidMeta | undefined;
  return c && typeof c === 'object' && !Array.isArray(c) && Array.isArray(c.host) ? c : undefined;
}

const checked = new WeakMap<TraceReader, Promise<void>>();

/** Throws, naming the reason, when this CPU cannot replay the trace faithfully. Once per trace. */
export function checkCpuForReplay(trace: TraceReader, snapshot: ExecSnapshot): Promise<void> {
  let p = checked.get(trace);
  if (!p) {
    p = refusal(trace, snapshot).then((why) => {
      if (why) throw new Error(`this trace cannot be replayed on this CPU: ${why}`);
    });
    checked.set(trace, p);
  }
  return p;
}

function told(answers: CpuidRow[], name: string): boolean {
  const f = FEATURES.find((x) => x.name === name)!;
  return ((regOf(answers, f.leaf, f.subleaf, f.reg) >>> f.bit) & 1) === 1;
}

function auxvValue(auxv: Buffer, type: bigint): bigint | undefined {
  for (let at = 0; at + 16 <= auxv.length; at += 16) {
    const t = auxv.readBigUInt64LE(at);
    if (t === type) return auxv.readBigUInt64LE(at + 8);
    if (t === 0n) break;
  }
  return undefined;
}

/** Whether the recorded program received a signal (its frame is sized by this CPU's XSAVE). */
function deliveredSignals(trace: TraceReader): boolean {
  const counted = trace.end?.signals;
  if (typeof counted === 'number') return counted > 0;
  for (let i = 0; i < trace.eventCount; i++) if (eventKindOf(trace.record(i)) === EventKind.Signal) return true;
  return false;
}

async function refusal(trace: TraceReader, snapshot: ExecSnapshot): Promise<string | undefined> {
  const meta = cpuidMetaOf(trace);
  if (!meta) return undefined;
  const dump = await hostCpuidDump();
  const here = dump.leaves;
  const answers = meta.answers ?? meta.host;
  const missing = featuresOnlyIn(answers, here, (f) => f.isa);
  if (missing.length) {
    return `the recorded program was told the CPU has ${missing.join(', ')}, which this CPU lacks: `
      + 'it may run their instructions, which would fault here (record with --portable to hide them)';
  }
  // XGETBV reads XCR0 directly: the program may have looked at the components of the
  // features it was told about (glibc does, before it uses AVX or AVX-512).
  const xcr0 = BigInt(meta.xcr0);
  let relevant = 0b11n;
  if (told(answers, 'avx')) relevant |= 1n << 2n;
  if (told(answers, 'avx512f')) relevant |= 0b111n << 5n;
  if (told(answers, 'ospke')) relevant |= 1n << 9n;
  if (told(answers, 'amx_tile')) relevant |= 0b11n << 17n;
  const differ = (xcr0 ^ dump.xcr0) & relevant;
  if (differ) {
    const names = [...Array(64).keys()].filter((b) => (differ >> BigInt(b)) & 1n).map(xstateName);
    return `XCR0 (the state the OS saves, read with XGETBV, which cannot be trapped) differs in ${names.join(', ')}: `
      + `0x${xcr0.toString(16)} when recorded, 0x${dump.xcr0.toString(16)} here`;
  }
  const reserved = trampolineXsave(answers);
  const writes = xsaveWrites(here, dump.xcr0);
  const compact = told(answers, 'xsavec');
  const [need, got] = compact ? [writes.compact, reserved.compact] : [writes.standard, reserved.standard];
  if (need > got) {
    return `this CPU's ${compact ? 'XSAVEC' : 'XSAVE'} writes ${need} bytes for the state glibc saves in its lazy-binding `
      + `trampoline, and the recorded CPUID answers (leaf 0xd) made it reserve ${got}`;
  }
  const recorded = auxvValue(Buffer.from(snapshot.auxv, 'hex'), AT_MINSIGSTKSZ);
  const ours = auxvValue(fs.readFileSync('/proc/self/auxv'), AT_MINSIGSTKSZ);
  if (recorded !== undefined && ours !== undefined && recorded !== ours && deliveredSignals(trace)) {
    return `the kernel writes signal frames of another size here (AT_MINSIGSTKSZ ${ours}, ${recorded} when recorded: `
      + 'the XSAVE state differs), so the recorded signal handlers would run on other stack addresses';
  }
  return undefined;
}

interface Policy { patch: boolean; faulting: boolean }
const policies = new WeakMap<TraceReader, Policy>();

function policyOf(trace: TraceReader): Policy {
  let p = policies.get(trace);
  if (!p) {
    const meta = cpuidMetaOf(trace);
    const faulting = !!meta && faultingAvailable();
    // A recording that patched its code replays patched (the program may read its own
    // code bytes); one that used faulting is patched here only without faulting.
    p = { faulting, patch: !!meta && (meta.trap === 'patched' || !faulting) };
    policies.set(trace, p);
  }
  return p;
}

/**
 * At an exec (or the first process's start), before the new image is rebuilt: the
 * program's CPUIDs trap from here on (faulting, which the exec reset), and the old
 * image's patched sites are forgotten (see forgetAllSites). Faulting goes on before
 * the rebuild, not after: the tracer thread runs with it too (addon/tracer_thread.cc),
 * and each of the rebuild's stops costs two MSR writes while the two differ.
 */
export async function cpuidBeforeRebuild(t: CpuidTarget, trace: TraceReader): Promise<void> {
  const p = policyOf(trace);
  if (p.faulting && !(await t.cpuidEnableFaulting())) {
    throw new Error('this CPU advertises CPUID faulting (cpuid_fault) but ARCH_SET_CPUID failed; replay with REWIND_CPUID_FAULTING=0');
  }
  if (p.patch) await forgetAllSites(t);
}

/** After the address space of an exec is rebuilt: its CPUID sites patched, where they are. */
export async function cpuidAfterRebuild(t: CpuidTarget, trace: TraceReader, snap: ExecSnapshot): Promise<void> {
  if (policyOf(trace).patch) await patchExecSnapshot(t, snap, (sha) => trace.file(sha));
}

/** The CPUID sites (file offsets) of image `sha` when they are patched at each mapping, else null. */
export async function cpuidImageSites(trace: TraceReader, sha: string): Promise<number[] | null> {
  return policyOf(trace).patch ? cpuidSitesOf(sha, () => trace.file(sha)) : null;
}

/** Whether map-file events patch CPUID sites (then JS applies every one of them). */
export function cpuidPatchesMappings(trace: TraceReader): boolean {
  return policyOf(trace).patch;
}

/** Before a map-file event writes the file's bytes. */
export async function cpuidBeforeMap(t: CpuidTarget, trace: TraceReader, map: MapFileInfo): Promise<void> {
  if (policyOf(trace).patch) await forgetSitesIn(t, map);
}

/** After a map-file event wrote the file's bytes. */
export async function cpuidAfterMap(t: CpuidTarget, trace: TraceReader, map: MapFileInfo): Promise<void> {
  // Only ELF images are patched (their sites come from the ELF's code sections).
  if (policyOf(trace).patch && map.sha) await patchMappedFile(t, { ...map, sha: map.sha }, (sha) => trace.file(sha));
}
