import * as fs from 'node:fs';

export interface ProcMapping {
  start: bigint;
  end: bigint;
  perms: string;
  offset: bigint;
  inode: number;
  name: string;
}

export function parseMaps(text: string): ProcMapping[] {
  const out: ProcMapping[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) \S+ (\d+)\s*(.*)$/.exec(line);
    if (!m) continue;
    out.push({
      start: BigInt('0x' + m[1]), end: BigInt('0x' + m[2]), perms: m[3], offset: BigInt('0x' + m[4]),
      inode: Number(m[5]), name: m[6],
    });
  }
  return out;
}

export function readMaps(pid: number): ProcMapping[] {
  return parseMaps(fs.readFileSync(`/proc/${pid}/maps`, 'utf8'));
}

/** Kernel-provided mappings that neither the recording nor the replay reproduce. */
export function isSpecialMapping(name: string): boolean {
  return name === '[vdso]' || name === '[vsyscall]' || name.startsWith('[vvar');
}

export function hex(v: bigint | number): string {
  return '0x' + v.toString(16);
}
