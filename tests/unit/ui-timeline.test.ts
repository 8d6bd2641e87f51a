// The timeline's pure parts: output writes cut into lines (each line at the write
// that ended it, a line split over writes, stdout and stderr kept apart) and the
// page's commands checked before they reach gdb.
import { describe, expect, it } from 'vitest';
import { outputLines } from '../../src/ui/timeline.js';
import { parseCommand } from '../../src/ui/commands.js';

const w = (index: number, fd: number, text: string) => ({ index, fd, data: Buffer.from(text) });

describe('outputLines', () => {
  it('gives each line the write that ended it', () => {
    expect(outputLines([w(3, 1, 'a\nb\n'), w(5, 1, 'par'), w(8, 1, 'tial\nc')])).toEqual([
      { index: 3, fd: 1, text: 'a' },
      { index: 3, fd: 1, text: 'b' },
      { index: 8, fd: 1, text: 'partial' },
      // no newline at the end: still output, at the last write to its fd
      { index: 8, fd: 1, text: 'c' },
    ]);
  });

  it('keeps stdout and stderr apart when their writes interleave', () => {
    expect(outputLines([w(1, 1, 'out '), w(2, 2, 'err\n'), w(4, 1, 'done\n')])).toEqual([
      { index: 2, fd: 2, text: 'err' },
      { index: 4, fd: 1, text: 'out done' },
    ]);
  });

  it('keeps empty lines', () => {
    expect(outputLines([w(7, 1, '\n\nx\n')]).map((l) => l.text)).toEqual(['', '', 'x']);
  });
});

describe('parseCommand', () => {
  it('accepts the page\'s commands', () => {
    expect(parseCommand({ op: 'seek', event: 12 })).toEqual({ op: 'seek', event: 12 });
    expect(parseCommand({ op: 'resume', action: 'next', reverse: true })).toEqual({ op: 'resume', action: 'next', reverse: true });
    expect(parseCommand({ op: 'resume', action: 'step' })).toEqual({ op: 'resume', action: 'step', reverse: false });
    expect(parseCommand({ op: 'state' })).toEqual({ op: 'state' });
    expect(parseCommand({ op: 'break', file: '/a.c', line: 3, condition: 'x == 0' })).toEqual({ op: 'break', file: '/a.c', line: 3, condition: 'x == 0' });
    expect(parseCommand({ op: 'clear', file: '/a.c', line: 3 })).toEqual({ op: 'clear', file: '/a.c', line: 3 });
    expect(parseCommand({ op: 'sample', expr: ' next_slot ', events: [3, 1] })).toEqual({ op: 'sample', expr: 'next_slot', events: [3, 1] });
    expect(parseCommand({ op: 'origin', expr: 'sensor.name' })).toEqual({ op: 'origin', expr: 'sensor.name' });
  });

  it('refuses malformed ones with a clear error', () => {
    expect(() => parseCommand({ op: 'seek', event: -1 })).toThrow(/event number/);
    expect(() => parseCommand({ op: 'seek', event: '3' })).toThrow(/event number/);
    expect(() => parseCommand({ op: 'seek', event: 1.5 })).toThrow(/event number/);
    expect(() => parseCommand({ op: 'resume', action: 'run' })).toThrow(/continue, next, step/);
    expect(() => parseCommand({ op: 'shell', cmd: 'rm' })).toThrow(/unknown command/);
    expect(() => parseCommand(null)).toThrow(/unknown command/);
    expect(() => parseCommand({ op: 'break', line: 3 })).toThrow(/source file/);
    expect(() => parseCommand({ op: 'break', file: '/a.c', line: 0 })).toThrow(/line number/);
    expect(() => parseCommand({ op: 'break', file: '/a.c', line: 2, condition: 7 })).toThrow(/expression/);
    expect(() => parseCommand({ op: 'break', file: '/a.c', line: 2, condition: 'x\n-gdb-exit' })).toThrow(/one-line/);
    expect(() => parseCommand({ op: 'sample', expr: 'x', events: [] })).toThrow(/event numbers/);
    expect(() => parseCommand({ op: 'sample', expr: 'x', events: [1, -2] })).toThrow(/event numbers/);
    expect(() => parseCommand({ op: 'sample', expr: 'x', events: Array.from({ length: 49 }, (_, i) => i) })).toThrow(/at most 48/);
    expect(() => parseCommand({ op: 'sample', expr: '', events: [1] })).toThrow(/expression/);
    expect(() => parseCommand({ op: 'origin', expr: 'x\n-gdb-exit' })).toThrow(/one line/);
  });
});
