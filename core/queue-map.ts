/**
 * Values by queue: by topic, then queue id, so that a look-up makes no `topic#queueId` key string (the store's
 * consume queues and the broker's held pulls are looked up for every batch; over thousands of queues the key
 * strings and their hashing were a few percent of a broker's time).
 */
export class QueueMap<T> {
  private readonly byTopic = new Map<string, Map<number, T>>();

  get(topic: string, queueId: number): T | undefined {
    return this.byTopic.get(topic)?.get(queueId);
  }

  set(topic: string, queueId: number, value: T): void {
    let queues = this.byTopic.get(topic);
    if (queues === undefined) this.byTopic.set(topic, (queues = new Map()));
    queues.set(queueId, value);
  }

  /** Removes the queue's value (and the topic's entry once it holds none). */
  delete(topic: string, queueId: number): void {
    const queues = this.byTopic.get(topic);
    if (queues === undefined) return;
    queues.delete(queueId);
    if (queues.size === 0) this.byTopic.delete(topic);
  }

  /** Every value, as an array (safe to change the map while going through it). */
  values(): T[] {
    const out: T[] = [];
    for (const queues of this.byTopic.values()) for (const v of queues.values()) out.push(v);
    return out;
  }

  clear(): void {
    this.byTopic.clear();
  }
}
