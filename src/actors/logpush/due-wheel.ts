/**
 * Items (Logpush's job deliveries) filed by when their open object is due, in ticks of `tickMs`:
 * the interval timer takes only the items due, never walks every job with an open object. With
 * 100,000 jobs holding objects, walking them all every 50 ms was ~2 s of Logpush's ~38 s in
 * bench/scale; filing is O(1) per batch and taking is O(due items + ticks elapsed).
 *
 * An item sits in at most one tick; `file` moves it (or removes it, for no deadline). Memory: one
 * map entry per item with an open object, and one set per tick that has any.
 */
export class DueWheel<T> {
  private readonly ticks = new Map<number, Set<T>>();
  private readonly tickOf = new Map<T, number>();
  /** The lowest tick that may hold items; +Infinity when none does. */
  private cursor = Number.POSITIVE_INFINITY;

  constructor(private readonly tickMs: number) {
    if (!(tickMs > 0)) throw new RangeError(`tickMs must be > 0, got ${tickMs}`);
  }

  /** Items filed. */
  get size(): number {
    return this.tickOf.size;
  }

  /** Files `item` as due at `deadline` (ms; rounded up to its tick), or removes it when undefined. */
  file(item: T, deadline: number | undefined): void {
    const tick = deadline === undefined ? undefined : Math.ceil(deadline / this.tickMs);
    const old = this.tickOf.get(item);
    if (old === tick) return;
    if (old !== undefined) {
      const set = this.ticks.get(old)!;
      set.delete(item);
      if (set.size === 0) this.ticks.delete(old);
    }
    if (tick === undefined) {
      this.tickOf.delete(item);
      return;
    }
    this.tickOf.set(item, tick);
    let set = this.ticks.get(tick);
    if (set === undefined) this.ticks.set(tick, (set = new Set()));
    set.add(item);
    if (tick < this.cursor) this.cursor = tick;
  }

  /**
   * Removes every item due at or before `now`, then calls `visit` on each in tick order; `visit`
   * may file an item again (one filed at a tick already past waits for the next call).
   */
  takeDue(now: number, visit: (item: T) => void): void {
    const last = Math.floor(now / this.tickMs);
    let due: T[] | undefined;
    while (this.cursor <= last) {
      const set = this.ticks.get(this.cursor);
      if (set !== undefined) {
        this.ticks.delete(this.cursor);
        due ??= [];
        for (const item of set) {
          this.tickOf.delete(item);
          due.push(item);
        }
      }
      this.cursor = this.ticks.size === 0 ? Number.POSITIVE_INFINITY : this.cursor + 1;
    }
    if (due !== undefined) for (const item of due) visit(item);
  }
}
