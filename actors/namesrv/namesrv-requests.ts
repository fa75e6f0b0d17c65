/**
 * The name server's request handling as one pure function: (table, frame, now) -> (table, reply). The machine
 * keeps the table in its context and sends the reply; this file holds no state and no I/O.
 */
import type { Frame } from '../../transports/frame.js';
import { errorReply, headerInt, headerString, jsonBody, okReply } from '../protocol/replies.js';
import { RequestCode } from '../protocol/request-codes.js';
import { checkDeletableTopic } from '../protocol/validation.js';
import { Status, StatusError } from '../../core/status.js';
import type { RegisterBrokerBody } from '../protocol/commands.js';
import type { AclVerdict } from '../protocol/acl/authorize.js';
import { BODY_ENCODING_HEADER, DEFLATE, decodeRegisterBody } from '../protocol/register-body.js';
import { NO_PENDING, takePart, type PendingRegistrations } from './register-parts.js';
import { topicListPage, TOPIC_LIST_PAGE_BYTES } from './topic-list-page.js';
import {
  clusterInfo,
  deleteTopic,
  registerBroker,
  routeByTopic,
  topicList,
  unregisterBroker,
  type RouteTable,
} from './route-table.js';

export interface HandledRequest {
  table: RouteTable;
  reply: Frame;
  /** Whether routes changed (a broker came or went, a topic changed): worth a log line. */
  changed: boolean;
  /** Registrations in parts not finished yet (register-parts.ts). */
  pending: PendingRegistrations;
}

function brokerIdentity(f: Frame) {
  return {
    cluster: headerString(f, 'cluster'),
    brokerName: headerString(f, 'brokerName'),
    brokerId: headerInt(f, 'brokerId'),
    address: headerString(f, 'address'),
  };
}

/** The registration's master epoch, when it carries one. */
function epochOf(f: Frame): { epoch?: number } {
  if (f.header.epoch === undefined) return {};
  const epoch = headerInt(f, 'epoch');
  if (epoch < 0) throw new StatusError(Status.BAD_FRAME, 'header "epoch" must not be negative');
  return { epoch };
}

function checkRegistration(body: RegisterBrokerBody): void {
  const okVersion = body && typeof body.dataVersion === 'object' && Number.isFinite(body.dataVersion.timestamp) && Number.isFinite(body.dataVersion.counter);
  if (!okVersion || !Array.isArray(body.topics)) throw new StatusError(Status.BAD_FRAME, 'register body needs dataVersion {timestamp, counter} and topics []');
  for (const t of body.topics) {
    const ok = t && typeof t.topicName === 'string' && Number.isInteger(t.readQueueNums) && Number.isInteger(t.writeQueueNums) && Number.isInteger(t.perm);
    if (!ok) throw new StatusError(Status.BAD_FRAME, `malformed topic config ${JSON.stringify(t)}`);
  }
}

/**
 * The body of a REGISTER_BROKER: plain JSON or deflated (header `bodyEncoding`), checked. A body in parts
 * (headers `part`, `parts`, `registration`) is taken into `pending`; `body` is then the whole one once its last
 * part arrived, undefined before.
 */
function registrationBody(f: Frame, pending: PendingRegistrations, now: number): { body?: RegisterBrokerBody; pending: PendingRegistrations } {
  const encoding = f.header[BODY_ENCODING_HEADER];
  if (encoding !== undefined && encoding !== DEFLATE) throw new StatusError(Status.BAD_FRAME, `unknown register body encoding ${String(encoding)}`);
  const body = decodeRegisterBody(f.body, encoding === DEFLATE);
  checkRegistration(body);
  if (f.header.parts === undefined) return { body, pending };
  const part = { part: headerInt(f, 'part'), parts: headerInt(f, 'parts'), token: headerString(f, 'registration') };
  const r = takePart(pending, brokerIdentity(f), part, body, now);
  return r.complete ? { body: r.complete, pending: r.pending } : { pending: r.pending };
}

/**
 * Answers one request against the table (and the unfinished registrations in parts). Bad requests get an
 * error reply; the table and `pending` are then unchanged. With `acl` (the name server's ACL check), a request
 * it refuses gets its status (NO_PERMISSION) and message.
 */
export function handleNamesrvRequest(
  table: RouteTable,
  f: Frame,
  now: number,
  pending: PendingRegistrations = NO_PENDING,
  acl?: (f: Frame) => AclVerdict,
): HandledRequest {
  const same = (reply: Frame, changed = false): HandledRequest => ({ table, reply, changed, pending });
  if (acl !== undefined) {
    const verdict = acl(f);
    if (!verdict.ok) return same(errorReply(f, verdict.status, verdict.message));
  }
  try {
    switch (f.code) {
      case RequestCode.REGISTER_BROKER: {
        const id = brokerIdentity(f);
        const taken = registrationBody(f, pending, now);
        const body = taken.body;
        // a part that is not the last: acknowledged, nothing registered yet
        if (body === undefined) return { table, reply: okReply(f, { partial: true }), changed: false, pending: taken.pending };
        const r = registerBroker(table, { ...id, ...epochOf(f), dataVersion: body.dataVersion, topics: body.topics }, now);
        if (r.refused !== undefined) return { table, reply: errorReply(f, Status.SERVICE_NOT_AVAILABLE, r.refused), changed: false, pending: taken.pending };
        const header: Record<string, string> = {};
        if (r.masterAddr !== undefined) header.masterAddr = r.masterAddr;
        return { table: r.table, reply: okReply(f, header), changed: r.changed, pending: taken.pending };
      }
      case RequestCode.UNREGISTER_BROKER: {
        const id = brokerIdentity(f);
        const r = unregisterBroker(table, id);
        return { table: r.table, reply: okReply(f), changed: r.changed, pending };
      }
      case RequestCode.GET_ROUTEINFO_BY_TOPIC: {
        const topic = headerString(f, 'topic');
        const route = routeByTopic(table, topic);
        if (!route) return same(errorReply(f, Status.TOPIC_NOT_EXIST, `no route for topic ${topic}`));
        return same(okReply(f, {}, jsonBody(route)));
      }
      case RequestCode.GET_BROKER_CLUSTER_INFO:
        return same(okReply(f, {}, jsonBody(clusterInfo(table))));
      case RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER: {
        const after = f.header.after;
        if (after !== undefined && typeof after !== 'string') throw new StatusError(Status.BAD_FRAME, 'header "after" must be a string');
        const page = topicListPage(topicList(table), after, TOPIC_LIST_PAGE_BYTES);
        return same(okReply(f, page.more ? { more: true } : {}, jsonBody({ topics: page.topics })));
      }
      case RequestCode.DELETE_TOPIC_IN_NAMESRV: {
        const topic = headerString(f, 'topic');
        checkDeletableTopic(topic);
        const r = deleteTopic(table, topic);
        return { table: r.table, reply: okReply(f), changed: r.changed, pending };
      }
      default:
        return same(errorReply(f, Status.REQUEST_CODE_NOT_SUPPORTED, `the name server does not handle code ${f.code}`));
    }
  } catch (err) {
    const status = err instanceof StatusError ? err.status : Status.SYSTEM_ERROR;
    return same(errorReply(f, status, err instanceof Error ? err.message : String(err)));
  }
}
