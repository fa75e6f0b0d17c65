/**
 * The one frame format of every transport. The binary layout lives in `codec.ts`; this file is the model.
 * Bodies are raw bytes and are never JSON-encoded; headers are small flat maps.
 */
export const FrameKind = {
  Request: 1,
  Reply: 2,
  OneWay: 3,
  Event: 4,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

export type HeaderValue = string | number | boolean;
export type Header = Readonly<Record<string, HeaderValue>>;

export interface Frame {
  kind: FrameKind;
  /** Request code (see actors/protocol); for replies, the code of the request answered. uint16. */
  code: number;
  /** Correlates a reply with its request. uint32; 0 when unused. */
  requestId: number;
  /** Status code (core/status.ts); 0 is OK. uint16. */
  status: number;
  header: Header;
  body: Uint8Array;
}

export const EMPTY_BODY = new Uint8Array(0);
export const EMPTY_HEADER: Header = Object.freeze({});

/** A frame with defaults for what is not given. */
export function frame(parts: Partial<Frame> & Pick<Frame, 'code'>): Frame {
  return {
    kind: parts.kind ?? FrameKind.OneWay,
    code: parts.code,
    requestId: parts.requestId ?? 0,
    status: parts.status ?? 0,
    header: parts.header ?? EMPTY_HEADER,
    body: parts.body ?? EMPTY_BODY,
  };
}
