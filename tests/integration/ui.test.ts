// `rewind ui` in a real browser (Debian's chromium driven by puppeteer-core) on a
// recording of examples/buggy.c, the README's example: the page loads (with the
// disassembly where there is no source); dragging the slider moves the replay (the
// current line and the loop counter follow the output printed so far); the axis
// zooms and pans without marks hiding each other; clicking an output line lands on
// the write that printed it; reverse-step moves the line back; a watched value is
// plotted across time and "where did it come from" lands on its last write; a long
// continue shows its progress and stops on the stop button; a request without the
// token is refused. The screenshots it takes are the ones docs/ui.md shows.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { WebSocket } from 'ws';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { programPath, ROOT, rewind, tempDir } from '../helpers.js';
import { chromiumBinary, startUi, type UiProcess } from './ui-support.js';

const SOURCE = path.join(ROOT, 'examples', 'buggy.c');
const lineOf = (text: string) => readFileSync(SOURCE, 'utf8').split('\n').findIndex((l) => l.includes(text)) + 1;
/** a seek lands just after the library call that made the event returned: on the next line */
const AFTER_PRINTF = lineOf('add_reading(t);');
/** docs/ui.md's screenshots are refreshed with REWIND_UI_SCREENSHOTS=1; otherwise they go to a temporary directory */
const SHOTS = process.env.REWIND_UI_SCREENSHOTS ? path.join(ROOT, 'docs', 'ui') : tempDir('rewind-ui-shots-');

let ui: UiProcess;
let browser: Browser;
let page: Page;

interface Shown { event: number; reason: string; line?: number; func?: string; locals: Record<string, string>; output: { text: string; event: number }[] }

/** What the page shows now. */
async function shown(): Promise<Shown> {
  return page.evaluate(() => {
    const current = document.querySelector('#source .current') as HTMLElement | null;
    const locals: Record<string, string> = {};
    for (const tr of document.querySelectorAll('#locals tr')) locals[(tr as HTMLElement).dataset.name!] = tr.children[1].textContent ?? '';
    return {
      event: Number(document.body.dataset.event),
      reason: document.body.dataset.reason ?? '',
      line: current ? Number(current.dataset.n) : undefined,
      func: document.getElementById('source-title')!.textContent!.split(' in ')[1],
      locals,
      output: [...document.querySelectorAll('#output li')].map((li) => ({ text: li.textContent ?? '', event: Number((li as HTMLElement).dataset.event) })),
    };
  });
}

/** Waits until the page has finished the move it started (busy set, then cleared). */
async function settle(action: () => Promise<unknown>): Promise<Shown> {
  await page.evaluate(() => (document.body.dataset.busy = 'pending'));
  await action();
  await page.waitForFunction(() => document.body.dataset.busy === 'false', { timeout: 60_000 });
  const status = await page.$eval('#status', (e) => e.textContent);
  expect(status, 'the page reported an error').toBe('');
  return shown();
}

/** Lane by lane, the marks and clusters on the axis: where they are and how many events each stands for. */
async function axisMarks(): Promise<{ lane: string; left: number; right: number; count: number; event?: number }[]> {
  return page.$$eval('#axis .mark, #axis .cluster', (els) => els.map((e) => {
    const el = e as HTMLElement;
    const box = el.getBoundingClientRect();
    return { lane: el.dataset.lane!, left: box.left, right: box.right, count: Number(el.dataset.count ?? 1), event: el.dataset.event ? Number(el.dataset.event) : undefined };
  }));
}

/** Zooms the axis into clusters (clicking the one holding EVENT) until EVENT has a mark of its own. */
async function revealMark(event: number, lane: string): Promise<void> {
  for (let i = 0; i < 20; i++) {
    if (await page.$(`#axis .mark[data-lane="${lane}"][data-event="${event}"]`)) return;
    const clicked = await page.$$eval(`#axis .cluster[data-lane="${lane}"]`, (els, ev) => {
      const c = els.find((e) => Number((e as HTMLElement).dataset.from) <= ev && ev <= Number((e as HTMLElement).dataset.to)) as HTMLElement | undefined;
      c?.click();
      return !!c;
    }, event);
    if (!clicked) throw new Error(`event ${event} is neither a mark nor in a cluster of the ${lane} lane`);
  }
  throw new Error(`event ${event} never got a mark of its own`);
}

/** The reading number the last output line printed ("reading 3: 21 C" → 3). */
const lastReading = (s: Shown) => Number(/^reading (\d+):/.exec(s.output.at(-1)?.text ?? '')?.[1]);

