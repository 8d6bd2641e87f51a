// Packets for the protocol fuzz test (fuzz.test.ts): every request the server
// knows, built from the protocol's grammar with random and edge-case arguments
// (0, -1, huge, unaligned, kernel and non-canonical addresses, odd hex), and
// damaged frames: bad checksums, truncations, binary garbage full of $ # } * 0x03,
// packets over the size limit, run-length and escape abuse. Deterministic for a seed.
//
// Safety: gdb's register writes followed by a resume run code in a forked copy of
// the replayed process with real syscalls (src/debug/diversion.ts). Random
// registers at a real code address could make real syscalls with random
// arguments, so the generator only moves rip to addresses that fault before an
// instruction runs, and moves rsp only together with such an rip; rip and rsp are
// otherwise written back with their values at the start of the batch, and only as
// long as nothing in the batch may have moved the replay.

import { registerLayout, type RegisterInfo } from '../../src/arch/register-layout.js';
import { DEFAULT_MAX_PACKET_SIZE } from '../../src/rsp/framing.js';
import type { Rng } from './rng.js';

/** What the generator knows of the replay it aims at. */
export interface FuzzTarget {
  tid: number;
  exePath: string;
  /** events in the trace (for monitor seek) */
  events: number;
  /** addresses worth aiming at: code, stack, the dynamic linker, the vDSO */
  addrs: bigint[];
  /** bytes of a `g` reply (560, or 816 with AVX) */
  gSize: number;
}

export interface FuzzPacket {
  /** what goes on the wire */
  bytes: Buffer;
  /** the request kind and how it was built (for coverage counts and failure messages) */
  label: string;
}

/** Register numbers: rsp, rip, eflags, segment selectors, fs_base, gs_base. */
const RSP = 7;
const RIP = 16;
const PICKY_REGS = [17, 18, 19, 20, 21, 22, 23, 58, 59];
const LAYOUT = registerLayout({ avx: true });

/** rip values at which a forked copy faults before running an instruction. */
const FAULTING_PC = [0n, 8n, 0x800000000000n, 0xffff800000000000n, 0xffffffff81000000n];

const EDGE_ADDRS = [
  0n, 1n, 0x1000n, 0x7ffffffff000n, 0x7fffffffffffn, 0x800000000000n, 0xffff800000000000n,
  0xffffffffff600000n /* vsyscall */, 0xffffffffffff0000n, 0xfffffffffffffff8n, 0xffffffffffffffffn, 0x7fffffffffffffffn,
];
const EDGE_NUMBERS = ['0', '1', '-1', '7fffffff', 'ffffffff', '100000000', '7fffffffffffffff', 'ffffffffffffffff', '10000000000000000'];
const ODD_NUMBERS = ['', 'zz', '0x10', ' 1', '1 ', 'FfFf', '-0', '+1', '0'.repeat(40) + '1', 'f'.repeat(33), '1,2', '1;2', '1:2'];
const LENGTHS = [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 64, 0x7fff, 0x8000, 0x8001, 0x10000, 0xffffffff];
const SPECIAL = [0x24, 0x23, 0x7d, 0x2a, 0x03, 0x2b, 0x2d]; // $ # } * ^C + -


/** '$' + payload with $ # } * escaped + '#' + checksum (optionally a wrong one). */
export function framePacket(payload: Buffer | string, badChecksum = false): Buffer {
  const raw = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
  const body: number[] = [];
  for (const b of raw) {
    if (b === 0x24 || b === 0x23 || b === 0x7d || b === 0x2a) body.push(0x7d, b ^ 0x20);
    else body.push(b);
  }
  let sum = 0;
  for (const b of body) sum = (sum + b) & 0xff;
  if (badChecksum) sum = (sum + 1) & 0xff;
  return Buffer.concat([Buffer.from('$'), Buffer.from(body), Buffer.from('#' + sum.toString(16).padStart(2, '0'))]);
}

/** Ends whatever half-open packet the framer holds, without ever making a valid one. */
export const TERMINATOR = Buffer.from('#zz');

type Built = [label: string, payload: Buffer | string];

/**
 * Generates packets. `startBatch` gives it the registers at the start of a batch
 * (undefined when unknown); from a packet that may move the replay on, it
 * forgets them (see the safety note above).
 */
