import type { SimClock } from '../../core/clock.js';
import type { StorageBackend } from '../../store/backend.js';

/**
 * `inner` with file flushes that take `flushMs` of the simulated clock while `gate.slow` is set (as a real
 * disk's fsyncs take time); nothing else changes. Open the store with the gate off: opening flushes, with
 * nobody moving the clock.
 */
export function slowFlushStorage(inner: StorageBackend, clock: SimClock, flushMs: number, gate: { slow: boolean }): StorageBackend {
  return {
    kind: inner.kind,
    open: (p, o) => {
      const f = inner.open(p, o);
      return {
        path: f.path,
        size: () => f.size(),
        read: (a, b) => f.read(a, b),
        write: (a, b) => f.write(a, b),
        truncate: (s) => f.truncate(s),
        close: () => f.close(),
        flush: () => (gate.slow ? new Promise<void>((r) => clock.setTimeout(r, flushMs)).then(() => f.flush()) : f.flush()),
      };
    },
    list: (d) => inner.list(d),
    stat: (p) => inner.stat(p),
    exists: (p) => inner.exists(p),
    mkdir: (d) => inner.mkdir(d),
    remove: (p) => inner.remove(p),
    rename: (a, b) => inner.rename(a, b),
    flushDir: (d) => inner.flushDir(d),
    usage: (p) => inner.usage(p),
    lock: (p) => inner.lock(p),
  };
}
