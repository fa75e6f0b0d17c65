/**
 * The name server's request handling as one pure function: (table, frame, now) -> (table, reply). The machine
 * keeps the table in its context and sends the reply; this file holds no state and no I/O.
 */
import type { Frame } from '../../transports/frame.js';
import { errorReply, headerInt, headerString, jsonBody, okReply, parseJsonBody } from '../protocol/replies.js';
import { RequestCode } from '../protocol/request-codes.js';
import { Status, StatusError } from '../../core/status.js';
import type { RegisterBrokerBody } from '../protocol/commands.js';
import type { AclVerdict } from '../protocol/acl/authorize.js';
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
}

function brokerIdentity(f: Frame) {
  return {
    cluster: headerString(f, 'cluster'),
    brokerName: headerString(f, 'brokerName'),
    brokerId: headerInt(f, 'brokerId'),
    address: headerString(f, 'address'),
  };
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
 * Answers one request against the table. Bad requests get an error reply; the table is then unchanged. With
 * `acl` (the name server's ACL check), a request it refuses gets its status (NO_PERMISSION) and message.
 */
export function handleNamesrvRequest(table: RouteTable, f: Frame, now: number, acl?: (f: Frame) => AclVerdict): HandledRequest {
  if (acl !== undefined) {
    const verdict = acl(f);
    if (!verdict.ok) return { table, reply: errorReply(f, verdict.status, verdict.message), changed: false };
  }
  try {
    switch (f.code) {
      case RequestCode.REGISTER_BROKER: {
        const id = brokerIdentity(f);
        const body = parseJsonBody<RegisterBrokerBody>(f);
        checkRegistration(body);
        const r = registerBroker(table, { ...id, dataVersion: body.dataVersion, topics: body.topics }, now);
        const header: Record<string, string> = {};
        if (r.masterAddr !== undefined) header.masterAddr = r.masterAddr;
        return { table: r.table, reply: okReply(f, header), changed: r.changed };
      }
      case RequestCode.UNREGISTER_BROKER: {
        const id = brokerIdentity(f);
        const r = unregisterBroker(table, id);
        return { table: r.table, reply: okReply(f), changed: r.changed };
      }
      case RequestCode.GET_ROUTEINFO_BY_TOPIC: {
        const topic = headerString(f, 'topic');
        const route = routeByTopic(table, topic);
        if (!route) return { table, reply: errorReply(f, Status.TOPIC_NOT_EXIST, `no route for topic ${topic}`), changed: false };
        return { table, reply: okReply(f, {}, jsonBody(route)), changed: false };
      }
      case RequestCode.GET_BROKER_CLUSTER_INFO:
        return { table, reply: okReply(f, {}, jsonBody(clusterInfo(table))), changed: false };
      case RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER:
        return { table, reply: okReply(f, {}, jsonBody({ topics: topicList(table) })), changed: false };
      case RequestCode.DELETE_TOPIC_IN_NAMESRV: {
        const r = deleteTopic(table, headerString(f, 'topic'));
        return { table: r.table, reply: okReply(f), changed: r.changed };
      }
      default:
        return { table, reply: errorReply(f, Status.REQUEST_CODE_NOT_SUPPORTED, `the name server does not handle code ${f.code}`), changed: false };
    }
  } catch (err) {
    const status = err instanceof StatusError ? err.status : Status.SYSTEM_ERROR;
    return { table, reply: errorReply(f, status, err instanceof Error ? err.message : String(err)), changed: false };
  }
}
