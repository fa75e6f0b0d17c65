/**
 * Server-Sent Events to the console's browsers: one bounded queue per browser. Records gather for one turn and
 * go out as one `records` event; a browser that does not keep up (the socket's buffer is full) gets nothing
 * more until it drains, and past `maxQueued` waiting records the oldest are dropped and counted (the browser
 * shows the count). Memory per browser is bounded whatever its speed.
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';

export interface SseClientOptions {
  /** Records held for a browser that does not keep up, at most (default 20,000). */
  maxQueued?: number;
}

export class SseClient {
  private queue: unknown[] = [];
  private blocked = false;
  private closed = false;
  /** Records this browser never got (dropped while it did not keep up). */
  dropped = 0;
  private readonly maxQueued: number;

  constructor(
    private readonly res: ServerResponse,
    private readonly log: Logger,
    opts: SseClientOptions = {},
  ) {
    this.maxQueued = opts.maxQueued ?? 20_000;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.on('drain', () => {
      this.blocked = false;
      this.flush();
    });
    res.on('error', (err) => {
      this.log.debug({ err }, 'console stream to a browser failed');
      this.closed = true;
    });
    res.on('close', () => (this.closed = true));
  }

  get isClosed(): boolean {
    return this.closed || this.res.destroyed;
  }

  /** Sends one named event now (small control events: hello, snapshot, dropped); honours nothing queued. */
  event(name: string, data: unknown): void {
    if (this.isClosed) return;
    if (!this.res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`)) this.blocked = true;
  }

  /** Queues a record for the next flush; drops the oldest past the bound. */
  push(rec: unknown): void {
    if (this.isClosed) return;
    this.queue.push(rec);
    if (this.queue.length > this.maxQueued) {
      const over = this.queue.length - this.maxQueued;
      this.queue.splice(0, over);
      this.dropped += over;
    }
  }

  /** Writes what is queued as one `records` event, unless the browser has not drained the last one. */
  flush(): void {
    if (this.isClosed || this.blocked || this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    if (!this.res.write(`event: records\ndata: ${JSON.stringify(batch)}\n\n`)) this.blocked = true;
  }

  /** A comment line that keeps proxies and the browser from timing the stream out. */
  keepAlive(): void {
    if (this.isClosed || this.blocked) return;
    this.res.write(': keep-alive\n\n');
  }

  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.res.end();
  }
}
