/**
 * Starts a private `nats-server` on a free loopback port, for real scenario runs, tests and benchmarks. The
 * process is stopped by pid on `stop()`, and killed when this process exits, so it never outlives the run.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
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

export interface NatsClusterOptions {
  /** Servers in the cluster (default 3). */
  size?: number;
  /** How long to wait for JetStream's meta leader once every server listens (default 20000 ms). */
  jetstreamReadyTimeoutMs?: number;
}

/** Private nats-servers routed into one cluster, JetStream on each (its own store and `server_name`). */
export interface NatsCluster {
  readonly servers: readonly NatsServer[];
  /** Every server's client URL, in order. */
  readonly urls: readonly string[];
  /** Stops every server and removes their temp dirs. */
  stop(): Promise<void>;
}

/**
 * Starts `size` nats-servers on 127.0.0.1 with routes between them (cluster ports picked free first, so each
 * route list is known before any starts) and JetStream on each, then waits until JetStream answers (its meta
 * leader is elected): a JetStream stream with replicas up to `size` can be created then. `restart()` of a member
 * rejoins the cluster with its store.
 */
export async function startNatsCluster(opts: NatsClusterOptions = {}): Promise<NatsCluster> {
  const size = opts.size ?? 3;
  if (!Number.isInteger(size) || size < 2) throw new NatsServerError(`a NATS cluster needs at least 2 servers, got ${size}`);
  const routePorts: number[] = [];
  while (routePorts.length < size) {
    const p = await freePort();
    if (!routePorts.includes(p)) routePorts.push(p);
  }
  const servers: NatsServer[] = [];
  const cluster: NatsCluster = {
    servers,
    get urls() {
      return servers.map((s) => s.url);
    },
    stop: async () => {
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
  try {
    for (let i = 0; i < size; i++) servers.push(await startNatsServer({ jetstream: true, extraConfig: clusterConfig(i, routePorts) }));
    await waitForJetStream(servers[0]!.url, opts.jetstreamReadyTimeoutMs ?? 20_000);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

function clusterConfig(i: number, routePorts: readonly number[]): string {
  const routes = routePorts.filter((_, j) => j !== i).map((p) => `"nats-route://127.0.0.1:${p}"`);
  return [`server_name: "n${i + 1}"`, 'cluster {', '  name: "mq-test"', `  listen: "127.0.0.1:${routePorts[i]}"`, `  routes: [${routes.join(', ')}]`, '}'].join('\n');
}

/** Waits until `$JS.API.INFO` answers without an error (JetStream is up and, on a cluster, has a meta leader). */
async function waitForJetStream(url: string, timeoutMs: number): Promise<void> {
  const nc = await connect({ servers: url });
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  try {
    while (Date.now() < deadline) {
      try {
        const reply = await nc.request('$JS.API.INFO', '', { timeout: 1000 });
        const info = JSON.parse(new TextDecoder().decode(reply.data)) as { error?: { description?: string } };
        if (info.error === undefined) return;
        last = info.error.description ?? JSON.stringify(info.error);
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
      }
      await sleep(200);
    }
    throw new NatsServerError(`JetStream of the NATS cluster at ${url} was not ready within ${timeoutMs} ms: ${last}`);
  } finally {
    await nc.close();
  }
}
