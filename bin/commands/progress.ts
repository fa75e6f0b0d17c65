/* The progress bar of `mq produce`, `mq consume --count` and `mq scenario fuzz` on a terminal: count, rate and ETA on stderr. */
import { clearLine, cursorTo } from 'node:readline';
import cliProgress from 'cli-progress';

/** A stream the bar can draw on: a terminal when `isTTY` is true. */
export type ProgressStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

export interface ProgressOptions {
  /** How many items make 100%. */
  total: number;
  /** What is counted, first on the line (`sent`, `received`). */
  label: string;
  /** What the rate counts (default `msgs`: `msgs/s`). */
  unit?: string;
  /** Text at the end of the line, read at each redraw (`2 failed`). */
  status?: () => string;
  /** With --json the output is for programs: no bar. */
  json?: boolean;
  /** Where the bar is drawn (default: stderr). No bar unless it is a terminal. */
  stream?: ProgressStream;
  /** Where `line` writes (default: stdout). */
  out?: ProgressStream;
  /** The environment (default: the process's); TERM=dumb draws no bar. */
  env?: Record<string, string | undefined>;
  /** Redraws per second. */
  fps?: number;
}

export interface Progress {
  /** True when a bar is drawn; false for the no-op. */
  readonly active: boolean;
  /** Counts `n` more items done. */
  increment(n?: number): void;
  /** Writes one line to `out`; when `out` shares the terminal with the bar, the bar moves below the line. */
  line(text: string): void;
  /** Draws the bar a last time and leaves it on its own line. Idempotent. */
  stop(): void;
}

/** Whether a bar would be drawn for these options. */
export function progressWanted(opts: Pick<ProgressOptions, 'json' | 'stream' | 'env'>): boolean {
  const stream = opts.stream ?? process.stderr;
  const env = opts.env ?? process.env;
  return opts.json !== true && stream.isTTY === true && env.TERM !== 'dumb';
}

/** `1234.5` -> `1235`; rates under 10 keep one decimal. */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond) || perSecond <= 0) return '0';
  return perSecond < 10 ? perSecond.toFixed(1) : String(Math.round(perSecond));
}

/** The bar's line: `sent [=====-----] 50% | 500/1000 | 2000 msgs/s | ETA 1s`, then ` | <status>` when given. */
export function progressLine(label: string, unit = 'msgs', status?: () => string): cliProgress.GenericFormatter {
  return (options, params, payload: object) => {
    const elapsedMs = (params.stopTime ?? Date.now()) - params.startTime;
    const rate = elapsedMs > 0 ? (params.value * 1000) / elapsedMs : 0;
    const eta = typeof params.eta === 'number' ? cliProgress.Format.TimeFormat(params.eta, options, 1) : '?';
    const tail = status ? ` | ${status()}` : '';
    const fmt = `${label} [{bar}] {percentage}% | {value}/{total} | {rate} ${unit}/s | ETA {etaText}${tail}`;
    return cliProgress.Format.Formatter({ ...options, format: fmt }, params, { ...payload, rate: formatRate(rate), etaText: eta });
  };
}

/** How often at most the count reaches the bar (its ETA averages over the last 20 of these). */
const PUSH_MS = 50;

/** No bar: `line` writes to `out`, the rest does nothing. */
export const noProgress = (out: ProgressStream = process.stdout): Progress => ({
  active: false,
  increment: () => {},
  line: (text) => void out.write(text + '\n'),
  stop: () => {},
});

/** A progress bar on a terminal, or a no-op (with --json, off a terminal, or on TERM=dumb). */
export function startProgress(opts: ProgressOptions): Progress {
  const stream = opts.stream ?? process.stderr;
  const out = opts.out ?? process.stdout;
  if (!progressWanted(opts)) return noProgress(out);
  // A multi-bar with one bar: it moves the cursor relative to its own line (no saved cursor position), so lines
  // written to the same terminal in between do not break it.
  const bars = new cliProgress.MultiBar({
    stream,
    format: progressLine(opts.label, opts.unit, opts.status),
    fps: opts.fps ?? 10,
    forceRedraw: true,
    hideCursor: null,
    gracefulExit: false,
    barsize: 24,
    etaBuffer: 20,
  });
  const bar = bars.create(opts.total, 0);
  // The bar's ETA keeps its last `etaBuffer` values: hand it the count at most every PUSH_MS, not per item.
  let done = 0;
  let pushedAt = 0;
  const push = (): void => {
    bar.update(done);
    pushedAt = Date.now();
  };
  let stopped = false;
  return {
    active: true,
    increment: (n = 1) => {
      if (stopped) return;
      done += n;
      if (done >= opts.total || Date.now() - pushedAt >= PUSH_MS) push();
    },
    line: (text) => {
      const shared = out.isTTY === true && !stopped;
      if (shared) {
        cursorTo(stream, 0);
        clearLine(stream, 0);
      }
      out.write(text + '\n');
      if (shared) bars.update();
    },
    stop: () => {
      if (stopped) return;
      stopped = true;
      push();
      bars.stop();
    },
  };
}
