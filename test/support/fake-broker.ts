import { setup } from 'xstate';
import type { FrameEvent } from '../../actors/runtime/actor-host.js';
import type { ActorSystem } from '../../actors/runtime/system.js';
import type { SimClock, TimerHandle } from '../../core/clock.js';
import {
  brokerAddress,
  clientAddress,
  namesrvAddress,
  type HeartbeatBody,
  type PullReplyHeader,
  type SendBackHeader,
  type TopicRoute,
  type UpdateOffsetsBody,
} from '../../actors/protocol/commands.js';
import type { MessageExt } from '../../core/message.js';
import { MessageProperty } from '../../core/message.js';
import { decodeMessageBatch, encodeMessageExtBatch } from '../../core/message-codec.js';
import { RequestCode } from '../../actors/protocol/request-codes.js';
import { encodeSendReply } from '../../actors/protocol/send-reply.js';
import { decodeSendMany, encodeSendManyReply } from '../../actors/protocol/send-many.js';
import { errorReply, jsonBody, okReply, oneWay, parseJsonBody } from '../../actors/protocol/replies.js';
import { Status } from '../../core/status.js';
import { tagHash } from '../../core/tags.js';
import { matchesHash, parseTagExpression } from '../../actors/protocol/tag-expression.js';
import { PERM_READ_WRITE } from '../../actors/protocol/route.js';
import type { Frame } from '../../transports/frame.js';

/**
 * Small fake name server and broker for client tests: they speak the wire contract (commands.ts) from plain
 * maps, log every frame they receive, and can be told to fail (stop answering, or answer with an error).
 */

type Handler = (frame: Frame, reply?: (f: Frame) => void) => void;

const handlerMachine = setup({
  types: {} as { context: { handle: Handler }; input: { handle: Handler }; events: FrameEvent },
  actions: { handle: ({ context, event }) => context.handle(event.frame, event.reply) },
}).createMachine({
  id: 'fake',
  context: ({ input }) => ({ handle: input.handle }),
  initial: 'serving',
  states: { serving: { on: { frame: { actions: 'handle' } } } },
});

function hostHandler(system: ActorSystem, address: string, handle: Handler): void {
  system.host({ address, logic: handlerMachine, input: () => ({ handle }) });
}

export class FakeNamesrv {
  readonly address: string;
  readonly routes = new Map<string, TopicRoute>();
  /** When true, requests get no answer (the client times out). */
  down = false;
  requests = 0;

  constructor(system: ActorSystem, id: string) {
    this.address = namesrvAddress(id);
    hostHandler(system, this.address, (frame, reply) => {
      this.requests++;
      if (this.down || !reply) return;
      if (frame.code !== RequestCode.GET_ROUTEINFO_BY_TOPIC) return reply(errorReply(frame, Status.REQUEST_CODE_NOT_SUPPORTED, 'fake'));
      const route = this.routes.get(String(frame.header.topic));
      if (!route) return reply(errorReply(frame, Status.TOPIC_NOT_EXIST, `topic ${String(frame.header.topic)} does not exist`));
      reply(okReply(frame, {}, jsonBody(route)));
    });
  }

  /** Publishes the routes of every topic of `brokers`. */
  publish(brokers: readonly FakeBroker[]): void {
    this.routes.clear();
    for (const b of brokers) {
      for (const [topic, n] of b.topics) {
        const r = this.routes.get(topic) ?? { queueDatas: [], brokerDatas: [] };
        r.queueDatas.push({ brokerName: b.name, readQueueNums: n, writeQueueNums: n, perm: PERM_READ_WRITE, topicSysFlag: 0 });
        r.brokerDatas.push({ cluster: 'c1', brokerName: b.name, addrs: { 0: b.address } });
        this.routes.set(topic, r);
      }
    }
  }
}

interface HeldPull {
  frame: Frame;
  reply: (f: Frame) => void;
  timer: TimerHandle;
}

