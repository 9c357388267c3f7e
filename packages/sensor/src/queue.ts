/**
 * Bounded hand-off between the decoder and the consumer. When the consumer falls behind
 * the newest events are dropped and counted (per key), so a slow consumer costs events,
 * never memory. Drop-newest keeps what is already queued in order; the kernel ring buffer
 * in front of it drops the same way.
 */
export class BoundedQueue<T> {
  private readonly items: (T | undefined)[];
  private head = 0;
  private count = 0;
  private waiter: ((v: IteratorResult<T>) => void) | undefined;
  private closed = false;
  readonly dropped = new Map<string, number>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new Error(`queue capacity must be a positive integer, got ${capacity}`);
    this.items = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.count;
  }

  /** Returns false (and counts under `key`) when the item was dropped. */
  push(item: T, key: string): boolean {
    if (this.closed) return false;
    if (this.waiter) {
      // Someone is already waiting: hand over directly, the queue stays empty.
      const w = this.waiter;
      this.waiter = undefined;
      w({ value: item, done: false });
      return true;
    }
    if (this.count === this.capacity) {
      this.dropped.set(key, (this.dropped.get(key) ?? 0) + 1);
      return false;
    }
    this.items[(this.head + this.count) % this.capacity] = item;
    this.count++;
    return true;
  }

  /** Ends iteration once the queued items are consumed. */
  close(): void {
    this.closed = true;
    if (this.waiter && this.count === 0) {
      const w = this.waiter;
      this.waiter = undefined;
      w({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.count > 0) {
      const item = this.items[this.head] as T;
      this.items[this.head] = undefined;
      this.head = (this.head + 1) % this.capacity;
      this.count--;
      return Promise.resolve({ value: item, done: false });
    }
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    if (this.waiter) return Promise.reject(new Error('BoundedQueue supports one consumer at a time'));
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return { next: (): Promise<IteratorResult<T>> => this.next() };
  }
}
