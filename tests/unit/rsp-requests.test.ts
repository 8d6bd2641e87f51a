import { describe, expect, it } from 'vitest';
import { parseRequest, parseThreadId, type Request } from '../../src/rsp/requests.js';
import * as R from '../../src/rsp/replies.js';
import { RspError, rspErrorName, fileIoErrno, FileIoErrno } from '../../src/rsp/errors.js';
import { decodeRegister, encodeRegister, hexNumber, parseHexBigInt } from '../../src/rsp/hex.js';
import { REGNO, REGISTERS_AMD64, gPacketSize, registerLayout, targetXml } from '../../src/rsp/target-xml.js';
import { encodePacket, PacketFramer } from '../../src/rsp/framing.js';

const p = (s: string | Buffer) => parseRequest(typeof s === 'string' ? Buffer.from(s, 'latin1') : s);
const hex = (s: string) => Buffer.from(s).toString('hex');

const QSUPPORTED =
  'qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+;fork-events+;vfork-events+;exec-events+;vContSupported+;QThreadEvents+;no-resumed+;memory-tagging+;xmlRegisters=i386';

describe('parseRequest: connection', () => {
  it("parses gdb 13's qSupported", () => {
    const r = p(QSUPPORTED);
    expect(r.type).toBe('qSupported');
    const f = (r as Extract<Request, { type: 'qSupported' }>).features;
    expect(f.get('multiprocess')).toBe(true);
    expect(f.get('swbreak')).toBe(true);
    expect(f.get('memory-tagging')).toBe(true);
    expect(f.get('xmlRegisters')).toBe('i386');
    expect(f.size).toBe(12);
    expect((p('qSupported:foo-;bar?') as { features: Map<string, unknown> }).features).toEqual(
      new Map<string, unknown>([['foo', false], ['bar', '?']]),
    );
    expect(p('qSupported')).toEqual({ type: 'qSupported', features: new Map() });
  });

  it.each([
    ['vMustReplyEmpty', { type: 'vMustReplyEmpty' }],
    ['QStartNoAckMode', { type: 'QStartNoAckMode' }],
    ['qTStatus', { type: 'qTStatus' }],
    ['?', { type: 'haltReason' }],
    ['qC', { type: 'qC' }],
    ['qfThreadInfo', { type: 'qfThreadInfo' }],
    ['qsThreadInfo', { type: 'qsThreadInfo' }],
    ['qOffsets', { type: 'qOffsets' }],
    ['qAttached', { type: 'qAttached' }],
    ['qAttached:a2', { type: 'qAttached', pid: 0xa2 }],
    ['!', { type: 'extendedMode' }],
    ['k', { type: 'kill' }],
    ['vKill;1f', { type: 'vKill', pid: 0x1f }],
    ['D', { type: 'detach' }],
    ['D;1f', { type: 'detach', pid: 0x1f }],
    ['R00', { type: 'restart' }],
    ['vCtrlC', { type: 'vCtrlC' }],
    ['vAttach;10', { type: 'vAttach', pid: 16 }],
    ['QNonStop:0', { type: 'QNonStop', enable: false }],
    ['QThreadEvents:1', { type: 'QThreadEvents', enable: true }],
    ['QPassSignals:e;14;4c', { type: 'QPassSignals', signals: [0xe, 0x14, 0x4c] }],
    ['QProgramSignals:', { type: 'QProgramSignals', signals: [] }],
    ['QCatchSyscalls:1;3c;e7', { type: 'QCatchSyscalls', enable: true, syscalls: [0x3c, 0xe7] }],
    ['QCatchSyscalls:0', { type: 'QCatchSyscalls', enable: false, syscalls: [] }],
    ['qHostInfo', { type: 'qHostInfo' }],
    ['qProcessInfo', { type: 'qProcessInfo' }],
    ['qRegisterInfo1a', { type: 'qRegisterInfo', regno: 26 }],
    ['qMemoryRegionInfo:7ffff7fc3000', { type: 'qMemoryRegionInfo', addr: 0x7ffff7fc3000n }],
  ])('%s', (text, want) => {
    expect(p(text)).toEqual(want);
  });

  it('qXfer reads', () => {
    expect(p('qXfer:features:read:target.xml:0,fff')).toEqual({
      type: 'qXferRead', object: 'features', annex: 'target.xml', offset: 0, length: 0xfff,
    });
    expect(p('qXfer:threads:read::ffe,fff')).toEqual({ type: 'qXferRead', object: 'threads', annex: '', offset: 0xffe, length: 0xfff });
    expect(p('qXfer:libraries-svr4:read:start=7ffff7ffe190;prev=0:0,fff')).toMatchObject({
      object: 'libraries-svr4', annex: 'start=7ffff7ffe190;prev=0', offset: 0,
    });
    expect(p('qXfer:siginfo:write::0:abcd').type).toBe('unknown');
  });

  it('qSymbol', () => {
    expect(p('qSymbol::')).toEqual({ type: 'qSymbol' });
    expect(p(`qSymbol:401000:${hex('main')}`)).toEqual({ type: 'qSymbol', value: 0x401000n, name: 'main' });
    expect(p(`qSymbol::${hex('nptl_version')}`)).toEqual({ type: 'qSymbol', name: 'nptl_version' });
  });

  it('qRcmd decodes the hex command', () => {
    expect(p('qRcmd,' + hex('when'))).toEqual({ type: 'qRcmd', command: 'when' });
    expect(p('qRcmd,68656c70')).toEqual({ type: 'qRcmd', command: 'help' });
  });

  it('vRun', () => {
    expect(p(`vRun;;${hex('-x')};${hex('a b')}`)).toEqual({ type: 'vRun', args: ['', '-x', 'a b'] });
  });
});

