/**
 * Every read the projection subsystem makes of the store, in one place: the records a runner
 * reads (all of `$all`, or its source streams merged in commit order with links resolved), the
 * bookkeeping streams read back at start (registry, definitions, checkpoints) and the tail of an
 * emitted stream read when recovering its writes.
 *
 * Store members read: `log` (its cursor), `eventPosition`, `event`, `decidedBackward`,
 * `hasDecidedEvents`, `view`, `resolveLink`, `lastEventNumber`, `lastPosition`, `onAppendAll`. (Writes go through
 * `Store.append` and `Store.softDelete`, in OutputWriter.ts, ProjectionRunner.ts and
 * ProjectionManager.ts.)
 *
 * @since 0.1.0
 */
import type { EventRecord, Store } from "../storage/Store.ts"

/**
 * One record a runner reads: the event, and the `$>` link it was read through (a stream source
 * resolves links, as a real node's StreamEventReader does with `resolveLinkTos: true`).
 *
 * @since 0.1.0
 * @category models
 */
export interface SourceRecord {
  /** The record at the cursor (the link itself when one was read). */
  readonly record: EventRecord
  /** The event handed to the engine: the link's target, or the record. */
  readonly event: EventRecord
  readonly link: EventRecord | undefined
}

/**
 * What a runner reads: all of `$all` in commit order, or the named streams (each read forward,
 * merged by commit position, links resolved).
 *
 * @since 0.1.0
 * @category models
 */
export type SourcePlan =
  | { readonly _tag: "All" }
  | { readonly _tag: "Streams"; readonly streams: ReadonlyArray<string> }

/**
 * A cursor over a {@link SourcePlan}, after a commit position.
 *
 * @since 0.1.0
 * @category models
 */
export interface SourceCursor {
  /** Up to `max` records after the cursor (fewer when caught up); the cursor moves past them. */
  readonly next: (max: number) => ReadonlyArray<SourceRecord>
  /** Is there nothing more to read now? */
  readonly caughtUp: () => boolean
  /**
   * Where a stream plan is, as a real node's `CheckpointTag.ToString` shows a stream tag
   * (`stream: n`, or `a: n; b: m; ` for several); undefined for `$all`.
   */
  readonly describe: () => string | undefined
}

/**
 * A cursor over the plan's records whose position is greater than `after` (−1: from the start).
 *
 * @since 0.1.0
 * @category constructors
 */
export const openCursor = (store: Store, plan: SourcePlan, after: number): SourceCursor => {
  if (plan._tag === "All") {
    // the log's one cursor (records hidden from `$all` are skipped there)
    const cursor = store.log.cursor(after < 0 ? 0 : store.log.indexAtOrAfter(after + 1))
    return {
      next: (max) => {
        const out: Array<SourceRecord> = []
        while (out.length < max) {
          const record = cursor.next()
          if (record === undefined) break
          out.push({ record, event: record, link: undefined })
        }
        return out
      },
      caughtUp: () => cursor.index >= store.log.length,
      describe: () => undefined
    }
  }
  // each stream's next event number; a stream not written yet starts at 0
  const next = new Map<string, number>()
  for (const stream of plan.streams) {
    let lo = 0
    let hi = store.lastEventNumber(stream) + 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (store.eventPosition(stream, mid)! <= after) lo = mid + 1
      else hi = mid
    }
    next.set(stream, lo)
  }
  const head = (): EventRecord | undefined => {
    // positions from the index: only the chosen event's body is read
    let best: number | undefined
    let bestStream: string | undefined
    for (const [stream, n] of next) {
      const position = store.eventPosition(stream, n)
      if (position !== undefined && (best === undefined || position < best)) {
        best = position
        bestStream = stream
      }
    }
    if (bestStream === undefined) return undefined
    const n = next.get(bestStream)!
    next.set(bestStream, n + 1)
    return store.event(bestStream, n)
  }
  const peek = () => {
    for (const [stream, n] of next) if (store.eventPosition(stream, n) !== undefined) return true
    return false
  }
  return {
    next: (max) => {
      const out: Array<SourceRecord> = []
      while (out.length < max) {
        const record = head()
        if (record === undefined) break
        if (record.eventType === "$>" && !record.isTombstone) {
          const target = store.resolveLink(record)
          out.push(target === undefined ? { record, event: record, link: undefined } : { record, event: target, link: record })
        } else {
          out.push({ record, event: record, link: undefined })
        }
      }
      return out
    },
    caughtUp: () => !peek(),
    describe: () => {
      const parts = [...next].map(([stream, n]) => `${stream}: ${n - 1}`)
      return parts.length === 1 ? parts[0] : parts.map((p) => `${p}; `).join("")
    }
  }
}

/**
 * The events of a stream a read would see now (none when missing or deleted).
 *
 * @since 0.1.0
 * @category accessors
 */
export const visibleEvents = (store: Store, stream: string): ReadonlyArray<EventRecord> => {
  const view = store.view(stream)
  if (view._tag !== "Ok") return []
  const events: Array<EventRecord> = []
  for (let n = view.first; n <= view.last; n++) {
    const event = view.event(n)
    if (event !== undefined) events.push(event)
  }
  return events
}

/**
 * The events of a stream from the last backward, those not yet durable first (the writer's view:
 * what a recovering projection already wrote).
 *
 * @since 0.1.0
 * @category accessors
 */
export function* writtenBackward(store: Store, stream: string): Generator<EventRecord> {
  yield* store.decidedBackward(stream)
}

/**
 * Was the stream ever written (durably or not)?
 *
 * @since 0.1.0
 * @category accessors
 */
export const wasWritten = (store: Store, stream: string): boolean => store.hasDecidedEvents(stream)

/**
 * Position of the last record of the log (the statistics' progress).
 *
 * @since 0.1.0
 * @category accessors
 */
export const lastPosition = (store: Store): number => store.lastPosition

/**
 * Calls `listener` after every write that added records to the log; answers the unsubscribe.
 *
 * @since 0.1.0
 * @category subscriptions
 */
export const onAppend = (store: Store, listener: () => void): () => void => store.onAppendAll(listener)
