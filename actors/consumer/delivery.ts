import { Observable, Subject } from 'rxjs';
import type { MessageExt } from '../../core/message.js';

/**
 * How a consumer without a listener hands messages out: a bounded buffer drained by the async iterator (back
 * pressure: when the buffer is full, the consumer stops taking pulled batches, its per-queue caches fill and
 * pulling pauses) or, when nobody iterates, by `messages$` subscribers. A message counts as processed
 * (`ack`) when it is handed out. With a listener, `messages$` is only a tap (`tap`).
 */
export interface Delivered {
  msg: MessageExt;
  ack(): void;
}

export class DeliveryBuffer {
  private items: Delivered[] = [];
  private readonly subject = new Subject<MessageExt>();
  private observers = 0;
  private iterators = 0;
  private takers: ((r: IteratorResult<MessageExt>) => void)[] = [];
  private roomWaiters: (() => void)[] = [];
  private closed = false;
  /** Each message once per delivery. Completes when the consumer stops. */
  readonly messages$: Observable<MessageExt>;

  constructor(readonly capacity: number) {
    this.messages$ = new Observable<MessageExt>((sub) => {
      this.observers++;
      const s = this.subject.subscribe(sub);
      this.pump();
      return () => {
        this.observers--;
        s.unsubscribe();
      };
    });
  }

  get size(): number {
    return this.items.length;
  }

  /** Emits messages handed to a listener. */
  tap(msgs: readonly MessageExt[]): void {
    if (this.observers === 0) return; // nobody watches: no emission per message
    for (const m of msgs) this.subject.next(m);
  }

  /** Buffers messages, waiting for room when full; returns early when closed or `cancelled()`. */
  async push(entries: readonly Delivered[], cancelled: () => boolean): Promise<void> {
    for (const e of entries) {
      while (this.items.length >= this.capacity && !this.closed && !cancelled()) await new Promise<void>((r) => this.roomWaiters.push(r));
      if (this.closed || cancelled()) return;
      this.items.push(e);
      this.pump();
    }
  }

  iterator(): AsyncIterator<MessageExt> {
    this.iterators++;
    let ended = false;
    const end = (): IteratorResult<MessageExt> => {
      if (!ended) {
        ended = true;
        this.iterators--;
        this.pump();
      }
      return { value: undefined, done: true };
    };
    return {
      next: () => {
        if (ended) return Promise.resolve({ value: undefined, done: true });
        const e = this.items.shift();
        if (e) {
          this.hand(e);
          this.wakeRoom();
          return Promise.resolve({ value: e.msg, done: false });
        }
        if (this.closed) return Promise.resolve(end());
        return new Promise((resolve) => this.takers.push(resolve));
      },
      return: () => Promise.resolve(end()),
    };
  }

  /** Ends iteration and `messages$`; buffered messages stay unprocessed (they are pulled again later). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.items = [];
    for (const t of this.takers) t({ value: undefined, done: true });
    this.takers = [];
    this.wakeRoom();
    this.subject.complete();
  }

  private hand(e: Delivered): void {
    e.ack();
    this.subject.next(e.msg);
  }

  private pump(): void {
    while (this.items.length > 0 && this.takers.length > 0) {
      const e = this.items.shift()!;
      this.hand(e);
      this.takers.shift()!({ value: e.msg, done: false });
    }
    if (this.iterators === 0 && this.observers > 0) {
      while (this.items.length > 0) this.hand(this.items.shift()!);
    }
    this.wakeRoom();
  }

  private wakeRoom(): void {
    if (this.items.length >= this.capacity) return;
    const w = this.roomWaiters;
    this.roomWaiters = [];
    for (const f of w) f();
  }
}
