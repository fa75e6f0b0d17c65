/**
 * Serializes writes of one configuration file and coalesces bursts: while a write runs, any number of
 * requests become one more write after it, which captures the latest state. `save()` resolves once a write
 * that started after the call has finished (so its caller's change is on storage) and rejects with that
 * write's error.
 */
export class Persister {
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(private readonly write: () => Promise<void>) {}

  save(): Promise<void> {
    if (this.next) return this.next;
    if (!this.running) {
      this.running = this.run();
      return this.running;
    }
    const after = this.running.catch(() => undefined);
    this.next = after.then(() => {
      this.next = undefined;
      this.running = this.run();
      return this.running;
    });
    return this.next;
  }

  private async run(): Promise<void> {
    try {
      await this.write();
    } finally {
      this.running = undefined;
    }
  }
}