beforeAll(async () => {
  const exe = path.join(tempDir('rewind-ui-'), 'buggy');
  execFileSync('cc', ['-g', '-O0', '-o', exe, SOURCE]);
  const root = tempDir('rewind-ui-');
  const trace = path.join(root, 'trace');
  const r = rewind(['record', '-o', trace, '--', exe], { traceRoot: root });
  expect(r.stderr.toString()).toMatch(/trace saved to/);
  ui = await startUi(trace);
  browser = await puppeteer.launch({ executablePath: chromiumBinary(), headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  page = await browser.newPage();
  await page.setViewport({ width: 1200, height: 800 });
  await page.goto(ui.url);
  await page.waitForFunction(() => document.body.dataset.ready === 'true', { timeout: 60_000 });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  const status = await ui?.stop();
  expect(status, `rewind ui did not exit cleanly:\n${ui?.stderr()}`).toBe(0);
});

describe('rewind ui in chromium', () => {
  it('loads the page for a recording at its first event, with its output lines on the timeline', async () => {
    const s = await shown();
    expect(s.event).toBe(0);
    expect(s.output).toEqual([]);
    const marks = await page.$$eval('#axis .mark.output', (m) => m.length);
    // buggy takes 3 to 10 readings, each printed by its own write
    expect(marks).toBeGreaterThanOrEqual(3);
  });

  it('shows the disassembly around the pc where no frame has source (the first instruction, in ld.so)', async () => {
    const title = await page.$eval('#source-title', (e) => e.textContent ?? '');
    expect(title).toMatch(/_start .*ld-linux.*\(no source: disassembly\)/);
    const insns = await page.$$eval('#source .insn', (els) => els.map((e) => ({ address: (e as HTMLElement).dataset.address!, current: e.classList.contains('current'), text: e.textContent ?? '' })));
    expect(insns.length).toBeGreaterThan(10);
    const current = insns.filter((i) => i.current);
    expect(current.length).toBe(1);
    // the current instruction is the one at rip, with instructions before it too
    const rip = await page.$eval('#registers tr[data-name="rip"] td:nth-child(2)', (e) => e.textContent ?? '');
    expect(BigInt(current[0].address)).toBe(BigInt(rip));
    expect(insns.indexOf(current[0])).toBeGreaterThan(0);
    expect(current[0].text).toMatch(/_start\+0/);
    await page.screenshot({ path: path.join(SHOTS, 'disassembly.png') });
  });

  it('dragging the slider moves the replay: the line and the loop counter follow', async () => {
    const outputs = await page.$$eval('#axis .mark.output', (m) => m.map((e) => Number((e as HTMLElement).title.split(' ')[1])));
    const drag = async (event: number) => {
      const box = (await (await page.$('#slider'))!.boundingBox())!;
      const max = Number(await page.$eval('#slider', (e) => (e as HTMLInputElement).max));
      const thumb = await page.$eval('#slider', (e) => parseFloat(getComputedStyle(e).height)); // the thumb is about as wide as the bar is tall
      const x = (v: number) => box.x + thumb / 2 + (v / max) * (box.width - thumb);
      const from = Number(await page.$eval('#slider', (e) => (e as HTMLInputElement).value));
      return settle(async () => {
        await page.mouse.move(x(from), box.y + box.height / 2);
        await page.mouse.down();
        await page.mouse.move(x(event), box.y + box.height / 2, { steps: 8 });
        await page.mouse.up();
      });
    };
    const a = await drag(outputs[1]);
    const b = await drag(outputs[2]);
    for (const s of [a, b]) {
      expect(s.func).toBe('main');
      expect(s.line).toBe(AFTER_PRINTF);
      // i counts from 0: after "reading N" was printed, i is N-1
      expect(Number(s.locals.i)).toBe(lastReading(s) - 1);
    }
    expect(b.event).toBeGreaterThan(a.event);
    expect(Number(b.locals.i)).toBeGreaterThan(Number(a.locals.i));
    // the source view shows the file line for line, coloured by highlight.js
    const shown = await page.$$eval('#source .line', (els) => els.map((e) => e.textContent ?? ''));
    expect(shown.map((l) => (l === ' ' ? '' : l))).toEqual(readFileSync(SOURCE, 'utf8').split('\n'));
    const keywords = await page.$$eval('#source .line .hljs-keyword', (els) => els.map((e) => e.textContent));
    expect(keywords).toContain('return');
    const comment = await page.$$eval('#source .line .hljs-comment', (els) => els.map((e) => e.textContent ?? ''));
    expect(comment.length).toBeGreaterThan(0);
    // the engine keeps a checkpoint where a seek ends: the axis shows it
    const checkpoints = (await axisMarks()).filter((m) => m.lane === 'checkpoint');
    expect(checkpoints.some((m) => m.event === b.event), JSON.stringify(checkpoints)).toBe(true);
    await page.screenshot({ path: path.join(SHOTS, 'slider.png') });
  });

  it('zooms and pans the axis; marks never overlap, and a cluster says how many events it holds', async () => {
    const timeline = await page.evaluate(async () => (await (await fetch(`api/timeline${location.search}`)).json()) as { eventCount: number; events: { index: number; kind: string }[] });
    const lanes: Record<string, string[]> = { process: ['exec', 'exit', 'stop', 'process'], signal: ['signal'], output: ['output'], syscall: ['syscall'] };
    const range = async () => page.$eval('#slider', (e) => [Number((e as HTMLInputElement).min), Number((e as HTMLInputElement).max)]);
    const check = async () => {
      const [lo, hi] = await range();
      const marks = await axisMarks();
      for (const [lane, kinds] of Object.entries(lanes)) {
        const inLane = marks.filter((m) => m.lane === lane).sort((x, y) => x.left - y.left);
        // every event in the view is drawn once, as a mark or in a cluster
        const expected = timeline.events.filter((e) => kinds.includes(e.kind) && e.index >= lo && e.index <= hi).length;
        expect(inLane.reduce((n, m) => n + m.count, 0), `${lane} in ${lo}..${hi}`).toBe(expected);
        // and nothing is drawn over anything else
        for (let i = 1; i < inLane.length; i++) expect(inLane[i].left, `${lane} marks overlap`).toBeGreaterThanOrEqual(inLane[i - 1].right);
      }
      return [lo, hi];
    };
    // a narrow window: marks crowd, and clusters take them
    await page.setViewport({ width: 500, height: 800 });
    const [lo0, hi0] = await check();
    expect([lo0, hi0]).toEqual([0, timeline.eventCount - 1]);
    expect((await axisMarks()).some((m) => m.count > 1), 'no cluster at 500 px').toBe(true);
    await page.setViewport({ width: 1200, height: 800 });
    // zoom in twice around the current point: the view halves each time, the current point in it
    const here = (await shown()).event;
    await page.click('#zoom-in');
    await page.click('#zoom-in');
    const [lo1, hi1] = await check();
    expect(hi1 - lo1).toBeLessThanOrEqual(Math.ceil((hi0 - lo0) / 4) + 1);
    expect(lo1 <= here && here <= hi1).toBe(true);
    // the scrollbar's thumb is as wide as the view; dragging it pans the view
    const track = (await (await page.$('#scrollbar'))!.boundingBox())!;
    const thumb = (await (await page.$('#thumb'))!.boundingBox())!;
    expect(thumb.width / track.width).toBeCloseTo((hi1 - lo1) / (timeline.eventCount - 1), 1);
    const panTo = lo1 > (timeline.eventCount - 1) / 2 ? -1 : 1;
    await page.mouse.move(thumb.x + thumb.width / 2, thumb.y + thumb.height / 2);
    await page.mouse.down();
    await page.mouse.move(thumb.x + thumb.width / 2 + panTo * track.width * 0.2, thumb.y + thumb.height / 2, { steps: 5 });
    await page.mouse.up();
    const [lo2, hi2] = await check();
    expect(hi2 - lo2).toBe(hi1 - lo1);
    expect(Math.sign(lo2 - lo1)).toBe(panTo);
    // the slider now spans the view: dragging it to its far end goes to the view's last event
    const box = (await (await page.$('#slider'))!.boundingBox())!;
    const s = await settle(async () => {
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width + 20, box.y + box.height / 2, { steps: 5 });
      await page.mouse.up();
    });
    expect(s.event).toBe(hi2);
    await page.click('#zoom-all');
    expect(await range()).toEqual([0, timeline.eventCount - 1]);
    // back to where the test started, by its mark
    await revealMark(here, 'output');
    expect((await settle(() => page.click(`#axis .mark[data-event="${here}"]`))).event).toBe(here);
  });

  it('clicking an output line lands on the write that printed it', async () => {
    const s0 = await shown();
    const first = s0.output[0];
    expect(first.text).toMatch(/^reading 1: \d+ C$/);
    const s = await settle(() => page.click('#output li:first-child'));
    expect(s.event).toBe(first.event);
    expect(s.line).toBe(AFTER_PRINTF);
    expect(s.locals.i).toBe('0');
    expect(s.output.at(-1)?.text).toBe(first.text);
    await page.screenshot({ path: path.join(SHOTS, 'output-click.png') });
  });

  it('plots a watched value across time, sampled just after the events of the view', async () => {
    await page.type('#watch-expr', 'next_slot');
    await page.evaluate(() => (document.body.dataset.sampling = 'pending'));
    await page.click('#watch-plot');
    await page.waitForFunction(() => document.body.dataset.sampling === 'false', { timeout: 120_000 });
    expect(await page.$eval('#watch-status', (e) => e.textContent)).toMatch(/^next_slot at \d+ events/);
    expect(await page.$('#watch-chart canvas'), 'uPlot drew no plot').not.toBeNull();
    const samples = await page.$$eval('#watch-samples li', (els) => els.map((e) => ({ event: Number((e as HTMLElement).dataset.event), value: (e as HTMLElement).dataset.value! })));
    // each reading's write is sampled; just after "reading N" is printed, N-1 readings
    // went into the ring buffer of 9 slots (the bug's one too many)
    const timeline = await page.evaluate(async () => (await (await fetch(`api/timeline${location.search}`)).json()) as { output: { index: number; text: string }[] });
    const readings = timeline.output.filter((o) => /^reading \d+:/.test(o.text));
    expect(readings.length).toBeGreaterThanOrEqual(3);
    for (const r of readings) {
      const n = Number(/^reading (\d+):/.exec(r.text)![1]);
      const sample = samples.find((x) => x.event === r.index);
      expect(sample, `no sample at reading ${n}'s write (event ${r.index})`).toBeDefined();
      expect(Number(sample!.value), `next_slot after reading ${n} was printed`).toBe((n - 1) % 9);
    }
    // the user's point did not move: sampling has a replay of its own
    expect((await shown()).event).toBe(readings[0].index);
    // zooming in samples the new view again
    await page.evaluate(() => (document.body.dataset.sampling = 'pending'));
    await page.click('#zoom-in');
    await page.waitForFunction(() => document.body.dataset.sampling === 'false', { timeout: 120_000 });
    const [lo, hi] = await page.$eval('#slider', (e) => [Number((e as HTMLInputElement).min), Number((e as HTMLInputElement).max)]);
    const again = await page.$$eval('#watch-samples li', (els) => els.map((e) => Number((e as HTMLElement).dataset.event)));
    expect(again.length).toBeGreaterThan(0);
    expect(again.every((e) => e >= lo && e <= hi)).toBe(true);
    await page.screenshot({ path: path.join(SHOTS, 'watch.png') });
    await page.click('#zoom-all');
  });

  it('"where did this value come from" goes back to the last write of it', async () => {
    const timeline = await page.evaluate(async () => (await (await fetch(`api/timeline${location.search}`)).json()) as { output: { index: number; text: string }[] });
    // at reading 2's write: the last write of next_slot was add_reading's for reading 1
    const [r1, r2] = timeline.output.filter((o) => /^reading \d+:/.test(o.text));
    await revealMark(r2.index, 'output');
    const at = await settle(() => page.click(`#axis .mark[data-event="${r2.index}"]`));
    expect(at.locals.i).toBe('1');
    await page.$eval('#watch-expr', (e) => ((e as HTMLInputElement).value = 'next_slot'));
    const s = await settle(() => page.click('#watch-origin'));
    expect(s.func).toBe('add_reading');
    expect(s.line).toBe(lineOf('next_slot++;'));
    expect(s.reason).toBe('watchpoint-trigger');
    // the value stored there is reading 1's
    expect(s.locals.value).toBe(/^reading 1: (\d+) C$/.exec(r1.text)![1]);
    expect(s.event).toBeLessThan(at.event);
    expect(await page.$eval('#where', (e) => e.textContent)).toMatch(/next_slot: .* → .*the write that gave it its value/);
  });

  it('reverse-step moves the line back', async () => {
    // into add_reading, two lines on, then one back
    const into = await settle(() => page.click('#btn-step'));
    expect(into.func).toBe('add_reading');
    const first = into.line!;
    const on = await settle(() => page.click('#btn-next'));
    expect(on.line).toBeGreaterThan(first);
    const back = await settle(() => page.click('#btn-reverse-step'));
    expect(back.func).toBe('add_reading');
    expect(back.line).toBe(first);
  });

  it('sets and clears a breakpoint by clicking a source line, and continue stops there', async () => {
    const s0 = await shown();
    const line = lineOf('sensor.history[next_slot] = value;');
    const set = await settle(() => page.click(`#source .line[data-n="${line}"]`));
    expect(await page.$eval(`#source .line[data-n="${line}"]`, (e) => e.classList.contains('bp'))).toBe(true);
    expect(set.event).toBe(s0.event);
    // from add_reading (where reverse-step left it) to the same line in the next reading
    const hit = await settle(() => page.click('#btn-continue'));
    expect(hit.func).toBe('add_reading');
    expect(hit.line).toBe(line);
    expect(hit.reason).toBe('breakpoint-hit');
    expect(hit.output.length).toBe(s0.output.length + 1);
    const cleared = await settle(() => page.click(`#source .line[data-n="${line}"]`));
    expect(await page.$eval(`#source .line[data-n="${line}"]`, (e) => e.classList.contains('bp'))).toBe(false);
    expect(cleared.line).toBe(line);
  });

  it('refuses a request without the token, and one with a wrong token', async () => {
    const base = ui.url.replace(/\/\?token=.*/, '');
    for (const url of [`${base}/`, `${base}/api/timeline`, `${base}/app.js`, `${base}/api/timeline?token=${'0'.repeat(48)}`]) {
      // a fresh context: no cookie from the page's load
      const r = await fetch(url);
      expect(r.status, url).toBe(403);
    }
    // the WebSocket too: the upgrade is answered 403, with or without an Origin
    for (const url of [`${base.replace('http', 'ws')}/ws`, `${base.replace('http', 'ws')}/ws?token=bad`]) {
      const status = await new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(url);
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => {
          ws.close();
          resolve(101);
        });
        ws.on('error', (e) => reject(e));
      });
      expect(status, url).toBe(403);
    }
  });
});

