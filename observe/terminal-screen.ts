/**
 * `mq observe`'s screen: a table of every actor of the cluster (machine, state, last event, age), then one of the
 * brokers (commit log max and flushed offsets, dispatch lag, replication role and lag), as lines of text fitted to
 * the terminal's width and height. Pure: the command redraws it in place.
 */
import type { ClusterView } from './cluster-view.js';
import { actorRows, brokerRows, requestRows, type ActorRow } from './view-rows.js';

export interface ScreenOptions {
  /** Terminal columns and rows (rows: no limit when absent). */
  width: number;
  height?: number;
  /** Now, for ages. */
  now: number;
  /** What is watched (the first line). */
  title: string;
  /** Child actors (invoked promises, tickers) too, indented under their hosted actor. */
  all?: boolean;
  /** Records each publisher dropped. */
  dropped?: Record<string, number>;
}

/** `1.2s`, `3m04s`, `2h05m`. */
export function formatAge(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.floor(s)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** 1234567 -> `1,234,567`. */
const n = (x: number | undefined): string => (x === undefined ? '-' : Math.round(x).toLocaleString('en-US'));

/** `12.3 MiB` for byte counts. */
export function formatBytes(b: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = b;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${b} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** Columns laid out to the widest cell (the last column takes what is left), cut to `width`. */
function table(header: string[], rows: string[][], width: number): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cut(cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  '), width);
  return [line(header), ...rows.map(line)];
}

const cut = (s: string, width: number): string => (s.length <= width ? s : `${s.slice(0, Math.max(0, width - 1))}…`);

function actorCells(r: ActorRow, now: number): string[] {
  const name = r.root ? r.address : `  ${r.actorId}`;
  return [name, r.machine ?? '', r.state, r.lastEvent ?? '', formatAge(now - r.lastTime), r.source];
}

/** Per broker, one line of its busiest request codes and their rates (its requests bypass its machine). */
function requestLines(view: ClusterView, width: number): string[] {
  const byBroker = new Map<string, string[]>();
  for (const r of requestRows(view)) {
    let parts = byBroker.get(r.broker);
    if (parts === undefined) byBroker.set(r.broker, (parts = []));
    parts.push(`${r.code} ${n(r.total)}${r.tps === undefined ? '' : ` (${n(r.tps)}/s)`}`);
  }
  return [...byBroker].map(([broker, parts]) => cut(`${broker} requests: ${parts.join(' · ')}`, width));
}

export function renderScreen(view: ClusterView, o: ScreenOptions): string[] {
  const actors = actorRows(view).filter((r) => o.all === true || r.root);
  const roots = actors.filter((r) => r.root);
  const sources = new Set(roots.map((r) => r.source));
  const dropped = Object.values(o.dropped ?? {}).reduce((a, b) => a + b, 0);
  const head = cut(`${o.title} · ${roots.length} actors in ${sources.size} processes · dropped ${dropped} · ${new Date(o.now).toISOString().slice(11, 19)}`, o.width);

  const brokers = brokerRows(view);
  const brokerLines =
    brokers.length === 0
      ? []
      : [
          '',
          ...table(
            ['BROKER', 'ROLE', 'HEALTH', 'MAX OFFSET', 'FLUSHED', 'DISPATCH LAG', 'REPL LAG', 'IN/S', 'REQ/S'],
            brokers.map((b) => [
              `${b.brokerName}/${b.brokerId}`,
              b.epoch !== undefined ? `${b.role} e${b.epoch}` : b.role,
              b.health,
              n(b.writeOffset),
              n(b.flushedOffset),
              formatBytes(Math.max(0, b.writeOffset - b.dispatched)),
              b.replicationLag === undefined ? '-' : formatBytes(b.replicationLag),
              n(b.inTps),
              n(b.requestTps),
            ]),
            o.width,
          ),
          ...requestLines(view, o.width),
        ];

  let actorLines = table(['ACTOR', 'MACHINE', 'STATE', 'LAST EVENT', 'AGE', 'PROCESS'], actors.map((r) => actorCells(r, o.now)), o.width);
  if (o.height !== undefined) {
    const room = Math.max(2, o.height - 2 - brokerLines.length); // the title and a blank line above
    if (actorLines.length > room) actorLines = [...actorLines.slice(0, room - 1), `… ${actorLines.length - room + 1} more actors (a taller terminal shows them)`];
  }
  return [head, '', ...actorLines, ...brokerLines];
}
