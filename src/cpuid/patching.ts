// Turns the CPUID instructions of a process's file-backed code into traps, in the
// recorded run and in every replay alike, at the same points: right after an exec
// (the executable, ld.so) and right after a file is mapped executable (libc,
// dlopen). The sites come from code-sites.ts; the native side writes `ud2` over
// them and answers the trap (addon/cpuid_emulation.cc).
import type { ExecSnapshot, MapFileInfo } from '../history/events.js';
import type { CpuidTarget } from '../native/addon.js';
import { cpuidSitesOf } from './site-cache.js';

const PROT_EXEC = 4;
const ALL = [0n, (1n << 64n) - 1n] as const;

/**
 * The addresses of the CPUID sites of the file `sha` mapped from file offset
 * `offset` at `start`, `length` bytes. The file is read, and the decoder loaded,
 * only when its sites are not known yet (site-cache.ts): with CPUID faulting
 * nothing is patched.
 */
async function sitesIn(sha: string, fileOf: (sha: string) => Buffer, start: bigint, offset: number, length: number): Promise<bigint[]> {
  return (await cpuidSitesOf(sha, () => fileOf(sha)))
    .filter((at) => at >= offset && at + 2 <= offset + length)
    .map((at) => start + BigInt(at - offset));
}

/** After an exec: forgets every earlier site, patches the snapshot's executable file mappings. */
export async function patchExecSnapshot(p: CpuidTarget, snap: ExecSnapshot, fileOf: (sha: string) => Buffer): Promise<number> {
  await p.cpuidPatch(ALL[0], ALL[1], []);
  let patched = 0;
  for (const m of snap.mappings) {
    if (m.perms[2] !== 'x' || !('file' in m.source)) continue;
    const start = BigInt(m.start);
    const end = BigInt(m.end);
    const sites = await sitesIn(m.source.file, fileOf, start, m.source.offset, Number(end - start));
    if (sites.length) patched += await p.cpuidPatch(start, end, sites);
  }
  return patched;
}

/**
 * After an exec the old image's sites are gone. Before the new one is written: a
 * write over a known site with its original bytes keeps it patched, which would
 * turn the new image's instruction at the same address into a ud2 no site names.
 */
export async function forgetAllSites(p: CpuidTarget): Promise<void> {
  await p.cpuidPatch(ALL[0], ALL[1], []);
}

/** Before a file's bytes are (re)written at a mapping: the old sites there are gone. */
export async function forgetSitesIn(p: CpuidTarget, map: MapFileInfo): Promise<void> {
  const start = BigInt(map.addr);
  await p.cpuidPatch(start, start + BigInt(map.length), []);
}

/** After an ELF image was mapped: patches it when the mapping is executable. */
export async function patchMappedFile(p: CpuidTarget, map: MapFileInfo & { sha: string }, fileOf: (sha: string) => Buffer): Promise<number> {
  const start = BigInt(map.addr);
  const end = start + BigInt(map.length);
  if (!(map.prot & PROT_EXEC)) {
    await p.cpuidPatch(start, end, []);
    return 0;
  }
  const sites = await sitesIn(map.sha, fileOf, start, Number(BigInt(map.offset)), Number(BigInt(map.length)));
  return p.cpuidPatch(start, end, sites);
}
