// LLDB's packets without a process: parsing (src/rsp/lldb-requests.ts), the reply
// formats (src/rsp/lldb-queries.ts), memory regions from /proc maps and recorded
// names (src/replay/memory-regions.ts), and /proc/PID/status ids.
import { describe, expect, it } from 'vitest';
import { parseRequest } from '../../src/rsp/requests.js';
import { hostInfo, memoryRegionInfo, processInfo } from '../../src/rsp/lldb-queries.js';
import { memoryRegionAt, type NamedSpan } from '../../src/replay/memory-regions.js';
import { parseMaps } from '../../src/replay/proc-maps.js';
import { parseProcessIds } from '../../src/replay/process-ids.js';

const p = (s: string) => parseRequest(Buffer.from(s, 'latin1'));
const hex = (s: string) => Buffer.from(s).toString('hex');

describe('parsing LLDB packets', () => {
  it.each([
    ['qHostInfo', { type: 'qHostInfo' }],
    ['qProcessInfo', { type: 'qProcessInfo' }],
    ['qShlibInfoAddr', { type: 'qShlibInfoAddr' }],
    ['jThreadsInfo', { type: 'jThreadsInfo' }],
    ['QThreadSuffixSupported', { type: 'QThreadSuffixSupported' }],
    ['QListThreadsInStopReply', { type: 'QListThreadsInStopReply' }],
    ['QEnableErrorStrings', { type: 'QEnableErrorStrings' }],
    ['qRegisterInfo1a', { type: 'qRegisterInfo', regno: 26 }],
    ['qMemoryRegionInfo:7ffff7fc3000', { type: 'qMemoryRegionInfo', addr: 0x7ffff7fc3000n }],
    ['qThreadStopInfo1f72', { type: 'qThreadStopInfo', tid: 0x1f72 }],
    ['x7ffff7fc3000,200', { type: 'readMemoryBinary', addr: 0x7ffff7fc3000n, length: 0x200 }],
    ['x0,0', { type: 'readMemoryBinary', addr: 0n, length: 0 }],
  ])('%s', (text, want) => expect(p(text)).toEqual(want));

  it.each(['qMemoryRegionInfo:zz', 'qThreadStopInfo', 'x12', 'x,4', 'qRegisterInfo'])('%s is malformed', (text) => {
    expect(p(text).type).toBe('malformed');
  });

  it("strips the ';thread:ID;' suffix of g, G, p and P into the request's thread", () => {
    expect(p('g;thread:1f72;')).toEqual({ type: 'readRegisters', thread: { tid: 0x1f72 } });
    expect(p('p10;thread:p1f72.1f72;')).toEqual({ type: 'readRegister', regno: 16, thread: { pid: 0x1f72, tid: 0x1f72 } });
    expect(p('P10=0011223344556677;thread:1f72;')).toEqual({
      type: 'writeRegister', regno: 16, value: Buffer.from('0011223344556677', 'hex'), thread: { tid: 0x1f72 },
    });
    expect(p('G00ff;thread:1f72;')).toEqual({ type: 'writeRegisters', data: Buffer.from([0, 255]), thread: { tid: 0x1f72 } });
    expect(p('g;thread:zz;').type).toBe('malformed');
    expect(p('p10;thread:1f72').type).toBe('malformed');
    // without the suffix, as gdb sends them
    expect(p('g')).toEqual({ type: 'readRegisters' });
    expect(p('p10')).toEqual({ type: 'readRegister', regno: 16 });
  });
});

describe('LLDB reply formats', () => {
  it('qHostInfo: hex triple and hostname, numeric os_version', () => {
    const r = hostInfo({ hostname: 'box', release: '6.1.0-28-amd64' });
    expect(r).toBe(`triple:${hex('x86_64-pc-linux-gnu')};ptrsize:8;endian:little;watchpoint_exceptions_received:after;os_version:6.1.0;hostname:${hex('box')};vm-page-size:4096;`);
    expect(hostInfo({ hostname: 'box', release: 'weird' })).not.toContain('os_version');
  });

  it('qProcessInfo: hex numbers', () => {
    expect(processInfo(0x1f72, { ppid: 16, uid: 1000, gid: 100, euid: 0, egid: 0 })).toBe(
      `pid:1f72;parent-pid:10;real-uid:3e8;real-gid:64;effective-uid:0;effective-gid:0;triple:${hex('x86_64-pc-linux-gnu')};ostype:linux;endian:little;ptrsize:8;`,
    );
  });

  it('qMemoryRegionInfo: permissions only for mapped memory, the name hex-encoded', () => {
    expect(memoryRegionInfo({ start: 0x1000n, end: 0x3000n, perms: 'rx', name: '/bin/x' })).toBe(`start:1000;size:2000;permissions:rx;name:${hex('/bin/x')};`);
    expect(memoryRegionInfo({ start: 0x1000n, end: 0x2000n, perms: '' })).toBe('start:1000;size:1000;permissions:;');
    expect(memoryRegionInfo({ start: 0n, end: 0x1000n })).toBe('start:0;size:1000;');
  });
});