describe('parseRequest: threads', () => {
  it('parses multiprocess and plain thread ids', () => {
    expect(parseThreadId('p2a.2b')).toEqual({ pid: 0x2a, tid: 0x2b });
    expect(parseThreadId('p-1.-1')).toEqual({ pid: -1, tid: -1 });
    expect(parseThreadId('p2a')).toEqual({ pid: 0x2a, tid: -1 });
    expect(parseThreadId('0')).toEqual({ tid: 0 });
    expect(parseThreadId('-1')).toEqual({ tid: -1 });
    expect(parseThreadId('p1.2.3')).toBeUndefined();
    expect(parseThreadId('pz')).toBeUndefined();
  });

  it('H, T and qThreadExtraInfo', () => {
    expect(p('Hg0')).toEqual({ type: 'setThread', op: 'g', thread: { tid: 0 } });
    expect(p('Hgp2a.2a')).toEqual({ type: 'setThread', op: 'g', thread: { pid: 0x2a, tid: 0x2a } });
    expect(p('Hc-1')).toEqual({ type: 'setThread', op: 'c', thread: { tid: -1 } });
    expect(p('Hcp2a.-1')).toEqual({ type: 'setThread', op: 'c', thread: { pid: 0x2a, tid: -1 } });
    expect(p('Tp2a.2b')).toEqual({ type: 'threadAlive', thread: { pid: 0x2a, tid: 0x2b } });
    expect(p('qGetTLSAddr:p2a.2b,1c,7ffff7ffe2e0')).toEqual({ type: 'qGetTLSAddr', thread: { pid: 0x2a, tid: 0x2b }, offset: 0x1cn, lm: 0x7ffff7ffe2e0n });
    expect(p('qGetTLSAddr:2b,1c').type).toBe('malformed');
    expect(p('qThreadExtraInfo,p2a.2b')).toEqual({ type: 'qThreadExtraInfo', thread: { pid: 0x2a, tid: 0x2b } });
  });
});

