// A watched expression: its value across time as a small plot (uPlot, a charting
// library made for time series), sampled just after the events of the axis's
// current view, and "where did this value come from" (a watchpoint and
// reverse-continue, which lands on the last write). Sampling runs in a replay of its
// own on the server (src/ui/sampler.ts), so the user's point does not move.
import uPlot from 'uplot';
import type { Sample, Timeline } from './types.js';
import { eventsToSample, numericValue } from './sampling.js';

export interface WatchCallbacks {
  /** asks the server for the samples */
  sample(expr: string, events: number[]): Promise<Sample[]>;
  /** where did EXPR's value come from (a move) */
  origin(expr: string): void;
  seek(event: number): void;
  view(): { lo: number; hi: number; current: number };
}

export class Watch {
  private plot: uPlot | undefined;
  private expr = '';
  /** numbers the sample requests: an answer to an older one is dropped */
  private generation = 0;
  private readonly input = document.getElementById('watch-expr') as HTMLInputElement;
  private readonly chart = document.getElementById('watch-chart')!;
  private readonly list = document.getElementById('watch-samples')!;
  private readonly status = document.getElementById('watch-status')!;

  constructor(private readonly timeline: Timeline, private readonly on: WatchCallbacks) {
    document.getElementById('watch-form')!.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.expr = this.input.value.trim();
      void this.refresh();
    });
    document.getElementById('watch-origin')!.addEventListener('click', () => {
      const expr = this.input.value.trim();
      if (expr) this.on.origin(expr);
    });
  }

  /** Samples the watched expression over the current view again (after a zoom or pan). */
  async refresh(): Promise<void> {
    if (!this.expr) return;
    const generation = ++this.generation;
    const { lo, hi, current } = this.on.view();
    const events = eventsToSample(this.timeline, lo, hi, current);
    document.body.dataset.sampling = 'true';
    this.status.textContent = `sampling ${this.expr} at ${events.length} events…`;
    try {
      const samples = await this.on.sample(this.expr, events);
      if (generation !== this.generation) return;
      this.draw(samples);
      const missing = samples.filter((s) => s.value === undefined).length;
      this.status.textContent = `${this.expr} at ${samples.length} events ${lo} to ${hi}${missing ? ` (${missing} not in scope)` : ''}`;
    } catch (e) {
      if (generation === this.generation) this.status.textContent = (e as Error).message;
    } finally {
      if (generation === this.generation) document.body.dataset.sampling = 'false';
    }
  }

  private draw(samples: Sample[]): void {
    const xs = samples.map((s) => s.event);
    const ys = samples.map((s) => numericValue(s.value));
    this.plot?.destroy();
    this.plot = new uPlot({
      width: Math.max(200, this.chart.getBoundingClientRect().width),
      height: 120,
      legend: { show: false },
      scales: { x: { time: false } },
      axes: [{ label: 'event' }, { size: 60 }],
      // a value holds from one event to the next
      series: [{}, { label: this.expr, stroke: '#2a7', paths: uPlot.paths.stepped!({ align: 1 }), points: { show: true, size: 5 } }],
    }, [xs, ys], this.chart);
    this.list.replaceChildren(...samples.map((s) => {
      const li = document.createElement('li');
      li.dataset.event = String(s.event);
      li.dataset.value = s.value ?? '';
      li.textContent = `event ${s.event}: ${s.value ?? '(not in scope)'}`;
      li.addEventListener('click', () => this.on.seek(s.event));
      return li;
    }));
  }
}
