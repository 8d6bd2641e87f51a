// The page's commands as they arrive over the WebSocket, checked: anything malformed
// is a clear error before it reaches gdb, and changes nothing.
import type { ResumeAction } from '../mi/gdb.js';
import { MAX_SAMPLES } from './sampler.js';

export type UiCommand =
  | { op: 'state' }
  | { op: 'seek'; event: number }
  | { op: 'resume'; action: ResumeAction; reverse: boolean }
  /** stops the move under way (answered by that move's own answer) */
  | { op: 'interrupt' }
  | { op: 'break'; file: string; line: number; condition?: string }
  | { op: 'clear'; file: string; line: number }
  /** an expression's values just after these events (answered with samples, not a state) */
  | { op: 'sample'; expr: string; events: number[] }
  /** where did this value come from: back to the last write of expr */
  | { op: 'origin'; expr: string };

const ACTIONS: readonly ResumeAction[] = ['continue', 'next', 'step', 'finish', 'nexti', 'stepi'];

const isEvent = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

function expression(m: Record<string, unknown>): string {
  if (typeof m.expr !== 'string' || !m.expr.trim()) throw new Error(`${m.op} needs an expression`);
  // one line: gdb's MI reads a command per line
  if (/[\r\n]/.test(m.expr)) throw new Error('an expression is one line');
  return m.expr.trim();
}

export function parseCommand(message: unknown): UiCommand {
  const m = (typeof message === 'object' && message !== null ? message : {}) as Record<string, unknown>;
  switch (m.op) {
    case 'state':
      return { op: 'state' };
    case 'seek':
      if (!isEvent(m.event)) throw new Error('seek needs an event number (0 or more)');
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
      if (m.condition !== undefined && (typeof m.condition !== 'string' || !m.condition.trim() || /[\r\n]/.test(m.condition))) throw new Error('a condition is a one-line expression');
      return { op: 'break', file: m.file, line: m.line, ...(m.condition ? { condition: (m.condition as string).trim() } : {}) };
    }
    case 'sample': {
      const expr = expression(m);
      if (!Array.isArray(m.events) || !m.events.length || !m.events.every(isEvent)) throw new Error('sample needs a list of event numbers');
      if (m.events.length > MAX_SAMPLES) throw new Error(`sample takes at most ${MAX_SAMPLES} events`);
      return { op: 'sample', expr, events: m.events as number[] };
    }
    case 'origin':
      return { op: 'origin', expr: expression(m) };
    default:
      throw new Error(`unknown command ${JSON.stringify(m.op)}: state, seek, resume, interrupt, break, clear, sample or origin`);
  }
}
