/**
 * A scenario run's trace: one JSON line per thing that happened (frame sent, reply received, fault, timer
 * firing, state change, client operation), each with a sequence number and the simulated time. The first line
 * says what ran (scenario, seed, fault schedule), so a trace alone replays its run. Two runs of one scenario,
 * seed and code give the same lines, byte for byte; `digest` hashes them all.
 */
import { createHash, type Hash } from 'node:crypto';

export interface TraceHeader {
  /** `real-scenario`: a run on real processes and time (its trace records, it does not replay). */
  kind: 'scenario' | 'real-scenario';
  name: string;
  seed: number;
  /** The scenario as parsed (defaults filled in), with the timeline that ran. */
  scenario: unknown;
}

export class Trace {
  private seq = 0;
  private readonly hash: Hash = createHash('sha256');

  /**
   * @param sink receives every line (without newline); without one only the digest and count are kept
   * @param enabled false: nothing is recorded at all (runs that only want the verdict, such as fuzzing)
   */
  constructor(
    private readonly now: () => number,
    private readonly sink?: (line: string) => void,
    private readonly enabled = true,
  ) {}

  header(h: TraceHeader): void {
    this.write(JSON.stringify(h));
  }

  /** Records one line: `k` names its kind, the rest are its fields. */
  record(k: string, fields: Record<string, unknown>): void {
    if (!this.enabled) return;
    this.write(JSON.stringify({ seq: this.seq, t: this.now(), k, ...fields }));
  }

  get lines(): number {
    return this.seq;
  }

  digest(): string {
    return this.hash.copy().digest('hex');
  }

  private write(line: string): void {
    this.seq++;
    this.hash.update(line);
    this.hash.update('\n');
    this.sink?.(line);
  }
}
