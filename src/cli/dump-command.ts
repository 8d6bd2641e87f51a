import { TraceReader } from '../history/index.js';
import { CLONE_THREAD, decodeEvent, type TraceEvent } from '../history/events.js';
import { syscallName } from '../syscalls/names.js';
import { writeAllSync } from './output.js';
import { resolveTrace } from './trace-store.js';
import { signalName } from './signals.js';

function hexArg(v: bigint): string {
  const s = BigInt.asIntN(64, v);
  return s < 0n && s > -4096n ? s.toString() : s < 4096n ? s.toString() : '0x' + v.toString(16);
}

function preview(data: Buffer): string {
  const text = data.subarray(0, 32).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
  return JSON.stringify(text) + (data.length > 32 ? '...' : '');
}

export function describeEvent(e: TraceEvent): string {
  switch (e.kind) {
    case 'syscall': {
      const result = BigInt.asIntN(64, e.result);
      const res = result < 0n && result > -4096n ? `-1 errno ${-result}` : hexArg(e.result);
      const writes = e.writes.map((w) => ` <${w.data.length}B @0x${w.addr.toString(16)} ${preview(w.data)}>`).join('');
      const check = e.checkLen ? ` [wrote ${e.checkLen}B crc ${e.checkCrc.toString(16)}]` : '';
      const flags = e.flags & 1 ? ' (refused while recording)' : e.flags & 2 ? ' (memory diff)' : '';
      return `${syscallName(e.nr)}(${e.args.map(hexArg).join(', ')}) = ${res}${flags}${check}${writes}`;
    }
    case 'signal':
      return `signal ${signalName(e.signo)} ${e.how === 0 ? 'raised by the instruction' : 'delivered as the syscall returned'}`;
    case 'rdtsc':
      return `${e.insnLen === 3 ? 'rdtscp' : 'rdtsc'} = 0x${e.tsc.toString(16)}${e.insnLen === 3 ? ` aux ${e.aux}` : ''}`;
    case 'cpuid': {
      const h = (v: number) => `0x${(v >>> 0).toString(16)}`;
      return `cpuid(${h(e.leaf)}, ${h(e.subleaf)}) = ${[e.eax, e.ebx, e.ecx, e.edx].map(h).join(' ')}`
        + (e.how === 1 ? ' (faulted)' : ' (patched site)');
    }
    case 'exec':
      return `exec ${e.snapshot.exe} (${e.snapshot.mappings.length} mappings)`;
    case 'map-file': {
      const what = e.map.sha ? `file ${e.map.sha.slice(0, 12)}` : e.map.file ? `emulated ${e.map.file}, ${e.map.pieces?.length ?? 0} pieces` : 'zero';
      return `map ${e.map.path || '(shared memory)'} offset ${e.map.offset} at ${e.map.addr} length ${e.map.length} (${what})`;
    }
    case 'file-data':
      return `file ${e.data.file} ${e.data.changed ? 'changed' : 'mapped further'}: ${e.data.length} bytes at ${e.data.offset}, size ${e.data.fileSize} (${e.data.pieces.length} pieces)`;
    case 'exit':
      return e.killed ? `killed by ${signalName(e.code)}` : `exit ${e.code}`;
    case 'stop':
      return `stop: ${e.reason}`;
    case 'async-point':
      return `${signalName(e.point.what.signal)} delivered at ${e.point.pc} while computing (state ${e.point.hash.slice(0, 12)}, ${e.point.loopValues.length} loop values${e.point.steered === 'none' ? '' : `, steered: ${e.point.steered}`})`;
    case 'clone': {
      const how = e.ptraceEvent === 2 ? 'vfork' : e.ptraceEvent === 1 ? 'fork' : 'clone';
      const writes = e.childWrites.map((w) => ` <${w.data.length}B @0x${w.addr.toString(16)} in the child>`).join('');
      const what = (e.flags & CLONE_THREAD) !== 0n ? 'thread' : 'process';
      return `${how} of ${what} ${e.child} (flags 0x${e.flags.toString(16)})${writes}`;
    }
    case 'enter':
      return `enter ${syscallName(e.nr)}`;
  }
}

export function dumpCommand(argv: { trace?: string; from?: number; count?: number }): number {
  const trace = TraceReader.open(resolveTrace(argv.trace));
  const from = argv.from ?? 0;
  const end = argv.count === undefined ? trace.eventCount : Math.min(trace.eventCount, from + argv.count);
  const lines: string[] = [];
  const flush = () => {
    writeAllSync(1, Buffer.from(lines.join('')));
    lines.length = 0;
  };
  for (const { index, record } of trace.records(from)) {
    if (index >= end) break;
    const e = decodeEvent(record);
    lines.push(`${index} [${e.tid}] ${describeEvent(e)}\n`);
    if (lines.length >= 1000) flush();
  }
  if (trace.truncated) lines.push(`(trace cut off after event ${trace.eventCount - 1}: ${trace.truncated.bytes} bytes of an unfinished chunk)\n`);
  flush();
  return 0;
}
