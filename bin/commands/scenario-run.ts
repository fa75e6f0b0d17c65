/* What the `mq scenario` commands do once their flags are parsed: run, replay and fuzz scenario files. */
import { closeSync, mkdirSync, openSync, readFileSync, readSync, realpathSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { formatVerdict } from '../../scenarios/checker.js';
import { drawSchedule } from '../../scenarios/fuzz-schedule.js';
import { runSeeds, type SeedSummary } from '../../scenarios/seed-pool.js';
import { checkDeterminism, runScenario, type Divergence, type RunResult } from '../../scenarios/runner.js';
import { RealRunAborted, runRealScenario, type RealRunResult } from '../../scenarios/real/real-runner.js';
import { parseScenario, ScenarioFileError } from '../../scenarios/scenario-file.js';
import { scenarioSchema, type FaultStep, type Scenario } from '../../scenarios/scenario-schema.js';
import { shrinkSchedule } from '../../scenarios/shrink.js';
import { CliError, errorMessage, out } from './flags.js';
import { startProgress } from './progress.js';

export interface RunFlags {
  seed?: number;
  trace?: string;
  checkDeterminism?: boolean;
  real?: boolean;
  log: string;
}

export interface FuzzFlags {
  seeds: number;
  from: number;
  shrink?: boolean;
  traceDir: string;
  /** Seeds run at once (worker threads); default one per core. */
  jobs?: number;
}

/** Exit code of a scenario file or trace that cannot be read or does not fit the schema. */
const FILE_ERROR = 2;
/** Longest trace line printed whole when two traces differ. */
const SHOWN_LINE_CHARS = 2000;

// ---------------------------------------------------------------------------------------------- files

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${errorMessage(err)}`, FILE_ERROR);
  }
}

/** A scenario error as one line: the file, then each field path and why. */
function fileError(err: ScenarioFileError): CliError {
  return new CliError(`${err.file}: not a valid scenario: ${err.problems.join('; ')}`, FILE_ERROR);
}

function loadScenario(file: string): Scenario {
  try {
    return parseScenario(readText(file), file);
  } catch (err) {
    if (err instanceof ScenarioFileError) throw fileError(err);
    throw err;
  }
}

/** Writes lines to a file as they come, in blocks: a trace is never held whole. */
class LineWriter {
  private readonly fd: number;
  private pending: string[] = [];
  private size = 0;

  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, 'w');
    } catch (err) {
      throw new CliError(`cannot write ${path}: ${errorMessage(err)}`);
    }
  }

  write(line: string): void {
    this.pending.push(line, '\n');
    this.size += line.length + 1;
    if (this.size >= 1 << 16) this.flush();
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }

  private flush(): void {
    if (this.pending.length > 0) writeSync(this.fd, this.pending.join(''));
    this.pending = [];
    this.size = 0;
  }
}

/** Reads a file line by line, in blocks (synchronously: the trace sink of a run is synchronous). */
class LineReader {
  private readonly fd: number;
  private readonly block = Buffer.alloc(1 << 16);
  private rest = Buffer.alloc(0);
  private ended = false;

  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, 'r');
    } catch (err) {
      throw new CliError(`cannot read ${path}: ${errorMessage(err)}`, FILE_ERROR);
    }
  }

  /** The next line (without newline), or undefined at the end. */
  next(): string | undefined {
    for (;;) {
      const nl = this.rest.indexOf(0x0a);
      if (nl >= 0) {
        const line = this.rest.subarray(0, nl).toString('utf8');
        this.rest = this.rest.subarray(nl + 1);
        return line;
      }
      if (this.ended) {
        if (this.rest.length === 0) return undefined;
        const line = this.rest.toString('utf8');
        this.rest = Buffer.alloc(0);
        return line;
      }
      const n = readSync(this.fd, this.block, 0, this.block.length, null);
      if (n === 0) this.ended = true;
      else this.rest = Buffer.concat([this.rest, this.block.subarray(0, n)]);
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}

// ---------------------------------------------------------------------------------------------- output

/** A path or number as a shell word. */
function shellWord(s: string): string {
  return /^[\w./:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function shown(line: string | undefined): string {
  if (line === undefined) return '(no line: the trace ends here)';
  return line.length > SHOWN_LINE_CHARS ? `${line.slice(0, SHOWN_LINE_CHARS)}... (${line.length} chars)` : line;
}

function printDivergence(what: string, d: Divergence, firstName: string, secondName: string): void {
  out(`${what} at trace line ${d.line}:`);
  out(`  ${firstName}: ${shown(d.first)}`);
  out(`  ${secondName}: ${shown(d.second)}`);
}

/** The verdict, the run's own errors and a summary line. */
function printResult(r: RunResult): void {
  out(formatVerdict(r.verdict));
  for (const e of r.errors) out(`  run error: ${e}`);
  out(`${r.name} seed ${r.seed}: ${r.ok ? 'ok' : 'FAILED'}, simulated ${(r.simMs / 1000).toFixed(1)} s in ${(r.realMs / 1000).toFixed(2)} s real, ${r.traceLines} trace lines`);
}

function formatMs(ms: number): string | number {
  return ms % 1000 === 0 && ms > 0 ? `${ms / 1000}s` : ms % 1 === 0 ? `${ms}ms` : ms;
}

/** A timeline as YAML, one step a line, durations as `3s` / `250ms`: ready to paste into a scenario file. */
export function timelineYaml(timeline: FaultStep[]): string {
  if (timeline.length === 0) return 'timeline: []';
  const lines = timeline.map((st) => {
    const s: Record<string, unknown> = { ...st };
    for (const k of ['at', 'for', 'restartAfter']) if (typeof s[k] === 'number') s[k] = formatMs(s[k] as number);
    return `  - ${stringify(s, { collectionStyle: 'flow' }).trim()}`;
  });
  return ['timeline:', ...lines].join('\n');
}

// ---------------------------------------------------------------------------------------------- run

export async function runScenarioFile(file: string, f: RunFlags): Promise<void> {
  if (f.real) return runRealFile(file, f);
  const s = loadScenario(file);
  const writer = f.trace !== undefined ? new LineWriter(f.trace) : undefined;
  const opts = { seed: f.seed, logLevel: f.log, trace: writer ? (l: string) => writer.write(l) : undefined };
  let result: RunResult;
  let divergence: Divergence | undefined;
  try {
    if (f.checkDeterminism) ({ first: result, divergence } = await checkDeterminism(s, opts));
    else result = await runScenario(s, opts);
  } finally {
    writer?.close();
  }
  printResult(result);
  if (f.checkDeterminism) {
    if (divergence) printDivergence('not deterministic: two runs differ', divergence, 'first ', 'second');
    else out(`deterministic: two runs gave the same ${result.traceLines} trace lines`);
  }
  if (writer) out(`trace: ${writer.path}`);
  if (!result.ok || divergence) {
    out(`replay: mq scenario run ${shellWord(file)} --seed ${result.seed}${writer ? `  (or: mq scenario replay ${shellWord(writer.path)})` : ''}`);
    process.exitCode = 1;
  }
}

// ---------------------------------------------------------------------------------------------- run --real

/** Exit code of a real run ended by SIGINT or SIGTERM. */
const ABORTED = 130;

/** The verdict, the run's own errors, the faults not applied and a summary line. */
function printRealResult(r: RealRunResult): void {
  out(formatVerdict(r.verdict));
  for (const e of r.errors) out(`  run error: ${e}`);
  if (r.skipped.length > 0) out(`not applied on --real: ${r.skipped.join('; ')}`);
  const procs = `${r.spawned.length} process${r.spawned.length === 1 ? '' : 'es'} spawned`;
  out(`${r.name} seed ${r.seed} (real): ${r.ok ? 'ok' : 'FAILED'}, ${(r.realMs / 1000).toFixed(2)} s real, ${procs}, ${r.history.length} history ops`);
}

/** The script this command line runs from: real runs start their name servers and brokers with it. */
function mqEntry(): string {
  const script = process.argv[1];
  if (script === undefined) throw new CliError('cannot tell which script runs mq (no process.argv[1])');
  return realpathSync(script);
}

/**
 * `mq scenario run FILE --real`: the scenario on real processes and time. SIGINT or SIGTERM aborts it: every
 * process is killed and every temp dir removed, then it exits 130 (a second signal exits at once).
 */
async function runRealFile(file: string, f: RunFlags): Promise<void> {
  if (f.checkDeterminism) throw new CliError('--check-determinism needs simulated time: a real run is not repeatable');
  const s = loadScenario(file);
  const writer = f.trace !== undefined ? new LineWriter(f.trace) : undefined;
  const abort = new AbortController();
  const onSignal = (): void => {
    if (abort.signal.aborted) process.exit(ABORTED);
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let result: RealRunResult;
  try {
    result = await runRealScenario(s, { entry: mqEntry(), seed: f.seed, logLevel: f.log, signal: abort.signal, trace: writer ? (l) => writer.write(l) : undefined });
  } catch (err) {
    if (err instanceof RealRunAborted) {
      out('aborted: every process of the run was killed and its temp dirs removed');
      process.exitCode = ABORTED;
      return;
    }
    throw err;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    writer?.close();
  }
  printRealResult(result);
  if (writer) out(`trace: ${writer.path}`);
  if (!result.ok) process.exitCode = 1;
}

// ---------------------------------------------------------------------------------------------- replay

/** The scenario a trace's first line names (with the seed and timeline that ran). */
function traceScenario(trace: string): Scenario {
  const reader = new LineReader(trace);
  let first: string | undefined;
  try {
    first = reader.next();
  } finally {
    reader.close();
  }
  let header: { kind?: unknown; scenario?: unknown } | undefined;
  try {
    header = first === undefined ? undefined : (JSON.parse(first) as typeof header);
  } catch {
    header = undefined;
  }
  if (header?.kind === 'real-scenario') throw new CliError(`${trace}: the trace of a real run (--real): real time does not replay`, FILE_ERROR);
  if (header?.kind !== 'scenario') throw new CliError(`${trace}: not a scenario trace (its first line is no scenario header)`, FILE_ERROR);
  const parsed = scenarioSchema.safeParse(header.scenario);
  if (!parsed.success) {
    throw fileError(new ScenarioFileError(trace, parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(top level)'}: ${i.message}`)));
  }
  return parsed.data;
}

