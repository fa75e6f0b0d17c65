/**
 * A name server or broker of a real run as a child process of its own: `node <mq entry> namesrv|broker ...`,
 * ready once it prints its ready line. Signals go to it by pid (SIGKILL for a crash, SIGSTOP and SIGCONT for a
 * pause, SIGTERM for a graceful leave). Every child is SIGKILLed when the runner's process exits, so none
 * outlives it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { killOnExit } from './kill-on-exit.js';

export class MqChildError extends Error {
  readonly code = 'EMQCHILD';
  constructor(message: string) {
    super(message);
    this.name = 'MqChildError';
  }
}

export interface MqChildOptions {
  /** The `mq` command line's entry script (run with this Node). */
  entry: string;
  args: string[];
  /** LOG_LEVEL of the child (its logs go to its stderr). */
  logLevel: string;
  /** Passes the child's stderr through to this process's (else only its tail is kept, for errors). */
  showLogs: boolean;
}

export interface MqExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const TAIL_CHARS = 2000;

export class MqChild {
  private readonly child: ChildProcess;
  private out = '';
  private errTail = '';
  private exitInfo: MqExit | undefined;
  private readonly exitPromise: Promise<MqExit>;
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly name: string,
    opts: MqChildOptions,
  ) {
    this.child = spawn(process.execPath, [opts.entry, ...opts.args], {
      env: { ...process.env, LOG_LEVEL: opts.logLevel },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    killOnExit(this.child);
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.out = (this.out + chunk).slice(-TAIL_CHARS * 4);
      this.wake();
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.errTail = (this.errTail + chunk).slice(-TAIL_CHARS);
      if (opts.showLogs) process.stderr.write(chunk);
    });
    this.exitPromise = new Promise<MqExit>((resolve) => {
      this.child.once('error', (err) => {
        this.errTail += `spawn failed: ${err.message}`;
        this.exitInfo ??= { code: null, signal: null };
        this.wake();
        resolve(this.exitInfo);
      });
      this.child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        this.wake();
        resolve(this.exitInfo);
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** The exit, once it exited. */
  get exited(): MqExit | undefined {
    return this.exitInfo;
  }

  /** Resolves once a stdout line matches; rejects when the child exits first or the time passes. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (this.out.split('\n').some((l) => pattern.test(l))) return done(resolve);
        if (this.exitInfo) return done(() => reject(new MqChildError(`${this.name} exited (${describe(this.exitInfo!)}) before it was ready: ${this.tail()}`)));
      };
      const timer = setTimeout(() => done(() => reject(new MqChildError(`${this.name} was not ready within ${timeoutMs} ms: ${this.tail()}`))), timeoutMs);
      const done = (f: () => void): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        f();
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Sends a signal (nothing once it exited). */
  signal(sig: NodeJS.Signals): void {
    if (this.exitInfo) return;
    try {
      this.child.kill(sig);
    } catch {
      // gone meanwhile: nothing to signal
    }
  }

  /** Resolves when it exits. */
  whenExited(): Promise<MqExit> {
    return this.exitPromise;
  }

  /** Resolves with the exit; after `timeoutMs` SIGKILLs it and waits for that. */
  async waitForExit(timeoutMs: number): Promise<MqExit> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), timeoutMs)));
    const exit = await Promise.race([this.exitPromise, late]);
    clearTimeout(timer);
    if (exit) return exit;
    this.signal('SIGKILL');
    return this.exitPromise;
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private tail(): string {
    const err = this.errTail.trim();
    return err.length > 0 ? err.split('\n').slice(-5).join(' | ') : '(nothing on stderr)';
  }
}

function describe(e: MqExit): string {
  return e.signal ? `signal ${e.signal}` : `code ${e.code}`;
}
