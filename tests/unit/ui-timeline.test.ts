// The timeline's pure parts: output writes cut into lines (each line at the write
// that ended it, a line split over writes, stdout and stderr kept apart) and the
// page's commands checked before they reach gdb.
import { describe, expect, it } from 'vitest';
import { outputLines } from '../../src/ui/timeline.js';
import { parseCommand } from '../../src/ui/commands.js';
import { eventsToSample, MAX_SAMPLES, numericValue } from '../../ui/sampling.js';

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

describe('the watch plot\'s sampling', () => {
  const ev = (index: number, kind: string) => ({ index, tid: 1, kind, name: kind, detail: '' });

  it('reads the numbers gdb prints, and nothing else', () => {
    expect(numericValue('42')).toBe(42);
    expect(numericValue('-3')).toBe(-3);
    expect(numericValue('2.5e3')).toBe(2500);
    expect(numericValue("97 'a'")).toBe(97);
    expect(numericValue('0x1f')).toBe(31);
    expect(numericValue('(int *) 0x10')).toBe(16);
    expect(numericValue('0x555555556004 "greenhouse thermometer"')).toBe(0x555555556004);
    expect(numericValue('true')).toBe(1);
    expect(numericValue('{1, 2}')).toBeNull();
    expect(numericValue(undefined)).toBeNull();
  });

  it('samples the view: the current event and the marked moments first, then syscalls spread evenly, at most MAX_SAMPLES', () => {
    const few = { eventCount: 20, output: [], events: [ev(2, 'syscall'), ev(5, 'output'), ev(9, 'syscall'), ev(15, 'signal')] };
    expect(eventsToSample(few, 3, 12, 7)).toEqual([5, 7, 9]);
    const events = [...Array.from({ length: 200 }, (_, i) => ev(i, 'syscall')), ev(300, 'output'), ev(301, 'exit')];
    const many = { eventCount: 302, output: [], events };
    const picked = eventsToSample(many, 0, 301, 150);
    expect(picked.length).toBe(MAX_SAMPLES);
    expect(picked).toEqual([...picked].sort((a, b) => a - b));
    for (const must of [150, 300, 301]) expect(picked).toContain(must);
    // the syscalls are spread over the view, not the first ones only
    expect(picked[0]).toBeLessThan(10);
    expect(Math.max(...picked.filter((i) => i < 200))).toBeGreaterThan(180);
  });
});
