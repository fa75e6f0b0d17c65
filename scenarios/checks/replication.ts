/**
 * The `replication` check: after the drain every slave of a broker group with fixed roles holds its master's
 * whole commit log (the runner's `replication` op: each member's write offset, once they agree or the drain
 * time passed). A slave behind its master, ahead of it, or not answering is a violation.
 */
import type { CheckContext } from './context.js';

export function checkReplication(ctx: CheckContext): void {
  for (const r of ctx.model.replication) {
    const master = r.writeOffsets[r.master];
    for (const [process, offset] of Object.entries(r.writeOffsets)) {
      if (process === r.master || (offset !== null && offset === master)) continue;
      const held = offset === null ? 'did not answer' : `holds ${offset} bytes of commit log`;
      const of = master === null || master === undefined ? `its master ${r.master} did not answer` : `its master ${r.master} holds ${master}`;
      ctx.reporter.report('replication', `group ${r.group}: slave ${process} ${held} at ${r.time} ms (op ${r.op}) after the drain; ${of}`, [], [r.op]);
    }
  }
}
