/**
 * Runs the built `mq` command line (`node dist/bin/mq.js <args>`) as a child process, for end-to-end tests:
 * wait for a line on stdout, collect output, send signals, wait for the exit. Every child is SIGKILLed when
 * the test process exits, so none outlives the run.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { killOnExit } from '../../bench/kill-on-exit.js';

/** The repository root (tests run as CommonJS under jest, where `__dirname` exists; else the working directory). */
const ROOT = typeof __dirname === 'string' ? resolve(__dirname, '..', '..') : process.cwd();

/** The built CLI entry point (run `npm run build` first). */
export const MQ_BIN = join(ROOT, 'dist', 'bin', 'mq.js');

export class MqProcessError extends Error {
  readonly code = 'EMQPROCESS';
  constructor(message: string) {
    super(message);
    this.name = 'MqProcessError';
  }
}

export interface MqExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface MqProcessOptions {
  /** Working directory (default: the repository root). */
  cwd?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Give the process a stdin to write to (`write`); otherwise it has none. */
  stdin?: boolean;
  /**
   * Run it on a pseudo-terminal of `columns` x `rows` (through `script`), as from an interactive shell: stdout and
   * stderr are the terminal, and both arrive, escape sequences and all, in `stdout`. Signals go to `script`,
   * which passes them on.
   */
  terminal?: { columns: number; rows: number };
}


