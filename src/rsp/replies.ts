// Reply payload builders. They return raw payloads: encodePacket does the '}' escaping,
// so binary attachments (qXfer data, vFile pread) are passed through unescaped here.

import { encodeHex, hexByte, hexNumber } from './hex.js';
import type { ThreadId } from './requests.js';

export const ok = (): string => 'OK';
export const empty = (): string => '';

/** 'Exx' with a code from errors.ts. */
export function error(code: number): string {
  return 'E' + hexByte(code);
}

export function formatThreadId(t: ThreadId, multiprocess = t.pid !== undefined): string {
  const part = (n: number) => hexNumber(n);
  return multiprocess ? `p${part(t.pid ?? 0)}.${part(t.tid)}` : part(t.tid);
}

export type StopReason =
  | { kind: 'swbreak' | 'hwbreak' }
  /** a thread was made (the stop names it): gdb adds it and resumes */
  | { kind: 'create' }
  | { kind: 'watch' | 'rwatch' | 'awatch'; addr: bigint }
  | { kind: 'replaylog'; value: 'begin' | 'end' };

export interface StopInfo {
  signal: number;
  thread: { pid: number; tid: number };
  /** Expedited registers, bytes already in target order (e.g. rbp, rsp, rip). */
  registers?: { regno: number; bytes: Buffer }[];
  reason?: StopReason;
  multiprocess?: boolean; // thread id syntax; default true
}

/** 'T' stop reply: Tss then nn:value; pairs, thread:ID; and the stop reason. */
export function stopReply(s: StopInfo): string {
  let out = 'T' + hexByte(s.signal);
  for (const r of s.registers ?? []) out += `${r.regno.toString(16).padStart(2, '0')}:${r.bytes.toString('hex')};`;
  out += `thread:${formatThreadId(s.thread, s.multiprocess ?? true)};`;
  const r = s.reason;
  if (!r) return out;
  if ('addr' in r) return out + `${r.kind}:${r.addr.toString(16)};`;
  if ('value' in r) return out + `replaylog:${r.value};`;
  return out + `${r.kind}:;`;
}

export function exited(code: number, pid?: number): string {
  return 'W' + hexByte(code) + (pid === undefined ? '' : `;process:${hexNumber(pid)}`);
}

export function killedBySignal(sig: number, pid?: number): string {
  return 'X' + hexByte(sig) + (pid === undefined ? '' : `;process:${hexNumber(pid)}`);
}

/** 'O' console output (qRcmd answers, inferior output). */
export function consoleOutput(text: string): string {
  return 'O' + encodeHex(text);
}

/** One qXfer read answer from the whole object: 'm' + data if more follows, else 'l' + data. */
export function qXferChunk(object: Buffer | string, offset: number, length: number): Buffer {
  const whole = typeof object === 'string' ? Buffer.from(object, 'utf8') : object;
  const chunk = whole.subarray(Math.min(offset, whole.length), Math.min(offset + length, whole.length));
  const last = offset + length >= whole.length;
  return Buffer.concat([Buffer.from(last ? 'l' : 'm'), chunk]);
}

/** Host I/O reply: 'F' result [',' errno] [';' attachment]. Result -1 goes with a File-I/O errno. */
export function fileResult(result: number, errno?: number, attachment?: Buffer): Buffer {
  let head = 'F' + hexNumber(result);
  if (errno !== undefined) head += ',' + hexNumber(errno);
  if (attachment === undefined) return Buffer.from(head);
  return Buffer.concat([Buffer.from(head + ';'), attachment]);
}

export interface FileIoStat {
  dev: number;
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  size: number;
  blksize: number;
  blocks: number;
  atime: number; // seconds
  mtime: number;
  ctime: number;
}

/** gdb's File-I/O struct stat (64 bytes, big-endian), the attachment of a vFile:fstat reply. */
export function fileIoStat(st: FileIoStat): Buffer {
  const out = Buffer.alloc(64);
  const u32 = [st.dev, st.ino, st.mode, st.nlink, st.uid, st.gid, st.rdev];
  u32.forEach((v, i) => out.writeUInt32BE(v >>> 0, i * 4));
  [st.size, st.blksize, st.blocks].forEach((v, i) => out.writeBigUInt64BE(BigInt.asUintN(64, BigInt(Math.trunc(v))), 28 + i * 8));
  [st.atime, st.mtime, st.ctime].forEach((v, i) => out.writeUInt32BE(Math.trunc(v) >>> 0, 52 + i * 4));
  return out;
}

/** qfThreadInfo/qsThreadInfo answer: 'm' + ids, or 'l' when there are none left. */
export function threadList(threads: ThreadId[], multiprocess = true): string {
  return threads.length === 0 ? 'l' : 'm' + threads.map((t) => formatThreadId(t, multiprocess)).join(',');
}

export function currentThread(t: ThreadId, multiprocess = true): string {
  return 'QC' + formatThreadId(t, multiprocess);
}

/** qSupported answer: true → 'name+', false → 'name-', string → 'name=value'. */
export function supported(features: Record<string, string | boolean>): string {
  return Object.entries(features)
    .map(([k, v]) => (v === true ? `${k}+` : v === false ? `${k}-` : `${k}=${v}`))
    .join(';');
}