export class PacketGenerator {
  private regs: Buffer | undefined;
  private readonly hex = (s: string) => Buffer.from(s, 'latin1').toString('hex');

  constructor(private readonly rng: Rng, private readonly target: FuzzTarget) {}

  startBatch(regs: Buffer | undefined): void {
    this.regs = regs;
  }

  /** One packet (or a few bytes of noise) for the wire. */
  next(): FuzzPacket {
    const r = this.rng;
    const x = r.next();
    if (x < 0.56) {
      const [label, payload] = this.request();
      return { label, bytes: framePacket(payload) };
    }
    if (x < 0.66) {
      const [label, payload] = this.request();
      return { label: `bad-checksum ${label}`, bytes: framePacket(payload, true) };
    }
    if (x < 0.74) {
      const [label, payload] = this.request();
      const whole = framePacket(payload);
      const cut = whole.subarray(0, r.int(1, whole.length - 1));
      // cut short, then either the next packet's '$' or the terminator ends it
      return { label: `truncated ${label}`, bytes: r.chance(0.5) ? Buffer.concat([cut, TERMINATOR]) : cut };
    }
    if (x < 0.82) return { label: 'garbage', bytes: this.garbage(r.int(1, 200)) };
    if (x < 0.87) return this.runLengthAbuse();
    if (x < 0.90) return this.escapeAbuse();
    if (x < 0.95) return { label: 'ack-bytes', bytes: Buffer.from(Array.from({ length: r.int(1, 4) }, () => r.pick([0x2b, 0x2d, 0x03]))) };
    if (x < 0.97) {
      // a '$' inside a packet restarts framing: the first one is dropped
      const [l1, p1] = this.request();
      const [l2, p2] = this.request();
      const first = framePacket(p1);
      return { label: `restarted ${l1} by ${l2}`, bytes: Buffer.concat([first.subarray(0, r.int(1, first.length - 3)), framePacket(p2)]) };
    }
    if (x < 0.972) return this.oversized();
    return { label: 'empty', bytes: framePacket('') };
  }

  // ------------------------------------------------------------------ arguments

  private num(): string {
    const r = this.rng;
    const x = r.next();
    if (x < 0.5) return r.int(0, 64).toString(16);
    if (x < 0.7) return r.pick(EDGE_NUMBERS);
    if (x < 0.85) return r.hexDigits(r.int(1, 16));
    return r.pick(ODD_NUMBERS);
  }

  private addrValue(): bigint {
    const r = this.rng;
    const x = r.next();
    if (x < 0.55 && this.target.addrs.length) return BigInt.asUintN(64, r.pick(this.target.addrs) + BigInt(r.int(-16, 48)));
    if (x < 0.85) return r.pick(EDGE_ADDRS);
    return BigInt('0x' + r.hexDigits(16));
  }

  private addr(): string {
    if (this.rng.chance(0.05)) return this.num();
    const a = this.addrValue().toString(16);
    return this.rng.chance(0.1) ? a.toUpperCase() : a;
  }

  private len(): string {
    return this.rng.chance(0.85) ? this.rng.pick(LENGTHS).toString(16) : this.num();
  }

  private thread(): string {
    const r = this.rng;
    const tid = this.target.tid.toString(16);
    return r.pick(['0', '-1', tid, `p${tid}.${tid}`, `p-1.-1`, `p${tid}`, `p0.0`, 'p1.1', this.num(), `p${this.num()}.${this.num()}`, 'pzz', 'p1.2.3']);
  }

  private signal(): string {
    return this.rng.chance(0.8) ? this.rng.int(0, 0x60).toString(16).padStart(2, '0') : this.rng.pick(['100', 'zz', '', '-1', 'fff']);
  }

  private value(bytes: number): Buffer {
    const r = this.rng;
    const x = r.next();
    if (x < 0.3) return Buffer.alloc(bytes, r.pick([0x00, 0xff]));
    if (x < 0.4 && bytes >= 8) {
      const v = Buffer.alloc(bytes);
      v.writeBigUInt64LE(r.pick([...EDGE_ADDRS, ...FAULTING_PC]));
      return v;
    }
    return r.bytes(bytes);
  }

