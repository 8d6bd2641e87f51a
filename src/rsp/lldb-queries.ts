// Answers to the packets only LLDB sends (lldb/docs/resources/lldbgdbremote.md),
// and the connection state they switch on. The dispatcher hands LLDB's requests
// here; the engine supplies what only it knows (memory regions, the dynamic
// linker's r_debug slot, the replayed process's ids) through small methods.
//
// The answers follow lldb-server's where LLDB reads them: qHostInfo and
// qProcessInfo hex-encode triple and hostname, qMemoryRegionInfo gives a gap
// (no permissions) for an unmapped address. qShlibInfoAddr matters most: without
// it LLDB takes the svr4 list's main-lm (a struct link_map) for the address of
// r_debug's pointer, reads garbage as r_brk, and plants its shared-library
// breakpoint at a bogus address ("failed to set breakpoint site at 0x1003e0003").
import * as os from 'node:os';
import type { DebugTarget, MemoryRegion } from '../debug/target.js';
import { RspError } from './errors.js';
import { encodeHex } from './hex.js';
import type { LldbRequest } from './lldb-requests.js';
import { empty, error, ok } from './replies.js';

const TRIPLE = 'x86_64-pc-linux-gnu';
/** LLDB refuses memory reads over this in one packet, like 'm' */
const MAX_READ = 0x8000;

type Reply = string | Buffer;

/** 'key:value;' pairs, LLDB's reply format for host, process and region queries. */
function pairs(entries: [string, string | number | bigint][]): string {
  return entries.map(([k, v]) => `${k}:${typeof v === 'string' ? v : v.toString(16)};`).join('');
}

/** LLDB parses os_version as numbers only: 6.1.0-28-amd64 → 6.1.0. */
function osVersion(release: string): string | undefined {
  return /^\d+(\.\d+)*/.exec(release)?.[0];
}

export function hostInfo(host: { hostname: string; release: string }): string {
  const version = osVersion(host.release);
  return pairs([
    ['triple', encodeHex(TRIPLE)],
    ['ptrsize', '8'],
    ['endian', 'little'],
    // x86 debug registers trap after the access: LLDB need not step over it again
    ['watchpoint_exceptions_received', 'after'],
    ...(version ? [['os_version', version] as [string, string]] : []),
    ['hostname', encodeHex(host.hostname)],
    ['vm-page-size', '4096'],
  ]);
}

export function processInfo(pid: number, ids: { ppid: number; uid: number; gid: number; euid: number; egid: number }): string {
  return pairs([
    ['pid', pid], ['parent-pid', ids.ppid], ['real-uid', ids.uid], ['real-gid', ids.gid],
    ['effective-uid', ids.euid], ['effective-gid', ids.egid],
    ['triple', encodeHex(TRIPLE)], ['ostype', 'linux'], ['endian', 'little'], ['ptrsize', '8'],
  ]);
}

export function memoryRegionInfo(r: MemoryRegion): string {
  const out: [string, string | bigint][] = [['start', r.start], ['size', r.end - r.start]];
  if (r.perms !== undefined) out.push(['permissions', r.perms]);
  if (r.name) out.push(['name', encodeHex(r.name)]);
  return pairs(out);
}

/** The LLDB-only switches a connection turns on, and the answers to LLDB's queries. */
export class LldbQueries {
  /** the client sent a packet only LLDB sends: it waits for an answer to 'k' */
  client = false;
  /** QListThreadsInStopReply: stop replies carry threads: and thread-pcs: */
  listThreadsInStopReply = false;
  /** QEnableErrorStrings: 'Exx;hex-text' instead of 'Exx' */
  errorStrings = false;
  /** 'x' answers 'b' + bytes (binary-upload, gdb ≥ 16 and LLDB ≥ 21 when both say so) instead of LLDB's raw bytes */
  binaryUpload = false;

  constructor(
    private readonly engine: DebugTarget,
    /** the current stop reply (the last packet of what '?' sends) */
    private readonly currentStop: () => Promise<Reply>,
    /** what LLDB calls the thread (the program's name) */
    private readonly threadName: string,
  ) {}

  async answer(req: LldbRequest): Promise<Reply> {
    const e = this.engine;
    // 'x' is gdb's too (binary-upload), and qRegisterInfo and qThreadStopInfo come after these
    if (req.type !== 'readMemoryBinary') this.client = true;
    switch (req.type) {
      case 'qHostInfo':
        return hostInfo({ hostname: os.hostname(), release: os.release() });
      case 'qProcessInfo':
        return processInfo(e.tid, e.processIds());
      case 'qRegisterInfo':
        // the registers come from qXfer:features:read:target.xml, as LLDB prefers
        return empty();
      case 'qMemoryRegionInfo':
        return memoryRegionInfo(e.memoryRegion(req.addr));
      case 'qShlibInfoAddr': {
        const slot = await e.shlibInfoAddress();
        return slot === undefined ? error(RspError.NotSupportedHere) : slot.toString(16);
      }
      case 'qThreadStopInfo':
        return req.tid === e.tid ? this.currentStop() : error(RspError.NoSuchThread);
      case 'jThreadsInfo':
        // one thread, whose stop reply already says everything: LLDB falls back to it
        return empty();
      case 'QThreadSuffixSupported':
        return ok();
      case 'QListThreadsInStopReply':
        this.listThreadsInStopReply = true;
        return ok();
      case 'QEnableErrorStrings':
        this.errorStrings = true;
        return ok();
      case 'readMemoryBinary': {
        // x0,0 is LLDB's probe for the packet
        if (req.length === 0) return this.binaryUpload ? 'b' : ok();
        if (req.length > MAX_READ) return error(RspError.BadLength);
        const data = await e.readMemory(req.addr, req.length);
        if (data.length === 0) return this.error(RspError.BadAddress, `cannot read memory at 0x${req.addr.toString(16)}`);
        return this.binaryUpload ? Buffer.concat([Buffer.from('b'), data]) : data;
      }
    }
  }

  /** 'Exx', or 'Exx;hex' once LLDB asked for error strings. */
  error(code: number, message: string): string {
    return this.errorStrings ? `${error(code)};${encodeHex(message)}` : error(code);
  }

  /**
   * LLDB's keys for a stop reply, once it asked for them with QListThreadsInStopReply:
   * the thread's name, threads: and thread-pcs: (which spare it a packet per stop),
   * and reason:trace for a completed step. Without that reason, a step that lands on
   * one of its breakpoints looks like a hit: LLDB reports the breakpoint, and keeps
   * its step plan to finish at the next stop (a `continue` then stops after one step).
   */
  stopReplyKeys(pc: bigint | undefined, stepped: boolean): string {
    if (!this.listThreadsInStopReply || pc === undefined) return '';
    const reason = stepped ? 'reason:trace;' : '';
    return `hexname:${encodeHex(this.threadName)};threads:${this.engine.tid.toString(16)};thread-pcs:${pc.toString(16)};${reason}`;
  }
}
