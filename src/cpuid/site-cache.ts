// The CPUID sites of a mapped file, by its content hash: in memory for this run,
// and on disk next to the file store (`cpuid/sites/<sha>.json`), so that neither the
// file nor the x86 decoder is read again once its sites are known. Without CPUID
// faulting every exec and every executable mapping is patched, in the recording
// and in each replay: a record of make read cc1 (25 MB) at each of its execs and
// libc at each of its mmaps, and loaded iced-x86 in every rewind process. The
// sites depend only on the file's bytes (code-sites.ts) and on how they are found
// (SITES_FORMAT, bumped when code-sites.ts finds other sites).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileStoreLocation } from '../history/file-store.js';

const SITES_FORMAT = 1;
const known = new Map<string, number[]>();

function cacheFile(sha: string): string | undefined {
  return /^[0-9a-f]{64}$/.test(sha) ? path.join(fileStoreLocation(), 'cpuid', 'sites', `${sha}.json`) : undefined;
}

function readKept(file: string): number[] | undefined {
  try {
    const kept = JSON.parse(fs.readFileSync(file, 'utf8')) as { format?: number; sites?: unknown };
    if (kept.format === SITES_FORMAT && Array.isArray(kept.sites) && kept.sites.every((s) => Number.isSafeInteger(s) && s >= 0)) {
      return kept.sites as number[];
    }
  } catch {
    // not kept yet, or unreadable: found again
  }
  return undefined;
}

function keep(file: string, sites: number[]): void {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, JSON.stringify({ format: SITES_FORMAT, sites }));
    fs.renameSync(tmp, file);
  } catch {
    // a read-only store: found again next time
  }
}

/** File offsets of the CPUID instructions of the file with content hash `sha`; `load` reads it when they are not known. */
export async function cpuidSitesOf(sha: string, load: () => Buffer): Promise<number[]> {
  let sites = known.get(sha);
  if (sites) return sites;
  const file = cacheFile(sha);
  sites = file ? readKept(file) : undefined;
  if (!sites) {
    // the decoder (iced-x86, slow to load) comes in only here
    const { cpuidSitesInFile } = await import('./code-sites.js');
    sites = cpuidSitesInFile(load(), sha);
    if (file) keep(file, sites);
  }
  known.set(sha, sites);
  return sites;
}