const shellQuote = (a: string): string => `'${a.replace(/'/g, `'\\''`)}'`;

/** A running `mq` process. */
export class MqProcess {
  readonly child: ChildProcess;
  private out = '';
  private err = '';
  private exitInfo: MqExit | undefined;
  private readonly exitPromise: Promise<MqExit>;
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly args: readonly string[],
    opts: MqProcessOptions = {},
  ) {
    if (!existsSync(MQ_BIN)) throw new MqProcessError(`${MQ_BIN} does not exist: run "npm run build" first`);
    const [file, argv] =
      opts.terminal === undefined
        ? [process.execPath, [MQ_BIN, ...args]]
        : ['script', ['-qfec', `stty cols ${opts.terminal.columns} rows ${opts.terminal.rows}; exec ${[process.execPath, MQ_BIN, ...args].map(shellQuote).join(' ')}`, '/dev/null']];
    this.child = spawn(file, argv, {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, ...opts.env },
      stdio: [opts.stdin === true ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    killOnExit(this.child);
    this.child.stdout!.setEncoding('utf8');
    this.child.stderr!.setEncoding('utf8');
    this.child.stdout!.on('data', (chunk: string) => {
      this.out += chunk;
      this.wake();
    });
    this.child.stderr!.on('data', (chunk: string) => {
      this.err += chunk;
      this.wake();
    });
    this.exitPromise = new Promise<MqExit>((resolveExit) => {
      this.child.once('error', (e) => {
        this.err += `spawn failed: ${e.message}\n`;
        this.exitInfo = { code: null, signal: null };
        this.wake();
        resolveExit(this.exitInfo);
      });
      // 'close' fires after stdio ends, so the output is complete
      this.child.once('close', (code, signal) => {
        this.exitInfo = { code, signal };
        this.wake();
        resolveExit(this.exitInfo);
      });
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get stdout(): string {
    return this.out;
  }

  get stderr(): string {
    return this.err;
  }

  /** Complete stdout lines so far. */
  lines(): string[] {
    return this.out.split('\n').slice(0, -1);
  }

  /** Complete stderr lines so far. */
  errorLines(): string[] {
    return this.err.split('\n').filter((l) => l.length > 0);
  }

  /** The exit, once the process has exited; undefined while it runs. */
  get exited(): MqExit | undefined {
    return this.exitInfo;
  }

  /** Resolves with the first stdout line matching `pattern`; rejects on timeout or when the process exits first. */
  waitForLine(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    return new Promise<string>((resolveLine, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const check = (): void => {
        const line = this.lines().find((l) => pattern.test(l));
        if (line !== undefined) return done(() => resolveLine(line));
        if (this.exitInfo) return done(() => reject(new MqProcessError(`mq ${this.args.join(' ')} exited (${this.describeExit()}) before printing ${pattern}; ${this.tail()}`)));
      };
      const done = (f: () => void): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        f();
      };
      timer = setTimeout(() => done(() => reject(new MqProcessError(`mq ${this.args.join(' ')} did not print ${pattern} within ${timeoutMs} ms; ${this.tail()}`))), timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  /** Resolves when the process exits; rejects (after SIGKILL) when it has not exited within `timeoutMs`. */
  async waitForExit(timeoutMs = 10_000): Promise<MqExit> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), timeoutMs)));
    const r = await Promise.race([this.exitPromise, late]);
    clearTimeout(timer);
    if (r === 'late') {
      this.kill('SIGKILL');
      await this.exitPromise;
      throw new MqProcessError(`mq ${this.args.join(' ')} did not exit within ${timeoutMs} ms (killed); ${this.tail()}`);
    }
    return r;
  }

  /** Writes to the process's stdin (started with `stdin: true`). */
  write(text: string): void {
    if (this.child.stdin === null) throw new MqProcessError(`mq ${this.args.join(' ')} was started without a stdin`);
    this.child.stdin.write(text);
  }

  /** Sends a signal (no-op once exited). */
  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.exitInfo) return;
    try {
      this.child.kill(signal);
    } catch {
      // already gone
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit. */
  async stop(graceMs = 5000): Promise<MqExit> {
    if (this.exitInfo) return this.exitInfo;
    this.kill('SIGTERM');
    try {
      return await this.waitForExit(graceMs);
    } catch {
      return this.exitInfo ?? { code: null, signal: 'SIGKILL' };
    }
  }

  private describeExit(): string {
    const e = this.exitInfo;
    return e ? (e.signal ? `signal ${e.signal}` : `code ${e.code}`) : 'running';
  }

  private tail(): string {
    return `stdout: ${JSON.stringify(this.out.slice(-500))}, stderr: ${JSON.stringify(this.err.slice(-500))}`;
  }
}

/** Starts `mq <args>`. */
export function spawnMq(args: readonly string[], opts: MqProcessOptions = {}): MqProcess {
  return new MqProcess(args, opts);
}

export interface MqRun extends MqExit {
  stdout: string;
  stderr: string;
  /** Complete stdout lines. */
  lines: string[];
  durationMs: number;
}

/** Runs `mq <args>` to its end (killed and rejected after `timeoutMs`). */
export async function runMq(args: readonly string[], opts: MqProcessOptions & { timeoutMs?: number } = {}): Promise<MqRun> {
  const started = Date.now();
  const p = spawnMq(args, opts);
  const exit = await p.waitForExit(opts.timeoutMs ?? 20_000);
  return { ...exit, stdout: p.stdout, stderr: p.stderr, lines: p.lines(), durationMs: Date.now() - started };
}

/** Whether `script` (util-linux) is installed, to run a command on a pseudo-terminal. */
export function hasScript(): boolean {
  return spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * Runs `mq <args>` on a pseudo-terminal (through `script`), as from an interactive shell: stdout and stderr are
 * the terminal, and both arrive, escape sequences and all, in `stdout`. Killed and rejected after `timeoutMs`.
 */
export async function runMqInTerminal(args: readonly string[], opts: MqProcessOptions & { timeoutMs?: number } = {}): Promise<MqRun> {
  if (!existsSync(MQ_BIN)) throw new MqProcessError(`${MQ_BIN} does not exist: run "npm run build" first`);
  const started = Date.now();
  const command = [process.execPath, MQ_BIN, ...args].map(shellQuote).join(' ');
  const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  killOnExit(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const exit = await new Promise<MqExit>((resolveExit, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new MqProcessError(`mq ${args.join(' ')} (on a terminal) did not exit within ${timeoutMs} ms; output: ${JSON.stringify(stdout.slice(-500))}`));
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new MqProcessError(`script failed to start: ${e.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolveExit({ code, signal });
    });
  });
  return { ...exit, stdout, stderr, lines: stdout.split(/\r?\n/).slice(0, -1), durationMs: Date.now() - started };
}
