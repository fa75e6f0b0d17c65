/**
 * A LiveSource read from a running console's stream (`GET <url>/api/stream`, Server-Sent Events): `mq observe
 * --attach URL` watches an embedded cluster (`mq dev --web`, `system.observe`) from another terminal.
 */
import { Subject } from 'rxjs';
import { LatestRecords } from '../actors/runtime/latest-records.js';
import type { LiveSource, ObservedRecord } from './source.js';

export class AttachError extends Error {
  readonly code = 'EATTACH';
  constructor(message: string) {
    super(message);
    this.name = 'AttachError';
  }
}

/** Splits an SSE byte stream into events: `{ event, data }` per blank-line-terminated block (comments skipped). */
export function sseParser(onEvent: (event: string, data: string) => void): (chunk: string) => void {
  let buffer = '';
  return (chunk) => {
    buffer += chunk;
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length > 0) onEvent(event, data.join('\n'));
    }
  };
}

/** Connects to a console's stream; rejects with an AttachError that says what to check when it cannot. */
export async function sseSource(consoleUrl: string): Promise<LiveSource> {
  let base: URL;
  try {
    base = new URL(consoleUrl);
  } catch {
    throw new AttachError(`--attach: "${consoleUrl}" is not a URL; give the console's address, e.g. http://127.0.0.1:8080`);
  }
  const abort = new AbortController();
  let res: Response;
  try {
    res = await fetch(new URL('/api/stream', base), { signal: abort.signal, headers: { accept: 'text/event-stream' } });
  } catch (err) {
    throw new AttachError(`cannot reach a console at ${base.origin} (${err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err)}); is \`mq dev --web\` running there?`);
  }
  if (!res.ok || res.body === null || !(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    abort.abort();
    throw new AttachError(`${base.origin} answered ${res.status} without an event stream: is it an actormq console?`);
  }
  const records = new Subject<ObservedRecord>();
  const latest = new LatestRecords<ObservedRecord>((r) => r.source);
  let dropped: Record<string, number> = {};
  const feed = sseParser((event, data) => {
    if (event === 'snapshot' || event === 'records') {
      for (const r of JSON.parse(data) as ObservedRecord[]) {
        latest.add(r);
        records.next(r);
      }
    } else if (event === 'dropped') {
      dropped = (JSON.parse(data) as { sources: Record<string, number> }).sources;
    }
  });
  const reader = res.body.getReader();
  void (async () => {
    const decoder = new TextDecoder();
    try {
      for (let r = await reader.read(); !r.done; r = await reader.read()) feed(decoder.decode(r.value, { stream: true }));
      records.error(new AttachError(`the console at ${base.origin} closed its stream`));
    } catch (err) {
      if (!abort.signal.aborted) records.error(new AttachError(`the stream from ${base.origin} broke: ${err instanceof Error ? err.message : String(err)}`));
    }
  })();
  return {
    snapshot: () => latest.records(),
    records$: records.asObservable(),
    dropped: () => ({ ...dropped }),
    close: async () => {
      abort.abort();
      records.complete();
    },
  };
}
