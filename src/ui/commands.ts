// The page's commands as they arrive over the WebSocket, checked: anything malformed
// is a clear error before it reaches gdb, and changes nothing.
import type { ResumeAction } from '../mi/gdb.js';

export type UiCommand =
  | { op: 'state' }
  | { op: 'seek'; event: number }
  | { op: 'resume'; action: ResumeAction; reverse: boolean };

const ACTIONS: readonly ResumeAction[] = ['continue', 'next', 'step', 'finish', 'nexti', 'stepi'];

export function parseCommand(message: unknown): UiCommand {
  const m = (typeof message === 'object' && message !== null ? message : {}) as Record<string, unknown>;
  switch (m.op) {
    case 'state':
      return { op: 'state' };
    case 'seek':
      if (typeof m.event !== 'number' || !Number.isInteger(m.event) || m.event < 0) throw new Error('seek needs an event number (0 or more)');
      return { op: 'seek', event: m.event };
    case 'resume':
      if (!ACTIONS.includes(m.action as ResumeAction)) throw new Error(`resume needs an action: ${ACTIONS.join(', ')}`);
      return { op: 'resume', action: m.action as ResumeAction, reverse: m.reverse === true };
    default:
      throw new Error(`unknown command ${JSON.stringify(m.op)}: state, seek or resume`);
  }
}
