// gdb never sees the CPUID patches (docs/portability.md): on a trace recorded
// through patched traps, memory reads show the original instructions, a
// breakpoint on a patched CPUID stops there, and stepping over it, forwards and
// backwards, gives the recorded answer, as gdb on the live program shows.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeRun, programPath, rewind, tempDir } from '../helpers.js';
import { afterMark, debugReplay, gdbNative } from './gdb-support.js';

function recordPatched(program: string): string {
  const root = tempDir('rewind-gdb-cpuid-');
  const trace = path.join(root, 'trace');
  // without the syscall buffer libraries load where they do natively; the trap path
  // (patched code) even where this CPU could fault on CPUID
  const r = rewind(['record', '--no-syscallbuf', '-o', trace, '--', program], { env: { REWIND_CPUID_FAULTING: '0' }, traceRoot: root });
  expect(r.status, describeRun(r)).toBe(0);
  return trace;
}

describe('gdb on a trace whose CPUID instructions were patched into traps', () => {
  it('reads the original code, stops on a CPUID, and steps over it with the recorded answer', async () => {
    const program = programPath('cpuinfo');
    const trace = recordPatched(program);
    const disassembly = afterMark(gdbNative(program, ['disassemble main']));
    const sites = [...disassembly.matchAll(/^ +(0x[0-9a-f]+) <\+\d+>:\s+cpuid\s*$/gm)].map((m) => m[1]);
    expect(sites.length, disassembly).toBeGreaterThanOrEqual(3);
    const replayed = await debugReplay(trace, ['disassemble main']);
    expect(afterMark(replayed.gdb), `server stderr:\n${replayed.server}`).toBe(disassembly);

    // leaf 0 (vendor, highest leaf): the same on every CPU of the machine, unlike leaf 1's APIC id
    const commands = [`break *${sites[0]}`, 'continue', 'x/2xb $pc', 'p/x $rax', 'stepi', 'p/x $rax', 'p/x $rbx', 'p/x $rcx', 'p/x $rdx'];
    const native = afterMark(gdbNative(program, commands));
    expect(native).toMatch(/0x0f\s+0xa2/);
    const { gdb, server } = await debugReplay(trace, commands);
    expect(afterMark(gdb), `server stderr:\n${server}`).toBe(native);
  });

  it('reverse-stepi back onto a CPUID and stepi again gives the same answer', async () => {
    const trace = recordPatched(programPath('cpuinfo'));
    const disassembly = afterMark(gdbNative(programPath('cpuinfo'), ['disassemble main']));
    const site = /^ +(0x[0-9a-f]+) <\+\d+>:\s+cpuid\s*$/m.exec(disassembly)![1];
    const { gdb, server } = await debugReplay(trace, [
      `break *${site}`, 'continue', 'stepi', 'p/x $rbx', 'reverse-stepi', 'p $pc', 'x/2xb $pc', 'stepi', 'p/x $rbx',
    ]);
    const out = afterMark(gdb);
    const rbx = [...out.matchAll(/^\$\d+ = (0x[0-9a-f]+)$/gm)].map((m) => m[1]);
    expect(rbx.length, `${out}\nserver stderr:\n${server}`).toBe(2);
    expect(rbx[0]).toBe(rbx[1]);
    expect(out).toContain(`(void (*)()) ${site.replace(/^0x0*/, "0x")} <main+`);
    expect(out).toMatch(/0x0f\s+0xa2/);
  });
});
