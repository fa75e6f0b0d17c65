/**
 * Shrinks a failing fault schedule: finds a smaller one that still fails. First it removes steps (delta
 * debugging: the whole schedule, then halves, quarters ... down to single steps), then it shortens what is left
 * (halves each `for`, `restartAfter`, rate, delay and cut while the run still fails). Every try is one call of
 * `fails`; at most `maxRuns` of them.
 */
import type { FaultStep } from './scenario-schema.js';

export interface ShrinkOptions {
  /** Most calls of `fails` (default 200). */
  maxRuns?: number;
  /** Called with each smaller schedule found to fail, and the calls so far. */
  onStep?(timeline: FaultStep[], runs: number): void;
}

export interface ShrinkResult {
  /** The smallest schedule found that fails. */
  timeline: FaultStep[];
  /** Calls of `fails` made. */
  runs: number;
}

const DEFAULT_MAX_RUNS = 200;
/** Below these a halved number is not worth a run. */
const MIN_MS = 1;
const MIN_RATE = 0.01;

type Fails = (timeline: FaultStep[]) => Promise<boolean>;

/** Counts the calls of `fails` and keeps the best schedule so far. */
class Search {
  runs = 0;
  constructor(
    public best: FaultStep[],
    private readonly fails: Fails,
    private readonly opts: ShrinkOptions,
    private readonly maxRuns: number,
  ) {}

  get spent(): boolean {
    return this.runs >= this.maxRuns;
  }

  /** Tries a candidate; when it fails it becomes the best. */
  async accepts(candidate: FaultStep[]): Promise<boolean> {
    if (this.spent) return false;
    this.runs++;
    if (!(await this.fails(candidate))) return false;
    this.best = candidate;
    this.opts.onStep?.(candidate, this.runs);
    return true;
  }
}

/** Removes chunks of steps: the whole schedule first, then halves, down to single steps. */
async function removeSteps(search: Search): Promise<void> {
  let chunk = search.best.length;
  while (chunk >= 1 && !search.spent) {
    let removed = false;
    for (let start = 0; start < search.best.length && !search.spent; ) {
      const candidate = [...search.best.slice(0, start), ...search.best.slice(start + chunk)];
      if (await search.accepts(candidate)) removed = true;
      else start += chunk;
    }
    if (removed && chunk > 1) continue; // what is left may now lose whole chunks again
    if (chunk === 1) break;
    chunk = Math.ceil(chunk / 2);
  }
}

/** The step with one number halved, or undefined when there is nothing (left) to halve. */
function halved(step: FaultStep, field: string): FaultStep | undefined {
  const s = step as Record<string, unknown>;
  const v = s[field];
  if (field === 'ms' && step.do === 'delay') {
    const { min, max } = step.ms;
    if (max < 2 * MIN_MS) return undefined;
    return { ...step, ms: { min: Math.floor(min / 2), max: Math.floor(max / 2) } };
  }
  if (typeof v !== 'number') return undefined;
  if (field === 'rate') return Math.abs(v) / 2 < MIN_RATE ? undefined : ({ ...s, rate: v / 2 } as FaultStep);
  if (field === 'ms') return Math.abs(v) < 2 * MIN_MS ? undefined : ({ ...s, ms: Math.trunc(v / 2) } as FaultStep);
  return v < 2 * MIN_MS ? undefined : ({ ...s, [field]: Math.floor(v / 2) } as FaultStep);
}

/** The numbers of a step that make its fault weaker when halved. */
function shortenable(step: FaultStep): string[] {
  const fields = ['for', 'restartAfter', 'rate', 'bytes'].filter((f) => typeof (step as Record<string, unknown>)[f] === 'number');
  if (step.do === 'delay' || step.do === 'skew') fields.push('ms');
  return fields;
}

/** Halves each number of each step while the schedule still fails. */
async function shortenSteps(search: Search): Promise<void> {
  for (let i = 0; i < search.best.length && !search.spent; i++) {
    for (const field of shortenable(search.best[i]!)) {
      for (;;) {
        const smaller = halved(search.best[i]!, field);
        if (smaller === undefined) break;
        const candidate = search.best.map((st, j) => (j === i ? smaller : st));
        if (!(await search.accepts(candidate))) break;
      }
    }
  }
}

/** A smaller schedule than `timeline` for which `fails` still holds (`timeline` itself is assumed to fail). */
export async function shrinkSchedule(timeline: FaultStep[], fails: Fails, opts: ShrinkOptions = {}): Promise<ShrinkResult> {
  const search = new Search([...timeline], fails, opts, opts.maxRuns ?? DEFAULT_MAX_RUNS);
  await removeSteps(search);
  await shortenSteps(search);
  return { timeline: search.best, runs: search.runs };
}
