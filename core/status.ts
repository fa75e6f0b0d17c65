/**
 * Status codes carried in a frame's `status` field. Errors that cross the wire are one of these plus a
 * message (in the reply header's `error`); numbers follow RocketMQ's ResponseCode where one exists.
 */
export const Status = {
  OK: 0,
  SYSTEM_ERROR: 1,
  SYSTEM_BUSY: 2,
  REQUEST_CODE_NOT_SUPPORTED: 3,
  BAD_FRAME: 4,
  TIMEOUT: 5,
  NO_RESPONDERS: 6,
  PAYLOAD_TOO_LARGE: 7,
  TRANSPORT_CLOSED: 8,
  FLUSH_DISK_TIMEOUT: 10,
  SLAVE_NOT_AVAILABLE: 11,
  FLUSH_SLAVE_TIMEOUT: 12,
  MESSAGE_ILLEGAL: 13,
  SERVICE_NOT_AVAILABLE: 14,
  VERSION_NOT_SUPPORTED: 15,
  NO_PERMISSION: 16,
  TOPIC_NOT_EXIST: 17,
  TOPIC_EXIST_ALREADY: 18,
  PULL_NOT_FOUND: 19,
  PULL_RETRY_IMMEDIATELY: 20,
  PULL_OFFSET_MOVED: 21,
  QUERY_NOT_FOUND: 22,
  STORE_FAILED: 23,
  DISK_FULL: 24,
  INVALID_ARGUMENT: 25,
  SUBSCRIPTION_ILLEGAL: 26,
  CONSUMER_NOT_ONLINE: 206,
  NO_ROUTE: 207,
  MESSAGE_TOO_LARGE: 208,
  /** A heartbeat whose client id another live client of the same consumer group (another process) uses. */
  CLIENT_ID_CONFLICT: 209,
  /**
   * A sync master's in-sync set is smaller than its minInSyncReplicas: the batch was not stored (a retry on
   * another broker group is safe).
   */
  IN_SYNC_REPLICAS_NOT_ENOUGH: 210,
} as const;

export type StatusCode = (typeof Status)[keyof typeof Status];

const names = new Map<number, string>(Object.entries(Status).map(([k, v]) => [v, k]));

export function statusName(code: number): string {
  return names.get(code) ?? `STATUS_${code}`;
}

/** An error that crossed, or is about to cross, the wire: a status code and a message. */
export class StatusError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(`${statusName(status)}: ${message}`);
    this.name = 'StatusError';
  }
}