describe('memory regions: live extents and permissions, recorded names', () => {
  // the replay process: everything anonymous but the stack, plus rewind's stub page
  const live = parseMaps([
    '555555554000-555555555000 r--p 00000000 00:00 0 ',
    '555555555000-555555556000 r-xp 00000000 00:00 0 ',
    '555555558000-55555557a000 rw-p 00000000 00:00 0 ',
    '6fff00000000-6fff00001000 r-xp 00000000 fe:00 2146384                    /tmp/rewind-stub',
    '7ffff7dd5000-7ffff7dfb000 r--p 00000000 00:00 0 ',
    '7ffff7fa2000-7ffff7fa3000 ---p 00000000 00:00 0 ',
    '7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]',
  ].join('\n'));
  const names: NamedSpan[] = [
    { start: 0x555555554000n, end: 0x555555556000n, name: '/bin/demo' },
    { start: 0x555555558000n, end: 0x555555559000n, name: '/bin/demo' },
    { start: 0x555555559000n, end: 0x55555557a000n, name: '[heap]' },
    { start: 0x7ffff7dd5000n, end: 0x7ffff7fa2000n, name: '/lib/libc.so.6' },
    { start: 0x7ffff7fa2000n, end: 0x7ffff7fa3000n, name: '' },
    { start: 0x7ffffffde000n, end: 0x7ffffffff000n, name: '[stack]' },
  ];
  const stub = { start: 0x6fff00000000n, end: 0x6fff00001000n };
  const at = (addr: bigint) => memoryRegionAt(live, names, addr, stub);

  it('a mapping with its recorded name', () => {
    expect(at(0x555555555123n)).toEqual({ start: 0x555555555000n, end: 0x555555556000n, perms: 'rx', name: '/bin/demo' });
    expect(at(0x7ffff7dd6000n)).toEqual({ start: 0x7ffff7dd5000n, end: 0x7ffff7dfb000n, perms: 'r', name: '/lib/libc.so.6' });
    expect(at(0x7ffffffff000n - 8n)).toEqual({ start: 0x7ffffffde000n, end: 0x7ffffffff000n, perms: 'rw', name: '[stack]' });
  });

  it('one live mapping cut where the recording names two things (data, then the heap)', () => {
    expect(at(0x555555558010n)).toEqual({ start: 0x555555558000n, end: 0x555555559000n, perms: 'rw', name: '/bin/demo' });
    expect(at(0x555555560000n)).toEqual({ start: 0x555555559000n, end: 0x55555557a000n, perms: 'rw', name: '[heap]' });
  });

  it('anonymous and inaccessible memory: no name; permissions empty but present', () => {
    expect(at(0x7ffff7fa2000n)).toEqual({ start: 0x7ffff7fa2000n, end: 0x7ffff7fa3000n, perms: '' });
  });

  it("gaps, rewind's stub among them: no permissions, up to the neighbours", () => {
    expect(at(0n)).toEqual({ start: 0n, end: 0x555555554000n });
    expect(at(0x555555557000n)).toEqual({ start: 0x555555556000n, end: 0x555555558000n });
    expect(at(0x6fff00000100n)).toEqual({ start: 0x55555557a000n, end: 0x7ffff7dd5000n });
    expect(at(0xffff800000000000n)).toEqual({ start: 0x7ffffffff000n, end: 1n << 64n });
  });
});

describe('/proc/PID/status ids', () => {
  it('PPid, real and effective uid and gid', () => {
    const status = 'Name:\tdemo\nPPid:\t4242\nTracerPid:\t4242\nUid:\t1000\t0\t0\t0\nGid:\t100\t5\t5\t5\n';
    expect(parseProcessIds(status)).toEqual({ ppid: 4242, uid: 1000, euid: 0, gid: 100, egid: 5 });
  });
});