  /** rip or rsp as at the start of the batch, if known and nothing may have moved the replay since. */
  private baseValue(regno: number): Buffer | undefined {
    return this.regs?.subarray(regno * 8, regno * 8 + 8);
  }

  private faultingPc(): Buffer {
    const v = Buffer.alloc(8);
    v.writeBigUInt64LE(this.rng.pick(FAULTING_PC));
    return v;
  }

  // ------------------------------------------------------------------ requests

  /** A request the server knows (or a near miss), as [label, payload]. */
  private request(): Built {
    const built = this.anyRequest();
    if (mayMove(built[1])) this.regs = undefined;
    return built;
  }

  private anyRequest(): Built {
    const r = this.rng;
    const x = r.next();
    if (x < 0.01) return this.run();
    if (x < 0.2) return this.registers();
    if (x < 0.38) return this.memory();
    if (x < 0.5) return this.breakpoint();
    if (x < 0.58) return this.query();
    if (x < 0.66) return this.xfer();
    if (x < 0.73) return this.vFile();
    if (x < 0.8) return this.monitor(false);
    if (x < 0.9) return this.threads();
    return this.misc();
  }

  /** Requests that may move the replay: after one, the batch's registers are stale. */
  private run(): Built {
    const r = this.rng;
    this.regs = undefined;
    const x = r.next();
    if (x < 0.12) return ['c', r.chance(0.7) ? 'c' : 'c' + this.addr()];
    if (x < 0.26) return ['s', r.chance(0.7) ? 's' : 's' + this.addr()];
    if (x < 0.31) return ['C', `C${this.signal()}${r.chance(0.3) ? ';' + this.addr() : ''}`];
    if (x < 0.37) return ['S', `S${this.signal()}${r.chance(0.3) ? ';' + this.addr() : ''}`];
    if (x < 0.55) {
      const action = r.pick(['c', 's', 'C' + this.signal(), 'S' + this.signal(), `r${this.addr()},${this.addr()}`, 't', 'x', '']);
      const actions = Array.from({ length: r.int(1, 3) }, () => (r.chance(0.5) ? `${action}:${this.thread()}` : action));
      return ['vCont;', 'vCont;' + actions.join(';')];
    }
    if (x < 0.63) return ['bc', 'bc'];
    if (x < 0.73) return ['bs', 'bs'];
    if (x < 0.78) return ['vRun', 'vRun;' + r.pick(['', this.hex(this.target.exePath), this.hex(this.target.exePath) + ';' + this.hex('arg'), 'zz', ';;'])];
    if (x < 0.82) return ['R', r.pick(['R', 'R00', 'Rzz'])];
    if (x < 0.86) return ['vKill', `vKill;${r.chance(0.7) ? this.target.tid.toString(16) : this.num()}`];
    if (x < 0.88) return ['k', 'k']; // closes the connection unless in extended mode
    if (x < 0.91) return ['D', r.pick(['D', `D;${this.target.tid.toString(16)}`, `D;${this.num()}`])];
    if (x < 0.94) return ['A', 'A' + r.pick(['', '10,0,' + this.hex('x'), 'zz'])]; // lldb's launch
    return this.monitor(true);
  }

  private registers(): Built {
    const r = this.rng;
    const x = r.next();
    if (x < 0.2) return ['g', r.chance(0.95) ? 'g' : 'g' + this.num()];
    if (x < 0.4) {
      const regno = r.chance(0.85) ? r.int(0, 80) : -1;
      return ['p', 'p' + (regno >= 0 ? regno.toString(16) : this.num())];
    }
    if (x < 0.7) {
      let regno = r.chance(0.5) ? r.pick([...PICKY_REGS, RIP, RSP, 57]) : r.chance(0.9) ? r.int(0, 80) : -1;
      if (regno < 0) return ['P', `P${this.num()}=${r.hexDigits(2 * r.int(0, 9))}`];
      const info: RegisterInfo | undefined = LAYOUT[regno];
      if (!info) return ['P', `P${regno.toString(16)}=${r.bytes(r.int(0, 20)).toString('hex')}`];
      let value: Buffer;
      if (regno === RIP) value = (r.chance(0.5) && this.baseValue(RIP)) || this.faultingPc();
      else if (regno === RSP) {
        // rsp moves only back to where it was: with a real pc, code would run in the copy
        const base = this.baseValue(RSP);
        if (!base) regno = RIP;
        value = base ?? this.faultingPc();
      } else value = r.chance(0.9) ? this.value(info.bytes) : r.bytes(r.int(0, 20));
      return ['P', `P${regno.toString(16)}=${value.toString('hex')}${r.chance(0.03) ? 'z' : ''}`];
    }
    return ['G', 'G' + this.gPayload()];
  }