export async function replayTrace(trace: string): Promise<void> {
  const s = traceScenario(trace);
  const reader = new LineReader(trace);
  let n = 0;
  let divergence: Divergence | undefined;
  let result: RunResult;
  try {
    result = await runScenario(s, {
      seed: s.seed,
      timeline: s.timeline,
      trace: (line) => {
        n++;
        if (divergence !== undefined) return;
        const recorded = reader.next();
        if (recorded !== line) divergence = { line: n, first: recorded, second: line };
      },
    });
    if (divergence === undefined) {
      const extra = reader.next();
      if (extra !== undefined) divergence = { line: n + 1, first: extra, second: undefined };
    }
  } finally {
    reader.close();
  }
  printResult(result);
  if (divergence) {
    printDivergence(`the replay diverges from ${trace}`, divergence, 'trace ', 'replay');
    process.exitCode = 1;
  } else {
    out(`replayed identically: ${n} trace lines match ${trace}`);
  }
  if (!result.ok) process.exitCode = 1;
}

// ---------------------------------------------------------------------------------------------- fuzz

interface SeedOutcome {
  result?: RunResult;
  error?: string;
}

async function runSeed(s: Scenario, seed: number, timeline: FaultStep[], trace?: LineWriter): Promise<SeedOutcome> {
  try {
    return { result: await runScenario(s, { seed, timeline, trace: trace ? (l) => trace.write(l) : undefined }) };
  } catch (err) {
    return { error: errorMessage(err) };
  } finally {
    trace?.close();
  }
}

