// How a recording gets its CPUID answers (docs/portability.md): which answers the
// program is given (this CPU's, masked to the portable baseline, or a dump from a
// file for tests), how its CPUID instructions reach the recorder (CPUID faulting
// where the CPU and kernel offer it, else patched into traps), and what meta.json
// says about it. One CpuidRecording per recorded process.
import * as fs from 'node:fs';
import type { ExecSnapshot, MapFileInfo } from '../history/events.js';
import type { CpuidTarget, NativeRecording } from '../native/addon.js';
import { hostCpuidDump } from './host-dump.js';
import { type CpuidRow, portableAnswers, regOf } from './leaves.js';
import { forgetSitesIn, patchExecSnapshot, patchMappedFile } from './patching.js';
import { cpuidSitesOf } from './site-cache.js';

export interface CpuidOptions {
  /** mask the answers to the portable baseline (x86-64-v3, no AVX-512, no TSX) */
  portable?: boolean;
  /** answer from this dump file (`cpuid -r` lines) instead of this CPU: tests stand in for another machine */
  answersFrom?: string;
}

/** What meta.json records under `cpuid`. */
export interface CpuidMeta {
  /** this CPU's answers (every leaf and subleaf) */
  host: CpuidRow[];
  /** XCR0 here, hex: the program reads it with XGETBV, which nothing can trap */
  xcr0: string;
  /** the answers the program got, when not `host` */
  answers?: CpuidRow[];
  /** where the answers came from: this CPU, the portable baseline, or a file */
  answeredFrom: string;
  /** --portable: the features the program was not told about */
  hidden?: string[];
  baseline?: string;
  /** how the program's CPUID instructions reached the recorder */
  trap: 'faulting' | 'patched';
}

