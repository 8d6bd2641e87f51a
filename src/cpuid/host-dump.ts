// This CPU's CPUID answers, every leaf and subleaf (what meta.json records as
// `cpuid.host`, and what a replay checks a recording against). Each CPUID traps to
// the hypervisor in a VM: the ~200 of a full dump took 8 ms here, at every record and
// every replay. The answers do not change while the machine runs, so the dump is kept
// per boot (the kernel's boot_id), per CPU the tracer runs on, per microcode
// revision and per build of the addon that dumps it, in rewind's cache directory
// (next to the file store); a dump that cannot be kept is taken each time, as before.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { native, preloadLibraryPath } from '../native/addon.js';
import { fileStoreLocation } from '../history/file-store.js';
import { tracerCpu } from '../arch/cpu.js';
import type { CpuidRow } from './leaves.js';

export interface HostDump {
  leaves: CpuidRow[];
  xcr0: bigint;
}

function readOr(file: string, otherwise: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return otherwise;
  }
}

/** Where this boot's dump for the tracer's CPU is kept; undefined when the boot cannot be named. */
function cacheFile(): string | undefined {
  const boot = readOr('/proc/sys/kernel/random/boot_id', '');
  if (!/^[0-9a-f-]{36}$/.test(boot)) return undefined;
  const cpu = tracerCpu();
  const microcode = readOr(`/sys/devices/system/cpu/cpu${cpu}/microcode/version`, 'none').replace(/[^0-9a-z]/gi, '');
  let build: number;
  try {
    build = Math.floor(fs.statSync(path.join(path.dirname(preloadLibraryPath()), 'rewind_native.node')).mtimeMs);
  } catch {
    return undefined;
  }
  return path.join(fileStoreLocation(), 'cpuid', `${boot}-cpu${cpu}-${microcode}-${build}.json`);
}

let memo: Promise<HostDump> | undefined;

/** This CPU's full CPUID dump (native().cpuidDump()), kept per boot. */
export function hostCpuidDump(): Promise<HostDump> {
  memo ??= load();
  return memo;
}

async function load(): Promise<HostDump> {
  const file = cacheFile();
  if (file) {
    try {
      const kept = JSON.parse(fs.readFileSync(file, 'utf8')) as { leaves: CpuidRow[]; xcr0: string };
      if (Array.isArray(kept.leaves) && kept.leaves.every((r) => Array.isArray(r) && r.length === 6) && /^0x[0-9a-f]+$/.test(kept.xcr0)) {
        return { leaves: kept.leaves, xcr0: BigInt(kept.xcr0) };
      }
    } catch {
      // not kept yet, or unreadable: dumped below
    }
  }
  const n = native();
  n.configure({ cpu: tracerCpu() });
  const dump = await n.cpuidDump();
  const fresh: HostDump = { leaves: dump.leaves as CpuidRow[], xcr0: dump.xcr0 };
  if (file) {
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const tmp = `${file}.tmp-${process.pid}`;
      fs.writeFileSync(tmp, JSON.stringify({ leaves: fresh.leaves, xcr0: `0x${fresh.xcr0.toString(16)}` }));
      fs.renameSync(tmp, file);
    } catch {
      // a read-only cache: dumped again next time
    }
  }
  return fresh;
}