describe('parseRequest: execution', () => {
  it('vCont? and vCont actions', () => {
    expect(p('vCont?')).toEqual({ type: 'vContQuery' });
    expect(p('vCont;r401126,40113a:p2a.2a;c')).toEqual({
      type: 'vCont',
      actions: [{ action: 'r', start: 0x401126n, end: 0x40113an, thread: { pid: 0x2a, tid: 0x2a } }, { action: 'c' }],
    });
    expect(p('vCont;s:p2a.2b;c')).toEqual({
      type: 'vCont', actions: [{ action: 's', thread: { pid: 0x2a, tid: 0x2b } }, { action: 'c' }],
    });
    expect(p('vCont;C0b:p2a.2a;S05;t:-1')).toEqual({
      type: 'vCont',
      actions: [{ action: 'C', signal: 0xb, thread: { pid: 0x2a, tid: 0x2a } }, { action: 'S', signal: 5 }, { action: 't', thread: { tid: -1 } }],
    });
  });

  it('c, s, C, S with optional address', () => {
    expect(p('c')).toEqual({ type: 'continue' });
    expect(p('c401000')).toEqual({ type: 'continue', addr: 0x401000n });
    expect(p('s')).toEqual({ type: 'step' });
    expect(p('C0b')).toEqual({ type: 'continue', signal: 0xb });
    expect(p('S05;401000')).toEqual({ type: 'step', signal: 5, addr: 0x401000n });
  });

  it('reverse execution', () => {
    expect(p('bc')).toEqual({ type: 'reverseContinue' });
    expect(p('bs')).toEqual({ type: 'reverseStep' });
    expect(p('bx')).toEqual({ type: 'unknown', text: 'bx' });
  });

  it('breakpoints and watchpoints', () => {
    expect(p('Z0,401126,1')).toEqual({ type: 'insertBreakpoint', kind: 0, addr: 0x401126n, length: 1 });
    expect(p('z0,401126,1')).toEqual({ type: 'removeBreakpoint', kind: 0, addr: 0x401126n, length: 1 });
    expect(p('Z1,7ffff7fe1e10,1')).toMatchObject({ type: 'insertBreakpoint', kind: 1 });
    expect(p('Z2,404028,4')).toEqual({ type: 'insertBreakpoint', kind: 2, addr: 0x404028n, length: 4 });
    expect(p('z3,404028,8')).toMatchObject({ kind: 3, length: 8 });
    expect(p('Z4,404028,2')).toMatchObject({ kind: 4 });
    expect(p('Z0,401126,1;X3,220027')).toMatchObject({ kind: 0, addr: 0x401126n });
    expect(p('Z9,401126,1').type).toBe('unknown');
  });
});

describe('parseRequest: registers and memory', () => {
  it('g G p P', () => {
    expect(p('g')).toEqual({ type: 'readRegisters' });
    expect(p('G0102')).toEqual({ type: 'writeRegisters', data: Buffer.from([1, 2]) });
    expect(p('p10')).toEqual({ type: 'readRegister', regno: 16 });
    expect(p('P39=ffffffffffffffff')).toEqual({ type: 'writeRegister', regno: 0x39, value: Buffer.alloc(8, 0xff) });
  });

  it('m M X', () => {
    expect(p('m7fffffffe3c0,40')).toEqual({ type: 'readMemory', addr: 0x7fffffffe3c0n, length: 64 });
    expect(p('mffffffffffffffff,1')).toEqual({ type: 'readMemory', addr: 0xffffffffffffffffn, length: 1 });
    expect(p('M404028,2:beef')).toEqual({ type: 'writeMemory', addr: 0x404028n, data: Buffer.from([0xbe, 0xef]), binary: false });
    expect(p('X401000,0:')).toEqual({ type: 'writeMemory', addr: 0x401000n, data: Buffer.alloc(0), binary: true });
    // binary data arrives already unescaped from the framer and may contain ':' ',' '#'
    const bin = Buffer.from([0x3a, 0x2c, 0x23, 0x00, 0xcc]);
    expect(p(Buffer.concat([Buffer.from('X401000,5:'), bin]))).toEqual({ type: 'writeMemory', addr: 0x401000n, data: bin, binary: true });
  });

  it('X through the framer from escaped wire bytes', () => {
    const data = Buffer.from([0x24, 0x23, 0x7d, 0x2a]);
    const frame = encodePacket(Buffer.concat([Buffer.from('X10,4:'), data]));
    const [ev] = new PacketFramer().feed(frame);
    expect(ev.kind === 'packet' && parseRequest(ev.data)).toEqual({ type: 'writeMemory', addr: 0x10n, data, binary: true });
  });
});