export class FakeBroker {
  readonly address: string;
  /** topic -> queue count */
  readonly topics = new Map<string, number>();
  /** `topic@queueId` -> stored messages (index = queue offset) */
  readonly store = new Map<string, MessageExt[]>();
  /** `group@topic@queueId` -> committed offset */
  readonly offsets = new Map<string, number>();
  readonly clients = new Map<string, HeartbeatBody>();
  readonly sendBacks: SendBackHeader[] = [];
  /** Every frame received, in order. */
  readonly frames: Frame[] = [];
  /** When true, requests get no answer. */
  down = false;
  /** The next this-many sent batches (a request's, or a SEND_MANY part's) get SYSTEM_BUSY. */
  failSends = 0;
  /** Answers sends after this delay (virtual ms). */
  sendDelayMs = 0;
  /** The next this-many CONSUMER_SEND_MSG_BACK requests fail. */
  failSendBacks = 0;
  private commitLogOffset = 0;
  private held: HeldPull[] = [];

  constructor(
    private readonly system: ActorSystem,
    readonly name: string,
    topics: Record<string, number>,
  ) {
    this.address = brokerAddress(name, 0);
    for (const [t, n] of Object.entries(topics)) this.topics.set(t, n);
    hostHandler(system, this.address, (frame, reply) => this.handle(frame, reply));
  }

  private get clock(): SimClock {
    return this.system.env.clock as SimClock;
  }

  /** Frames received with request code `code`. */
  received(code: number): Frame[] {
    return this.frames.filter((f) => f.code === code);
  }

  queue(topic: string, queueId: number): MessageExt[] {
    const k = `${topic}@${queueId}`;
    let q = this.store.get(k);
    if (!q) this.store.set(k, (q = []));
    return q;
  }

  /** Stores messages directly (as if a producer had sent them). */
  put(topic: string, queueId: number, msgs: { body: Uint8Array; tags?: string; properties?: Record<string, string>; reconsumeTimes?: number }[]): void {
    const q = this.queue(topic, queueId);
    for (const m of msgs) {
      const ext: MessageExt = {
        msgId: `${this.name}-${this.commitLogOffset}`,
        topic,
        queueId,
        queueOffset: q.length,
        commitLogOffset: this.commitLogOffset++,
        bornTimestamp: this.clock.now(),
        storeTimestamp: this.clock.now(),
        reconsumeTimes: m.reconsumeTimes ?? 0,
        bornHost: 'test',
        storeHost: this.address,
        body: m.body,
      };
      if (m.tags !== undefined) ext.tags = m.tags;
      if (m.properties !== undefined) ext.properties = m.properties;
      q.push(ext);
    }
    this.wakePulls(topic, queueId);
  }

