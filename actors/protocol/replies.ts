import { FrameKind, type Frame, type Header } from '../../transports/frame.js';
import { Status, StatusError } from '../../core/status.js';

/**
 * Building and reading request/reply frames. Control-plane bodies (routes, topic configs, cluster info) are
 * small JSON documents; the data path (message batches) has its own binary codec.
 */
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function jsonBody(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Parses a JSON body; malformed bodies are the sender's error (Status.BAD_FRAME). */
export function parseJsonBody<T>(frame: Frame): T {
  if (frame.body.length === 0) throw new StatusError(Status.BAD_FRAME, 'expected a JSON body, got none');
  try {
    return JSON.parse(decoder.decode(frame.body)) as T;
  } catch (err) {
    throw new StatusError(Status.BAD_FRAME, `malformed JSON body: ${(err as Error).message}`);
  }
}

export function request(code: number, header: Header = {}, body: Uint8Array = new Uint8Array(0)): Frame {
  return { kind: FrameKind.Request, code, requestId: 0, status: Status.OK, header, body };
}

export function oneWay(code: number, header: Header = {}, body: Uint8Array = new Uint8Array(0)): Frame {
  return { kind: FrameKind.OneWay, code, requestId: 0, status: Status.OK, header, body };
}

export function okReply(req: Frame, header: Header = {}, body: Uint8Array = new Uint8Array(0)): Frame {
  return { kind: FrameKind.Reply, code: req.code, requestId: req.requestId, status: Status.OK, header, body };
}

export function errorReply(req: Frame, status: number, message: string): Frame {
  return { kind: FrameKind.Reply, code: req.code, requestId: req.requestId, status, header: { error: message }, body: new Uint8Array(0) };
}

/** Throws a StatusError for a reply whose status is not OK (with the message the peer sent). */
export function expectOk(reply: Frame, what: string): Frame {
  if (reply.status !== Status.OK) {
    const msg = typeof reply.header.error === 'string' ? reply.header.error : 'no message';
    throw new StatusError(reply.status, `${what}: ${msg}`);
  }
  return reply;
}

export function headerString(frame: Frame, name: string): string {
  const v = frame.header[name];
  if (typeof v !== 'string' || v.length === 0) throw new StatusError(Status.BAD_FRAME, `header "${name}" must be a non-empty string`);
  return v;
}

export function headerInt(frame: Frame, name: string, dflt?: number): number {
  const v = frame.header[name];
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new StatusError(Status.BAD_FRAME, `header "${name}" must be an integer`);
  return v;
}
