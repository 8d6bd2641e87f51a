// `rewind dap` driven as VS Code drives a debug adapter (DebugClient over stdin/stdout)
// on a recorded program, against the real gdb on the same trace: every stop the
// adapter reports (continue, next, stepBack, reverseContinue, a data breakpoint both
// ways, rewind/goto) must be where gdb's own command stops, at the same pc, with the
// same values. Then the end of the recording, and bad input.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { PROGRAMS_DIR, programPath, runNative, shellStatus } from '../helpers.js';
import { record } from './gdb-support.js';
import { AdapterClient, childrenOf, gdbReference, LOC } from './dap-support.js';

const SOURCE = path.join(PROGRAMS_DIR, 'gdbdemo.c');
/** `sum += add_squares(p->x, p->y);` in walk(): hit once per loop turn */
const LOOP_LINE = readFileSync(SOURCE, 'utf8').split('\n').findIndex((l) => l.includes('sum += add_squares')) + 1;

let trace: string;
let dc: AdapterClient | undefined;

beforeAll(() => {
  trace = record(programPath('gdbdemo'));
});

afterEach(() => {
  dc?.kill();
  dc = undefined;
});

async function launch(args: Record<string, unknown>, configure: (c: AdapterClient) => Promise<void> = async () => undefined): Promise<AdapterClient> {
  const c = new AdapterClient();
  dc = c;
  const init = await c.initializeRequest();
  expect(init.body?.supportsStepBack).toBe(true);
  const initialized = c.waitForEvent('initialized');
  await c.launchRequest({ trace, ...args } as DebugProtocol.LaunchRequestArguments);
  await initialized;
  await configure(c);
  return c;
}

/** Resolves once process PID has ended (gone, or a zombie waiting for its new parent to reap it). */
function stopsRunning(pid: number): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      let state = 'gone';
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      } catch {
        // no such process
      }
      if (state === 'gone' || state === 'Z' || state === 'X') resolve();
      else setTimeout(check, 50);
    };
    check();
  });
}

/** Disconnects and checks that the adapter exits with nothing of its own left running. */
async function disconnect(c: AdapterClient): Promise<void> {
  const children = childrenOf(c.child.pid!);
  expect(children.length, 'gdb and the replay server').toBe(2);
  await c.disconnectRequest({});
  // the adapter answers only once gdb and the server have exited
  expect(childrenOf(c.child.pid!)).toEqual([]);
  expect(await c.exited, c.stderr).toBe(0);
}

