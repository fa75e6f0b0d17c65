import { createActor, type Actor, type AnyActorLogic, type EventFromLogic, type InputFrom, type InspectionEvent } from 'xstate';
import type { Subscription, Observable } from 'rxjs';
import type { Logger } from 'pino';
import type { Frame } from '../../transports/frame.js';
import { FrameKind } from '../../transports/frame.js';
import type { Incoming, KvBucket, KvOpenOptions } from '../../transports/transport.js';
import { Status } from '../../core/status.js';
import type { Clock } from '../../core/clock.js';
import type { Environment } from './environment.js';
import type { RandomSource } from '../../core/random.js';

/**
 * What a hosted actor uses to reach the world: its address, the Environment's clock, random source and a
 * logger that carries the address, and transport calls stamped with its address as the sender.
 */
export interface ActorIo {
  readonly address: string;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly logger: Logger;
  request(to: string, frame: Frame, timeoutMs?: number): Promise<Frame>;
  send(to: string, frame: Frame): void;
  publish(subject: string, frame: Frame): void;
  subscribe(subject: string): Observable<Frame>;
  /** The largest frame the transport carries now (NATS: the server's max_payload). */
  maxPayload(): number;
  /** The transport's key-value buckets, where it has them (NATS JetStream KV; the memory network's). */
  keyValue?(bucket: string, opts?: KvOpenOptions): Promise<KvBucket>;
  /**
   * Hands arriving frames straight to `handler` instead of sending the machine an event per frame, until
   * called again with undefined. A machine installs it on entering a state that only passes frames on (and
   * removes it on leaving), so a request costs no transition; such frames do not show in the inspection stream.
   */
  serveFrames?(handler: ((incoming: Incoming) => void) | undefined): void;
}

/** The event a hosted machine receives for every frame that arrives at its address. */
export interface FrameEvent {
  type: 'frame';
  frame: Frame;
  reply?: (frame: Frame) => void;
}

export interface HostOptions<TLogic extends AnyActorLogic> {
  address: string;
  logic: TLogic;
  /** Builds the actor's input from its io handle. */
  input?: (io: ActorIo) => InputFrom<TLogic>;
  /** Listen at `address` and turn arriving frames into events (default true). */
  listen?: boolean;
  /** Maps an arriving frame to the machine's event; default `{ type: 'frame', frame, reply }`. */
  toEvent?: (incoming: Incoming) => EventFromLogic<TLogic> | undefined;
}

/** Replies to a request with an error status and message, if the sender waits for an answer. */
export function replyError(incoming: Incoming, status: number, message: string): void {
  incoming.reply?.({
    kind: FrameKind.Reply,
    code: incoming.frame.code,
    requestId: incoming.frame.requestId,
    status,
    header: { error: message },
    body: new Uint8Array(0),
  });
}

/**
 * `incoming` with a reply that never throws: a reply the transport refuses (too large, closed) is logged. For
 * frames that become machine events: a reply sent from a machine's action must not fail the machine.
 */
function withSafeReply(incoming: Incoming, logger: Logger): Incoming {
  const reply = incoming.reply;
  if (reply === undefined) return incoming;
  return {
    frame: incoming.frame,
    reply: (f: Frame) => {
      try {
        reply(f);
      } catch (err) {
        logger.warn({ err, code: incoming.frame.code }, 'could not send a reply');
      }
    },
  };
}

/**
 * Binds an XState actor to an address on the Environment's transport. The actor runs on the Environment's
 * clock (XState's `clock` option), so delayed transitions follow simulated time in a simulation, and its
 * inspection events go to `inspect` (the system turns them into its observation stream).
 */
export class ActorHost<TLogic extends AnyActorLogic> {
  readonly address: string;
  readonly actor: Actor<TLogic>;
  readonly io: ActorIo;
  private inboxSub: Subscription | undefined;
  private stopped = false;
  private direct: ((incoming: Incoming) => void) | undefined;

  constructor(
    env: Environment,
    opts: HostOptions<TLogic>,
    inspect: (ev: InspectionEvent, address: string) => void,
  ) {
    this.address = opts.address;
    const logger = env.logger.child({ actor: opts.address });
    const from = { from: opts.address };
    const transport = env.transport;
    this.io = {
      address: opts.address,
      clock: env.clock,
      random: env.random,
      logger,
      request: (to, frame, timeoutMs) => transport.request(to, frame, { ...from, timeoutMs }),
      send: (to, frame) => transport.send(to, frame, from),
      publish: (subject, frame) => transport.publish(subject, frame, from),
      subscribe: (subject) => transport.subscribe(subject),
      maxPayload: () => transport.maxPayload,
      ...(transport.keyValue ? { keyValue: (bucket: string, opts?: KvOpenOptions) => transport.keyValue!(bucket, opts) } : {}),
      serveFrames: (handler) => {
        this.direct = handler;
      },
    };
    this.actor = createActor(opts.logic, {
      id: opts.address,
      clock: env.clock,
      input: opts.input?.(this.io),
      inspect: (ev) => inspect(ev, opts.address),
    } as Parameters<typeof createActor<TLogic>>[1]);
    this.actor.subscribe({
      error: (err: unknown) => logger.error({ err }, 'actor failed'),
    });
    this.actor.start();
    if (opts.listen !== false) {
      const toEvent = opts.toEvent ?? ((i: Incoming) => ({ type: 'frame', frame: i.frame, reply: i.reply }) as EventFromLogic<TLogic>);
      this.inboxSub = transport.inbox(opts.address).subscribe({
        next: (incoming) => this.deliver(incoming, toEvent),
        error: (err: unknown) => logger.error({ err }, 'inbox failed'),
      });
    }
  }

  /**
   * Hands a frame to the actor. Never throws into the transport: a failure here (a reply the transport refuses,
   * a handler that throws) is logged, and the frame is lost as if dropped on the way.
   */
  private deliver(incoming: Incoming, toEvent: (i: Incoming) => EventFromLogic<TLogic> | undefined): void {
    try {
      const status = (this.actor.getSnapshot() as { status: string }).status;
      if (this.stopped || status !== 'active') {
        replyError(incoming, Status.SERVICE_NOT_AVAILABLE, `${this.address} is ${this.stopped ? 'stopped' : status}`);
        return;
      }
      if (this.direct !== undefined) {
        this.direct(incoming); // the frame server answers every reply failure itself
        return;
      }
      const safe = withSafeReply(incoming, this.io.logger);
      const event = toEvent(safe);
      if (event === undefined) {
        replyError(safe, Status.REQUEST_CODE_NOT_SUPPORTED, `${this.address} does not handle code ${incoming.frame.code}`);
        return;
      }
      this.actor.send(event);
    } catch (err) {
      this.io.logger.error({ err, code: incoming.frame.code }, 'could not deliver a frame');
    }
  }

  /** Stops listening and stops the actor. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.inboxSub?.unsubscribe();
    this.actor.stop();
  }
}
