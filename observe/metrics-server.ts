/**
 * The HTTP endpoint Prometheus scrapes: `GET /metrics` answers the brokers' metrics (observe/metrics.ts) in the
 * text format; any other path is 404, any other method on /metrics 405. `mq broker --metrics HOST:PORT` and
 * `MqSystem.serveMetrics` start it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { BrokerHandle } from '../actors/broker/broker.js';
import { brokerMetricsRegistry, type MetricsRegistryOptions } from './metrics.js';

export interface ServeMetricsOptions extends MetricsRegistryOptions {
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** Port to listen on; 0 picks a free one (`url` says which). */
  port: number;
  /** The brokers to report, asked at each scrape. */
  brokers: () => readonly BrokerHandle[];
  /** Hears scrapes that failed (they are answered 500). */
  logger?: Logger;
}

export interface MetricsServer {
  /** Where the metrics are: `http://HOST:PORT/metrics`. */
  readonly url: string;
  /** Stops listening and ends open connections. */
  close(): Promise<void>;
}

/** The metrics endpoint could not start (the address is taken, the host unknown, ...). */
export class MetricsServerError extends Error {
  readonly code = 'EMETRICS';
  constructor(message: string, options?: { cause: unknown }) {
    super(message, options);
    this.name = 'MetricsServerError';
  }
}

export const METRICS_PATH = '/metrics';

/** Serves `GET /metrics`; resolves once it listens. */
export function serveMetrics(opts: ServeMetricsOptions): Promise<MetricsServer> {
  const metrics = brokerMetricsRegistry(opts.brokers, opts.processMetrics !== undefined ? { processMetrics: opts.processMetrics } : {});
  const host = opts.host ?? '127.0.0.1';
  const answer = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path !== METRICS_PATH) return plain(res, 404, `not found: the metrics are at ${METRICS_PATH}\n`);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return plain(res, 405, `${METRICS_PATH} answers GET\n`);
    }
    metrics.scrape().then(
      (text) => {
        res.writeHead(200, { 'Content-Type': metrics.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        opts.logger?.error({ err }, 'metrics: a scrape failed');
        plain(res, 500, `the metrics could not be read: ${err instanceof Error ? err.message : String(err)}\n`);
      },
    );
  };
  const server = createServer(answer);
  return new Promise<MetricsServer>((resolve, reject) => {
    const failed = (err: Error): void => reject(new MetricsServerError(`metrics: cannot listen on ${host}:${opts.port}: ${err.message}`, { cause: err }));
    server.once('error', failed);
    server.listen(opts.port, host, () => {
      server.off('error', failed);
      server.on('error', (err) => opts.logger?.error({ err }, 'metrics: the server failed'));
      const port = (server.address() as AddressInfo).port;
      let closing: Promise<void> | undefined;
      resolve({
        url: `http://${host.includes(':') ? `[${host}]` : host}:${port}${METRICS_PATH}`,
        close: () =>
          (closing ??= new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          })),
      });
    });
  });
}

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(text);
}