describe('parseRequest: vFile', () => {
  it('parses each operation', () => {
    expect(p('vFile:setfs:0')).toEqual({ type: 'vFile', op: 'setfs', pid: 0 });
    expect(p(`vFile:open:${hex('/usr/lib/libc.so.6')},0,1c0`)).toEqual({
      type: 'vFile', op: 'open', filename: '/usr/lib/libc.so.6', flags: 0, mode: 0o700,
    });
    expect(p('vFile:pread:5,3fff,1a000')).toEqual({ type: 'vFile', op: 'pread', fd: 5, count: 0x3fff, offset: 0x1a000 });
    expect(p('vFile:close:5')).toEqual({ type: 'vFile', op: 'close', fd: 5 });
    expect(p('vFile:fstat:5')).toEqual({ type: 'vFile', op: 'fstat', fd: 5 });
    expect(p(`vFile:unlink:${hex('/tmp/x')}`)).toEqual({ type: 'vFile', op: 'unlink', filename: '/tmp/x' });
    expect(p(`vFile:readlink:${hex('/proc/42/exe')}`)).toEqual({ type: 'vFile', op: 'readlink', filename: '/proc/42/exe' });
    const bin = Buffer.from([0x2c, 0x3a, 0, 0xff]);
    expect(p(Buffer.concat([Buffer.from('vFile:pwrite:3,10,'), bin]))).toEqual({ type: 'vFile', op: 'pwrite', fd: 3, offset: 16, data: bin });
    expect(p('vFile:stat:2f').type).toBe('unknown');
  });
});

describe('parseRequest: malformed input never throws', () => {
  it.each([
    ['m12', /','/],
    ['mzz,1', /address/],
    ['m1,zz', /length/],
    ['m10000000000000000,1', /address/],
    ['M10,2:abc', /hex/],
    ['M10,3:abcd', /length 3/],
    ['X10,2:a', /length 2/],
    ['p', /register/],
    ['Pzz=00', /register/],
    ['Hg', /thread/],
    ['Hgpq.1', /thread/],
    ['Z0,1', /type,addr,kind/],
    ['vCont;x', /vCont action/],
    ['vCont;r1:p1.1', /','/],
    ['vCont;c5', /argument/],
    ['vFile:pread:5,3', /3 argument/],
    ['vFile:open:zz,0,0', /filename/],
    ['vFile:pwrite:3', /fd,offset/],
    ['qRcmd,6', /command/],
    ['qXfer:features:read:target.xml', /annex/],
    ['QNonStop:2', /QNonStop/],
    ['C', /signal/],
    ['C100', /signal/],
    ['gx', /after 'g'/],
    ['D1', /D;pid/],
    ['T', /thread/],
  ])('%s', (text, reason) => {
    const r = p(text);
    expect(r.type).toBe('malformed');
    expect((r as { reason: string }).reason).toMatch(reason);
    expect((r as { text: string }).text).toBe(text);
  });

  it('returns unknown for packets it does not know', () => {
    expect(p('qGDBServerVersion')).toEqual({ type: 'unknown', text: 'qGDBServerVersion' });
    expect(p('')).toEqual({ type: 'unknown', text: '' });
    expect(p('Hs1').type).toBe('unknown');
  });

  it('survives random bytes', () => {
    let seed = 1;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) >> 16) & 0xff;
    const heads = ['m', 'M', 'X', 'Z', 'vCont;', 'vFile:pwrite:', 'qXfer:', 'H', 'P', 'qSymbol:', 'qSearch:memory:'];
    for (let i = 0; i < 2000; i++) {
      const body = Buffer.from(Array.from({ length: rnd() % 24 }, rnd));
      expect(() => p(Buffer.concat([Buffer.from(heads[i % heads.length]), body]))).not.toThrow();
    }
  });
});

