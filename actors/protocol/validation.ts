import { isReservedProperty, type Message } from '../../core/message.js';
import { Status, StatusError } from '../../core/status.js';
import { utf8Length } from '../../core/bytes.js';

/**
 * Validation at the edge: topic and group names (they become directory names), tags, and messages. Each
 * `validate*` throws a StatusError with a clear message; each `*Problem` returns the message instead (or
 * undefined when the input is fine), for callers that collect problems.
 */

export const TOPIC_MAX_LENGTH = 127;
export const GROUP_MAX_LENGTH = 255;
export const TAG_MAX_LENGTH = 255;
export const KEY_MAX_LENGTH = 255;
export const PROPERTY_NAME_MAX_LENGTH = 255;
export const PROPERTIES_MAX_BYTES = 32 * 1024;
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
/** Number of delay levels brokers have by default (1s ... 2h). */
export const DEFAULT_MAX_DELAY_LEVEL = 18;

/** Prefixes and names of topics the system uses itself. */
export const RETRY_TOPIC_PREFIX = '%RETRY%';
export const DLQ_TOPIC_PREFIX = '%DLQ%';
export const SYSTEM_TOPIC_PREFIX = 'RMQ_SYS_';
export const SCHEDULE_TOPIC = 'SCHEDULE_TOPIC_XXXX';
export const TRANS_HALF_TOPIC = 'RMQ_SYS_TRANS_HALF_TOPIC';
export const TRANS_OP_HALF_TOPIC = 'RMQ_SYS_TRANS_OP_HALF_TOPIC';
export const AUTO_CREATE_TOPIC = 'TBW102';

const NAME_CHARS = /^[A-Za-z0-9_%|-]+$/;
// a tag: no whitespace, no control characters, no '|' (the expression separator) and no '*' (the wildcard)
const TAG_CHARS = /^[^\s|*\u0000-\u001f\u007f]+$/u;
const KEY_CHARS = /^[^\s\u0000-\u001f\u007f]+$/u;

/** Whether `name` is a topic the system itself uses (retry, dead letter, schedule, transactions, RMQ_SYS_*). */
export function isSystemTopic(name: string): boolean {
  return (
    name.startsWith(RETRY_TOPIC_PREFIX) ||
    name.startsWith(DLQ_TOPIC_PREFIX) ||
    name.startsWith(SYSTEM_TOPIC_PREFIX) ||
    name === SCHEDULE_TOPIC ||
    name === AUTO_CREATE_TOPIC
  );
}

/**
 * Throws INVALID_ARGUMENT when `topic` is one the brokers need themselves (the schedule and transaction topics,
 * RMQ_SYS_*, the auto-create key), which a delete must not remove, as RocketMQ refuses; retry and dead-letter
 * topics may go.
 */
export function checkDeletableTopic(topic: string): void {
  if (topic.startsWith(SYSTEM_TOPIC_PREFIX) || topic === SCHEDULE_TOPIC || topic === AUTO_CREATE_TOPIC)
    throw new StatusError(Status.INVALID_ARGUMENT, `topic "${topic}" is one the brokers use themselves: it cannot be deleted`);
}

function nameProblem(kind: string, name: unknown, max: number): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return `${kind} name must be a non-empty string`;
  if (name.length > max) return `${kind} name "${name.slice(0, 32)}..." is ${name.length} characters, at most ${max} allowed`;
  if (!NAME_CHARS.test(name)) return `${kind} name "${name}" may only contain letters, digits, '_', '%', '|' and '-'`;
  return undefined;
}

export interface TopicRules {
  /** Allow the system's own topics (%RETRY%group, %DLQ%group, RMQ_SYS_*, SCHEDULE_TOPIC_XXXX). Default false. */
  allowSystem?: boolean;
}

