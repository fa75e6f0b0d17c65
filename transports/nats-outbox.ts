import { bundleSize, encodeBundle } from './bundle.js';

interface Pending {
  frames: Uint8Array[];
  bytes: number;
}

/**
 * One-way frames waiting for the end of the turn, by NATS subject: then each subject's frames leave as one NATS
 * message (a bundle, transports/bundle.ts; a lone frame as itself), in the order they were sent, a new bundle
 * begun where one would pass `maxPayload`. Anything else the connection publishes calls `flush` first, so the
 * connection's publishes keep the order they were made in.
 */
export class NatsOutbox {
  private pending = new Map<string, Pending>();
  private queued = false;

  constructor(
    private readonly publish: (subject: string, data: Uint8Array) => void,
    private readonly maxPayload: () => number,
    /** A publish at the end of the turn failed: `frames` frames to `subject` are lost. */
    private readonly onError: (err: unknown, subject: string, frames: number) => void,
  ) {}

  /** Queues an encoded frame (at most maxPayload bytes) for `subject`. */
  add(subject: string, frame: Uint8Array): void {
    let p = this.pending.get(subject);
    if (p === undefined) {
      p = { frames: [], bytes: 0 };
      this.pending.set(subject, p);
    } else if (bundleSize(p.frames.length + 1, p.bytes + frame.length) > this.maxPayload()) {
      this.publishPending(subject, p);
    }
    p.frames.push(frame);
    p.bytes += frame.length;
    if (!this.queued) {
      this.queued = true;
      queueMicrotask(this.flush);
    }
  }

  /** Publishes every subject's frames now. */
  readonly flush = (): void => {
    this.queued = false;
    if (this.pending.size === 0) return;
    const all = this.pending;
    this.pending = new Map();
    for (const [subject, p] of all) this.publishPending(subject, p);
  };

  private publishPending(subject: string, p: Pending): void {
    const n = p.frames.length;
    if (n === 0) return;
    const data = n === 1 ? p.frames[0]! : encodeBundle(p.frames, p.bytes);
    p.frames = [];
    p.bytes = 0;
    try {
      this.publish(subject, data);
    } catch (err) {
      this.onError(err, subject, n);
    }
  }
}
