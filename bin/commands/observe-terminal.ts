/* `mq observe` in a terminal: the live table redrawn in place, or (--json) one JSON line per record. */
import type { LiveSource, ObservedRecord } from '../../observe/source.js';
import { applyRecord, emptyView } from '../../observe/cluster-view.js';
import { renderScreen } from '../../observe/terminal-screen.js';

export interface TerminalOptions {
  title: string;
  json: boolean;
  /** Child actors too. */
  all: boolean;
  /** Redraw interval (ms). */
  redrawMs: number;
}

const ESC = '\x1b[';

/**
 * Watches `source` until `stopped` resolves. A terminal gets the table redrawn in place (cursor home, each line
 * cleared to its end, the rest of the screen cleared); a pipe gets the table once per redraw, separated by a
 * blank line; --json prints every record as one line.
 */
export async function watchInTerminal(source: LiveSource, o: TerminalOptions, stopped: Promise<unknown>): Promise<void> {
  const write = (s: string): boolean => process.stdout.write(s);
  if (o.json) {
    const print = (r: ObservedRecord): void => void write(`${JSON.stringify(r)}\n`);
    source.snapshot().forEach(print);
    const sub = source.records$.subscribe({ next: print, error: (err: unknown) => process.stderr.write(`mq observe: ${err instanceof Error ? err.message : String(err)}\n`) });
    await stopped;
    sub.unsubscribe();
    return;
  }
  const view = emptyView();
  for (const r of source.snapshot()) applyRecord(view, r);
  let failure: string | undefined;
  let lastRecord = 0;
  const sub = source.records$.subscribe({
    next: (r) => {
      applyRecord(view, r);
      lastRecord = Date.now();
    },
    error: (err: unknown) => (failure = err instanceof Error ? err.message : String(err)),
  });
  // the first screen waits for the processes' snapshots: until records stop coming for a moment (at most 1.5 s)
  const started = Date.now();
  while (Date.now() - started < 1500 && (lastRecord === 0 || Date.now() - lastRecord < 200)) {
    if (await Promise.race([stopped.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 50))])) break;
  }
  const tty = process.stdout.isTTY === true;
  const draw = (): void => {
    const lines = renderScreen(view, {
      // a terminal that does not say its size (0) is taken as 120 columns, unbounded rows
      width: tty && process.stdout.columns > 0 ? process.stdout.columns : tty ? 120 : 200,
      ...(tty && process.stdout.rows > 0 ? { height: process.stdout.rows - 1 } : {}),
      now: Date.now(),
      title: failure === undefined ? o.title : `${o.title} · ${failure}`,
      all: o.all,
      dropped: source.dropped(),
    });
    if (tty) write(`${ESC}H${lines.map((l) => `${l}${ESC}K`).join('\n')}\n${ESC}J`);
    else write(`${lines.join('\n')}\n\n`);
  };
  if (tty) write(`${ESC}?25l${ESC}2J`); // hide the cursor, clear once
  draw();
  const timer = setInterval(draw, o.redrawMs);
  try {
    await stopped;
  } finally {
    clearInterval(timer);
    sub.unsubscribe();
    if (tty) write(`${ESC}?25h`);
  }
}