export function topicProblem(name: unknown, rules: TopicRules = {}): string | undefined {
  const p = nameProblem('topic', name, TOPIC_MAX_LENGTH);
  if (p) return p;
  const n = name as string;
  if (isSystemTopic(n)) {
    if (!rules.allowSystem) return `topic name "${n}" is reserved for the system`;
    for (const prefix of [RETRY_TOPIC_PREFIX, DLQ_TOPIC_PREFIX]) {
      if (n.startsWith(prefix)) {
        const gp = groupProblem(n.slice(prefix.length));
        if (gp) return `topic "${n}": ${gp}`;
      }
    }
  }
  return undefined;
}

/** Throws StatusError(INVALID_ARGUMENT) unless `name` is a valid topic name. */
export function validateTopic(name: unknown, rules: TopicRules = {}): asserts name is string {
  const p = topicProblem(name, rules);
  if (p) throw new StatusError(Status.INVALID_ARGUMENT, p);
}

export function groupProblem(name: unknown): string | undefined {
  return nameProblem('group', name, GROUP_MAX_LENGTH);
}

/** Throws StatusError(INVALID_ARGUMENT) unless `name` is a valid producer or consumer group name. */
export function validateGroup(name: unknown): asserts name is string {
  const p = groupProblem(name);
  if (p) throw new StatusError(Status.INVALID_ARGUMENT, p);
}

export function tagProblem(tag: unknown): string | undefined {
  if (typeof tag !== 'string' || tag.length === 0) return 'tag must be a non-empty string';
  if (tag.length > TAG_MAX_LENGTH) return `tag is ${tag.length} characters, at most ${TAG_MAX_LENGTH} allowed`;
  if (!TAG_CHARS.test(tag)) return `tag "${tag}" must not contain whitespace, control characters, '|' or '*'`;
  return undefined;
}

export interface MessageRules extends TopicRules {
  /** Largest body in bytes (default 4 MiB); larger bodies get MESSAGE_TOO_LARGE. */
  maxBodyBytes?: number;
  /** Highest delay level (default 18). */
  maxDelayLevel?: number;
  /**
   * System properties the sender may set (the broker's rules for what a client sends): each must have a
   * string value, and neither counts as reserved nor against the properties' size. Default none.
   */
  clientProperties?: ReadonlySet<string>;
}

/** Returns [status, message] for the first problem with `msg`, or undefined when it is fine. */
export function messageProblem(msg: Message, rules: MessageRules = {}): [number, string] | undefined {
  const illegal = (m: string): [number, string] => [Status.MESSAGE_ILLEGAL, m];
  if (msg === null || typeof msg !== 'object') return illegal('message must be an object');
  const tp = topicProblem(msg.topic, rules);
  if (tp) return illegal(tp);
  if (!(msg.body instanceof Uint8Array)) return illegal('message body must be bytes');
  if (msg.body.length === 0) return illegal('message body must not be empty');
  const max = rules.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (msg.body.length > max) return [Status.MESSAGE_TOO_LARGE, `message body is ${msg.body.length} bytes, at most ${max} allowed`];
  if (msg.tags !== undefined) {
    const p = tagProblem(msg.tags);
    if (p) return illegal(p);
  }
  if (msg.keys !== undefined) {
    if (!Array.isArray(msg.keys)) return illegal('message keys must be an array of strings');
    for (const k of msg.keys) {
      if (typeof k !== 'string' || k.length === 0) return illegal('message key must be a non-empty string');
      if (k.length > KEY_MAX_LENGTH) return illegal(`message key is ${k.length} characters, at most ${KEY_MAX_LENGTH} allowed`);
      if (!KEY_CHARS.test(k)) return illegal(`message key "${k}" must not contain whitespace or control characters`);
    }
  }
  if (msg.properties !== undefined) {
    if (msg.properties === null || typeof msg.properties !== 'object') return illegal('message properties must be an object');
    let bytes = 0;
    const client = rules.clientProperties;
    for (const [k, v] of Object.entries(msg.properties)) {
      if (client !== undefined && client.has(k)) {
        if (typeof v !== 'string') return illegal(`property "${k}" must have a string value`);
        continue;
      }
      if (k.length === 0 || k.length > PROPERTY_NAME_MAX_LENGTH || !KEY_CHARS.test(k))
        return illegal(`property name "${k.slice(0, 32)}" must be 1..${PROPERTY_NAME_MAX_LENGTH} characters without whitespace or control characters`);
      if (isReservedProperty(k)) return illegal(`property name "${k}" is reserved for the system`);
      if (typeof v !== 'string') return illegal(`property "${k}" must have a string value`);
      bytes += utf8Length(k) + utf8Length(v);
    }
    if (bytes > PROPERTIES_MAX_BYTES) return illegal(`message properties take ${bytes} bytes, at most ${PROPERTIES_MAX_BYTES} allowed`);
  }
  if (msg.delayLevel !== undefined) {
    const maxLevel = rules.maxDelayLevel ?? DEFAULT_MAX_DELAY_LEVEL;
    if (!Number.isInteger(msg.delayLevel) || msg.delayLevel < 0 || msg.delayLevel > maxLevel)
      return illegal(`delay level must be an integer in [0, ${maxLevel}], got ${msg.delayLevel}`);
  }
  if (msg.deliverAt !== undefined) {
    if (!Number.isSafeInteger(msg.deliverAt) || msg.deliverAt < 0) return illegal(`deliverAt must be a non-negative integer (ms), got ${msg.deliverAt}`);
    if (msg.delayLevel) return illegal('a message may have a delay level or a deliverAt time, not both');
  }
  if (msg.shardingKey !== undefined) {
    if (typeof msg.shardingKey !== 'string' || msg.shardingKey.length === 0 || msg.shardingKey.length > KEY_MAX_LENGTH)
      return illegal(`sharding key must be 1..${KEY_MAX_LENGTH} characters`);
  }
  return undefined;
}