  private handle(frame: Frame, reply?: (f: Frame) => void): void {
    this.frames.push(frame);
    if (this.down || !reply) return;
    try {
      switch (frame.code) {
        case RequestCode.SEND_MESSAGE:
        case RequestCode.SEND_BATCH_MESSAGE:
          return this.onSend(frame, reply);
        case RequestCode.SEND_MANY:
          return this.onSendMany(frame, reply);
        case RequestCode.PULL_MESSAGE:
          return this.onPull(frame, reply);
        case RequestCode.QUERY_CONSUMER_OFFSET: {
          const o = this.offsets.get(`${frame.header.consumerGroup}@${frame.header.topic}@${frame.header.queueId}`);
          return reply(o === undefined ? errorReply(frame, Status.QUERY_NOT_FOUND, 'no offset') : okReply(frame, { offset: o }));
        }
        case RequestCode.UPDATE_CONSUMER_OFFSET: {
          const body = parseJsonBody<UpdateOffsetsBody>(frame);
          for (const o of body.offsets) this.offsets.set(`${frame.header.consumerGroup}@${o.topic}@${o.queueId}`, o.offset);
          return reply(okReply(frame));
        }
        case RequestCode.GET_MIN_OFFSET:
          return reply(okReply(frame, { offset: 0 }));
        case RequestCode.GET_MAX_OFFSET:
          return reply(okReply(frame, { offset: this.queue(String(frame.header.topic), Number(frame.header.queueId)).length }));
        case RequestCode.SEARCH_OFFSET_BY_TIMESTAMP: {
          const q = this.queue(String(frame.header.topic), Number(frame.header.queueId));
          const i = q.findIndex((m) => m.storeTimestamp >= Number(frame.header.timestamp));
          return reply(okReply(frame, { offset: i < 0 ? q.length : i }));
        }
        case RequestCode.HEART_BEAT: {
          const id = String(frame.header.clientId);
          const before = this.groupsOf(id);
          this.clients.set(id, parseJsonBody<HeartbeatBody>(frame));
          reply(okReply(frame));
          const after = this.groupsOf(id);
          for (const g of new Set([...before, ...after])) if (before.includes(g) !== after.includes(g)) this.notify(g);
          return;
        }
        case RequestCode.UNREGISTER_CLIENT: {
          const id = String(frame.header.clientId);
          const groups = this.groupsOf(id);
          this.clients.delete(id);
          reply(okReply(frame));
          for (const g of groups) this.notify(g);
          return;
        }
        case RequestCode.GET_CONSUMER_LIST_BY_GROUP:
          return reply(okReply(frame, {}, jsonBody({ clientIds: this.consumerIds(String(frame.header.consumerGroup)) })));
        case RequestCode.CONSUMER_SEND_MSG_BACK:
          return this.onSendBack(frame, reply);
        default:
          return reply(errorReply(frame, Status.REQUEST_CODE_NOT_SUPPORTED, `fake broker does not handle ${frame.code}`));
      }
    } catch (err) {
      reply(errorReply(frame, Status.SYSTEM_ERROR, (err as Error).message));
    }
  }

  private groupsOf(clientId: string): string[] {
    return (this.clients.get(clientId)?.consumers ?? []).map((c) => c.group);
  }

  consumerIds(group: string): string[] {
    return [...this.clients.entries()].filter(([, hb]) => hb.consumers.some((c) => c.group === group)).map(([id]) => id).sort();
  }

  private notify(group: string): void {
    for (const id of this.consumerIds(group)) {
      this.system.env.transport.send(clientAddress(id), oneWay(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, { consumerGroup: group }), { from: this.address });
    }
  }

  /** One queue's batch of a send request: stored (the send reply) or refused (a status and message). */
  private sendPart(topic: string, queueId: number, batch: Uint8Array): { status: number; reply?: Uint8Array; error?: string } {
    if (this.failSends > 0) {
      this.failSends--;
      return { status: Status.SYSTEM_BUSY, error: 'fake busy' };
    }
    if (!this.topics.has(topic)) return { status: Status.TOPIC_NOT_EXIST, error: `topic ${topic} not on ${this.name}` };
    const msgs = decodeMessageBatch(batch, { copyBodies: true });
    const q = this.queue(topic, queueId);
    const start = q.length;
    this.put(
      topic,
      queueId,
      msgs.map((m) => ({ body: m.body, tags: m.tags, properties: m.properties })),
    );
    const results = msgs.map((_, i) => ({ msgId: q[start + i]!.msgId, queueOffset: start + i, commitLogOffset: q[start + i]!.commitLogOffset }));
    return { status: Status.OK, reply: encodeSendReply(results) };
  }

  private answerSend(answer: () => void): void {
    if (this.sendDelayMs > 0) this.clock.setTimeout(answer, this.sendDelayMs);
    else answer();
  }

  private onSend(frame: Frame, reply: (f: Frame) => void): void {
    const r = this.sendPart(String(frame.header.topic), Number(frame.header.queueId), frame.body);
    if (r.reply === undefined) return reply(errorReply(frame, r.status, r.error!));
    this.answerSend(() => reply(okReply(frame, {}, r.reply)));
  }

  private onSendMany(frame: Frame, reply: (f: Frame) => void): void {
    const parts = decodeSendMany(frame.body).map((p) => {
      const r = this.sendPart(p.topic, p.queueId, p.batch);
      return { status: r.status, body: r.reply ?? new TextEncoder().encode(r.error) };
    });
    this.answerSend(() => reply(okReply(frame, {}, encodeSendManyReply(parts))));
  }