describe('syscall marks in rewind ui', () => {
  let loopUi: UiProcess;
  let loopPage: Page;

  beforeAll(async () => {
    const root = tempDir('rewind-ui-');
    const trace = path.join(root, 'trace');
    // iterations enough that a continue checking a breakpoint's condition at each never ends by itself
    const r = rewind(['record', '-o', trace, '--', programPath('cpuloop'), '100000000'], { traceRoot: root });
    expect(r.stderr.toString()).toMatch(/trace saved to/);
    loopUi = await startUi(trace);
    loopPage = await browser.newPage();
    await loopPage.setViewport({ width: 1200, height: 800 });
    await loopPage.goto(loopUi.url);
    await loopPage.waitForFunction(() => document.body.dataset.ready === 'true', { timeout: 60_000 });
  }, 120_000);

  afterAll(async () => {
    await loopPage?.close();
    expect(await loopUi?.stop()).toBe(0);
  });

  it('clicking a syscall goes there, onto the line whose call made it', async () => {
    page = loopPage;
    // cpuloop's printf allocates stdout's buffer (the last brk) in main; its output
    // comes at exit, since its stdout is a pipe
    const timeline = await page.evaluate(async () => (await (await fetch(`api/timeline${location.search}`)).json()) as { events: { index: number; name: string }[] });
    const lastBrk = timeline.events.filter((e) => e.name === 'brk').at(-1)!.index;
    await revealMark(lastBrk, 'syscall');
    await page.evaluate(() => delete document.body.dataset.progressSeen);
    const s = await settle(() => page.click(`#axis .mark[data-event="${lastBrk}"]`));
    expect(s.event).toBe(lastBrk);
    // on the way, the engine said how far the seek was (counted in events, the same on any machine)
    const seen = Number(await page.$eval('body', (e) => e.dataset.progressSeen));
    expect(seen).toBeGreaterThan(0);
    expect(seen).toBeLessThan(100);
    expect(s.func).toBe('main');
    expect(s.line).toBe(readFileSync(path.join(ROOT, 'tests', 'programs', 'cpuloop.c'), 'utf8').split('\n').findIndex((l) => l.includes('printf(')) + 2);
  });

  it('a long continue shows that it runs, and the stop button stops it', async () => {
    page = loopPage;
    const lines = readFileSync(path.join(ROOT, 'tests', 'programs', 'cpuloop.c'), 'utf8').split('\n');
    const loopLine = lines.findIndex((l) => l.includes('acc += x >> 32;')) + 1;
    const firstLine = lines.findIndex((l) => l.includes('unsigned long long iters')) + 1;
    // the last test left the replay after the loop: back to main's first line
    await settle(() => page.click(`#source .line[data-n="${firstLine}"]`));
    const back = await settle(() => page.click('#btn-reverse-continue'));
    expect(back.reason).toBe('breakpoint-hit');
    expect(back.line).toBe(firstLine);
    await settle(() => page.click(`#source .line[data-n="${firstLine}"]`));
    // a breakpoint in the loop whose condition never holds (xorshift never reaches 0):
    // gdb checks it at every iteration and resumes, for longer than anyone waits
    await page.$eval('#condition', (e) => ((e as HTMLInputElement).value = 'x == 0'));
    await settle(() => page.click(`#source .line[data-n="${loopLine}"]`));
    expect(await page.$eval(`#source .line[data-n="${loopLine}"]`, (e) => e.classList.contains('bp'))).toBe(true);
    await page.evaluate(() => (document.body.dataset.busy = 'pending'));
    await page.click('#btn-continue');
    // the page says the move runs, and for how long
    await page.waitForFunction(() => !document.getElementById('progress')!.hidden, { timeout: 60_000 });
    expect(await page.$eval('#elapsed', (e) => e.textContent)).toMatch(/^continue: \d+ s$/);
    expect(await page.$eval('body', (e) => e.dataset.busy)).toBe('true');
    await page.screenshot({ path: path.join(SHOTS, 'long-move.png') });
    await page.click('#cancel');
    await page.waitForFunction(() => document.body.dataset.busy === 'false', { timeout: 60_000 });
    expect(await page.$eval('#status', (e) => e.textContent)).toBe('');
    const s = await shown();
    expect(s.reason).toBe('signal-received');
    expect(s.func).toBe('main');
    expect(s.line).toBeGreaterThanOrEqual(loopLine - 4);
    expect(s.line).toBeLessThanOrEqual(loopLine);
    expect(Number(s.locals.i)).toBeLessThan(100000000);
  });
});

