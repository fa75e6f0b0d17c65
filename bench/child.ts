/**
 * A child process of a benchmark (an `mq` role, a worker) that prints lines: waits for a line that matches, or
 * for a JSON line with a key, within a time limit. SIGKILLed when the bench exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { killOnExit } from './kill-on-exit.js';

/**
 * Every child runs with a 64 MiB young generation, as `mq` and `npm start` do: at these rates the default (16 MiB)
 * scavenges every few tens of milliseconds, and each scavenge promotes every batch in flight.
 */
export const NODE_FLAGS = ['--max-semi-space-size=64'];
const nowMs = (): number => performance.now();

export class Child {
  readonly proc: ChildProcess;
  private readonly lines: string[] = [];
  private waiters: (() => void)[] = [];
  private exited = false;
  private stderr = '';

  /** @param nodeFlags more flags for node (a CPU profile, say) */
  constructor(
    readonly name: string,
    args: string[],
    nodeFlags: readonly string[] = [],
  ) {
    this.proc = spawn(process.execPath, [...NODE_FLAGS, ...nodeFlags, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' } });
    killOnExit(this.proc);
    createInterface({ input: this.proc.stdout! }).on('line', (l) => {
      this.lines.push(l);
      this.wake();
    });
    this.proc.stderr!.setEncoding('utf8');
    this.proc.stderr!.on('data', (d: string) => (this.stderr = (this.stderr + d).slice(-4000)));
    this.proc.stdin!.on('error', () => undefined); // a child that exited: its lines are not needed any more
    this.proc.once('exit', () => {
      this.exited = true;
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /**
   * The first line that `accept` takes, within `ms`; it is consumed, the lines it passed over stay for other
   * waits (a producer's result may arrive while the bench waits for a count).
   */
  async line<T>(accept: (line: string) => T | undefined, ms: number, what: string): Promise<T> {
    const deadline = nowMs() + ms;
    for (;;) {
      for (let i = 0; i < this.lines.length; i++) {
        const got = accept(this.lines[i]!);
        if (got !== undefined) {
          this.lines.splice(i, 1);
          return got;
        }
      }
      if (this.exited) throw new Error(`${this.name} exited before ${what}: ${this.stderr.trim().slice(-1500)}`);
      const left = deadline - nowMs();
      if (left <= 0) throw new Error(`${this.name}: no ${what} within ${ms} ms: ${this.stderr.trim().slice(-1500)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** The value under `key` of the next JSON line that has it. */
  json<T>(key: string, ms: number): Promise<T> {
    return this.line((l) => {
      if (!l.startsWith('{') || !l.includes(`"${key}":`)) return undefined;
      let o: Record<string, unknown>;
      try {
        o = JSON.parse(l) as Record<string, unknown>;
      } catch (err) {
        const at = Number(/position (\d+)/.exec(String(err))?.[1] ?? 0);
        throw new Error(`${this.name}: a line of ${l.length} chars that is not JSON: ${String(err)} near ${JSON.stringify(l.slice(Math.max(0, at - 80), at + 80))}`);
      }
      return key in o ? (o[key] as T) : undefined;
    }, ms, `"${key}"`);
  }

  /** Sends a line and waits for the JSON line with `key` it answers with. */
  async ask<T>(line: string, key: string, ms = 10_000): Promise<T> {
    this.tell(line);
    return this.json<T>(key, ms);
  }

  tell(line: string): void {
    if (!this.exited) this.proc.stdin!.write(line + '\n');
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    this.proc.kill('SIGTERM');
    const gone = await Promise.race([new Promise<boolean>((r) => this.proc.once('exit', () => r(true))), new Promise<boolean>((r) => setTimeout(() => r(false), 5000))]);
    if (!gone) this.proc.kill('SIGKILL');
  }
}
