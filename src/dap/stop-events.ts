// What a gdb stop means to a DAP front end: the `stopped` event with DAP's reason
// (breakpoint, data breakpoint, step, pause, exception, entry), or, when the program
// ended, `exited` and `terminated`. The start of the recording is where reverse
// execution has no more history; its end is where the program exited, as in gdb.
import { ExitedEvent, StoppedEvent, TerminatedEvent } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import * as os from 'node:os';
import type { MiStop } from '../mi/mi-records.js';

export interface StopContext {
  /** the front end asked to pause */
  paused: boolean;
  /** the last resume went backwards */
  reverse: boolean;
}

export function stopEvents(stop: MiStop, ctx: StopContext): DebugProtocol.Event[] {
  const thread = stop.threadId ?? 1;
  switch (stop.reason) {
    case 'exited':
    case 'exited-normally':
    case 'exited-signalled': {
      const signal = stop.signalName ? (os.constants.signals as Record<string, number>)[stop.signalName] : undefined;
      const code = stop.reason === 'exited-signalled' ? 128 + (signal ?? 0) : stop.exitCode ?? 0;
      return [new ExitedEvent(code), new TerminatedEvent()];
    }
    case 'breakpoint-hit': {
      const e = stoppedEvent('breakpoint', thread);
      if (stop.bkptno) e.body.hitBreakpointIds = [Number(stop.bkptno)];
      return [e];
    }
    case 'watchpoint-trigger':
    case 'read-watchpoint-trigger':
    case 'access-watchpoint-trigger': {
      const w = stop.watchpoint;
      const e = stoppedEvent('data breakpoint', thread, w ? `${w.exp}: ${w.old !== undefined ? `${w.old} -> ` : ''}${w.new ?? w.value ?? ''}` : undefined);
      if (w) e.body.hitBreakpointIds = [Number(w.number)];
      return [e];
    }
    case 'no-history':
      return [ctx.reverse ? stoppedEvent('entry', thread, 'the start of the recording') : stoppedEvent('step', thread, 'the end of the recording')];
    case 'signal-received':
      // "signal 0" is no signal: a restarted replay (`starti`) stops so at its first instruction
      if (stop.signalName === '0') return [stoppedEvent(ctx.paused ? 'pause' : 'entry', thread)];
      if (ctx.paused && stop.signalName === 'SIGINT') return [stoppedEvent('pause', thread)];
      return [stoppedEvent('exception', thread, `${stop.signalName ?? 'signal'}: ${stop.signalMeaning ?? ''}`)];
    case undefined:
      // a stop with no reason: an interrupt, or `starti` at the first instruction
      return [stoppedEvent(ctx.paused ? 'pause' : 'entry', thread)];
    default:
      return [stoppedEvent('step', thread)];
  }
}

export function stoppedEvent(reason: string, thread: number, text?: string): DebugProtocol.StoppedEvent {
  const e: DebugProtocol.StoppedEvent = new StoppedEvent(reason, thread, text);
  e.body.allThreadsStopped = true;
  if (text) e.body.description = `Paused: ${text}`;
  return e;
}
