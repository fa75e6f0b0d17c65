/**
 * Reads a scenario trace (scenarios/trace.ts: JSON lines, a header line, then `{seq, t, k, ...}` lines) as
 * observation records: `state` lines as snapshots, `machine`, `actor` and `stats` lines as their kinds, each
 * with `source` = the line's process id and `time` = its simulated time. Other lines (frames, replies, faults,
 * timers, operations) are not part of the console's view and are skipped. Pure and free of Node and the DOM:
 * the browser reads a trace file the user opens with it.
 */
import type { MachineDefinition } from '../actors/runtime/inspection.js';
import type { RoleStats } from '../actors/protocol/observe.js';
import type { ObservedRecord } from './source.js';

export interface TraceInfo {
  /** The header's scenario name and seed, when the first line is a header. */
  name?: string;
  seed?: number;
  /** Lines read, lines that became records, lines that were not JSON. */
  lines: number;
  records: number;
  malformed: number;
}

/** The line kinds the console uses (a server may filter a trace down to them before sending it). */
export const VIEW_KINDS = new Set(['state', 'machine', 'actor', 'stats']);

type Line = { seq?: unknown; t?: unknown; k?: unknown; p?: unknown; [field: string]: unknown };

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** One trace line as a record; undefined for a header, another kind, or a line missing what the kind needs. */
export function traceLineToRecord(line: Line): ObservedRecord | undefined {
  const seq = typeof line.seq === 'number' ? line.seq : undefined;
  const time = typeof line.t === 'number' ? line.t : undefined;
  const source = str(line.p);
  if (seq === undefined || time === undefined || source === undefined) return undefined;
  switch (line.k) {
    case 'state': {
      const address = str(line.a);
      const actorId = str(line.id);
      if (address === undefined || actorId === undefined) return undefined;
      return { kind: 'snapshot', seq, time, source, address, actorId, event: str(line.e) ?? '', state: line.s, ...(str(line.st) !== undefined ? { status: str(line.st)! } : {}) };
    }
    case 'machine': {
      const machine = str(line.m);
      if (machine === undefined || line.def === null || typeof line.def !== 'object') return undefined;
      return { kind: 'machine', seq, time, source, address: str(line.a) ?? '', actorId: str(line.id) ?? '', machine, definition: line.def as MachineDefinition };
    }
    case 'actor': {
      const address = str(line.a);
      const actorId = str(line.id);
      if (address === undefined || actorId === undefined) return undefined;
      const machine = str(line.m);
      const parent = str(line.parent);
      return { kind: 'actor', seq, time, source, address, actorId, ...(machine !== undefined ? { machine } : {}), ...(parent !== undefined ? { parent } : {}) };
    }
    case 'stats': {
      const address = str(line.a);
      if (address === undefined || line.stats === null || typeof line.stats !== 'object') return undefined;
      return { kind: 'stats', seq, time, source, address, actorId: str(line.id) ?? address, stats: line.stats as RoleStats };
    }
    default:
      return undefined;
  }
}

/** Whether a raw line may be one the console uses (cheap test before parsing it). */
export function mayBeViewLine(text: string): boolean {
  const at = text.indexOf('"k":"');
  if (at < 0) return false;
  const end = text.indexOf('"', at + 5);
  return VIEW_KINDS.has(text.slice(at + 5, end));
}

/** A whole trace's text as records (in the trace's order) and what was read. */
export function readTrace(text: string): { records: ObservedRecord[]; info: TraceInfo } {
  const info: TraceInfo = { lines: 0, records: 0, malformed: 0 };
  const records: ObservedRecord[] = [];
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const raw = text.slice(start, end).trim();
    start = end + 1;
    if (raw === '') continue;
    info.lines++;
    if (info.lines === 1 && raw.includes('"kind"')) {
      try {
        const h = JSON.parse(raw) as { name?: unknown; seed?: unknown };
        if (typeof h.name === 'string') info.name = h.name;
        if (typeof h.seed === 'number') info.seed = h.seed;
        continue;
      } catch {
        info.malformed++;
        continue;
      }
    }
    if (!mayBeViewLine(raw)) continue;
    let line: Line;
    try {
      line = JSON.parse(raw) as Line;
    } catch {
      info.malformed++;
      continue;
    }
    const rec = traceLineToRecord(line);
    if (rec !== undefined) records.push(rec);
  }
  info.records = records.length;
  return { records, info };
}
