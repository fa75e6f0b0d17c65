/**
 * The `replication` check: after the drain every slave of a broker group holds its master's whole commit log
 * (the runner's `replication` op: each member's write offset, once they agree or the drain time passed). A
 * slave behind its master, ahead of it, or not answering is a violation. Under a controller (the op carries each
 * member's epoch) the group must also have one master, whose epoch every member is in.
 */
import type { CheckContext } from './context.js';

export function checkReplication(ctx: CheckContext): void {
  for (const r of ctx.model.replication) {
    if (r.epochs !== undefined && r.master === '') {
      const seen = Object.entries(r.epochs).map(([p, e]) => `${p} epoch ${e === null ? '?' : e} at ${r.writeOffsets[p] ?? '?'}`);
      ctx.reporter.report('replication', `group ${r.group}: no one master at ${r.time} ms (op ${r.op}) after the drain (${seen.join(', ')})`, [], [r.op]);
      continue;
    }
    const master = r.writeOffsets[r.master];
    const epoch = r.epochs?.[r.master];
    for (const [process, offset] of Object.entries(r.writeOffsets)) {
      if (process === r.master) continue;
      const e = r.epochs?.[process];
      if (r.epochs !== undefined && e !== epoch) {
        ctx.reporter.report('replication', `group ${r.group}: ${process} is in epoch ${e ?? '?'} at ${r.time} ms (op ${r.op}) after the drain; its master ${r.master} is in epoch ${epoch ?? '?'}`, [], [r.op]);
        continue;
      }
      if (offset !== null && offset === master) continue;
      const held = offset === null ? 'did not answer' : `holds ${offset} bytes of commit log`;
      const of = master === null || master === undefined ? `its master ${r.master} did not answer` : `its master ${r.master} holds ${master}`;
      ctx.reporter.report('replication', `group ${r.group}: slave ${process} ${held} at ${r.time} ms (op ${r.op}) after the drain; ${of}`, [], [r.op]);
    }
  }
}
