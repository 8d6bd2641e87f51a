// A differential test on programs this repository has never seen: for each of
// a fixed list of seeds, a small random C program (integer arithmetic on globals,
// locals and a global array; loops with small bounds; if/else; functions calling
// each other, one of them recursive; no library calls at all, so that gdb's own
// `record full` can record it on this machine) is written to a temporary
// directory, compiled with `cc -g -O0`, recorded with rewind, and a gdb session
// derived from the same seed (a breakpoint on a function or a line, forward
// continues, then reverse-continue/step/next/finish/stepi with prints and
// backtraces, a watchpoint on a global with two reverse-continues, and forward
// again) runs twice: natively under `record full` (started at main) and against
// the replay. The two must print exactly the same thing. (Natively the
// watchpoint is a software one: gdb 13's record full misses hardware ones in
// reverse; the replay gets a hardware one.)
//
// The sessions are built to stay inside record full's history (which starts at
// main and ends where the forward continues stopped): the forward continues go
// far enough that the reverse commands cannot reach main's breakpoint, and the
// forward commands at the end cannot get past the last stop. The native run is
// checked for that too, so a generator mistake shows as such and not as a
// difference. Nothing prints an uninitialised variable: the stack moves by a few
// bytes between a natively run program and the recorded one (gdb gives the
// former a slightly different environment), so leftover stack contents differ.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeRun, runNative, tempDir } from '../helpers.js';
import { afterMark, debugReplay, gdbNative, record } from './gdb-support.js';

const SEEDS = [1, 7, 42, 2024, 3, 99, 512, 31337];

// ---------------------------------------------------------------------------
// a deterministic pseudo-random generator (mulberry32)

class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = (seed * 0x9e3779b9) >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** an integer in [lo, hi] */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

// ---------------------------------------------------------------------------
// the program generator

/** Where a breakpoint can go, and what can be printed when it stops there. */
interface Site {
  /** gdb's location: a function name or FILE:LINE */
  location: string;
  /** the function it is in, as gdb names it in "Breakpoint 2, NAME (" */
  fn: string;
  /** variables that are initialised whenever execution stops there */
  vars: string[];
  /** hits per round of run()'s loop */
  hits: number[];
}

interface Program {
  file: string;
  source: string;
  sites: Site[];
  /** globals that can be printed at any time */
  globals: string[];
  /** the global the watchpoint watches */
  watched: string;
}

/** Lines of C, numbered as they are added. */
class Source {
  readonly lines: string[] = [];
  add(...lines: string[]): number {
    this.lines.push(...lines);
    return this.lines.length;
  }
}

/**
 * Generates the program for a seed. Call structure (depths from main = 0):
 * main -> run (a loop of ROUNDS rounds) -> phase(round) -> mid0 / mid1 / rec ->
 * leaves and rec; every call happens unconditionally or on a condition that
 * depends only on the round number, so the number of times each breakpoint site
 * is hit in each round is known here. Data-dependent if/else only update values.
 */