describe('a long seek in rewind ui', () => {
  let seekUi: UiProcess;
  let seekPage: Page;

  beforeAll(async () => {
    const root = tempDir('rewind-ui-');
    const trace = path.join(root, 'trace');
    // 180000 syscalls, each a stop of the replay (no syscall buffer): a seek across them
    // takes seconds, so the stop button comes while it runs (a third of that was once
    // done before the click reached the server, on a loaded machine)
    const r = rewind(['record', '--no-syscallbuf', '-o', trace, '--', programPath('manysyscalls'), '60000'], { traceRoot: root });
    expect(r.stderr.toString()).toMatch(/trace saved to/);
    seekUi = await startUi(trace);
    seekPage = await browser.newPage();
    await seekPage.setViewport({ width: 1200, height: 800 });
    await seekPage.goto(seekUi.url);
    await seekPage.waitForFunction(() => document.body.dataset.ready === 'true', { timeout: 60_000 });
  }, 180_000);

  afterAll(async () => {
    await seekPage?.close();
    expect(await seekUi?.stop()).toBe(0);
  });

  it('shows how far it is, and the stop button ends it where it is', async () => {
    page = seekPage;
    const exit = Number(await page.$eval('#axis .mark.exit', (e) => (e as HTMLElement).dataset.event));
    expect(exit).toBeGreaterThan(30000);
    await page.evaluate(() => {
      delete document.body.dataset.progressSeen;
      document.body.dataset.busy = 'pending';
    });
    await page.click('#axis .mark.exit');
    // the engine says how far the seek is (a tenth of the way at a time, counted in events)
    await page.waitForFunction(() => Number(document.body.dataset.progressSeen ?? 0) >= 10, { timeout: 60_000 });
    expect(await page.$eval('#elapsed', (e) => e.textContent)).toMatch(new RegExp(`^going to event ${exit} of \\d+: \\d+% \\(at event \\d+\\), \\d+ s$`));
    await page.click('#cancel');
    await page.waitForFunction(() => document.body.dataset.busy === 'false', { timeout: 60_000 });
    expect(await page.$eval('#status', (e) => e.textContent)).toBe('');
    const s = await shown();
    // stopped on the way: short of the exit, in the program's loop
    expect(s.event).toBeLessThan(exit - 100);
    expect(s.func).toBe('main');
  });
});