  /**
   * A G packet: the batch's registers with a few changed. rip and rsp stay as they
   * were, or rip moves where the copy faults at once (then rsp may be anything).
   */
  private gPayload(): string {
    const r = this.rng;
    const size = this.target.gSize;
    const data = this.regs?.length === size ? Buffer.from(this.regs) : r.bytes(size);
    const layout = LAYOUT.filter((info) => info.offset + info.bytes <= size);
    for (let k = r.int(0, 4); k > 0; k--) {
      const info = r.chance(0.5) ? LAYOUT[r.pick(PICKY_REGS)] : r.pick(layout);
      this.value(info.bytes).copy(data, info.offset);
    }
    const pc = this.baseValue(RIP);
    const sp = this.baseValue(RSP);
    if (pc && sp && r.chance(0.7)) {
      pc.copy(data, RIP * 8);
      sp.copy(data, RSP * 8);
    } else this.faultingPc().copy(data, RIP * 8);
    const x = r.next();
    if (x < 0.85) return data.toString('hex');
    if (x < 0.92) return data.subarray(0, r.int(0, size)).toString('hex');
    if (x < 0.96) return Buffer.concat([data, r.bytes(r.int(1, 300))]).toString('hex');
    return data.toString('hex').slice(0, -1); // odd length
  }

  private memory(): Built {
    const r = this.rng;
    const x = r.next();
    if (x < 0.45) return ['m', `m${this.addr()},${this.len()}`];
    if (x < 0.75) {
      const n = r.chance(0.8) ? r.int(0, 16) : r.pick([0, 1, 64, 0x100, 0x7fff]);
      const claimed = r.chance(0.9) ? n.toString(16) : this.len();
      return ['M', `M${this.addr()},${claimed}:${r.bytes(n).toString('hex')}${r.chance(0.03) ? 'g' : ''}`];
    }
    if (x < 0.95) {
      const n = r.chance(0.8) ? r.int(0, 16) : r.pick([0, 64, 0x100]);
      const data = r.chance(0.5) ? Buffer.from(Array.from({ length: n }, () => r.pick(SPECIAL))) : r.bytes(n);
      const claimed = r.chance(0.9) ? n.toString(16) : this.len();
      return ['X', Buffer.concat([Buffer.from(`X${this.addr()},${claimed}:`), data])];
    }
    return ['x', `x${this.addr()},${this.len()}`]; // lldb's binary memory read
  }

  private breakpoint(): Built {
    const r = this.rng;
    const insert = r.chance(0.6);
    const type = r.chance(0.95) ? r.int(0, 4).toString() : r.pick(['5', '9', '', 'z']);
    const kind = r.chance(0.7) ? r.pick(['1', '2', '4', '8']) : this.len();
    const tail = r.chance(0.05) ? r.pick([';X2,0a', ';cmds:1', ';']) : r.chance(0.03) ? ',1' : '';
    return [`${insert ? 'Z' : 'z'}${type}`, `${insert ? 'Z' : 'z'}${type},${this.addr()},${kind}${tail}`];
  }

