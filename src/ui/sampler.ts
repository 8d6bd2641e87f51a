// The values of a watched expression across time, for the page's plot. Sampling
// moves a replay to each sampled event in turn, so it runs in a session of its own
// (a second replay server and gdb over the same MI layer, started at the first
// request): the user's replay stays where the user put it, and sampling can run
// while the user moves. Events are sampled in increasing order, so each seek goes
// on forwards from the last one instead of replaying from a checkpoint.
import { UiSession, type Sample } from './session.js';

/** the most events one request samples: each is a seek and an evaluation */
export const MAX_SAMPLES = 48;

export class ValueSampler {
  private session: Promise<UiSession> | undefined;

  constructor(private readonly trace: string, private readonly opts: { symbols?: string; log: (line: string) => void }) {}

  /** EXPR just after each of EVENTS (at most MAX_SAMPLES, in increasing order). */
  async sample(expr: string, events: number[]): Promise<Sample[]> {
    if (events.length > MAX_SAMPLES) throw new Error(`at most ${MAX_SAMPLES} events a request (${events.length} asked)`);
    this.session ??= UiSession.start(this.trace, this.opts);
    let session: UiSession;
    try {
      session = await this.session;
    } catch (e) {
      this.session = undefined; // a later request tries again
      throw e;
    }
    return session.sample(expr, events);
  }

  async close(): Promise<void> {
    const s = this.session;
    this.session = undefined;
    await (await s?.catch(() => undefined))?.close();
  }
}