const failed = (o: SeedOutcome): boolean => o.error !== undefined || !o.result!.ok;

/** Writes the trace of a run (run again: a run is a function of scenario, seed and timeline); its path. */
async function writeTrace(s: Scenario, seed: number, timeline: FaultStep[], path: string): Promise<{ path: string; stillFails: boolean }> {
  const outcome = await runSeed(s, seed, timeline, new LineWriter(path));
  return { path, stillFails: failed(outcome) };
}

export async function fuzzScenarioFile(file: string, f: FuzzFlags): Promise<void> {
  const s = loadScenario(file);
  if (!s.fuzz) throw new CliError(`${file}: has no fuzz section (which faults to draw)`, FILE_ERROR);
  const failures: { seed: number; replay: string }[] = [];
  let simMs = 0;
  const started = performance.now();
  const progress = startProgress({ total: f.seeds, label: 'seeds', unit: 'seeds', status: () => `${failures.length} failed` });
  const say = (line: string): void => progress.line(line);
  const seeds = Array.from({ length: f.seeds }, (_, i) => f.from + i);
  const failing: SeedSummary[] = [];
  try {
    // every seed without a trace, on a worker thread per core; then each failing one again, traced (and shrunk)
    await runSeeds(s, {
      seeds,
      fuzz: true,
      jobs: f.jobs,
      onSummary: (x) => {
        simMs += x.simMs;
        if (!x.ok) {
          failing.push(x);
          say(`seed ${x.seed}: ${x.firstViolation ?? x.errors[0] ?? 'failed'}`);
        }
        progress.increment();
      },
    });
    for (const x of failing.sort((a, b) => a.seed - b.seed)) {
      const timeline = drawSchedule(s, x.seed);
      mkdirSync(f.traceDir, { recursive: true });
      const traced = await writeTrace(s, x.seed, timeline, join(f.traceDir, `${s.name}-${x.seed}.jsonl`));
      if (!traced.stillFails) say(`seed ${x.seed}: passed when run again to write its trace: the run is not deterministic`);
      failures.push({ seed: x.seed, replay: `mq scenario replay ${shellWord(traced.path)}` });
      if (f.shrink) await shrinkSeed(s, x.seed, timeline, f.traceDir, say);
    }
  } finally {
    progress.stop();
  }
  const realS = (performance.now() - started) / 1000;
  out(`${f.seeds} seed${f.seeds === 1 ? '' : 's'} (${f.from}..${f.from + f.seeds - 1}) of ${s.name}: ${failures.length} failed, simulated ${(simMs / 1000).toFixed(1)} s in ${realS.toFixed(2)} s real`);
  if (failures.length > 0) {
    out('failing seeds:');
    for (const x of failures) out(`  seed ${x.seed}: ${x.replay}`);
    process.exitCode = 1;
  }
}

/** Shrinks a failing seed's schedule, prints the smaller one as YAML and writes its trace. */
async function shrinkSeed(s: Scenario, seed: number, timeline: FaultStep[], dir: string, say: (line: string) => void): Promise<void> {
  if (timeline.length === 0) return say(`seed ${seed}: no fault was drawn: it fails without any (nothing to shrink)`);
  const fails = async (t: FaultStep[]): Promise<boolean> => failed(await runSeed(s, seed, t));
  const shrunk = await shrinkSchedule(timeline, fails);
  const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;
  say(`seed ${seed}: shrunk from ${plural(timeline.length, 'step')} to ${plural(shrunk.timeline.length, 'step')} in ${plural(shrunk.runs, 'run')}; it still fails with:`);
  say(timelineYaml(shrunk.timeline));
  const traced = await writeTrace(s, seed, shrunk.timeline, join(dir, `${s.name}-${seed}-shrunk.jsonl`));
  say(`seed ${seed}: the shrunk run: mq scenario replay ${shellWord(traced.path)}`);
}
