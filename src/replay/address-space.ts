// The address space at an exec: captured while recording, rebuilt before replay.
import * as fs from 'node:fs';
import type { TraceWriter, TraceReader } from '../history/index.js';
import type { ExecSnapshot, MappingSnapshot } from '../history/events.js';
import { native } from '../native/addon.js';
import { getReg, setReg } from '../arch/registers.js';
import { fileIdentity, hex, isSpecialMapping, readMaps, type ProcMapping } from './proc-maps.js';
import { mapStoredFile } from './stored-mappings.js';
import { untouchedMappings } from './untouched-mappings.js';
import { STUB_BASE, STUB_SIZE, STUB_STACK_PROBE, STUB_SYSCALL } from './stub.js';

const AT_NULL = 0n;
const AT_IGNORE = 1n;
const AT_SYSINFO_EHDR = 33n;
const NR_MMAP = 9;
const NR_MPROTECT = 10;

/**
 * Hides the vDSO from the program (its clock functions would read time without a
 * syscall, invisible to ptrace): AT_SYSINFO_EHDR becomes AT_IGNORE in the auxv on
 * the initial stack. `stack` holds the stack mapping's bytes from `stackStart`; the
 * auxv is found above rsp (argc, argv, envp, auxv, then their strings), changed in
 * `stack` as in the process. Returns the auxv as the program will see it, and the
 * writes to the process (sent, not awaited: the caller settles them).
 */
function hideVdso(pid: number, stack: Buffer, stackStart: bigint, rsp: bigint): { auxv: Buffer; writes: Promise<void>[] } {
  const n = native();
  const base = Number(rsp - stackStart);
  const word = (off: number) => {
    if (base + off + 8 > stack.length) throw new Error(`the initial stack ends before its auxv (${stack.length - base} bytes above rsp)`);
    return stack.readBigUInt64LE(base + off);
  };
  const writes: Promise<void>[] = [];
  let p = 8; // argc
  while (word(p) !== 0n) p += 8; // argv
  p += 8;
  while (word(p) !== 0n) p += 8; // envp
  p += 8;
  const start = p;
  for (;;) {
    const type = word(p);
    if (type === AT_SYSINFO_EHDR) {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(AT_IGNORE);
      writes.push(n.writeMemory(pid, rsp + BigInt(p), b));
      b.copy(stack, base + p);
    }
    p += 16;
    if (type === AT_NULL) break;
  }
  return { auxv: Buffer.from(stack.subarray(base + start, base + p)), writes };
}

function sameAsFile(path: string, offset: bigint, data: Buffer): boolean {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch {
    return false;
  }
  try {
    const buf = Buffer.alloc(data.length);
    const got = fs.readSync(fd, buf, 0, buf.length, Number(offset));
    return got === data.length && buf.equals(data);
  } finally {
    fs.closeSync(fd);
  }
}

const ZEROS = Buffer.alloc(1 << 16);

/** All bytes zero: compared a block at a time (a byte loop in JS cost ~1 ms per 100 KiB). */
function isZero(data: Buffer): boolean {
  for (let at = 0; at < data.length; at += ZEROS.length) {
    const n = Math.min(ZEROS.length, data.length - at);
    if (!data.subarray(at, at + n).equals(ZEROS.subarray(0, n))) return false;
  }
  return true;
}

/**
 * The file at PATH is the one the mapping shows (not replaced since it was mapped),
 * and reaches into the mapping's last page (past the end of a file, the pages of a
 * mapping fault; the capture reads such a mapping, as before).
 */
function isFileAt(path: string, m: ProcMapping): boolean {
  try {
    const st = fs.statSync(path, { bigint: true });
    return fileIdentity(st) === `${m.major}:${m.minor}:${m.inode}` && st.size > m.offset + (m.end - m.start) - 4096n;
  } catch {
    return false;
  }
}

