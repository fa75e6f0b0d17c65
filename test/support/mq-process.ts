/**
 * Runs the built `mq` command line (`node dist/bin/mq.js <args>`) as a child process, for end-to-end tests:
 * wait for a line on stdout, collect output, send signals, wait for the exit. Every child is SIGKILLed when
 * the test process exits, so none outlives the run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
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
}


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
    this.child = spawn(process.execPath, [MQ_BIN, ...args], {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
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
