/**
 * The web console's server (node:http only): the page, its browser code (ES modules compiled by tsc from
 * observe/, served from the package itself, nothing from outside hosts), the live records as Server-Sent Events,
 * state chart layouts (ELK, on the server), and a trace file for time travel.
 *
 * Routes:
 * - `GET /`: the page; `GET /console.css`; `GET /js/<path>.js`: the compiled files of observe/ (the browser
 *   imports `web/client/main.js`, which imports the model in `cluster-view.js`, the same code Node runs).
 * - `GET /api/info`: `{ live, trace }` (whether a live source is attached, the trace file served, if any).
 * - `GET /api/stream`: SSE: `hello`, then `snapshot` (the source's records that bring a viewer up to date), then
 *   `records` batches, `dropped` counts once a second when they change, keep-alive comments.
 * - `POST /api/layout`: body `{ machine, definition }` -> the machine's layout (any definition: time travel
 *   sends those of the trace it opened). `GET /api/layout/<machine>?source=S`: the layout of a definition the
 *   live source sent.
 * - `GET /api/trace`: the trace file given (`mq observe --web --trace FILE`), only its lines the console uses.
 */
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { Subscription } from 'rxjs';
import { rootLogger } from '../../actors/runtime/environment.js';
import type { MachineDefinition } from '../../actors/runtime/inspection.js';
import { normalizeDefinition } from '../../actors/runtime/machine-definition.js';
import type { LiveSource, ObservedRecord } from '../source.js';
import { mayBeViewLine } from '../trace-records.js';
import { layoutMachine } from './layout.js';
import { CONSOLE_CSS, consoleHtml } from './page.js';
import { SseClient } from './sse.js';

export interface ConsoleOptions {
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** Port; 0 picks a free one. */
  port: number;
  /** A scenario trace (JSON lines) the page opens for time travel. */
  traceFile?: string;
  logger?: Logger;
  /** Records held per browser that does not keep up (default 20,000); past it the oldest are dropped. */
  maxQueuedPerBrowser?: number;
  /** Keep-alive comment interval (default 15 s). */
  keepAliveMs?: number;
}

export interface ConsoleServer {
  /** `http://host:port/`. */
  url: string;
  /** Ends every browser's stream and stops listening (the source stays open: it is the caller's). */
  close(): Promise<void>;
}

/** Layout requests' bodies at most (a machine definition; ours are a few kB). */
const MAX_BODY = 4 * 1024 * 1024;

/** The folder holding observe/'s compiled files: next to this module when it is compiled, else dist/. */
export function observeAssetRoot(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url)); // observe/web, in dist/ or in the sources (jest)
  for (const candidate of [resolve(here, '..'), resolve(here, '..', '..', 'dist', 'observe')]) {
    if (existsSync(join(candidate, 'web', 'client', 'main.js'))) return candidate;
  }
  return undefined;
}