export async function captureAddressSpace(pid: number, writer: TraceWriter, exe: string): Promise<ExecSnapshot> {
  const n = native();
  const maps = readMaps(pid);
  // A file mapped several times (an ELF's segments) is stored once per snapshot.
  const stored = new Map<string, string>();
  const untouched = untouchedMappings(pid);
  const kept = maps.filter((m) => !isSpecialMapping(m.name));
  // Which mappings are their file's pages or were never touched: the others are read.
  const sourceOf = new Map<ProcMapping, 'image' | 'zero' | 'read'>(kept.map((m) => [m,
    untouched.files.has(m.start) && m.name.startsWith('/') && isFileAt(m.name, m) ? 'image'
      : untouched.zero.has(m.start) ? 'zero' : 'read']));
  // Every read is sent at once with the registers (each call alone is a round trip
  // to the tracer thread; a make's recording captures 27 execs). The stack is read
  // whole (its auxv is found once rsp is known) even if it were untouched.
  const stackMapping = maps.find((m) => m.name === '[stack]');
  const reads = new Map<ProcMapping, Promise<Buffer>>();
  for (const m of kept) if (sourceOf.get(m) === 'read' || m === stackMapping) reads.set(m, n.readMemory(pid, m.start, Number(m.end - m.start)));
  const regsCall = n.getRegs(pid);
  const settled = await Promise.allSettled([regsCall, ...reads.values()]);
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  const regs = await regsCall;
  const rsp = getReg(regs, 'rsp');
  const stackOfRsp = maps.find((m) => rsp >= m.start && rsp < m.end);
  if (stackOfRsp === undefined) throw new Error(`the program's stack pointer ${hex(rsp)} is in no mapping at its exec`);
  const stack = await (reads.get(stackOfRsp) ?? n.readMemory(pid, stackOfRsp.start, Number(stackOfRsp.end - stackOfRsp.start)));
  const { auxv, writes } = hideVdso(pid, stack, stackOfRsp.start, rsp);
  const mappings: MappingSnapshot[] = [];
  try {
    for (const m of kept) {
      // the executable and ld.so: through the machine's file store, like every mapped image
      const image = () => {
        const sha = stored.get(m.name) ?? writer.storeImage(m.name, fs.statSync(m.name, { bigint: true }));
        stored.set(m.name, sha);
        return { file: sha, offset: Number(m.offset) };
      };
      const how = sourceOf.get(m);
      if (how === 'image') {
        mappings.push({ start: hex(m.start), end: hex(m.end), perms: m.perms, name: m.name, source: image() });
        continue;
      }
      if (how === 'zero') {
        mappings.push({ start: hex(m.start), end: hex(m.end), perms: m.perms, name: m.name, source: { zero: true } });
        continue;
      }
      // the stack's bytes with the auxv as the program sees it
      const data = m === stackOfRsp ? stack : await reads.get(m)!;
      let source: MappingSnapshot['source'];
      if (m.name.startsWith('/') && data.length === Number(m.end - m.start) && sameAsFile(m.name, m.offset, data)) {
        source = image();
      } else if (isZero(data)) {
        source = { zero: true };
      } else {
        source = { blob: writer.storeBuffer(data) };
      }
      mappings.push({ start: hex(m.start), end: hex(m.end), perms: m.perms, name: m.name, source });
    }
  } finally {
    await settleAll(writes);
  }
  return { regs: regs.toString('hex'), mappings, auxv: auxv.toString('hex'), exe };
}

function protOf(perms: string): bigint {
  return (perms[0] === 'r' ? 1n : 0n) | (perms[1] === 'w' ? 2n : 0n) | (perms[2] === 'x' ? 4n : 0n);
}

async function contentOf(reader: TraceReader, m: MappingSnapshot, length: number): Promise<Buffer | null> {
  const s = m.source;
  if ('zero' in s) return null;
  if ('blob' in s) return reader.file(s.blob);
  const file = reader.file(s.file);
  return file.subarray(s.offset, Math.min(file.length, s.offset + length));
}

/** Waits for every call, then throws the first failure (Promise.all would return at the first, with calls still running). */
async function settleAll(calls: Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(calls)).find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
}

/**
 * Turns a freshly exec'd stub into the recorded process at its exec. `sent`: calls
 * the caller made to the process just before, settled (and their failure thrown)
 * with the first of this rebuild's own, so that they cost no round trip of their own.
 */
