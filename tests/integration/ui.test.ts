// `rewind ui` in a real browser (Debian's chromium driven by puppeteer-core) on a
// recording of examples/buggy.c, the README's example: the page loads; dragging the
// slider moves the replay (the current line and the loop counter follow the output
// printed so far); clicking an output line lands on the write that printed it;
// reverse-step moves the line back; a request without the token is refused. The
// screenshots it takes are the ones docs/ui.md shows.
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
    await page.screenshot({ path: path.join(SHOTS, 'slider.png') });
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
    const r = rewind(['record', '-o', trace, '--', programPath('cpuloop'), '1000'], { traceRoot: root });
    expect(r.stderr.toString()).toMatch(/trace saved to/);
    loopUi = await startUi(trace);
    loopPage = await browser.newPage();
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
    const brks = await page.$$eval('#axis .mark.syscall', (marks) => marks.filter((m) => / brk\(/.test((m as HTMLElement).title)).map((m) => Number((m as HTMLElement).dataset.event)));
    const s = await settle(() => page.$$eval('#axis .mark.syscall', (marks, event) => (marks.find((m) => (m as HTMLElement).dataset.event === String(event)) as HTMLElement).click(), brks.at(-1)!));
    expect(s.event).toBe(brks.at(-1));
    expect(s.func).toBe('main');
    expect(s.line).toBe(readFileSync(path.join(ROOT, 'tests', 'programs', 'cpuloop.c'), 'utf8').split('\n').findIndex((l) => l.includes('printf(')) + 2);
  });
});
