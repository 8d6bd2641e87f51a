// How gdb's stops become DAP events (the cases the integration tests do not reach:
// signals, a pause, a program killed by a signal, the end of the history forwards).
import { describe, expect, it } from 'vitest';
import { stopEvents } from '../../src/dap/stop-events.js';

const calm = { paused: false, reverse: false };

describe('stopEvents', () => {
  it('reports a fatal signal as an exception, and SIGINT after a pause request as the pause', () => {
    const segv = stopEvents({ reason: 'signal-received', signalName: 'SIGSEGV', signalMeaning: 'Segmentation fault', threadId: 1 }, calm);
    expect(segv.map((e) => [e.event, e.body.reason, e.body.text])).toEqual([['stopped', 'exception', 'SIGSEGV: Segmentation fault']]);
    expect(stopEvents({ reason: 'signal-received', signalName: 'SIGINT', threadId: 1 }, { paused: true, reverse: false })[0].body.reason).toBe('pause');
    expect(stopEvents({ reason: 'signal-received', signalName: 'SIGINT', threadId: 1 }, calm)[0].body.reason).toBe('exception');
    expect(stopEvents({ reason: 'signal-received', signalName: '0', threadId: 1 }, calm)[0].body.reason).toBe('entry');
  });

  it('ends the session when the program exits, with the status a shell would report', () => {
    expect(stopEvents({ reason: 'exited', exitCode: 3 }, calm).map((e) => [e.event, e.body?.exitCode])).toEqual([['exited', 3], ['terminated', undefined]]);
    expect(stopEvents({ reason: 'exited-normally' }, calm)[0].body.exitCode).toBe(0);
    expect(stopEvents({ reason: 'exited-signalled', signalName: 'SIGSEGV' }, calm)[0].body.exitCode).toBe(139);
  });

  it('names the ends of the history and watchpoint values', () => {
    expect(stopEvents({ reason: 'no-history', threadId: 1 }, { paused: false, reverse: true })[0].body).toMatchObject({ reason: 'entry', text: 'the start of the recording' });
    expect(stopEvents({ reason: 'no-history', threadId: 1 }, calm)[0].body).toMatchObject({ reason: 'step', text: 'the end of the recording' });
    const w = stopEvents({ reason: 'watchpoint-trigger', threadId: 1, watchpoint: { number: '3', exp: 'counter', old: '1', new: '2' } }, calm)[0];
    expect(w.body).toMatchObject({ reason: 'data breakpoint', text: 'counter: 1 -> 2', hitBreakpointIds: [3], allThreadsStopped: true });
  });
});
