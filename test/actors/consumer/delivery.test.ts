import { DeliveryBuffer, type Delivered } from '../../../actors/consumer/delivery.js';
import type { MessageExt } from '../../../core/message.js';

const msg = (i: number) => ({ msgId: `m${i}`, queueOffset: i }) as unknown as MessageExt;

function entries(n: number, acked: number[]): Delivered[] {
  return Array.from({ length: n }, (_, i) => ({ msg: msg(i), ack: () => acked.push(i) }));
}

describe('delivery buffer', () => {
  it('holds at most its capacity and lets a push wait for room', async () => {
    const buf = new DeliveryBuffer(2);
    const acked: number[] = [];
    let pushed = false;
    const p = buf.push(entries(5, acked), () => false).then(() => (pushed = true));
    await new Promise((r) => setImmediate(r));
    expect(buf.size).toBe(2);
    expect(pushed).toBe(false);
    const it = buf.iterator();
    const got: number[] = [];
    for (let i = 0; i < 5; i++) got.push((await it.next()).value.queueOffset);
    await p;
    expect(got).toEqual([0, 1, 2, 3, 4]);
    expect(acked).toEqual([0, 1, 2, 3, 4]);
    buf.close();
    expect((await it.next()).done).toBe(true);
  });

  it('hands messages to messages$ subscribers when nobody iterates, once each', async () => {
    const buf = new DeliveryBuffer(10);
    const acked: number[] = [];
    await buf.push(entries(3, acked), () => false);
    expect(acked).toEqual([]);
    const seen: number[] = [];
    const sub = buf.messages$.subscribe((m) => seen.push(m.queueOffset));
    expect(seen).toEqual([0, 1, 2]);
    expect(acked).toEqual([0, 1, 2]);
    sub.unsubscribe();
    buf.close();
  });

  it('close ends waiting readers and leaves buffered messages unacknowledged', async () => {
    const buf = new DeliveryBuffer(1);
    const acked: number[] = [];
    const p = buf.push(entries(3, acked), () => false);
    await new Promise((r) => setImmediate(r));
    buf.close();
    await p;
    expect(acked).toEqual([]);
    let done = false;
    buf.messages$.subscribe({ complete: () => (done = true) });
    expect(done).toBe(true);
  });
});