describe('replies', () => {
  it('basic replies', () => {
    expect(R.ok()).toBe('OK');
    expect(R.empty()).toBe('');
    expect(R.error(RspError.BadAddress)).toBe('E02');
    expect(R.error(RspError.NoSuchFile)).toBe('E14');
    expect(rspErrorName(0x05)).toBe('TooManyWatchpoints');
    expect(R.exited(0)).toBe('W00');
    expect(R.exited(3, 0x2a)).toBe('W03;process:2a');
    expect(R.killedBySignal(9)).toBe('X09');
    expect(R.consoleOutput('hi\n')).toBe('O68690a');
    expect(R.threadList([{ pid: 0x2a, tid: 0x2a }, { pid: 0x2a, tid: 0x2b }])).toBe('mp2a.2a,p2a.2b');
    expect(R.threadList([])).toBe('l');
    expect(R.currentThread({ pid: 0x2a, tid: 0x2b })).toBe('QCp2a.2b');
    expect(R.supported({ PacketSize: '10000', 'qXfer:features:read': true, ReverseStep: true, vContSupported: false })).toBe(
      'PacketSize=10000;qXfer:features:read+;ReverseStep+;vContSupported-',
    );
  });

  it('stop replies expedite registers, thread and reason', () => {
    const regs = [
      { regno: 6, bytes: Buffer.from(encodeRegister(0x7fffffffe3d0n, 8), 'hex') },
      { regno: 16, bytes: Buffer.from(encodeRegister(0x401126n, 8), 'hex') },
    ];
    expect(R.stopReply({ signal: 5, thread: { pid: 0x2a, tid: 0x2a }, registers: regs, reason: { kind: 'swbreak' } })).toBe(
      'T0506:d0e3ffffff7f0000;10:2611400000000000;thread:p2a.2a;swbreak:;',
    );
    expect(R.stopReply({ signal: 5, thread: { pid: 1, tid: 2 }, reason: { kind: 'watch', addr: 0x404028n } })).toBe('T05thread:p1.2;watch:404028;');
    expect(R.stopReply({ signal: 5, thread: { pid: 1, tid: 2 }, reason: { kind: 'replaylog', value: 'begin' }, multiprocess: false })).toBe(
      'T05thread:2;replaylog:begin;',
    );
  });

  it('qXfer chunks and vFile results carry raw bytes', () => {
    expect(R.qXferChunk('abcdef', 0, 4).toString()).toBe('mabcd');
    expect(R.qXferChunk('abcdef', 4, 4).toString()).toBe('lef');
    expect(R.qXferChunk('abcdef', 2, 4).toString()).toBe('lcdef');
    expect(R.qXferChunk('abcdef', 9, 4).toString()).toBe('l');
    expect(R.fileResult(5).toString()).toBe('F5');
    expect(R.fileResult(-1, FileIoErrno.ENOENT).toString()).toBe('F-1,2');
    expect(R.fileResult(3, undefined, Buffer.from('a#b')).toString()).toBe('F3;a#b');
    expect(encodePacket(R.fileResult(1, undefined, Buffer.from('}'))).toString('latin1')).toBe('$F1;}]#' + ((0x46 + 0x31 + 0x3b + 0x7d + 0x5d) & 0xff).toString(16));
    expect(fileIoErrno('ENOENT')).toBe(2);
    expect(fileIoErrno('EWHATEVER')).toBe(9999);
    const st = R.fileIoStat({ dev: 1, ino: 2, mode: 0o100755, nlink: 1, uid: 0, gid: 0, rdev: 0, size: 0x1234, blksize: 4096, blocks: 8, atime: 1, mtime: 2, ctime: 3 });
    expect(st.length).toBe(64);
    expect(st.readUInt32BE(8)).toBe(0o100755);
    expect(st.readBigUInt64BE(28)).toBe(0x1234n);
    expect(st.readUInt32BE(60)).toBe(3);
  });

  it('hex helpers', () => {
    expect(encodeRegister(-1n, 8)).toBe('ffffffffffffffff');
    expect(decodeRegister('2611400000000000')).toBe(0x401126n);
    expect(hexNumber(-1)).toBe('-1');
    expect(parseHexBigInt('10000000000000000')).toBeUndefined();
  });
});

