/**
 * Who is woken when records become readable: listeners of `$all` and of single streams, called
 * synchronously once a write is published.
 *
 * @since 0.1.0
 */

/**
 * A listener notified (synchronously, after a write becomes readable).
 *
 * @since 0.1.0
 * @category models
 */
export type StoreListener = () => void

/**
 * The listeners.
 *
 * @since 0.1.0
 * @category models
 */
export class StoreListeners {
  private readonly all = new Set<StoreListener>()
  private readonly byStream = new Map<string, Set<StoreListener>>()

  /** Notified after every write that added records to the log. */
  onAppendAll(listener: StoreListener): () => void {
    this.all.add(listener)
    return () => {
      this.all.delete(listener)
    }
  }

  /** Notified after every write to `stream` (including its tombstone). */
  onAppendStream(stream: string, listener: StoreListener): () => void {
    let set = this.byStream.get(stream)
    if (set === undefined) {
      set = new Set()
      this.byStream.set(stream, set)
    }
    set.add(listener)
    return () => {
      const s = this.byStream.get(stream)
      if (s === undefined) return
      s.delete(listener)
      if (s.size === 0) this.byStream.delete(stream)
    }
  }

  /** Number of registered listeners (for leak checks). */
  get count(): number {
    let n = this.all.size
    for (const s of this.byStream.values()) n += s.size
    return n
  }

  /** Wakes the listeners of the streams a write touched, and those of `$all`. */
  notify(streams: Iterable<string>): void {
    for (const stream of streams) {
      const set = this.byStream.get(stream)
      if (set !== undefined) for (const l of Array.from(set)) l()
    }
    for (const l of Array.from(this.all)) l()
  }
}