export async function serveConsole(source: LiveSource | undefined, opts: ConsoleOptions): Promise<ConsoleServer> {
  const log = (opts.logger ?? rootLogger()).child({ component: 'console' });
  const assets = observeAssetRoot();
  const clients = new Set<SseClient>();
  const definitions = new Map<string, MachineDefinition>();
  const keepDefinition = (r: ObservedRecord): void => {
    if (r.kind === 'machine') definitions.set(`${r.source}|${r.machine}`, r.definition);
  };
  const wire = (r: ObservedRecord): ObservedRecord => (r.kind === 'machine' ? { ...r, definition: normalizeDefinition(r.definition) } : r);

  // Live records: queued per browser, flushed once per turn.
  let flushing = false;
  const flushAll = (): void => {
    flushing = false;
    for (const c of clients) c.flush();
  };
  let sub: Subscription | undefined;
  if (source !== undefined) {
    sub = source.records$.subscribe({
      next: (r) => {
        keepDefinition(r);
        if (clients.size === 0) return;
        const w = wire(r);
        for (const c of clients) c.push(w);
        if (!flushing) {
          flushing = true;
          setImmediate(flushAll);
        }
      },
      error: (err: unknown) => log.error({ err }, 'the live source failed'),
    });
  }

  const lastDropped = new WeakMap<SseClient, string>();
  const ticker = setInterval(() => {
    const sources = source?.dropped() ?? {};
    for (const c of clients) {
      if (c.isClosed) {
        clients.delete(c);
        continue;
      }
      const payload = { sources, browser: c.dropped };
      const text = JSON.stringify(payload);
      if (lastDropped.get(c) !== text) {
        lastDropped.set(c, text);
        c.event('dropped', payload);
      }
    }
  }, 1000);
  ticker.unref();
  const keepAlive = setInterval(() => {
    for (const c of clients) c.keepAlive();
  }, opts.keepAliveMs ?? 15_000);
  keepAlive.unref();

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.warn({ err, url: req.url }, 'console request failed');
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', `console error: ${err instanceof Error ? err.message : String(err)}\n`);
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://console');
    const path = url.pathname;
    if (req.method === 'GET' && (path === '/' || path === '/index.html')) {
      if (assets === undefined) return send(res, 500, 'text/plain; charset=utf-8', "the console's browser code is not built: run `npm run build`\n");
      return send(res, 200, 'text/html; charset=utf-8', consoleHtml());
    }
    if (req.method === 'GET' && path === '/console.css') return send(res, 200, 'text/css; charset=utf-8', CONSOLE_CSS);
    if (req.method === 'GET' && path.startsWith('/js/')) return serveScript(path.slice('/js/'.length), res);
    if (req.method === 'GET' && path === '/api/info') {
      return sendJson(res, 200, { live: source !== undefined, ...(opts.traceFile !== undefined ? { trace: basename(opts.traceFile) } : {}) });
    }
    if (req.method === 'GET' && path === '/api/stream') return openStream(req, res);
    if (req.method === 'GET' && path === '/api/trace') return serveTrace(res);
    if (req.method === 'POST' && path === '/api/layout') {
      let body: { machine?: unknown; definition?: unknown };
      try {
        body = JSON.parse(await readBody(req)) as typeof body;
      } catch (err) {
        return sendJson(res, 400, { error: `the body is not JSON: ${err instanceof Error ? err.message : String(err)}` });
      }
      if (typeof body.machine !== 'string' || body.definition === null || typeof body.definition !== 'object') {
        return sendJson(res, 400, { error: 'expected { machine, definition }' });
      }
      return sendJson(res, 200, await layoutMachine(body.machine, body.definition as MachineDefinition));
    }
    if (req.method === 'GET' && path.startsWith('/api/layout/')) {
      const machine = decodeURIComponent(path.slice('/api/layout/'.length));
      const def = definitions.get(`${url.searchParams.get('source') ?? ''}|${machine}`);
      if (def === undefined) return sendJson(res, 404, { error: `no definition of machine ${machine} from that source` });
      return sendJson(res, 200, await layoutMachine(machine, def));
    }
    if (path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    sendJson(res, 404, { error: `no such page: ${path}` });
  }

  function openStream(req: IncomingMessage, res: ServerResponse): void {
    const client = new SseClient(res, log, opts.maxQueuedPerBrowser !== undefined ? { maxQueued: opts.maxQueuedPerBrowser } : {});
    client.event('hello', { live: source !== undefined });
    if (source !== undefined) {
      const snap = source.snapshot();
      for (const r of snap) keepDefinition(r);
      client.event('snapshot', snap.map(wire));
      client.event('dropped', { sources: source.dropped(), browser: 0 });
      clients.add(client);
    }
    req.on('close', () => clients.delete(client));
  }

  function serveScript(rel: string, res: ServerResponse): void {
    if (assets === undefined || !/^[A-Za-z0-9_\-/.]+\.js$/.test(rel) || rel.split('/').some((p) => p === '..' || p === '')) {
      return sendJson(res, 404, { error: 'no such script' });
    }
    const file = resolve(assets, rel);
    if (!file.startsWith(assets + sep) || !existsSync(file)) return sendJson(res, 404, { error: 'no such script' });
    send(res, 200, 'text/javascript; charset=utf-8', readFileSync(file, 'utf8'));
  }

  async function serveTrace(res: ServerResponse): Promise<void> {
    if (opts.traceFile === undefined) return sendJson(res, 404, { error: 'no trace file given (mq observe --web HOST:PORT --trace FILE)' });
    const input = createReadStream(opts.traceFile, { encoding: 'utf8' });
    await once(input, 'open'); // a missing file fails here, before the headers go out
    res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-cache' });
    let first = true;
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      if (!first && !mayBeViewLine(line)) continue;
      first = false;
      if (!res.write(line + '\n')) await once(res, 'drain');
      if (res.destroyed) break;
    }
    input.destroy();
    res.end();
  }

  server.listen(opts.port, opts.host ?? '127.0.0.1');
  await once(server, 'listening');
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${host}:${addr.port}/`;
  log.info({ url }, 'console listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    close: () =>
      (closing ??= (async () => {
        clearInterval(ticker);
        clearInterval(keepAlive);
        sub?.unsubscribe();
        for (const c of clients) c.end();
        clients.clear();
        const closed = new Promise<void>((resolveClose, reject) => server.close((err) => (err ? reject(err) : resolveClose())));
        server.closeAllConnections();
        await closed;
      })()),
  };
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-cache' });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new Error(`request body over ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