function generate(seed: number): Program {
  const rng = new Rng(seed);
  const file = `rand${seed}.c`;
  const src = new Source();
  const n = rng.int(6, 12);
  const rounds = rng.int(4, 6);
  const depth = rng.int(2, 4);
  const leafCount = rng.int(2, 3);
  const mask = '0x7fff';

  /** a small expression over `vars` and some globals, masked by the caller */
  const atom = (vars: string[]): string => {
    const r = rng.int(0, 9);
    if (r < 5) return rng.pick(vars);
    if (r < 7) return String(rng.int(1, 9));
    if (r < 8) return rng.pick(['g_a', 'g_w']);
    if (r < 9) return `g_arr[(unsigned)${rng.pick(vars)} % N]`;
    return `(int)(g_b & 0xff)`;
  };
  const expr = (vars: string[]): string => {
    const terms = rng.int(2, 3);
    let e = atom(vars);
    for (let i = 1; i < terms; i++) {
      const op = rng.pick(['+', '-', '^', '|', '&', '*', '>>']);
      if (op === '*') e = `${e} * ${rng.int(2, 9)}`;
      else if (op === '>>') e = `(${e}) >> ${rng.int(1, 3)}`;
      else e = `(${e} ${op} ${atom(vars)})`;
    }
    return e;
  };
  const cond = (vars: string[]): string =>
    rng.pick([
      () => `(${rng.pick(vars)} & ${rng.pick([1, 2, 4])}) == 0`,
      () => `${rng.pick(vars)} > ${rng.pick(vars)}`,
      () => `${rng.pick(vars)} % ${rng.int(3, 7)} < ${rng.int(1, 3)}`,
      () => `(${rng.pick(vars)} ^ g_a) & 1`,
    ])();

  src.add(`/* generated by tests/integration/gdb-reverse-random.test.ts, seed ${seed} */`);
  src.add(`#define N ${n}`, '');
  src.add(`int g_arr[N] = {${Array.from({ length: n }, () => rng.int(0, 99)).join(', ')}};`);
  src.add(`int g_w = ${rng.int(0, 50)};`);
  src.add(`int g_a = ${rng.int(1, 30)};`);
  src.add(`unsigned int g_b = ${rng.int(100, 999)}u;`);
  src.add(`long g_c = 0;`, '');

  const sites: Site[] = [];
  // calls[f] = the functions f calls unconditionally, once per invocation (with multiplicity)
  const calls = new Map<string, string[]>();
  // per-invocation hit counts of line sites: [site, function, hits per invocation]
  const lineSites: { site: Site; fn: string; perCall: number }[] = [];
  const addLineSite = (fn: string, line: number, vars: string[], perCall: number) => {
    const site: Site = { location: `${file}:${line}`, fn, vars, hits: [] };
    sites.push(site);
    lineSites.push({ site, fn, perCall });
  };

  // leaves: leafI(int a, int b), leafI may call a lower leaf
  const leaves: string[] = [];
  for (let li = 0; li < leafCount; li++) {
    const name = `leaf${li}`;
    const callee = li > 0 && rng.chance(0.6) ? leaves[rng.int(0, li - 1)] : undefined;
    calls.set(name, callee ? [callee] : []);
    const loop = rng.int(2, 4);
    const v = ['a', 'b'];
    src.add(`int ${name}(int a, int b)`, '{');
    src.add(`    int r = (${expr(v)}) & ${mask};`);
    src.add(`    int t = ${rng.int(0, 20)};`);
    if (callee) src.add(`    t = (t + ${callee}(b, r & 15)) & ${mask};`);
    const rv = ['a', 'b', 'r', 't'];
    src.add(`    if (${cond(rv)})`, '    {');
    src.add(`        r = (${expr(rv)}) & ${mask};`);
    if (rng.chance(0.7)) src.add(`        g_w = (g_w + ${expr(rv)}) & 0xff;`);
    src.add('    }', '    else', '    {');
    src.add(`        t = (${expr(rv)}) & ${mask};`);
    src.add(`        g_arr[(unsigned)(a + t) % N] = (${expr(rv)}) & ${mask};`);
    src.add('    }');
    src.add(`    for (int j = 0; j < ${loop}; j++)`, '    {');
    const inLoop = src.add(`        t = (t * ${rng.int(2, 5)} + j + ${rng.pick(rv)}) & ${mask};`);
    addLineSite(name, inLoop, ['a', 'b', 'r', 't', 'j'], loop);
    src.add('    }');
    const after = src.add(`    g_c += r ^ t;`);
    addLineSite(name, after, ['a', 'b', 'r', 't'], 1);
    src.add(`    return (r + t) & ${mask};`, '}', '');
    sites.push({ location: name, fn: name, vars: ['a', 'b'], hits: [] });
    leaves.push(name);
  }

  // rec(int n, int v): recursion of depth `depth`, the base case calls a leaf
  const baseLeaf = rng.pick(leaves);
  calls.set('rec', [baseLeaf]);
  src.add('int rec(int n, int v)', '{');
  src.add('    int t = v;');
  src.add('    if (n <= 0)', '    {');
  src.add(`        g_w = (g_w + ${rng.int(1, 9)}) & 0xff;`);
  src.add(`        return ${baseLeaf}(v, ${rng.int(1, 9)});`);
  src.add('    }');
  src.add(`    t = rec(n - 1, (v * ${rng.int(2, 5)} + n) & ${mask});`);
  const recAfter = src.add(`    t = (t + ${expr(['n', 'v', 't'])}) & ${mask};`);
  src.add(`    g_arr[n % N] = (g_arr[n % N] + t) & ${mask};`);
  src.add('    return t;', '}', '');
  sites.push({ location: 'rec', fn: 'rec', vars: ['n', 'v'], hits: [] });
  // rec's line after the recursive call runs `depth` times per outermost call
  const recLine: Site = { location: `${file}:${recAfter}`, fn: 'rec', vars: ['n', 'v', 't'], hits: [] };
  sites.push(recLine);

  // mid0, mid1: a loop calling a leaf; maybe rec after the loop
  for (let mi = 0; mi < 2; mi++) {
    const name = `mid${mi}`;
    const leaf = rng.pick(leaves);
    const bound = rng.int(3, 6);
    const withRec = rng.chance(0.5);
    calls.set(name, [...Array(bound).fill(leaf), ...(withRec ? ['rec'] : [])]);
    src.add(`int ${name}(int k)`, '{');
    src.add(`    int s = ${rng.int(0, 99)};`);
    src.add(`    int u = k * ${rng.int(2, 7)};`);
    src.add(`    for (int i = 0; i < ${bound}; i++)`, '    {');
    const callLine = src.add(`        s = (s + ${leaf}(i, k + u)) & ${mask};`);
    addLineSite(name, callLine, ['k', 's', 'u', 'i'], bound);
    const mv = ['k', 's', 'u', 'i'];
    src.add(`        if (${cond(mv)})`, '        {');
    src.add(`            u = (${expr(mv)}) & ${mask};`);
    src.add('        }', '        else', '        {');
    src.add(`            g_arr[(unsigned)(i + k) % N] = (${expr(mv)}) & ${mask};`);
    src.add('        }', '    }');
    if (withRec) src.add(`    s = (s + rec(${depth}, s)) & ${mask};`);
    src.add(`    g_b = g_b + (unsigned)(s & 0xff);`);
    src.add(`    return (s + u) & ${mask};`, '}', '');
    sites.push({ location: name, fn: name, vars: ['k'], hits: [] });
  }

  // phase(round): mid0 always; then mid1 or rec depending on the round
  const period = rng.int(2, 3);
  const which = rng.int(0, period - 1);
  src.add('int phase(int round)', '{');
  src.add(`    int x = round * ${rng.int(2, 9)} + ${rng.int(0, 20)};`);
  src.add(`    x = (x + mid0(round)) & ${mask};`);
  src.add(`    if (round % ${period} == ${which})`, '    {');
  src.add(`        x = (x ^ mid1(x & 7)) & ${mask};`);
  src.add('    }', '    else', '    {');
  src.add(`        x = (x + rec(${depth}, x)) & ${mask};`);
  src.add('    }');
  src.add(`    g_a = (g_a + x) & 0x3ff;`);
  src.add('    return x;', '}', '');

  src.add('int run(void)', '{');
  src.add(`    int acc = ${rng.int(0, 99)};`);
  src.add(`    for (int round = 0; round < ${rounds}; round++)`, '    {');
  src.add('        acc = (acc + phase(round)) & 0xffff;');
  src.add('    }', '    return acc;', '}', '');
  src.add('int main(void)', '{');
  src.add('    int result = run();');
  src.add('    return (result ^ g_w ^ g_a) & 0xff;', '}');

  // hit counts per round
  const lineOf = new Map(lineSites.map((l) => [l.site, l]));
  for (let round = 0; round < rounds; round++) {
    const entries = new Map<string, number>(); // function -> invocations
    let recChains = 0;
    const visit = (fn: string, times: number) => {
      if (fn === 'rec') {
        recChains += times;
        entries.set('rec', (entries.get('rec') ?? 0) + times * (depth + 1));
      } else {
        entries.set(fn, (entries.get(fn) ?? 0) + times);
      }
      for (const callee of calls.get(fn) ?? []) visit(callee, times);
    };
    visit('mid0', 1);
    visit(round % period === which ? 'mid1' : 'rec', 1);
    for (const site of sites) {
      const line = lineOf.get(site);
      if (site === recLine) site.hits.push(recChains * depth);
      else if (line) site.hits.push((entries.get(line.fn) ?? 0) * line.perCall);
      else site.hits.push(entries.get(site.fn) ?? 0);
    }
  }

  return {
    file,
    source: src.lines.join('\n') + '\n',
    sites,
    globals: ['g_w', 'g_a', 'g_b', '/x g_b', 'g_c', 'g_arr', `g_arr[${rng.int(0, n - 1)}]`, 'g_a * 3 + g_w'],
    watched: 'g_w',
  };
}

