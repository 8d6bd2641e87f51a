import * as fs from 'node:fs';

export interface ProcMapping {
  start: bigint;
  end: bigint;
  perms: string;
  offset: bigint;
  /** the device of the mapped file (decimal major and minor) */
  major: number;
  minor: number;
  inode: number;
  name: string;
}

export function parseMaps(text: string): ProcMapping[] {
  const out: ProcMapping[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) ([0-9a-f]+):([0-9a-f]+) (\d+)\s*(.*)$/.exec(line);
    if (!m) continue;
    out.push({
      start: BigInt('0x' + m[1]), end: BigInt('0x' + m[2]), perms: m[3], offset: BigInt('0x' + m[4]),
      major: parseInt(m[5], 16), minor: parseInt(m[6], 16), inode: Number(m[7]), name: m[8],
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

/** "major:minor:inode", as /proc/PID/maps names a mapping's file (major and minor in decimal, as parseMaps gives them). */
export function fileIdentity(st: fs.BigIntStats): string {
  const dev = st.dev;
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return `${major}:${minor}:${st.ino}`;
}

export function hex(v: bigint | number): string {
  return '0x' + v.toString(16);
}
