/* Kills child processes when this process exits, so none outlives a run (real scenario runs, benchmarks, tests). */
import type { ChildProcess } from 'node:child_process';

/** Children still running; SIGKILLed when this process exits, so none outlives a failed bench or test run. */
const live = new Set<ChildProcess>();
let hooked = false;

/** Kills `child` when this process exits, unless it has exited by then. */
export function killOnExit(child: ChildProcess): void {
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const c of live) {
        try {
          c.kill('SIGKILL');
        } catch {
          // already gone: nothing to clean up
        }
      }
    });
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
  child.once('error', () => live.delete(child));
}