  private query(): Built {
    const r = this.rng;
    const features = ['multiprocess+', 'swbreak+', 'hwbreak+', 'qRelocInsn+', 'fork-events+', 'vfork-events+', 'exec-events+', 'vContSupported+', 'QThreadEvents+', 'no-resumed+', 'xmlRegisters=i386', 'memory-tagging+', 'error-message+', 'x?', 'y-', 'zz=', '=', ';'];
    const simple = ['qC', 'qfThreadInfo', 'qsThreadInfo', 'qAttached', 'qOffsets', 'qTStatus', 'qHostInfo', 'qProcessInfo', 'vMustReplyEmpty',
      'QStartNoAckMode', 'QThreadSuffixSupported', 'QListThreadsInStopReply', 'jThreadsInfo', 'qGetWorkingDir', 'qfProcessInfo', 'qShlibInfoAddr',
      'QEnableErrorStrings', 'qStructuredDataPlugins', 'qVAttachOrWaitSupported', 'qTfV', 'qTsV', 'qTfP', 'qGDBServerVersion', 'qWatchpointSupportInfo:', 'qSupportedCompressions'];
    const x = r.next();
    if (x < 0.2) return ['qSupported', 'qSupported' + (r.chance(0.9) ? ':' + Array.from({ length: r.int(0, 8) }, () => r.pick(features)).join(';') : '')];
    if (x < 0.5) return ['simple-query', r.pick(simple)];
    if (x < 0.6) return ['qAttached:', `qAttached:${this.num()}`];
    if (x < 0.7) return ['qRegisterInfo', `qRegisterInfo${r.chance(0.8) ? r.int(0, 90).toString(16) : this.num()}`];
    if (x < 0.8) return ['qMemoryRegionInfo', `qMemoryRegionInfo:${this.addr()}`];
    if (x < 0.85) return ['qCRC', `qCRC:${this.addr()},${this.len()}`];
    if (x < 0.9) return ['qSearch', Buffer.concat([Buffer.from(`qSearch:memory:${this.addr()};${this.len()};`), r.bytes(r.int(0, 8))])];
    if (x < 0.95) return ['qSymbol', r.pick(['qSymbol::', `qSymbol:${this.addr()}:${this.hex('main')}`, `qSymbol::${this.hex('x')}`, 'qSymbol:zz:', 'qSymbol'])];
    return ['qThreadExtraInfo', `qThreadExtraInfo,${this.thread()}`];
  }

  private xfer(): Built {
    const r = this.rng;
    const object = r.pick(['features', 'auxv', 'exec-file', 'libraries-svr4', 'threads', 'siginfo', 'memory-map', 'osdata', 'btrace', '', 'zz']);
    const annex = object === 'features' ? r.pick(['target.xml', 'target.xml', 'i386-64bit.xml', '']) : r.pick(['', '', this.target.tid.toString(16), 'x:y']);
    const op = r.chance(0.95) ? 'read' : r.pick(['write', '']);
    const offset = r.chance(0.8) ? r.pick([0, 0, 0x10, 0x7ff, 0x1000, 0x100000]).toString(16) : this.num();
    const length = r.chance(0.8) ? r.pick([0, 1, 0x100, 0xffb, 0x1000, 0x10000]).toString(16) : this.num();
    if (r.chance(0.05)) return [`qXfer-broken`, r.pick([`qXfer:${object}`, `qXfer:${object}:read`, `qXfer:${object}:read:${annex}`, `qXfer:${object}:read:${annex}:${offset}`])];
    return [`qXfer:${object}`, `qXfer:${object}:${op}:${annex}:${offset},${length}`];
  }

  private vFile(): Built {
    const r = this.rng;
    const fd = r.chance(0.8) ? r.int(0, 8).toString(16) : this.num();
    const name = this.hex(r.pick([this.target.exePath, this.target.exePath, '/etc/passwd', '/lib64/ld-linux-x86-64.so.2', '', 'x'.repeat(300), '/proc/self/mem']));
    const op = r.pick(['setfs', 'open', 'open', 'pread', 'pread', 'pwrite', 'close', 'fstat', 'unlink', 'readlink', 'zz']);
    switch (op) {
      case 'setfs':
        return ['vFile:setfs', `vFile:setfs:${r.chance(0.5) ? '0' : this.num()}`];
      case 'open':
        return ['vFile:open', `vFile:open:${r.chance(0.95) ? name : 'zz'},${r.pick(['0', '0', '1', '2', '200', this.num()])},${r.pick(['0', '1ff', this.num()])}`];
      case 'pread':
        return ['vFile:pread', `vFile:pread:${fd},${this.len()},${r.pick(['0', '10', '1000', 'ffffffffffff', this.num()])}`];
      case 'pwrite':
        return ['vFile:pwrite', Buffer.concat([Buffer.from(`vFile:pwrite:${fd},${this.num()},`), r.bytes(r.int(0, 16))])];
      case 'close':
      case 'fstat':
        return [`vFile:${op}`, `vFile:${op}:${fd}`];
      case 'unlink':
      case 'readlink':
        return [`vFile:${op}`, `vFile:${op}:${r.chance(0.9) ? name : 'z'}`];
      default:
        return ['vFile:bad', r.pick(['vFile:zz:1', 'vFile:open', 'vFile:', 'vFile:open:' + name, 'vFile:pread:1,2'])];
    }
  }

