// The gdb/MI line parser on records gdb 13 prints (taken from real sessions against a
// replay), on the escapes of MI c-strings, and on lines that are not MI.
import { describe, expect, it } from 'vitest';
import { miQuote, parseMiLine } from '../../src/mi/mi-parser.js';
import { toInstructions, toStop } from '../../src/mi/mi-records.js';

describe('parseMiLine', () => {
  it('reads a result record with a token, tuples and lists of results', () => {
    const r = parseMiLine('13^done,stack=[frame={level="0",addr="0x0000555555555160",func="square",line="18"},frame={level="1",addr="0x0000555555555186",func="add_squares",line="23"}]');
    expect(r).toEqual({
      type: 'result', token: 13, cls: 'done',
      data: { stack: [{ level: '0', addr: '0x0000555555555160', func: 'square', line: '18' }, { level: '1', addr: '0x0000555555555186', func: 'add_squares', line: '23' }] },
    });
  });

  it('reads async records, value lists and empty containers', () => {
    expect(parseMiLine('*stopped,reason="breakpoint-hit",disp="keep",bkptno="1",frame={addr="0x1",func="main",args=[]},thread-id="1",stopped-threads="all"')).toEqual({
      type: 'exec', token: undefined, cls: 'stopped',
      data: { reason: 'breakpoint-hit', disp: 'keep', bkptno: '1', frame: { addr: '0x1', func: 'main', args: [] }, 'thread-id': '1', 'stopped-threads': 'all' },
    });
    expect(parseMiLine('=breakpoint-modified,bkpt={number="1",thread-groups=["i1","i2"]}')).toEqual({
      type: 'notify', token: undefined, cls: 'breakpoint-modified', data: { bkpt: { number: '1', 'thread-groups': ['i1', 'i2'] } },
    });
    expect(parseMiLine('*running,thread-id="all"')).toMatchObject({ type: 'exec', cls: 'running' });
    expect(parseMiLine('4^running')).toEqual({ type: 'result', token: 4, cls: 'running', data: {} });
    expect(parseMiLine('^done,x={}')).toEqual({ type: 'result', token: undefined, cls: 'done', data: { x: {} } });
  });

  it('decodes c-string escapes, octal bytes as UTF-8', () => {
    expect(parseMiLine('~"40\\t    struct point p = {3, 4, \\"p\\"};\\n"')).toEqual({ type: 'console', text: '40\t    struct point p = {3, 4, "p"};\n' });
    expect(parseMiLine('@"Current event: 41\\n"')).toEqual({ type: 'target', text: 'Current event: 41\n' });
    expect(parseMiLine('&"caf\\303\\251 \\\\ \\000"')).toEqual({ type: 'log', text: 'café \\ \u0000' });
    expect(parseMiLine('~"naïve ✓"')).toEqual({ type: 'console', text: 'naïve ✓' });
  });

  it('tells the prompt and non-MI lines apart', () => {
    expect(parseMiLine('(gdb) ')).toEqual({ type: 'prompt' });
    expect(parseMiLine('(gdb)')).toEqual({ type: 'prompt' });
    expect(parseMiLine('hello from the inferior')).toEqual({ type: 'other', text: 'hello from the inferior' });
    expect(parseMiLine('^done,broken="unterminated')).toEqual({ type: 'other', text: '^done,broken="unterminated' });
    expect(parseMiLine('^done,x={a="1"')).toEqual({ type: 'other', text: '^done,x={a="1"' });
    expect(parseMiLine('~"a" trailing')).toEqual({ type: 'other', text: '~"a" trailing' });
  });

  it('keeps the first of repeated names in a tuple', () => {
    expect(parseMiLine('^done,a="1",a="2"')).toMatchObject({ data: { a: '1' } });
  });
});

describe('miQuote', () => {
  it('quotes only what needs quoting, so gdb reads the argument back', () => {
    expect(miQuote('main')).toBe('main');
    expect(miQuote('/src/a.c:12')).toBe('/src/a.c:12');
    expect(miQuote('v == 4')).toBe('"v == 4"');
    expect(miQuote('s == "x\\y"')).toBe('"s == \\"x\\\\y\\""');
    expect(miQuote('')).toBe('""');
  });
});

describe('typed records', () => {
  it('reads a watchpoint stop and an exit code (gdb prints it in octal)', () => {
    const w = parseMiLine('*stopped,reason="watchpoint-trigger",wpt={number="3",exp="counter"},value={old="1",new="2"},frame={addr="0x5",func="walk",line="33"},thread-id="1"');
    expect(w.type === 'exec' && toStop(w.data)).toMatchObject({ reason: 'watchpoint-trigger', threadId: 1, watchpoint: { number: '3', exp: 'counter', old: '1', new: '2' }, frame: { line: 33, func: 'walk' } });
    const e = parseMiLine('*stopped,reason="exited",exit-code="012"');
    expect(e.type === 'exec' && toStop(e.data).exitCode).toBe(10);
  });

  it('flattens source-centric disassembly in address order', () => {
    const r = parseMiLine('^done,asm_insns=[src_and_asm_line={line="19",file="a.c",fullname="/s/a.c",line_asm_insn=[{address="0x20",func-name="f",offset="8",opcodes="8b 45 fc",inst="mov"}]},src_and_asm_line={line="18",file="a.c",fullname="/s/a.c",line_asm_insn=[{address="0x18",func-name="f",offset="0",opcodes="55",inst="push   %rbp"}]}]');
    expect(r.type === 'result' && toInstructions(r.data.asm_insns)).toEqual([
      { address: '0x18', funcName: 'f', offset: 0, opcodes: '55', inst: 'push   %rbp', fullname: '/s/a.c', line: 18 },
      { address: '0x20', funcName: 'f', offset: 8, opcodes: '8b 45 fc', inst: 'mov', fullname: '/s/a.c', line: 19 },
    ]);
  });
});
