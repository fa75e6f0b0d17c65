/**
 * The body of REGISTER_BROKER on the wire: the broker's topic configuration as JSON, deflated when it is
 * large, and split into parts when even the deflated document would not fit in one frame.
 *
 * - Small bodies travel as plain JSON (no header), as before: a name server reads either form.
 * - A body of COMPRESS_ABOVE_BYTES or more is deflated (raw deflate) and flagged with header
 *   `bodyEncoding: 'deflate'`.
 * - A body whose deflated form is over the frame budget is split by topics into parts, each a complete
 *   `{ dataVersion, topics }` document (deflated), none over the budget. The parts carry headers `part` (0..n-1),
 *   `parts` (n) and `registration` (the attempt's token); they are sent one after another, and the name server
 *   takes the registration only when the last part arrived (actors/namesrv/register-parts.ts), so its routes
 *   switch from the old topic set to the new one in one step.
 *
 * Pure functions; the only dependency is node:zlib, used synchronously.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { Status, StatusError } from '../../core/status.js';
import type { RegisterBrokerBody } from './commands.js';
import type { TopicConfig } from './route.js';

/** Header naming the body's encoding; absent means plain JSON. */
export const BODY_ENCODING_HEADER = 'bodyEncoding';
export const DEFLATE = 'deflate';
/** Bodies from this size on are deflated. */
export const COMPRESS_ABOVE_BYTES = 4 * 1024;
/** The most parts one registration may have (a bound on what a name server holds for an unfinished one). */
export const MAX_REGISTER_PARTS = 64;
/** The most bytes one part may inflate to (a bound against deflate bombs). */
export const MAX_INFLATED_BYTES = 32 * 1024 * 1024;
/**
 * Room kept in a frame for everything but the body (frame fields and the register headers): the body budget
 * is the transport's payload limit minus this.
 */
export const REGISTER_FRAME_OVERHEAD = 4 * 1024;

export interface EncodedPart {
  body: Uint8Array;
  /** Whether `body` is deflated (header `bodyEncoding: 'deflate'`). */
  deflated: boolean;
}

/** The topic configuration cannot be split into parts that fit (one topic alone too large, or too many parts). */
export class RegisterBodyTooLargeError extends Error {
  readonly code = 'EREGISTERTOOLARGE';
  constructor(message: string) {
    super(message);
    this.name = 'RegisterBodyTooLargeError';
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

function encodeOne(body: RegisterBrokerBody): EncodedPart {
  const json = encoder.encode(JSON.stringify(body));
  if (json.length < COMPRESS_ABOVE_BYTES) return { body: json, deflated: false };
  const z = deflateRawSync(json);
  return { body: new Uint8Array(z.buffer, z.byteOffset, z.length), deflated: true };
}

/**
 * Encodes a registration body into the fewest parts this finds, each at most `maxBodyBytes`: one part when it
 * fits (deflated if large), otherwise the topics split into contiguous runs, halved until each fits. Throws
 * RegisterBodyTooLargeError when one topic alone does not fit or more than MAX_REGISTER_PARTS are needed.
 */
export function encodeRegisterBody(body: RegisterBrokerBody, maxBodyBytes: number): EncodedPart[] {
  const whole = encodeOne(body);
  if (whole.body.length <= maxBodyBytes) return [whole];
  // a first guess at the count from the whole's size, then halve whatever still does not fit
  const guess = Math.min(body.topics.length, Math.ceil((whole.body.length * 1.1) / maxBodyBytes));
  const out: EncodedPart[] = [];
  const place = (topics: TopicConfig[]): void => {
    const part = encodeOne({ dataVersion: body.dataVersion, topics });
    if (part.body.length <= maxBodyBytes) {
      out.push(part);
    } else if (topics.length <= 1) {
      throw new RegisterBodyTooLargeError(`one topic configuration takes ${part.body.length} bytes, over the ${maxBodyBytes}-byte budget of a registration frame`);
    } else {
      const mid = topics.length >> 1;
      place(topics.slice(0, mid));
      place(topics.slice(mid));
    }
    if (out.length > MAX_REGISTER_PARTS) throw new RegisterBodyTooLargeError(`the topic configuration needs more than ${MAX_REGISTER_PARTS} registration frames of ${maxBodyBytes} bytes`);
  };
  const per = Math.ceil(body.topics.length / guess);
  for (let i = 0; i < body.topics.length; i += per) place(body.topics.slice(i, i + per));
  return out;
}

/** Decodes one registration body (plain or deflated); BAD_FRAME for anything unreadable. */
export function decodeRegisterBody(bytes: Uint8Array, deflated: boolean): RegisterBrokerBody {
  if (bytes.length === 0) throw new StatusError(Status.BAD_FRAME, 'expected a register body, got none');
  let json = bytes;
  if (deflated) {
    try {
      const z = inflateRawSync(bytes, { maxOutputLength: MAX_INFLATED_BYTES });
      json = new Uint8Array(z.buffer, z.byteOffset, z.length);
    } catch (err) {
      throw new StatusError(Status.BAD_FRAME, `register body does not inflate: ${(err as Error).message}`);
    }
  }
  try {
    return JSON.parse(decoder.decode(json)) as RegisterBrokerBody;
  } catch (err) {
    throw new StatusError(Status.BAD_FRAME, `malformed register body: ${(err as Error).message}`);
  }
}
