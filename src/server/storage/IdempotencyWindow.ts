/**
 * The event ids the writer remembers for idempotent retries with `any` / `stream_exists`
 * (PROTOCOL.md §1): the last `size` durable ones, by a 30-bit hash of the id → their `$all`
 * index (no object per id: a million ids cost a few MB); a hash hit is checked against the record
 * itself by the caller. (Ids decided and not yet durable are found among their stream's pending
 * writes.) A real node likewise keeps a
 * bounded cache of recently committed ids (IndexWriter's `_committedEvents`, 8 MiB:
 * `ESConsts.CommitedEventsMemCacheLimit`), not every id ever written.
 *
 * @since 0.1.0
 */

/**
 * Default number of durable ids remembered.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_IDEMPOTENCY_WINDOW = 100_000

const hashOf = (id: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193)
  return h & 0x3fffffff
}

/**
 * The window.
 *
 * @since 0.1.0
 * @category models
 */
export class IdempotencyWindow {
  private readonly byHash = new Map<number, number>()
  private readonly ringHashes: Int32Array
  private readonly ringIndexes: Int32Array
  private ringAt = 0
  /** Durable ids remembered. */
  readonly size: number

  constructor(size: number = DEFAULT_IDEMPOTENCY_WINDOW) {
    this.size = Math.max(0, size)
    this.ringHashes = new Int32Array(this.size)
    this.ringIndexes = new Int32Array(this.size).fill(-1)
  }

  /** An id made durable as record `index` of `$all` (the oldest leaves the window). */
  durable(eventId: string, index: number): void {
    if (this.size === 0) return
    const slot = this.ringAt
    const old = this.ringIndexes[slot]!
    if (old >= 0 && this.byHash.get(this.ringHashes[slot]!) === old) this.byHash.delete(this.ringHashes[slot]!)
    const hash = hashOf(eventId)
    this.ringHashes[slot] = hash
    this.ringIndexes[slot] = index
    this.ringAt = slot + 1 === this.size ? 0 : slot + 1
    this.byHash.set(hash, index)
  }

  /** The `$all` index of a durable record that may have this id (check its id), if any. */
  find(eventId: string): number | undefined {
    return this.byHash.get(hashOf(eventId))
  }
}
