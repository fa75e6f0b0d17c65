import { applyRecord, emptyView } from '../../observe/cluster-view.js';
import { formatAge, formatBytes, renderScreen } from '../../observe/terminal-screen.js';
import { brokerStats, rec } from './records.js';

describe("mq observe's screen", () => {
  const view = emptyView();
  for (const r of [
    rec.actor('p1', 1000, 'broker.broker-a.0', 'broker'),
    rec.snapshot('p1', 1000, 'broker.broker-a.0', 'xstate.init', 'serving'),
    rec.actor('p1', 1000, 'broker.broker-a.0', undefined, '0.broker.serving'),
    rec.actor('p2', 1100, 'namesrv.ns-1', 'namesrv'),
    rec.snapshot('p2', 1200, 'namesrv.ns-1', 'frame', 'serving'),
    rec.stats('p1', 2000, 'broker.broker-a.0', brokerStats()),
  ])
    applyRecord(view, r);

  it('lists hosted actors (children with --all) and the brokers with offsets and dispatch lag', () => {
    const lines = renderScreen(view, { width: 200, now: 3200, title: 'mq observe test', dropped: { p1: 2, p2: 1 } });
    expect(lines[0]).toMatch(/^mq observe test · 2 actors in 2 processes · dropped 3 · /);
    expect(lines.join('\n')).toMatch(/broker\.broker-a\.0 +broker +serving +xstate\.init +2\.2s +p1/);
    expect(lines.join('\n')).toMatch(/namesrv\.ns-1 +namesrv +serving +frame +2\.0s +p2/);
    expect(lines.join('\n')).not.toContain('0.broker.serving');
    // write 10,000, flushed 9,000, dispatched 8,000: 2,000 bytes to index
    expect(lines.join('\n')).toMatch(/broker-a\/0 +master +ok +10,000 +9,000 +2\.0 KiB +- /);
    // its requests, by code (they bypass its machine)
    expect(lines.at(-1)).toBe('broker-a/0 requests: SEND_MESSAGE 100 · PULL_MESSAGE 10');
    expect(renderScreen(view, { width: 200, now: 3200, title: 't', all: true }).join('\n')).toMatch(/^ {2}0\.broker\.serving/m);
  });

  it('fits the terminal: lines cut to its width, actors past its height summed up in one line', () => {
    const lines = renderScreen(view, { width: 30, height: 9, now: 3200, title: 'mq observe a very long title indeed' });
    expect(lines.every((l) => l.length <= 30)).toBe(true);
    expect(lines[0]!.endsWith('…')).toBe(true);
    expect(renderScreen(view, { width: 200, height: 9, now: 3200, title: 't' })).toHaveLength(9); // fits as it is
    const short = renderScreen(view, { width: 200, height: 8, now: 3200, title: 't' });
    expect(short).toHaveLength(8);
    expect(short.join('\n')).toMatch(/… \d+ more actors/);
  });

  it('says ages and sizes the short way', () => {
    expect([formatAge(250), formatAge(12_400), formatAge(184_000), formatAge(7_500_000)]).toEqual(['0.3s', '12s', '3m04s', '2h05m']);
    expect([formatBytes(512), formatBytes(2048), formatBytes(5 * 1024 ** 3)]).toEqual(['512 B', '2.0 KiB', '5.0 GiB']);
  });
});
