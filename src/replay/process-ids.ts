// The replayed process's parent and user/group ids, from /proc/PID/status: what
// LLDB's qProcessInfo reports besides the recorded pid.
import * as fs from 'node:fs';

export interface ProcessIds {
  ppid: number;
  uid: number;
  gid: number;
  euid: number;
  egid: number;
}

/** Parses the PPid, Uid and Gid lines of a /proc/PID/status text. */
export function parseProcessIds(status: string): ProcessIds {
  const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1].trim().split(/\s+/).map(Number) ?? [];
  const [ppid = 0] = field('PPid');
  const [uid = 0, euid = uid] = field('Uid');
  const [gid = 0, egid = gid] = field('Gid');
  return { ppid, uid, gid, euid, egid };
}

export function readProcessIds(pid: number): ProcessIds {
  return parseProcessIds(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
}