describe('target description', () => {
  function wellFormed(xml: string): boolean {
    const stack: string[] = [];
    const body = xml.replace(/<\?xml[^>]*\?>/, '').replace(/<!DOCTYPE[^>]*>/, '');
    for (const m of body.matchAll(/<(\/?)([A-Za-z_][\w.-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g)) {
      if (m[1]) {
        if (stack.pop() !== m[2]) return false;
      } else if (!m[4]) stack.push(m[2]);
    }
    // nothing outside tags but whitespace and text content
    return stack.length === 0 && !/<(?![\/A-Za-z])/.test(body);
  }

  const regsOf = (xml: string) =>
    [...xml.matchAll(/<reg name="([^"]+)" bitsize="(\d+)" type="([^"]+)" regnum="(\d+)"/g)].map((m) => ({
      name: m[1], bits: Number(m[2]), regnum: Number(m[4]),
    }));

  it.each([false, true])('is well formed with contiguous regnums (avx=%s)', (avx) => {
    const xml = targetXml({ avx });
    expect(wellFormed(xml)).toBe(true);
    const regs = regsOf(xml);
    expect(regs.map((r) => r.regnum)).toEqual(regs.map((_, i) => i));
    expect(regs.length).toBe(avx ? 76 : 60);
    expect(regs.reduce((a, r) => a + r.bits, 0)).toBe((avx ? 816 : 560) * 8);
    for (const f of ['core', 'sse', 'linux', 'segments']) expect(xml).toContain(`<feature name="org.gnu.gdb.i386.${f}">`);
    expect(xml.includes('org.gnu.gdb.i386.avx')).toBe(avx);
    expect(xml).toContain('<architecture>i386:x86-64</architecture>');
    expect(xml).toContain('<flags id="i386_eflags" size="4">');
    expect(xml).toContain('<union id="vec128">');
  });

  it('places registers where gdb-rsp.md says', () => {
    expect(wellFormed('<a><b></a></b>')).toBe(false);
    const at = (n: number) => REGISTERS_AMD64[n].name;
    expect([at(0), at(6), at(7), at(15), at(16), at(17), at(18), at(23), at(24), at(31), at(32), at(39), at(40), at(55), at(56), at(57), at(58), at(59)]).toEqual(
      ['rax', 'rbp', 'rsp', 'r15', 'rip', 'eflags', 'cs', 'gs', 'st0', 'st7', 'fctrl', 'fop', 'xmm0', 'xmm15', 'mxcsr', 'orig_rax', 'fs_base', 'gs_base'],
    );
    expect(REGNO.ymm0h).toBe(60);
    expect(REGNO.ymm15h).toBe(75);
    expect(gPacketSize({ avx: false })).toBe(560);
    expect(gPacketSize({ avx: true })).toBe(816);
    const rip = registerLayout({ avx: false })[16];
    expect([rip.offset, rip.bytes]).toEqual([128, 8]);
    expect(REGISTERS_AMD64[24]).toMatchObject({ bytes: 10, type: 'i387_ext' });
  });
});
