/**
 * While a simulated run goes, code under simulation must take time, timers, randomness and files from its
 * Environment. The guard replaces `Date.now`, `Math.random`, `performance.now`, the global timers and the
 * file calls of `node:fs` with versions that note a leak when the project's own code under simulation calls
 * them directly (not a library, not the runner) and then do what the original does. A leak makes the run fail,
 * naming the call and the first project frame that made it. Restore puts the originals back.
 */
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

export interface SimGuard {
  /** One line per distinct leak: what was called, from where. */
  readonly leaks: string[];
  restore(): void;
}

/** Project code under simulation: the actors, the store, the transports and the ground layer. */
const WATCHED = /[/\\](actors|store|transports|core)[/\\][^/\\]+\.[jt]s/;

const FS_CALLS = ['openSync', 'readFileSync', 'writeFileSync', 'appendFileSync', 'writeSync', 'readSync', 'fsyncSync', 'mkdirSync', 'renameSync', 'unlinkSync', 'readdirSync', 'statSync', 'existsSync', 'open', 'readFile', 'writeFile'] as const;

let active: SimGuard | undefined;

export function guardSimulation(): SimGuard {
  if (active) return { leaks: [], restore: () => undefined }; // nested runs share the outer guard
  const leaks = new Set<string>();
  const restores: (() => void)[] = [];
  const note = (what: string): void => {
    // the direct caller only: a library that reads the clock for itself (XState notes when it scheduled a
    // delayed event) is not a leak, what the project's own code calls is
    const frame = new Error().stack?.split('\n')[3];
    if (frame !== undefined && !frame.includes('node_modules') && WATCHED.test(frame)) leaks.add(`simulation leak: ${what} called under the simulated Environment ${frame.trim()}`);
  };
  const wrap = <T extends object, K extends keyof T>(obj: T, key: K, what: string): void => {
    const original = obj[key];
    if (typeof original !== 'function') return;
    const wrapped = function (this: unknown, ...args: unknown[]) {
      note(what);
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    };
    Object.defineProperty(obj, key, { value: wrapped, configurable: true, writable: true });
    restores.push(() => Object.defineProperty(obj, key, { value: original, configurable: true, writable: true }));
  };
  wrap(Date, 'now', 'Date.now()');
  wrap(Math, 'random', 'Math.random()');
  wrap(performance, 'now', 'performance.now()');
  wrap(globalThis, 'setTimeout', 'setTimeout()');
  wrap(globalThis, 'setInterval', 'setInterval()');
  for (const name of FS_CALLS) wrap(fs, name, `fs.${name}()`);
  syncBuiltinESMExports();
  const guard: SimGuard = {
    get leaks() {
      return [...leaks];
    },
    restore() {
      if (active !== guard) return;
      for (const r of restores.reverse()) r();
      syncBuiltinESMExports();
      active = undefined;
    },
  };
  active = guard;
  return guard;
}
