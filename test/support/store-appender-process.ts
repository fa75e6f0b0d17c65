/**
 * Runs test/support/store-appender.ts as a child process (from the build) and collects what it acknowledges.
 */

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ackedFromLine, type AckedLine, type AckedMessage } from './store-workload.js';

/** The compiled child script. Throws a clear error when the build has not been run. */
export function appenderScript(): string {
  const script = resolve(__dirname, '..', '..', 'dist', 'test', 'support', 'store-appender.js');
  if (!existsSync(script)) {
    throw new Error(`${script} is missing: run \`npm run build\` first (this test runs the compiled store in a child process)`);
  }
  return script;
}

export interface AppenderExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

export interface AppenderRun {
  /** Messages acknowledged so far (complete stdout lines only). */
  readonly acked: AckedMessage[];
  /** Resolves with the child's pid once its store is open; rejects when it exits first. */
  readonly ready: Promise<number>;
  /** Resolves at the first acknowledged batch; rejects when the child exits first. */
  readonly firstAck: Promise<void>;
  /** Resolves when the child has exited and its output is read. */
  readonly exit: Promise<AppenderExit>;
  readonly pid: number;
  kill(signal?: NodeJS.Signals): void;
}

/** Starts the appender on `root`, numbering messages from `startSeq`; it stops on its own after `maxMs`. */
export function startAppender(root: string, startSeq: number, maxMs: number): AppenderRun {
  const child = spawn(process.execPath, [appenderScript(), root, String(startSeq), String(maxMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const acked: AckedMessage[] = [];
  let stdout = '';
  let stderr = '';
  let onReady: (pid: number) => void = () => undefined;
  let onAck: () => void = () => undefined;
  let failEarly: (err: Error) => void = () => undefined;
  const ready = new Promise<number>((res, rej) => {
    onReady = res;
    failEarly = (err) => rej(err);
  });
  const firstAck = new Promise<void>((res, rej) => {
    onAck = res;
    const prev = failEarly;
    failEarly = (err) => {
      prev(err);
      rej(err);
    };
  });
  // Whoever does not wait on these must not see an unhandled rejection.
  ready.catch(() => undefined);
  firstAck.catch(() => undefined);

  const takeLines = (): void => {
    let nl: number;
    while ((nl = stdout.indexOf('\n')) >= 0) {
      const line = stdout.slice(0, nl);
      stdout = stdout.slice(nl + 1);
      const msg = JSON.parse(line) as { ready?: number; acked?: AckedLine[] };
      if (msg.ready !== undefined) onReady(msg.ready);
      if (msg.acked) {
        for (const a of msg.acked) acked.push(ackedFromLine(a));
        onAck();
      }
    }
  };
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    stdout += chunk;
    takeLines();
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exit = new Promise<AppenderExit>((res) => {
    child.on('close', (code, signal) => {
      takeLines(); // a line cut by the kill stays in `stdout` and is ignored: it was never complete
      failEarly(new Error(`store-appender exited (code ${code}, signal ${signal}) before it was ready or acknowledged anything: ${stderr}`));
      res({ code, signal, stderr });
    });
  });
  return {
    acked,
    ready,
    firstAck,
    exit,
    pid: child.pid!,
    kill: (signal: NodeJS.Signals = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

/**
 * Per-test fixture of the disk tests: a fresh temporary directory for each test, and appender children that
 * are killed (before their directory goes) when a test ends early.
 */
export function appenderFixture(prefix: string): { readonly root: string; startAppender(dir: string, startSeq: number, maxMs: number): AppenderRun } {
  let root = '';
  const children: AppenderRun[] = [];
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), prefix));
  });
  afterEach(async () => {
    for (const run of children.splice(0)) {
      run.kill('SIGKILL');
      await run.exit;
    }
    rmSync(root, { recursive: true, force: true });
  });
  return {
    get root() {
      return root;
    },
    startAppender(dir, startSeq, maxMs) {
      const run = startAppender(dir, startSeq, maxMs);
      children.push(run);
      return run;
    },
  };
}
