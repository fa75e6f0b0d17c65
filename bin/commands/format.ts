/* Pure formatting for the command line: tables, messages and send results as JSON lines, replication status. */
import { MessageProperty, type MessageExt, type SendResult } from '../../core/message.js';
import type { HaGroupStatus } from '../../actors/client/admin-client.js';

/** A plain text table: a header row, then rows; columns padded to their widest cell, two spaces apart. */
export function formatTable(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [headers.map(String), ...rows.map((r) => headers.map((_, i) => String(r[i] ?? '')))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number'));
  return cells
    .map((r) =>
      r
        .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : i === r.length - 1 ? c : c.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;

/** The body as text when it is UTF-8 without control characters (tab and newlines allowed), else undefined. */
export function printableBody(body: Uint8Array): string | undefined {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    return undefined;
  }
  return CONTROL.test(text) ? undefined : text;
}

export interface MessageJson {
  /** Store-side id: names the broker that stored this copy. */
  msgId: string;
  /** Client-side unique id (UNIQ_KEY): the message's identity wherever it is stored. */
  uniqKey?: string;
  topic: string;
  queueId: number;
  queueOffset: number;
  tags?: string;
  keys?: string[];
  reconsumeTimes: number;
  bornTimestamp: number;
  storeTimestamp: number;
  storeHost: string;
  bodyLength: number;
  /** The body as text when printable. */
  body?: string;
  /** The body in base64 when not printable. */
  bodyBase64?: string;
}

/** A message as one JSON object for `--json` output. */
export function messageJson(m: MessageExt): MessageJson {
  const text = printableBody(m.body);
  const uniqKey = m.properties?.[MessageProperty.UNIQ_KEY];
  return {
    msgId: m.msgId,
    ...(uniqKey !== undefined ? { uniqKey } : {}),
    topic: m.topic,
    queueId: m.queueId,
    queueOffset: m.queueOffset,
    ...(m.tags !== undefined ? { tags: m.tags } : {}),
    ...(m.keys !== undefined && m.keys.length > 0 ? { keys: m.keys } : {}),
    reconsumeTimes: m.reconsumeTimes,
    bornTimestamp: m.bornTimestamp,
    storeTimestamp: m.storeTimestamp,
    storeHost: m.storeHost,
    bodyLength: m.body.length,
    ...(text !== undefined ? { body: text } : { bodyBase64: Buffer.from(m.body).toString('base64') }),
  };
}

export interface SendResultJson {
  status: SendResult['status'];
  /** Store-side id: names the broker that stored the message. */
  msgId: string;
  /** Client-side unique id (UNIQ_KEY), as a consumer sees it in `uniqKey` too. */
  uniqKey?: string;
  brokerName: string;
  queueId: number;
  queueOffset: number;
}

/** A send's result as one JSON object for `mq produce --json`. */
export function sendResultJson(r: SendResult): SendResultJson {
  return {
    status: r.status,
    msgId: r.msgId,
    ...(r.uniqKey !== undefined ? { uniqKey: r.uniqKey } : {}),
    brokerName: r.queue.brokerName,
    queueId: r.queue.queueId,
    queueOffset: r.queueOffset,
  };
}

/** A message as one readable line. */
export function messageLine(m: MessageExt): string {
  const text = printableBody(m.body);
  const shown = text !== undefined ? JSON.stringify(text.length > 200 ? text.slice(0, 200) + '…' : text) : `<${m.body.length} bytes, binary>`;
  const tags = m.tags !== undefined ? ` tags=${m.tags}` : '';
  const keys = m.keys && m.keys.length > 0 ? ` keys=${m.keys.join(',')}` : '';
  return `${m.topic}/${m.queueId}@${m.queueOffset} ${m.msgId}${tags}${keys} ${shown}`;
}

/** A message body of exactly `size` bytes (printable), starting with `prefix` when it fits. */
export function makeBody(prefix: string, size: number | undefined): Uint8Array {
  const head = Buffer.from(prefix, 'utf8');
  if (size === undefined) return new Uint8Array(head);
  const body = Buffer.alloc(size, 'x'.charCodeAt(0));
  head.copy(body, 0, 0, Math.min(head.length, size));
  return new Uint8Array(body);
}

/** `perm` bits as `RW`, `R-`, `-W`, `--`. */
export function permString(perm: number): string {
  return `${perm & 4 ? 'R' : '-'}${perm & 2 ? 'W' : '-'}`;
}

// ---------------------------------------------------------------------------------------------- replication

/** How long ago something was, for people: `0.4 s ago`, `2.5 min ago`, `3.0 h ago`; `never` for no time. */
export function ago(sinceMs: number, at?: number): string {
  if (at !== undefined && at <= 0) return 'never';
  const ms = Math.max(0, sinceMs);
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s ago`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)} min ago`;
  return `${(ms / 3_600_000).toFixed(1)} h ago`;
}

/**
 * `mq admin ha` as text: a line naming the group, the master (address, mode, epoch and confirm offset under a
 * controller, write and flushed offsets, in-sync set, minimum in-sync replicas), its slaves as the master sees them
 * (and those that answered but the master does not list, as they see themselves), then the brokers that did not
 * answer. Of two brokers that say they are master (an old one whose lease ran out), the higher epoch's is shown.
 */
export function formatHaStatus(g: HaGroupStatus): string {
  const parts: string[] = [`broker group ${g.brokerName} (cluster ${g.cluster})`];
  const master = g.brokers.filter((b) => b.role === 'master').sort((a, b) => (b.epoch ?? 0) - (a.epoch ?? 0))[0];
  if (master !== undefined) {
    const { epoch, confirmOffset } = master;
    const controlled = [...(epoch !== undefined ? [['EPOCH', epoch] as const] : []), ...(confirmOffset !== undefined ? [['CONFIRMED', confirmOffset] as const] : [])];
    const headers = ['MASTER', 'ID', 'MODE', ...controlled.map(([h]) => h), 'WRITE OFFSET', 'FLUSHED', 'IN SYNC', 'MIN IN SYNC'];
    const row = [master.address, master.brokerId, master.mode ?? '-', ...controlled.map(([, v]) => v), master.writeOffset, master.flushedOffset, (master.inSync ?? []).join(','), master.minInSyncReplicas ?? '-'];
    parts.push(formatTable(headers, [row]));
  } else {
    parts.push(g.unreachable.some((u) => u.brokerId === 0) ? 'master: no answer (see below)' : 'master: none registered');
  }
  const rows: (string | number)[][] = [];
  const listed = new Set<number>();
  for (const s of master?.slaves ?? []) {
    listed.add(s.brokerId);
    rows.push([s.brokerId, s.address, s.ackOffset, s.lagBytes, s.lagMessages ?? '-', ago(s.sinceContactMs, s.lastContact), s.inSync ? 'yes' : 'no']);
  }
  for (const b of g.brokers) {
    if (b.role !== 'slave' || listed.has(b.brokerId)) continue;
    const own = b.slaves?.find((s) => s.brokerId === b.brokerId);
    rows.push([b.brokerId, b.address, own?.ackOffset ?? b.writeOffset, own?.lagBytes ?? '-', own?.lagMessages ?? '-', own ? ago(own.sinceContactMs, own.lastContact) : '-', master ? 'no (not known to the master)' : 'unknown (no master answered)']);
  }
  rows.sort((a, b) => (a[0] as number) - (b[0] as number));
  parts.push(rows.length > 0 ? formatTable(['SLAVE', 'ADDRESS', 'ACK OFFSET', 'LAG BYTES', 'LAG MESSAGES', 'LAST CONTACT', 'IN SYNC'], rows) : 'slaves: none');
  if (g.unreachable.length > 0) {
    parts.push(formatTable(['UNREACHABLE', 'ID', 'ERROR'], g.unreachable.map((u) => [u.address, u.brokerId, u.error])));
  }
  return parts.join('\n\n');
}
