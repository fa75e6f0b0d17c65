/**
 * The built `mq scenario` commands on small scenario files: run (with its trace, and checked for determinism),
 * replay of a trace, fuzz over a few seeds (and shrinking a failing one), and a scenario file that does not parse.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { hasScript, runMq, runMqInTerminal } from '../support/mq-process.js';

jest.setTimeout(60_000);

const FIRST_HOUR = resolve(__dirname, '..', '..', 'scenarios', 'files', 'first-hour.yaml');

/** A scenario that always fails: its only consumer never starts, so nothing acknowledged is delivered. */
const NEVER_CONSUMED = `
name: never-consumed
topology:
  brokers: [{ name: broker-a }]
  topics: [{ name: T, queues: 1 }]
  producers: [{ id: p1, group: pg }]
  consumers: [{ id: c1, group: cg, subscribe: { T: '*' }, start: never }]
workloads:
  - { producer: p1, topic: T, rate: 10, until: 1s }
checks: { drain: 2s }
fuzz: { faults: [skew, pause], maxFaults: 2, maxFaultMs: 1s }
`;

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mq-scenario-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('mq scenario run and replay', () => {
  it('runs a scenario, prints its verdict and summary, writes its trace, and replays it identically', async () => {
    const trace = join(dir, 'first-hour.jsonl');
    const run = await runMq(['scenario', 'run', FIRST_HOUR, '--seed', '3', '--trace', trace]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^OK: sends \d+/);
    expect(run.stdout).toMatch(/first-hour seed 3: ok, simulated [\d.]+ s in [\d.]+ s real, \d+ trace lines/);
    const header = JSON.parse(readFileSync(trace, 'utf8').split('\n')[0]!) as { kind: string; seed: number };
    expect(header).toMatchObject({ kind: 'scenario', seed: 3 });

    const replay = await runMq(['scenario', 'replay', trace]);
    expect(replay.code).toBe(0);
    expect(replay.stdout).toMatch(/replayed identically: \d+ trace lines match/);

    // a changed line is found and shown
    const lines = readFileSync(trace, 'utf8').split('\n');
    lines[4] = lines[4]!.replace(/"t":\d+/, '"t":123456');
    writeFileSync(trace, lines.join('\n'));
    const changed = await runMq(['scenario', 'replay', trace]);
    expect(changed.code).toBe(1);
    expect(changed.stdout).toMatch(/diverges from .* at trace line 5:\n {2}trace : .*"t":123456.*\n {2}replay: /);
  });

  it('checks determinism by running twice', async () => {
    const r = await runMq(['scenario', 'run', FIRST_HOUR, '--check-determinism']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/deterministic: two runs gave the same \d+ trace lines/);
  });

  it('fails a failing scenario and prints the command that replays it', async () => {
    const file = join(dir, 'never.yaml');
    writeFileSync(file, NEVER_CONSUMED);
    const r = await runMq(['scenario', 'run', file, '--seed', '7']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAILED \(\d+ violations?\)/);
    expect(r.stdout).toContain(`replay: mq scenario run ${file} --seed 7`);
  });

  it('ends a scenario file that does not parse with exit code 2, naming the field path', async () => {
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, readFileSync(FIRST_HOUR, 'utf8').replace('flush: sync', 'flush: sometimes'));
    for (const cmd of ['run', 'fuzz']) {
      const r = await runMq(['scenario', cmd, file, ...(cmd === 'fuzz' ? ['--seeds', '1'] : [])]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^mq: .*broken\.yaml: not a valid scenario: topology\.brokers\[0\]\.flush: /);
    }
    const missing = await runMq(['scenario', 'replay', join(dir, 'nothing.jsonl')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^mq: cannot read .*nothing\.jsonl/);
  });
});

describe('mq scenario fuzz', () => {
  it('runs each seed with a drawn schedule and sums up', async () => {
    const r = await runMq(['scenario', 'fuzz', FIRST_HOUR, '--seeds', '3'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^3 seeds \(1\.\.3\) of first-hour: 0 failed, simulated [\d.]+ s in [\d.]+ s real$/m);
    expect(existsSync(join(dir, 'scenario-failures'))).toBe(false);
  });

  (hasScript() ? it : it.skip)('draws a progress bar of seeds and failures on a terminal', async () => {
    const r = await runMqInTerminal(['scenario', 'fuzz', FIRST_HOUR, '--seeds', '2', '--from', '4'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/seeds \[.*\] 100% \| 2\/2 \| [\d.]+ seeds\/s \| ETA .* \| 0 failed/);
  });

  it('writes the trace of a failing seed, shrinks its schedule and prints the commands that replay them', async () => {
    const file = join(dir, 'never.yaml');
    writeFileSync(file, NEVER_CONSUMED);
    const r = await runMq(['scenario', 'fuzz', file, '--seeds', '1', '--from', '5', '--shrink', '--trace-dir', 'out'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^seed 5: lost: p1-1 /m);
    expect(r.stdout).toMatch(/^seed 5: shrunk from 2 steps to 0 steps in 1 run; it still fails with:\ntimeline: \[\]$/m);
    expect(r.stdout).toContain('failing seeds:\n  seed 5: mq scenario replay out/never-consumed-5.jsonl');
    expect(r.stdout).toContain('mq scenario replay out/never-consumed-5-shrunk.jsonl');
    const replay = await runMq(['scenario', 'replay', 'out/never-consumed-5.jsonl'], { cwd: dir });
    expect(replay.stdout).toMatch(/replayed identically/);
    expect(replay.code).toBe(1); // the checker fails it again
  });
});
