/**
 * Starts a private `nats-server` on a free loopback port, for real scenario runs, tests and benchmarks. The
 * process is stopped by pid on `stop()`, and killed when this process exits, so it never outlives the run.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killOnExit } from './kill-on-exit.js';

export const NATS_SERVER_INSTALL = 'apt-get install -y nats-server';

export interface NatsServerOptions {
  /** Enable JetStream (`jetstream { store_dir }`); the store lives in a temp dir unless `storeDir` is given. */
  jetstream?: boolean;
  /** The server's max_payload in bytes (the server's default is 1 MiB). */
  maxPayload?: number;
  /** JetStream store directory; kept on stop (temp dirs we create are removed). */
  storeDir?: string;
  /** How long to wait for the port to accept connections (default 5000 ms). */
  readyTimeoutMs?: number;
  /** More configuration, appended as is (authorization, tls blocks...); the listen address stays ours. */
  extraConfig?: string;
}

export interface NatsServer {
  readonly url: string;
  readonly port: number;
  /** Pid of the running process (of the latest start). */
  readonly pid: number;
  /** Stops the process (SIGTERM, then SIGKILL after 2 s) and removes the temp dirs. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash; keeps config and store so `restart()` can bring it back. */
  kill(): Promise<void>;
  /** Starts the server again on the same port (stopping the running one first). */
  restart(): Promise<void>;
}

export class NatsServerError extends Error {
  readonly code = 'NATS_SERVER';
  constructor(message: string) {
    super(message);
    this.name = 'NatsServerError';
  }
}


let binaryChecked = false;

function checkBinary(): void {
  if (binaryChecked) return;
  const r = spawnSync('nats-server', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new NatsServerError(
      `nats-server is not installed or not on PATH (${r.error?.message ?? `exit ${r.status}`}); install it with: ${NATS_SERVER_INSTALL}`,
    );
  }
  binaryChecked = true;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      s.destroy();
      resolve(false);
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

function configText(port: number, opts: NatsServerOptions, storeDir: string | undefined): string {
  const lines = [`listen: "127.0.0.1:${port}"`];
  if (opts.maxPayload !== undefined) lines.push(`max_payload: ${Math.floor(opts.maxPayload)}`);
  if (storeDir !== undefined) lines.push(`jetstream {`, `  store_dir: ${JSON.stringify(storeDir)}`, `}`);
  if (opts.extraConfig !== undefined) lines.push(opts.extraConfig);
  return lines.join('\n') + '\n';
}

class RunningNatsServer implements NatsServer {
  private child: ChildProcess | undefined;
  private stopped = false;
  private stderrTail = '';

  constructor(
    readonly port: number,
    private readonly configFile: string,
    private readonly tempDir: string,
    private readonly readyTimeoutMs: number,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  /** Spawns and waits for the port; resolves false when the process died at once (port taken). */
  async spawnAndWait(): Promise<boolean> {
    this.stderrTail = '';
    const child = spawn('nats-server', ['-c', this.configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    killOnExit(child);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-4000);
    });
    const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
    let failure: Error | undefined;
    void spawnError.then((e) => (failure = e));
    const deadline = Date.now() + this.readyTimeoutMs;
    while (Date.now() < deadline) {
      if (failure) throw new NatsServerError(`cannot start nats-server (${failure.message}); install it with: ${NATS_SERVER_INSTALL}`);
      if (child.exitCode !== null || child.signalCode !== null) {
        if (/address already in use/i.test(this.stderrTail)) return false;
        throw new NatsServerError(`nats-server exited (${child.exitCode ?? child.signalCode}): ${this.stderrTail.trim()}`);
      }
      if (await canConnect(this.port)) return true;
      await sleep(25);
    }
    child.kill('SIGKILL');
    throw new NatsServerError(`nats-server did not accept connections on port ${this.port} within ${this.readyTimeoutMs} ms: ${this.stderrTail.trim()}`);
  }

  private async terminate(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child) return;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      if (!(await waitExit(child, 2000))) {
        child.kill('SIGKILL');
        await waitExit(child, 2000);
      }
    }
  }

  async kill(): Promise<void> {
    await this.terminate('SIGKILL');
  }

  async restart(): Promise<void> {
    if (this.stopped) throw new NatsServerError('nats-server was stopped; start a new one');
    await this.terminate('SIGTERM');
    for (let attempt = 0; attempt < 20; attempt++) {
      if (await this.spawnAndWait()) return;
      await sleep(100); // the port is held by someone else for a moment
    }
    throw new NatsServerError(`cannot restart nats-server: port ${this.port} stays in use`);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.terminate('SIGTERM');
    rmSync(this.tempDir, { recursive: true, force: true });
  }
}

/** Starts nats-server on a free 127.0.0.1 port; throws (with the install command) when it is missing. */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServer> {
  checkBinary();
  const readyTimeoutMs = opts.readyTimeoutMs ?? 5000;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const tempDir = mkdtempSync(join(tmpdir(), 'nats-server-'));
    const storeDir = opts.jetstream ? (opts.storeDir ?? join(tempDir, 'store')) : undefined;
    const configFile = join(tempDir, 'nats.conf');
    writeFileSync(configFile, configText(port, opts, storeDir));
    const server = new RunningNatsServer(port, configFile, tempDir, readyTimeoutMs);
    try {
      if (await server.spawnAndWait()) return server;
    } catch (err) {
      await server.stop();
      throw err;
    }
    await server.stop(); // port collision: try another
  }
  throw new NatsServerError('cannot find a free port for nats-server after 5 attempts');
}