// ---------------------------------------------------------------------------
// the gdb session

interface Session {
  site: Site;
  /** commands after main's breakpoint, the same natively and against the replay */
  commands: string[];
  /** how many times the forward continues stop at the breakpoint */
  forwardHits: number;
}

/**
 * Breakpoint 2 at the site; forward continues to its c-th hit; B >= 2 blocks,
 * each starting with a reverse-continue (to an earlier hit of breakpoint 2:
 * nothing else is set yet) followed by a few reverse steps and prints; a
 * watchpoint and two reverse-continues; then `next` and `continue`. After the B
 * reverse-continues the position is at or before hit c - B, so the final two
 * forward commands (each stops at the next hit at the latest) end at or before
 * hit c: inside record full's history. c is chosen so that the reverse commands
 * (each stops at the first hit of breakpoint 2 it meets, so goes back past at
 * most one) cannot reach main.
 */
function session(seed: number, program: Program): Session {
  const rng = new Rng(seed * 7919 + 13);
  const p = (what: string) => `print ${what}`;
  for (let attempt = 0; ; attempt++) {
    if (attempt === 1000) throw new Error(`seed ${seed}: no breakpoint site is hit often enough for a session`);
    const byFunction = rng.chance(0.5);
    const site = rng.pick(program.sites.filter((x) => (x.location === x.fn) === byFunction));
    const total = site.hits.reduce((a, b) => a + b, 0);
    const blocks = rng.int(2, 3);
    const back: string[] = [];
    let consumed = 0;
    for (let b = 0; b < blocks; b++) {
      back.push('reverse-continue');
      consumed++;
      // at a hit of breakpoint 2: its variables are initialised
      for (const v of rng.chance(0.5) ? site.vars : [rng.pick(site.vars)]) back.push(p(v));
      if (rng.chance(0.3)) back.push('info args');
      if (rng.chance(0.3)) back.push('up', 'info locals', 'down');
      // depth of the site's function >= 3 (phase is 2, run 1): at most two
      // moves that can go up a frame keep every stop below main
      let up = 0;
      let inPrologue = false; // after reverse-stepi: the arguments may not be stored yet
      const moves = rng.int(1, 4);
      for (let m = 0; m < moves; m++) {
        const choices = ['reverse-stepi', 'print-global'];
        if (up < 2) choices.push('reverse-step', 'reverse-next', 'reverse-step', 'reverse-next');
        if (up < 2 && !inPrologue) choices.push('reverse-finish');
        if (!inPrologue) choices.push('bt');
        const c = rng.pick(choices);
        if (c === 'print-global') back.push(p(rng.pick(program.globals)));
        else if (c === 'bt') back.push('bt');
        else if (c === 'reverse-stepi') {
          if (up >= 2) continue;
          back.push('reverse-stepi', 'x/i $pc');
          up++;
          consumed++;
          inPrologue = true;
        } else {
          back.push(c);
          up++;
          consumed++;
          inPrologue = false;
          if (rng.chance(0.4)) back.push(rng.chance(0.5) ? 'bt' : p(rng.pick(program.globals)));
        }
      }
    }
    // the watchpoint: two more reverse-continues (each stops at a change of the
    // watched global or at the previous hit of breakpoint 2)
    back.push(`watch ${program.watched}`, 'reverse-continue', p(program.watched), 'bt', 'reverse-continue', p(program.watched));
    consumed += 2;
    const end = ['next', p(rng.pick(program.globals)), 'continue', p(program.watched), 'bt'];
    const forwardHits = consumed + 2 + rng.int(0, 2);
    if (forwardHits > total) continue; // too few hits for this many reverse commands: choose again
    const forward = ['continue', 'continue'];
    if (forwardHits > 2) forward.push(`continue ${forwardHits - 2}`);
    return { site, forwardHits, commands: [`break ${site.location}`, ...forward, ...back, ...end] };
  }
}