  private onPull(frame: Frame, reply: (f: Frame) => void): void {
    if (this.tryPull(frame, reply)) return;
    const held: HeldPull = {
      frame,
      reply,
      timer: this.clock.setTimeout(() => {
        this.held = this.held.filter((h) => h !== held);
        this.answerPull(frame, reply, [], 'NO_NEW_MSG', Number(frame.header.queueOffset));
      }, Number(frame.header.suspendTimeoutMs)),
    };
    this.held.push(held);
  }

  /** Answers a pull when there is something to say; false when it should be held. */
  private tryPull(frame: Frame, reply: (f: Frame) => void): boolean {
    const topic = String(frame.header.topic);
    const queueId = Number(frame.header.queueId);
    const offset = Number(frame.header.queueOffset);
    const q = this.queue(topic, queueId);
    if (offset > q.length || offset < 0) {
      this.answerPull(frame, reply, [], 'OFFSET_ILLEGAL', Math.min(Math.max(offset, 0), q.length));
      return true;
    }
    if (offset === q.length) return false;
    const filter = parseTagExpression(String(frame.header.subExpression));
    const found: MessageExt[] = [];
    let i = offset;
    for (; i < q.length && found.length < Number(frame.header.maxMsgNums); i++) {
      if (matchesHash(filter, tagHash(q[i]!.tags))) found.push(q[i]!);
    }
    this.answerPull(frame, reply, found, found.length > 0 ? 'FOUND' : 'NO_MATCHED_MSG', i);
    return true;
  }

  private answerPull(frame: Frame, reply: (f: Frame) => void, msgs: MessageExt[], status: PullReplyHeader['pullStatus'], next: number): void {
    const q = this.queue(String(frame.header.topic), Number(frame.header.queueId));
    const header: PullReplyHeader = { pullStatus: status, nextBeginOffset: next, minOffset: 0, maxOffset: q.length };
    reply(okReply(frame, { ...header }, msgs.length > 0 ? encodeMessageExtBatch(msgs) : new Uint8Array(0)));
  }

  private wakePulls(topic: string, queueId: number): void {
    const still: HeldPull[] = [];
    for (const h of this.held) {
      if (h.frame.header.topic === topic && h.frame.header.queueId === queueId && this.tryPull(h.frame, h.reply)) this.clock.clearTimeout(h.timer);
      else still.push(h);
    }
    this.held = still;
  }

  private onSendBack(frame: Frame, reply: (f: Frame) => void): void {
    if (this.failSendBacks > 0) {
      this.failSendBacks--;
      return reply(errorReply(frame, Status.SYSTEM_BUSY, 'fake send-back busy'));
    }
    const h = frame.header as unknown as SendBackHeader;
    this.sendBacks.push({ ...h });
    let orig: MessageExt | undefined;
    for (const q of this.store.values()) orig ??= q.find((m) => m.msgId === h.msgId);
    if (!orig) return reply(errorReply(frame, Status.SYSTEM_ERROR, `no message ${h.msgId}`));
    const retry = `%RETRY%${h.consumerGroup}`;
    this.topics.set(retry, 1);
    const props = { ...(orig.properties ?? {}) };
    props[MessageProperty.RETRY_TOPIC] ??= orig.topic;
    this.put(retry, 0, [{ body: orig.body, tags: orig.tags, properties: props, reconsumeTimes: orig.reconsumeTimes + 1 }]);
    reply(okReply(frame));
  }
}

/** Runs the simulated clock until `p` settles (or `deadlineMs` of virtual time pass), then returns its outcome. */
export async function drive<T>(clock: SimClock, p: Promise<T>, deadlineMs = 600_000): Promise<T> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await clock.runUntil(() => done, deadlineMs);
  if (!done) throw new Error(`promise did not settle within ${deadlineMs} virtual ms`);
  return p;
}