  /** qRcmd: every monitor command, with good and bad arguments. */
  private monitor(moves: boolean): Built {
    const r = this.rng;
    const events = this.target.events;
    let cmd: string;
    if (moves) {
      this.regs = undefined;
      cmd = r.chance(0.3) ? 'restart' : `seek ${r.pick([0, 1, 2, r.int(0, events - 1), events - 1, events, 1e9, -1])}`;
    } else {
      cmd = r.pick(['help', 'when', 'info', 'position', 'checkpoints', '', '   ', 'seek', 'seek abc', 'seek 1e3', 'seek 0x10', 'seek -1', 'restart now',
        'nosuch', 'x'.repeat(500), '\u00e9\u4e2d', 'help\x00', 'seek 99999999999999999999']);
    }
    if (r.chance(0.03)) return ['qRcmd-broken', r.pick(['qRcmd,' + this.hex(cmd) + 'z', 'qRcmd,' + this.hex(cmd).slice(1), 'qRcmd', 'qRcmd,zz'])];
    return [`qRcmd ${cmd.split(' ')[0].slice(0, 12) || '(empty)'}`, 'qRcmd,' + this.hex(cmd)];
  }

  private threads(): Built {
    const r = this.rng;
    const x = r.next();
    if (x < 0.45) return [`H${'gc'[r.int(0, 1)]}`, `H${r.pick(['g', 'c', 'g', 'c', 's', 'x', ''])}${this.thread()}`];
    if (x < 0.7) return ['T', 'T' + this.thread()];
    if (x < 0.8) return ['vCont?', 'vCont?'];
    if (x < 0.9) return ['vCtrlC', 'vCtrlC'];
    return ['QNonStop', `QNonStop:${r.pick(['0', '1', '2', ''])}`];
  }

  private misc(): Built {
    const r = this.rng;
    const sigs = () => Array.from({ length: r.int(0, 6) }, () => (r.chance(0.9) ? r.int(0, 0x60).toString(16) : this.num())).join(';') + (r.chance(0.2) ? ';' : '');
    const x = r.next();
    if (x < 0.15) return ['?', r.chance(0.95) ? '?' : '?1'];
    if (x < 0.22) return ['!', r.chance(0.95) ? '!' : '!x'];
    if (x < 0.35) return ['QPassSignals', `QPassSignals:${sigs()}`];
    if (x < 0.45) return ['QProgramSignals', `QProgramSignals:${sigs()}`];
    if (x < 0.52) return ['QCatchSyscalls', `QCatchSyscalls:${r.pick(['0', '1', '1;1;2;e7', '2', ''])}`];
    if (x < 0.58) return ['QThreadEvents', `QThreadEvents:${r.pick(['0', '1', '7'])}`];
    if (x < 0.64) return ['vAttach', `vAttach;${r.chance(0.5) ? this.target.tid.toString(16) : this.num()}`];
    if (x < 0.7) return ['lldb', r.pick(['_M1000,rwx', '_m0', 'QSetDisableASLR:1', 'QLaunchArch:x86_64', 'QSetSTDIN:' + this.hex('/dev/null'), 'jGetLoadedDynamicLibrariesInfos:{"fetch_all_solibs":true}', 'vAttachName;' + this.hex('x')])];
    if (x < 0.8) {
      // an unknown packet: any printable letter and text
      return ['unknown', String.fromCharCode(r.int(0x21, 0x7e)) + this.rng.hexDigits(r.int(0, 8))];
    }
    if (x < 0.9) {
      // random bytes, but not a register write (it could move rip or rsp anywhere)
      const bytes = r.bytes(r.int(1, 40));
      if (bytes[0] === 0x47 || bytes[0] === 0x50) bytes[0] = 0x67;
      return ['binary-request', bytes];
    }
    return ['b?', r.pick(['b', 'bx', 'bcc', 'bs1', 'b\x00'])];
  }