// ---------------------------------------------------------------------------

/**
 * What may legitimately differ: gdb says a source file is missing only the first
 * time it looks for it; natively the watchpoint is a software one (see below).
 */
function normalise(text: string, softwareWatchpoint = false): string {
  return text
    .split('\n')
    .filter((l) => !/No such file or directory\.$/.test(l))
    .map((l) => (softwareWatchpoint ? l.replace(/^Watchpoint (\d+): /, 'Hardware watchpoint $1: ') : l))
    .join('\n');
}

describe('random programs: reverse execution prints what gdb record full prints', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}`, async () => {
      const program = generate(seed);
      const dir = tempDir('rewind-random-');
      writeFileSync(path.join(dir, program.file), program.source);
      const exe = path.join(dir, `rand${seed}`);
      const cc = runNative(['cc', '-g', '-O0', '-o', exe, program.file], { cwd: dir });
      expect(cc.status, describeRun(cc)).toBe(0);
      const trace = record(exe);
      const { site, commands, forwardHits } = session(seed, program);
      const context =
        `seed ${seed}, program ${program.file}:\n${program.source}\n` +
        `commands (the forward continues stop at hit ${forwardHits} of breakpoint 2):\n${commands.join('\n')}`;

      // gdb 13's record full misses hardware watchpoints in reverse and in replay
      // (gdb PR breakpoints/21969, fixed in later gdb): natively the watchpoint is
      // a software one, which record full handles; it stops where a hardware one
      // does, and gdb prints "Watchpoint N" for "Hardware watchpoint N"
      const nativeCommands = commands.map((c) => (c.startsWith('watch ') ? ['set can-use-hw-watchpoints 0', c] : [c])).flat();
      const native = normalise(afterMark(gdbNative(exe, ['record full', ...nativeCommands])), true);
      // the session is valid only if record full could record it and it stayed
      // inside record full's history
      expect(native, context).not.toMatch(
        /Process record does not support|failed to record|No more reverse-execution history|auto delete previous execution log|The program is not being run/,
      );
      const hits = native.match(new RegExp(`^Breakpoint 2, (0x[0-9a-f]+ in )?${site.fn} \\(`, 'gm'))?.length ?? 0;
      expect(hits, `native:\n${native}\n${context}`).toBeGreaterThanOrEqual(3);
      expect(native, context).toMatch(/^Hardware watchpoint 3: g_w$/m);

      const { gdb, server } = await debugReplay(trace, commands);
      const replayed = normalise(afterMark(gdb));
      expect(replayed, `${context}\nserver stderr:\n${server}`).toBe(native);
    });
  }
});
