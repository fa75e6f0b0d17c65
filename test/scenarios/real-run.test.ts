/**
 * Scenarios on real processes and real time (`mq scenario run FILE --real`): first-hour.yaml through the built
 * command line (the broker's crash is a SIGKILL, its restart a new process on the same store; nothing of the
 * run is left: no process, no temp dir), and a broker cut off from its name server for 3 s by its proxy, run
 * in this process, which still passes; a fault real runs do not have is recorded as skipped.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { formatVerdict } from '../../scenarios/checker.js';
import type { HistoryOp } from '../../scenarios/history.js';
import { runRealScenario } from '../../scenarios/real/real-runner.js';
import { parseScenario } from '../../scenarios/scenario-file.js';
import { MQ_BIN, runMq } from '../support/mq-process.js';

const FIRST_HOUR = resolve(__dirname, '..', '..', 'scenarios', 'files', 'first-hour.yaml');

/** Whether a process runs (a zombie counts as gone: it runs nothing). */
function running(pid: number): boolean {
  if (existsSync('/proc')) {
    try {
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Pids of running processes whose command line names `text` (Linux; none elsewhere). */
function processesNaming(text: string): number[] {
  if (!existsSync('/proc')) return [];
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text) && running(Number(entry))) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

interface TraceLine {
  k: string;
  p?: string;
  pid?: number;
  f?: string;
  v?: Record<string, unknown>;
}

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mq-real-test-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('mq scenario run --real', () => {
  it('runs first-hour.yaml on real processes: it passes, the crash is a SIGKILL and the restart a new process, nothing is left', async () => {
    const runTmp = mkdtempSync(join(dir, 'tmp-'));
    const tracePath = join(dir, 'first-hour-real.jsonl');
    const run = await runMq(['scenario', 'run', FIRST_HOUR, '--real', '--seed', '3', '--trace', tracePath], { env: { TMPDIR: runTmp }, timeoutMs: 55_000 });
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/^OK: sends \d+/);
    expect(run.stdout).toMatch(/first-hour seed 3 \(real\): ok, [\d.]+ s real, 3 processes spawned, \d+ history ops/);
    expect(run.code).toBe(0);

    const lines = readFileSync(tracePath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as TraceLine);
    expect(lines[0]).toMatchObject({ kind: 'real-scenario', seed: 3 });
    const spawns = lines.filter((l) => l.k === 'spawn');
    const brokers = spawns.filter((l) => l.p === 'broker-a').map((l) => l.pid);
    expect(brokers).toHaveLength(2);
    const nemesis = lines.filter((l) => l.k === 'op' && l.p === 'nemesis');
    expect(nemesis.map((l) => l.f)).toEqual(['crash', 'restart']);
    expect(nemesis[0]!.v).toMatchObject({ target: 'broker-a', signal: 'SIGKILL', pid: brokers[0] });
    expect(nemesis[1]!.v).toMatchObject({ target: 'broker-a', pid: brokers[1] });

    // nothing of the run is left: no process, no temp dir (nats-server's and the brokers' stores were in runTmp)
    for (const s of spawns) expect({ process: s.p, pid: s.pid, running: running(s.pid!) }).toEqual({ process: s.p, pid: s.pid, running: false });
    expect(processesNaming(runTmp)).toEqual([]);
    expect(readdirSync(runTmp)).toEqual([]);
  }, 60_000);

  it('a broker cut off from its name server for 3 s by its proxy: the run still passes; a drop rate is recorded as skipped', async () => {
    const s = parseScenario(
      `
name: broker-cut-off
topology:
  brokers: [{ name: broker-a, flush: sync }]
  topics: [{ name: T, queues: 2 }]
  producers: [{ id: p1, group: pg }]
  consumers: [{ id: c1, group: cg, subscribe: { T: '*' } }]
workloads:
  - { producer: p1, topic: T, rate: 20, until: 5s }
timeline:
  - { at: 1s, do: partition, kind: sides, sides: [[broker-a], [ns-1]], for: 3s }
  - { at: 2s, do: drop, rate: 0.5, for: 1s }
checks: { drain: 40s }
`,
      'broker-cut-off.yaml',
    );
    const r = await runRealScenario(s, { entry: MQ_BIN });
    expect({ errors: r.errors, verdict: r.verdict.ok ? 'OK' : formatVerdict(r.verdict, 5) }).toEqual({ errors: [], verdict: 'OK' });
    expect(r.verdict.stats.acked).toBeGreaterThan(0);
    expect(r.verdict.stats.uniqueDelivered).toBeGreaterThanOrEqual(r.verdict.stats.acked); // and ambiguous sends that were stored
    // the cut was real: sends while the broker was off NATS were not acknowledged
    expect(r.verdict.stats.acked).toBeLessThan(r.verdict.stats.sends);
    expect(r.history.some((op) => op.f === 'send' && op.type !== 'ok' && op.type !== 'invoke' && op.time > 1000 && op.time < 4000)).toBe(true);

    const faults = r.history.filter((op: HistoryOp) => op.process === 'nemesis');
    expect(faults.map((op) => op.f)).toEqual(['partition', 'drop', 'heal']);
    expect(faults[0]!.value).toMatchObject({ cut: ['broker-a'] });
    expect(faults[1]!.value).toMatchObject({ skipped: true });
    expect(r.skipped).toEqual([expect.stringMatching(/^drop: /)]);
    expect(faults[2]!.time - faults[0]!.time).toBeGreaterThanOrEqual(3000);

    expect(r.spawned.map((x) => x.process).sort()).toEqual(['broker-a', 'ns-1']);
    for (const x of r.spawned) expect(running(x.pid)).toBe(false);
  }, 60_000);
});