export async function rebuildAddressSpace(pid: number, reader: TraceReader, snap: ExecSnapshot, sent: Promise<unknown>[] = []): Promise<void> {
  const n = native();
  const syscall = async (nr: number, ...args: bigint[]) => {
    while (args.length < 6) args.push(0n);
    return n.injectSyscall(pid, STUB_SYSCALL, nr, args);
  };
  // Every call to the process is a round trip to the tracer thread (a few ms each on a
  // loaded machine, and a make replays an exec per compiler pass): calls that do not
  // need each other's results are sent at once, in three waves (the stored images
  // mapped; the other mappings and the stack probe; the stack's contents and the
  // registers), and their results checked together. The tracer thread runs them in
  // the order sent; a failure throws after all of its wave have run, and the process
  // is not used then.
  let stack: MappingSnapshot | undefined;
  const regions = snap.mappings.filter((m) => {
    if (m.name === '[stack]') stack = m;
    return m.name !== '[stack]';
  }).map((m) => {
    const start = BigInt(m.start);
    const end = BigInt(m.end);
    if (start < STUB_BASE + STUB_SIZE && end > STUB_BASE)
      throw new Error(`the recorded mapping ${m.start}-${m.end} overlaps rewind's replay stub at ${hex(STUB_BASE)}`);
    return { m, start, end, prot: protOf(m.perms) };
  });
  if (!stack) throw new Error('the recorded exec snapshot has no [stack] mapping');
  const stackStart = BigInt(stack.start);
  const stackEnd = BigInt(stack.end);
  // Wave 1: ELF images mapped from the trace's file where the file reaches, and the
  // stub's registers (the stack probe starts from them).
  const regsCall = n.getRegs(pid);
  const mapCalls = regions.map(({ m, start, end, prot }) => ('file' in m.source
    ? mapStoredFile(pid, reader, m.source.file, start, Number(end - start), m.source.offset, prot) : Promise.resolve(0)));
  await settleAll([...sent, regsCall, ...mapCalls]);
  const mapped = await Promise.all(mapCalls);
  // Wave 2: the other mappings and their contents; then the stub's stack grown down
  // to the recorded stack's lowest page (the probe runs after the mappings are made).
  const calls: Promise<unknown>[] = [];
  for (const [i, { m, start, end, prot }] of regions.entries()) {
    if ('file' in m.source && mapped[i] >= Number(end - start)) continue;
    // Contents are written through /proc/pid/mem, which writes read-only pages of
    // private mappings only: a shared file mapping is replayed as a private one.
    const shared = m.perms[3] === 's' && !('file' in m.source) ? 1n : 2n;
    calls.push(syscall(NR_MMAP, start, end - start, 3n, shared | 0x20n | 0x10n, -1n & 0xffffffffffffffffn, 0n).then((got) => {
      if (got !== start) throw new Error(`replay could not map ${m.start}-${m.end} (mmap returned ${got})`);
    }));
    const data = await contentOf(reader, m, Number(end - start));
    if (data && data.length) calls.push(n.writeMemory(pid, start, data));
    if (prot !== 3n) calls.push(syscall(NR_MPROTECT, start, end - start, prot));
  }
  const probe = Buffer.from(await regsCall);
  setReg(probe, 'rsp', stackStart);
  setReg(probe, 'rip', STUB_STACK_PROBE);
  setReg(probe, 'orig_rax', -1n);
  calls.push(n.setRegs(pid, probe));
  const probed = n.resumeAndWait(pid, 'cont', 0);
  await settleAll([...calls, probed]);
  const stop = await probed;
  if (stop.kind !== 'signal' || stop.signal !== 5) throw new Error(`replay stub stack probe stopped unexpectedly (${stop.kind} ${stop.signal})`);
  const live = readMaps(pid).find((m) => m.name === '[stack]');
  if (!live || live.end !== stackEnd || live.start > stackStart)
    throw new Error(`this kernel places the stack at ${live ? hex(live.start) + '-' + hex(live.end) : 'nowhere'}, the recording had ${stack.start}-${stack.end}`);
  // Wave 3: the stack's contents and the recorded registers.
  const last: Promise<unknown>[] = [];
  if (live.start < stackStart) last.push(n.writeMemory(pid, live.start, Buffer.alloc(Number(stackStart - live.start))));
  const content = (await contentOf(reader, stack, Number(stackEnd - stackStart))) ?? Buffer.alloc(Number(stackEnd - stackStart));
  last.push(n.writeMemory(pid, stackStart, content));
  last.push(n.setRegs(pid, Buffer.from(snap.regs, 'hex')));
  await settleAll(last);
}
