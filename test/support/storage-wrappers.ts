/** Storage backends for tests that wrap another: every opened file passes through a wrapper, all else is the inner's. */
import type { SimClock } from '../../core/clock.js';
import type { StorageBackend, StorageFile } from '../../store/backend.js';

/** `inner`, each file it opens passed through `wrap` (which returns the file with some methods replaced). */
export function withFiles(inner: StorageBackend, wrap: (f: StorageFile) => StorageFile): StorageBackend {
  return {
    get kind() {
      return inner.kind;
    },
    get crashes() {
      return inner.crashes;
    },
    open: (p, o) => wrap(inner.open(p, o)),
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

/** A file that does what `f` does, except the methods in `over`. */
export function fileWith(f: StorageFile, over: Partial<StorageFile>): StorageFile {
  return {
    path: f.path,
    size: () => f.size(),
    read: (a, b) => f.read(a, b),
    write: (a, b) => f.write(a, b),
    truncate: (s) => f.truncate(s),
    close: () => f.close(),
    flush: () => f.flush(),
    ...over,
  };
}

/**
 * `inner` with file flushes that take `flushMs` of the simulated clock while `gate.slow` is set (as a real
 * disk's fsyncs take time); nothing else changes. Open the store with the gate off: opening flushes, with
 * nobody moving the clock.
 */
export function slowFlushStorage(inner: StorageBackend, clock: SimClock, flushMs: number, gate: { slow: boolean }): StorageBackend {
  return withFiles(inner, (f) => fileWith(f, { flush: () => (gate.slow ? new Promise<void>((r) => clock.setTimeout(r, flushMs)).then(() => f.flush()) : f.flush()) }));
}
