// The command line as parsed by src/cli/main.ts (util.parseArgs): options after the
// program are the program's, bad usage is one `rewind: error:` line and status 125,
// --help lists every command.
import { describe, expect, it } from 'vitest';
import { describeRun, rewind } from '../helpers.js';

describe('the command line', () => {
  it('options after the program are the program\'s, with or without --', () => {
    const bare = rewind(['record', '/bin/echo', '-n', 'hi', '--help']);
    expect(bare.status, describeRun(bare)).toBe(0);
    expect(bare.stdout.toString()).toBe('hi --help');
    const dashed = rewind(['record', '--no-syscallbuf', '--', '/bin/echo', '-n', '-o', 'x']);
    expect(dashed.status, describeRun(dashed)).toBe(0);
    expect(dashed.stdout.toString()).toBe('-o x');
    const check = rewind(['replay', '--check'], { traceRoot: dashed.traceRoot });
    expect(check.stdout.toString()).toBe('-o x');
  });

  it('bad usage is one error line and status 125', () => {
    for (const [args, message] of [
      [['frobnicate'], /^rewind: error: unknown command 'frobnicate' \(see rewind --help\)\n$/],
      [['replay', '--port', 'x'], /^rewind: error: .*--port must be a whole number.*\n$/],
      [['dump', '--bogus'], /^rewind: error: unknown option '--bogus' \(see rewind --help\)\n$/],
      [['record'], /^rewind: error: usage: rewind record \[-o DIR\] -- PROGRAM \[ARGS...\]\n$/],
      [['replay', '--port'], /^rewind: error: option '--port' needs a value \(see rewind --help\)\n$/],
      [['ls', 'extra'], /^rewind: error: rewind ls takes no argument \(see rewind --help\)\n$/],
      [['pack', 'a', 'b'], /^rewind: error: rewind pack takes one trace, not 2 arguments \(see rewind --help\)\n$/],
    ] as const) {
      const r = rewind([...args]);
      expect(r.status, describeRun(r)).toBe(125);
      expect(r.stderr.toString()).toMatch(message);
    }
    const none = rewind([]);
    expect(none.status).toBe(125);
    expect(none.stderr.toString()).toContain('Usage: rewind <command>');
  });

  it('--help names every command', () => {
    const r = rewind(['--help']);
    expect(r.status, describeRun(r)).toBe(0);
    for (const command of ['record', 'replay', 'dump', 'pack', 'store', 'ls', 'dap', 'ui']) expect(r.stdout.toString()).toMatch(new RegExp(`^  ${command} `, 'm'));
    const record = rewind(['record', '--help']);
    expect(record.status, describeRun(record)).toBe(0);
    expect(record.stdout.toString()).toContain('-o, --output <dir>');
    expect(record.stdout.toString()).not.toContain('cpuid-from');
  });
});
