/**
 * Registrations that come in parts (actors/protocol/register-body.ts): what a name server holds of each
 * unfinished one, as an immutable value and pure functions over it. A part 0 starts (or restarts) the
 * registration of its broker address; each later part must carry the same token, count, broker identity and
 * data version and come in order; the last one yields the whole body, which the name server then registers in
 * one step. A part that does not follow is refused (the broker's attempt fails and is retried from part 0).
 * Unfinished registrations older than a bound are dropped by the name server's scan.
 */
import { Status, StatusError } from '../../core/status.js';
import type { RegisterBrokerBody } from '../protocol/commands.js';
import { MAX_REGISTER_PARTS } from '../protocol/register-body.js';
import type { DataVersion, TopicConfig } from '../protocol/route.js';

/** The most broker addresses with an unfinished registration at once. */
export const MAX_PENDING_REGISTRATIONS = 1024;
/** An unfinished registration older than this is dropped. */
export const PENDING_REGISTRATION_MAX_AGE_MS = 30_000;

export interface PartIdentity {
  cluster: string;
  brokerName: string;
  brokerId: number;
  address: string;
}

export interface PartHeader {
  /** 0-based index of this part. */
  part: number;
  /** How many parts the registration has. */
  parts: number;
  /** The broker's token of this attempt. */
  token: string;
}

export interface PendingRegistration {
  readonly id: PartIdentity;
  readonly token: string;
  readonly parts: number;
  readonly received: number;
  readonly dataVersion: DataVersion;
  readonly topics: readonly TopicConfig[];
  readonly startedAt: number;
}

/** broker address -> its unfinished registration. */
export type PendingRegistrations = ReadonlyMap<string, PendingRegistration>;

export const NO_PENDING: PendingRegistrations = new Map();

export interface PartResult {
  pending: PendingRegistrations;
  /** The whole body, once the last part arrived. */
  complete?: RegisterBrokerBody;
}

const sameId = (a: PartIdentity, b: PartIdentity): boolean =>
  a.cluster === b.cluster && a.brokerName === b.brokerName && a.brokerId === b.brokerId && a.address === b.address;

/** Takes one part; throws StatusError (BAD_FRAME, or SYSTEM_BUSY when too many are unfinished) for one that does not follow. */
export function takePart(pending: PendingRegistrations, id: PartIdentity, h: PartHeader, body: RegisterBrokerBody, now: number): PartResult {
  if (!Number.isInteger(h.parts) || h.parts < 1 || h.parts > MAX_REGISTER_PARTS) throw new StatusError(Status.BAD_FRAME, `register parts must be 1..${MAX_REGISTER_PARTS}, got ${h.parts}`);
  if (!Number.isInteger(h.part) || h.part < 0 || h.part >= h.parts) throw new StatusError(Status.BAD_FRAME, `register part ${h.part} is not in 0..${h.parts - 1}`);
  let entry: PendingRegistration;
  if (h.part === 0) {
    if (!pending.has(id.address) && pending.size >= MAX_PENDING_REGISTRATIONS)
      throw new StatusError(Status.SYSTEM_BUSY, `${MAX_PENDING_REGISTRATIONS} registrations in parts are unfinished already`);
    entry = { id, token: h.token, parts: h.parts, received: 1, dataVersion: body.dataVersion, topics: body.topics, startedAt: now };
  } else {
    const p = pending.get(id.address);
    const follows =
      p !== undefined &&
      p.token === h.token &&
      p.parts === h.parts &&
      p.received === h.part &&
      sameId(p.id, id) &&
      p.dataVersion.timestamp === body.dataVersion.timestamp &&
      p.dataVersion.counter === body.dataVersion.counter;
    if (!follows) throw new StatusError(Status.BAD_FRAME, `register part ${h.part}/${h.parts} (registration ${h.token}) of ${id.address} does not follow the parts received`);
    entry = { ...p, received: p.received + 1, topics: [...p.topics, ...body.topics] };
  }
  const next = new Map(pending);
  if (entry.received === entry.parts) {
    next.delete(id.address);
    return { pending: next, complete: { dataVersion: entry.dataVersion, topics: [...entry.topics] } };
  }
  next.set(id.address, entry);
  return { pending: next };
}

/** Drops unfinished registrations started more than `maxAgeMs` before `now`. */
export function expirePending(pending: PendingRegistrations, now: number, maxAgeMs: number): PendingRegistrations {
  let out: Map<string, PendingRegistration> | undefined;
  for (const [addr, p] of pending) {
    if (now - p.startedAt <= maxAgeMs) continue;
    out ??= new Map(pending);
    out.delete(addr);
  }
  return out ?? pending;
}