describe('rewind dap', () => {
  it('breakpoint, variables, next, stepBack and reverseContinue land where gdb lands', async () => {
    const ref = await gdbReference(trace, [
      `break gdbdemo.c:${LOOP_LINE}`, 'continue', LOC, 'info args', 'info locals', 'print *p',
      'continue', LOC, 'print i', 'next', LOC, 'reverse-next', LOC, 'reverse-continue', LOC, 'print i',
      'step', LOC, 'finish', LOC, 'delete', 'continue', LOC, 'reverse-stepi', LOC,
    ]);
    expect(ref.locs.length, ref.text).toBe(9);

    const c = await launch({});
    const set = await c.setBreakpointsRequest({ source: { path: SOURCE }, breakpoints: [{ line: LOOP_LINE }] });
    expect(set.body.breakpoints[0]).toMatchObject({ verified: true, line: LOOP_LINE });
    const first = await c.causes('stopped', () => c.configurationDoneRequest());
    expect(first.event.body).toMatchObject({ reason: 'breakpoint', threadId: 1, hitBreakpointIds: [set.body.breakpoints[0].id] });
    const at = await c.top();
    expect(at.loc).toEqual(ref.locs[0]);
    expect(at.frame.name).toBe('walk');
    expect(at.frame.source?.path).toBe(SOURCE);

    // the Locals scope holds what gdb's info args + info locals print, with the same values
    const scopes = (await c.scopesRequest({ frameId: at.frame.id })).body.scopes;
    const locals = (await c.variablesRequest({ variablesReference: scopes[0].variablesReference })).body.variables;
    const gdbVars = new Map([...ref.text.matchAll(/^(\w+) = (.*)$/gm)].map((m) => [m[1], m[2]]));
    expect(new Set(locals.map((v) => v.name))).toEqual(new Set(gdbVars.keys()));
    for (const v of locals.filter((x) => x.variablesReference === 0)) expect(v.value, v.name).toBe(gdbVars.get(v.name));
    const p = locals.find((v) => v.name === 'p')!;
    const fields = (await c.variablesRequest({ variablesReference: p.variablesReference })).body.variables;
    const star = /^\{x = (-?\d+), y = (-?\d+), name = /.exec(ref.values[0])!;
    expect(fields.map((f) => [f.name, f.name === 'name' ? '' : f.value])).toEqual([['x', star[1]], ['y', star[2]], ['name', '']]);
    const registers = (await c.variablesRequest({ variablesReference: scopes[1].variablesReference })).body.variables;
    expect(BigInt(registers.find((r) => r.name === 'rip')!.value)).toBe(at.loc.pc);

    const second = await c.causes('stopped', () => c.continueRequest({ threadId: 1 }));
    expect(second.event.body.reason).toBe('breakpoint');
    expect((await c.top()).loc).toEqual(ref.locs[1]);
    const iSecond = await c.value('i');
    expect(iSecond).toBe(ref.values[1]);

    await c.causes('stopped', () => c.nextRequest({ threadId: 1 }));
    const afterNext = (await c.top()).loc;
    expect(afterNext).toEqual(ref.locs[2]);

    await c.causes('stopped', () => c.stepBackRequest({ threadId: 1 }));
    const back = (await c.top()).loc;
    expect(back).toEqual(ref.locs[3]);
    expect(back.line, 'the line goes back').not.toBe(afterNext.line);

    const rc = await c.causes('stopped', () => c.reverseContinueRequest({ threadId: 1 }));
    expect(rc.event.body.reason).toBe('breakpoint');
    const earlier = await c.top();
    expect(earlier.loc).toEqual(ref.locs[4]);
    const iEarlier = await c.value('i', earlier.frame.id);
    expect(iEarlier).toBe(ref.values[2]);
    expect(Number(iEarlier), 'an earlier hit').toBeLessThan(Number(iSecond));

    // step into the call on the line, and out again
    await c.causes('stopped', () => c.stepInRequest({ threadId: 1 }));
    const inside = await c.top();
    expect(inside.loc).toEqual(ref.locs[5]);
    expect(inside.frame.name).toBe('add_squares');
    await c.causes('stopped', () => c.stepOutRequest({ threadId: 1 }));
    expect((await c.top()).loc).toEqual(ref.locs[6]);

    // restart: back to the start of the recording, on to the first hit again
    await c.causes('stopped', () => c.restartRequest({}));
    expect((await c.top()).loc).toEqual(ref.locs[0]);

    // to the end of the recording, a place like any other: back from there, and forward again
    let stdout = '';
    c.on('output', (e: DebugProtocol.OutputEvent) => {
      if (e.body.category === 'stdout') stdout += e.body.output;
    });
    await c.setBreakpointsRequest({ source: { path: SOURCE }, breakpoints: [] });
    const end = await c.causes('stopped', () => c.continueRequest({ threadId: 1 }));
    expect(end.event.body).toMatchObject({ reason: 'step', text: 'the end of the recording' });
    expect((await c.top()).loc).toEqual(ref.locs[7]);
    await c.causes('stopped', () => c.stepBackRequest({ threadId: 1, granularity: 'instruction' }));
    expect((await c.top()).loc).toEqual(ref.locs[8]);
    const endAgain = await c.causes('stopped', () => c.continueRequest({ threadId: 1 }));
    expect(endAgain.event.body.text).toBe('the end of the recording');
    expect((await c.top()).loc).toEqual(ref.locs[7]);

    // past the end: the program exits as recorded, with its output and status, and the session ends
    const terminated = c.waitForEvent('terminated');
    const exited = await c.causes('exited', () => c.continueRequest({ threadId: 1 }));
    await terminated;
    const native = runNative([programPath('gdbdemo')]);
    expect(exited.event.body.exitCode).toBe(native.status);
    await disconnect(c);
    expect(stdout).toBe(native.stdout.toString());
  });

  it('conditional function breakpoint, evaluate, disassemble, a data breakpoint both ways, rewind/goto', async () => {
    const ref = await gdbReference(trace, [
      'break square if v == 4', 'continue', LOC, 'print v * 10', 'x/i $pc', 'delete',
      'watch counter', 'continue', LOC, 'print counter', 'reverse-continue', LOC, 'print counter',
      'monitor seek 20', 'maintenance flush register-cache', LOC,
    ]);
    expect(ref.locs.length, ref.text).toBe(4);

    const c = await launch({}, async (client) => {
      const fb = await client.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'square', condition: 'v == 4' }] });
      expect(fb.body.breakpoints[0].verified).toBe(true);
    });
    await c.causes('stopped', () => c.configurationDoneRequest());
    const inSquare = await c.top();
    expect(inSquare.loc).toEqual(ref.locs[0]);
    expect(await c.value('v * 10', inSquare.frame.id)).toBe(ref.values[0]);

    // three instructions before the pc and three from it, decoded on instruction boundaries
    const gdbInsn = /=> 0x[0-9a-f]+ <[^>]+>:\t(.*)$/m.exec(ref.text)![1];
    const dis = (await c.disassembleRequest({ memoryReference: inSquare.frame.instructionPointerReference!, instructionOffset: -3, instructionCount: 6 })).body!.instructions;
    expect(dis.length).toBe(6);
    expect(BigInt(dis[3].address)).toBe(inSquare.loc.pc);
    expect(dis[3].instruction).toBe(gdbInsn);
    for (let k = 0; k < 5; k++) {
      expect(dis[k].presentationHint).toBeUndefined();
      expect(BigInt(dis[k].address) + BigInt(dis[k].instructionBytes!.split(' ').length)).toBe(BigInt(dis[k + 1].address));
    }

    // an instruction breakpoint two instructions ahead (as the disassembly view sets them)
    const ib = (await c.send('setInstructionBreakpoints', { breakpoints: [{ instructionReference: dis[5].address }] })) as DebugProtocol.SetInstructionBreakpointsResponse;
    expect(ib.body.breakpoints[0].verified).toBe(true);
    const atInsn = await c.causes('stopped', () => c.continueRequest({ threadId: 1 }));
    expect(atInsn.event.body.reason).toBe('breakpoint');
    expect((await c.top()).loc.pc).toBe(BigInt(dis[5].address));
    await c.send('setInstructionBreakpoints', { breakpoints: [] });

    await c.setFunctionBreakpointsRequest({ breakpoints: [] });
    const info = await c.dataBreakpointInfoRequest({ name: 'counter', frameId: inSquare.frame.id });
    expect(info.body.dataId).not.toBeNull();
    const db = await c.setDataBreakpointsRequest({ breakpoints: [{ dataId: info.body.dataId!, accessType: 'write' }] });
    expect(db.body.breakpoints[0].verified).toBe(true);

    const fwd = await c.causes('stopped', () => c.continueRequest({ threadId: 1 }));
    expect(fwd.event.body.reason).toBe('data breakpoint');
    expect((await c.top()).loc).toEqual(ref.locs[1]);
    expect(await c.value('counter')).toBe(ref.values[1]);

    const bwd = await c.causes('stopped', () => c.reverseContinueRequest({ threadId: 1 }));
    expect(bwd.event.body.reason).toBe('data breakpoint');
    expect((await c.top()).loc).toEqual(ref.locs[2]);
    expect(await c.value('counter')).toBe(ref.values[2]);

    const go = await c.causes('stopped', () => c.customRequest('rewind/goto', { event: 20 }));
    expect(go.response.body).toEqual({ event: 20 });
    expect(go.event.body.reason).toBe('goto');
    expect((await c.top()).loc).toEqual(ref.locs[3]);
    const when = await c.evaluateRequest({ expression: '-exec monitor when', context: 'repl' });
    expect(when.body.result).toBe('Current event: 20');
    await disconnect(c);
  });

  it('stop on entry with a local program, the start of the recording, restart, and bad requests', async () => {
    const ref = await gdbReference(trace, [LOC, 'reverse-stepi', LOC, 'monitor info']);
    // program: the executable given locally, checked against the recorded one
    const c = await launch({ stopOnEntry: true, program: programPath('gdbdemo') });
    const entry = await c.causes('stopped', () => c.configurationDoneRequest());
    expect(entry.event.body.reason).toBe('entry');
    expect((await c.top()).loc).toEqual(ref.locs[0]);

    // nothing before the first instruction: stepping back stays there
    const back = await c.causes('stopped', () => c.stepBackRequest({ threadId: 1, granularity: 'instruction' }));
    expect(back.event.body.reason).toBe('entry');
    expect((await c.top()).loc).toEqual(ref.locs[1]);

    // restart with stopOnEntry: back at the first instruction, after going somewhere first
    await c.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'main' }] });
    await c.causes('stopped', () => c.continueRequest({ threadId: 1 }));
    expect((await c.top()).frame.name).toBe('main');
    await c.setFunctionBreakpointsRequest({ breakpoints: [] });
    const again = await c.causes('stopped', () => c.restartRequest({}));
    expect(again.event.body.reason).toBe('entry');
    expect((await c.top()).loc).toEqual(ref.locs[0]);

    const events = Number(/^events: (\d+)/m.exec(ref.text)![1]);
    await expect(c.customRequest('rewind/goto', { event: events })).rejects.toThrow(`the trace has events 0 to ${events - 1}`);
    await expect(c.customRequest('rewind/goto', { event: 'soon' })).rejects.toThrow('needs { "event": N }');
    await expect(c.evaluateRequest({ expression: 'no_such_variable', context: 'watch' })).rejects.toThrow(/no_such_variable/);
    const bad = await c.setBreakpointsRequest({ source: { path: '/nonexistent/file.c' }, breakpoints: [{ line: 3 }] });
    expect(bad.body.breakpoints[0].verified).toBe(false);
    // still at the start, still answering
    expect((await c.top()).loc).toEqual(ref.locs[0]);
    await disconnect(c);
  });

  it('a crash stops as an exception where gdb stops, then at the end of the recording, then the program dies of it', async () => {
    const crash = record(programPath('crash'));
    const ref = await gdbReference(crash, ['continue', LOC, 'continue', LOC]);
    const c = new AdapterClient();
    dc = c;
    await c.initializeRequest();
    const initialized = c.waitForEvent('initialized');
    await c.launchRequest({ trace: crash } as DebugProtocol.LaunchRequestArguments);
    await initialized;
    const stop = await c.causes('stopped', () => c.configurationDoneRequest());
    expect(stop.event.body).toMatchObject({ reason: 'exception', text: expect.stringMatching(/^SIGSEGV/) });
    expect((await c.top()).loc).toEqual(ref.locs[0]);
    // the end of the recording: the signal about to be delivered
    const end = await c.causes('stopped', () => c.continueRequest({ threadId: 1 }));
    expect(end.event.body.text).toBe('the end of the recording');
    expect((await c.top()).loc).toEqual(ref.locs[1]);
    const exited = await c.causes('exited', () => c.continueRequest({ threadId: 1 }));
    expect(exited.event.body.exitCode).toBe(shellStatus(runNative([programPath('crash')])));
    await disconnect(c);
  });

  it('a front end that goes away (its pipe closes) takes gdb and the replay server with it', async () => {
    const c = await launch({});
    const children = childrenOf(c.child.pid!);
    expect(children.length).toBe(2);
    c.child.stdin!.end();
    expect(await c.exited, c.stderr).toBe(0);
    // the exiting adapter SIGKILLs them; this waits until each is gone or a zombie (the test's timeout fails it otherwise)
    await Promise.all(children.map(stopsRunning));
  });

  it('a launch that cannot start says why and leaves nothing running', async () => {
    const c = new AdapterClient();
    dc = c;
    await c.initializeRequest();
    await expect(c.launchRequest({ trace: '/nonexistent/trace' } as DebugProtocol.LaunchRequestArguments)).rejects.toThrow(/no trace at \/nonexistent\/trace/);
    await expect(c.launchRequest({} as DebugProtocol.LaunchRequestArguments)).rejects.toThrow(/launch needs "trace"/);
    await expect(c.launchRequest({ trace, pid: 1 } as DebugProtocol.LaunchRequestArguments)).rejects.toThrow(/recorded process \d+, not process 1/);
    await expect(c.launchRequest({ trace, program: programPath('hello') } as DebugProtocol.LaunchRequestArguments)).rejects.toThrow(/does not match the recorded executable/);
    await expect(c.launchRequest({ trace, gdbPath: '/nonexistent/gdb' } as DebugProtocol.LaunchRequestArguments)).rejects.toThrow('cannot start /nonexistent/gdb');
    expect(childrenOf(c.child.pid!)).toEqual([]);
    expect((await c.threadsRequest()).body.threads).toEqual([]);
    await c.disconnectRequest({});
    expect(await c.exited).toBe(0);
  });
});
