/* Pure formatting for the command line: tables and messages as JSON lines. */
import type { MessageExt } from '../../core/message.js';

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
  msgId: string;
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
  return {
    msgId: m.msgId,
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