  // ------------------------------------------------------------------ damaged frames

  /** Random bytes, dense in framing characters; '#' is never followed by two hex digits. */
  private garbage(n: number): Buffer {
    const r = this.rng;
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = r.chance(0.3) ? r.pick(SPECIAL) : r.int(0, 255);
    for (let i = 0; i < n; i++) {
      if (out[i] === 0x23 && i + 2 < n && isHexByte(out[i + 1]) && isHexByte(out[i + 2])) out[i + 2] = 0x7a; // 'z'
    }
    // the packet it may have opened ends before the next one, never with a valid checksum
    return Buffer.concat([out, TERMINATOR]);
  }

  private runLengthAbuse(): FuzzPacket {
    const r = this.rng;
    const withChecksum = (body: Buffer) => {
      let sum = 0;
      for (const b of body) sum = (sum + b) & 0xff;
      return Buffer.concat([Buffer.from('$'), body, Buffer.from('#' + sum.toString(16).padStart(2, '0'))]);
    };
    const x = r.next();
    let body: Buffer;
    if (x < 0.2) body = Buffer.from('*' + String.fromCharCode(r.int(0x20, 0x7e))); // no byte to repeat
    else if (x < 0.35) body = Buffer.from('m0,4*'); // no count
    else if (x < 0.5) body = Buffer.from([0x6d, 0x2a, r.pick([0x00, 0x1f, 0x7f, 0xff, 0x20 + r.int(0, 2)])]); // count out of range
    else if (x < 0.7) {
      // expands past the packet size limit
      const parts = [Buffer.from('M0,1:0')];
      for (let i = 0; i < r.int(700, 1400); i++) parts.push(Buffer.from('*~'));
      body = Buffer.concat(parts);
    } else if (x < 0.85) {
      // valid run-length encoding of a memory read with a long run of zeros in the address
      body = Buffer.from(`m1${'0*'}${String.fromCharCode(29 + r.int(3, 12))},8`);
    } else {
      body = Buffer.from(`qRcmd,${this.hex('help').slice(0, 2)}*${String.fromCharCode(29 + r.int(3, 20))}`);
    }
    return { label: 'rle-abuse', bytes: withChecksum(body) };
  }

  private escapeAbuse(): FuzzPacket {
    const r = this.rng;
    const [label, payload] = this.query();
    const raw = Buffer.from(typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload);
    const x = r.next();
    let body: Buffer;
    if (x < 0.5) {
      // every byte escaped: the same request
      const out: number[] = [];
      for (const b of raw) out.push(0x7d, b ^ 0x20);
      body = Buffer.from(out);
    } else body = Buffer.concat([raw, Buffer.from('}')]); // dangling escape
    let sum = 0;
    for (const b of body) sum = (sum + b) & 0xff;
    return { label: `escaped ${label}`, bytes: Buffer.concat([Buffer.from('$'), body, Buffer.from('#' + sum.toString(16).padStart(2, '0'))]) };
  }

  /** A packet over the size limit (the server must answer E09 and go on). */
  private oversized(): FuzzPacket {
    const r = this.rng;
    const n = DEFAULT_MAX_PACKET_SIZE + r.int(1, 0x4000);
    const kind = r.pick(['X', 'G', 'M', 'q']);
    const head = kind === 'X' ? `X${this.addr()},${n.toString(16)}:` : kind === 'G' ? 'G' : kind === 'M' ? `M${this.addr()},${(n >> 1).toString(16)}:` : 'qRcmd,';
    return { label: `oversized ${kind}`, bytes: framePacket(Buffer.concat([Buffer.from(head), Buffer.alloc(n, kind === 'X' ? 0x41 : 0x30)])) };
  }
}

/** Whether a request may move the replay (resume, reverse, restart, seek, reconnect). */
function mayMove(payload: Buffer | string): boolean {
  const text = typeof payload === 'string' ? payload : payload.toString('latin1');
  return /^([cCsSRkDbA]|vCont;|vRun|vKill|qRcmd)/.test(text);
}

function isHexByte(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
}