/** Parses `cpuid -r` output: lines `0xLEAF 0xSUB: eax=0x.. ebx=0x.. ecx=0x.. edx=0x..`; '#' starts a comment. */
export function parseCpuidDump(text: string, where: string): CpuidRow[] {
  const rows: CpuidRow[] = [];
  const re = /^\s*0x([0-9a-f]{1,8})\s+0x([0-9a-f]{1,8}):\s+eax=0x([0-9a-f]{1,8})\s+ebx=0x([0-9a-f]{1,8})\s+ecx=0x([0-9a-f]{1,8})\s+edx=0x([0-9a-f]{1,8})\s*$/i;
  text.split('\n').forEach((line, i) => {
    const bare = line.replace(/#.*/, '').trim();
    if (!bare || /^CPU\s*\d*:$/.test(bare)) return;
    const m = re.exec(bare);
    if (!m) throw new Error(`${where}:${i + 1}: not a \`cpuid -r\` line: ${line.trim()}`);
    rows.push(m.slice(1).map((h) => parseInt(h, 16)) as CpuidRow);
  });
  if (!rows.some((r) => r[0] === 0)) throw new Error(`${where}: no leaf 0 (vendor and highest leaf)`);
  return rows;
}

/** CPUID faulting here: the CPU and kernel say so, and REWIND_CPUID_FAULTING=0 does not turn it off. */
export function faultingAvailable(): boolean {
  if (process.env.REWIND_CPUID_FAULTING === '0') return false;
  try {
    return /^flags\s*:.*\bcpuid_fault\b/m.test(fs.readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return false;
  }
}

/**
 * Answers that are not this CPU's must still cover what this CPU's XSAVE writes:
 * glibc sizes its lazy-binding trampoline's save area from leaf 0xd, while the
 * hardware writes what XCR0 (this machine's, untrappable) enables. The sizes and
 * the layout of the components enabled here are raised to this CPU's.
 */
function coverHostXsave(answers: CpuidRow[], host: CpuidRow[], xcr0: bigint): CpuidRow[] {
  const out = answers.map((r) => [...r] as CpuidRow);
  const leaf0 = out.find((r) => r[0] === 0xd && r[1] === 0);
  if (!leaf0) return out;
  leaf0[3] = Math.max(leaf0[3], regOf(host, 0xd, 0, 'ebx'));
  leaf0[4] = Math.max(leaf0[4], regOf(host, 0xd, 0, 'ecx'));
  for (let i = 2; i < 32; i++) {
    if (!((xcr0 >> BigInt(i)) & 1n) || out.some((r) => r[0] === 0xd && r[1] === i)) continue;
    const h = host.find((r) => r[0] === 0xd && r[1] === i);
    if (h) out.push([...h] as CpuidRow);
  }
  return out.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
}

export class CpuidRecording {
  private constructor(readonly meta: CpuidMeta, private readonly answers: CpuidRow[] | null) {}

  static async plan(opts: CpuidOptions): Promise<CpuidRecording> {
    const dump = await hostCpuidDump();
    const host = dump.leaves;
    let answers: CpuidRow[] | null = null;
    let answeredFrom = 'this CPU';
    if (opts.answersFrom) {
      answers = parseCpuidDump(fs.readFileSync(opts.answersFrom, 'utf8'), opts.answersFrom);
      answeredFrom = `the dump in ${opts.answersFrom}`;
    }
    const meta: CpuidMeta = { host, xcr0: `0x${dump.xcr0.toString(16)}`, answeredFrom, trap: faultingAvailable() ? 'faulting' : 'patched' };
    if (opts.portable) {
      const p = portableAnswers(answers ?? host);
      meta.hidden = p.hidden;
      meta.baseline = 'x86-64-v3';
      answers = p.answers;
      meta.answeredFrom = `${answeredFrom}, masked to x86-64-v3`;
    }
    if (answers) {
      answers = coverHostXsave(answers, host, dump.xcr0);
      meta.answers = answers;
    }
    return new CpuidRecording(meta, answers);
  }

  /** The recorded process `pid` stands at its first instruction (or after an exec). */
  async afterExec(recording: NativeRecording, pid: number, snap: ExecSnapshot, fileOf: (sha: string) => Buffer,
    enabledByLoop?: boolean): Promise<void> {
    const p = recordedProcess(recording, pid);
    if (this.meta.trap === 'faulting') {
      // reset by every exec; sent with the answers (one wake of the tracer thread),
      // or done by the loop at the exec stop (execsToLoop)
      const enabled = enabledByLoop
        ?? (await Promise.all([recording.cpuidSetAnswers(pid, this.answers), p.cpuidEnableFaulting()]))[1];
      if (!enabled) {
        throw new Error('this CPU advertises CPUID faulting (cpuid_fault) but ARCH_SET_CPUID failed; record with REWIND_CPUID_FAULTING=0');
      }
      return;
    }
    await recording.cpuidSetAnswers(pid, this.answers);
    await patchExecSnapshot(p, snap, fileOf);
  }

  /**
   * With CPUID faulting, the record loop answers and switches faulting on again at
   * each exec stop itself (the stop's cpuidFaulting, for afterExec): the same answers
   * for every process, and no round trip to JS for it.
   */
  async execsToLoop(recording: NativeRecording): Promise<void> {
    if (this.meta.trap === 'faulting') await recording.cpuidAtExec(this.answers);
  }

  /** The CPUID sites (file offsets) of image `sha` when they are patched at each mapping, else null. */
  async imageSites(sha: string, fileOf: (sha: string) => Buffer): Promise<number[] | null> {
    return this.meta.trap === 'patched' ? cpuidSitesOf(sha, () => fileOf(sha)) : null;
  }

  /** The program mapped a file (the mmap-file stop, after the map-file event). */
  async afterMap(recording: NativeRecording, pid: number, map: MapFileInfo, fileOf: (sha: string) => Buffer): Promise<void> {
    if (this.meta.trap !== 'patched') return;
    const p = recordedProcess(recording, pid);
    await forgetSitesIn(p, map);
    // Only ELF images are patched (their sites come from the ELF's code sections).
    if (map.sha) await patchMappedFile(p, { ...map, sha: map.sha }, fileOf);
  }
}

/** A recorded process as the patching code sees it: its CPUID state is kept by the recording. */
function recordedProcess(recording: NativeRecording, pid: number): CpuidTarget {
  return {
    pid,
    cpuidEnableFaulting: () => recording.cpuidEnableFaulting(pid),
    cpuidPatch: (start, end, sites) => recording.cpuidPatch(pid, start, end, sites),
  };
}