/** Throws StatusError (MESSAGE_ILLEGAL or MESSAGE_TOO_LARGE) unless `msg` may be sent. */
export function validateMessage(msg: Message, rules: MessageRules = {}): void {
  const p = messageProblem(msg, rules);
  if (p) throw new StatusError(p[0], p[1]);
}

export interface BatchRules extends MessageRules {
  /** Largest total of body bytes in one batch (default 4 MiB). */
  maxBatchBytes?: number;
}

/** Validates a send batch: at least one message, one topic for all, each valid, total body size bounded. */
export function validateBatch(msgs: readonly Message[], rules: BatchRules = {}): void {
  if (!Array.isArray(msgs) || msgs.length === 0) throw new StatusError(Status.MESSAGE_ILLEGAL, 'a batch must hold at least one message');
  const topic = msgs[0]!.topic;
  const maxBody = rules.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  // The topic is checked once (with message 0); a tag once per run of messages carrying it. A plain message
  // (no keys, properties, delay, deliverAt or sharding key) of the batch's topic then needs only its body checked.
  let okTopic = false;
  let okTags: string | undefined;
  let total = 0;
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i]!;
    if (
      okTopic &&
      m !== null &&
      typeof m === 'object' &&
      m.topic === topic &&
      m.body instanceof Uint8Array &&
      m.body.length > 0 &&
      m.body.length <= maxBody &&
      m.keys === undefined &&
      m.properties === undefined &&
      m.delayLevel === undefined &&
      m.deliverAt === undefined &&
      m.shardingKey === undefined &&
      (m.tags === undefined || m.tags === okTags)
    ) {
      total += m.body.length;
      continue;
    }
    const p = messageProblem(m, rules);
    if (p) throw new StatusError(p[0], `message ${i}: ${p[1]}`);
    if (m.topic !== topic) throw new StatusError(Status.MESSAGE_ILLEGAL, `message ${i}: a batch must have one topic ("${topic}"), got "${m.topic}"`);
    okTopic = true;
    if (m.tags !== undefined) okTags = m.tags;
    total += m.body.length;
  }
  const max = rules.maxBatchBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (total > max) throw new StatusError(Status.MESSAGE_TOO_LARGE, `batch bodies take ${total} bytes, at most ${max} allowed`);
}
