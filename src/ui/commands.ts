// The page's commands as they arrive over the WebSocket, checked: anything malformed
// is a clear error before it reaches gdb, and changes nothing.
import type { ResumeAction } from '../mi/gdb.js';

export type UiCommand =
  | { op: 'state' }
  | { op: 'seek'; event: number }
  | { op: 'resume'; action: ResumeAction; reverse: boolean }
  /** stops the move under way (answered by that move's own answer) */
  | { op: 'interrupt' }
  | { op: 'break'; file: string; line: number; condition?: string }
  | { op: 'clear'; file: string; line: number };

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
    case 'interrupt':
      return { op: 'interrupt' };
    case 'break':
    case 'clear': {
      if (typeof m.file !== 'string' || !m.file) throw new Error(`${m.op} needs the source file`);
      if (typeof m.line !== 'number' || !Number.isInteger(m.line) || m.line < 1) throw new Error(`${m.op} needs a line number (1 or more)`);
      if (m.op === 'clear') return { op: 'clear', file: m.file, line: m.line };
      if (m.condition !== undefined && (typeof m.condition !== 'string' || !m.condition.trim())) throw new Error('a condition is an expression');
      return { op: 'break', file: m.file, line: m.line, ...(m.condition ? { condition: m.condition as string } : {}) };
    }
    default:
      throw new Error(`unknown command ${JSON.stringify(m.op)}: state, seek, resume, interrupt, break or clear`);
  }
}
