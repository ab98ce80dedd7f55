/**
 * Every read the projection subsystem makes of the store, in one place: the records a runner
 * reads (all of `$all`, or its source streams merged in commit order with links resolved), the
 * bookkeeping streams read back at start (registry, definitions, checkpoints) and the tail of an
 * emitted stream read when recovering its writes.
 *
 * Store members read: `log`, `indexAtOrAfter`, `stream` (`events`, `pending`), `view`,
 * `resolveLink`, `lastEventNumber`, `lastPosition`, `onAppendAll`. (Writes go through
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
    let index = after < 0 ? 0 : store.indexAtOrAfter(after + 1)
    return {
      next: (max) => {
        const log = store.log
        const out: Array<SourceRecord> = []
        while (index < log.length && out.length < max) {
          const record = log[index++]!
          out.push({ record, event: record, link: undefined })
        }
        return out
      },
      caughtUp: () => index >= store.log.length,
      describe: () => undefined
    }
  }
  // each stream's next event number; a stream not written yet starts at 0
  const next = new Map<string, number>()
  for (const stream of plan.streams) {
    const events = store.stream(stream)?.events ?? []
    let lo = 0
    let hi = events.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (events[mid]!.position <= after) lo = mid + 1
      else hi = mid
    }
    next.set(stream, lo)
  }
  const head = (): EventRecord | undefined => {
    let best: EventRecord | undefined
    let bestStream: string | undefined
    for (const [stream, n] of next) {
      const record = store.stream(stream)?.events[n]
      if (record !== undefined && (best === undefined || record.position < best.position)) {
        best = record
        bestStream = stream
      }
    }
    if (bestStream !== undefined) next.set(bestStream, next.get(bestStream)! + 1)
    return best
  }
  const peek = () => {
    for (const [stream, n] of next) if (store.stream(stream)?.events[n] !== undefined) return true
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
  return view._tag === "Ok" ? view.entry.events.slice(view.first, view.last + 1) : []
}

/**
 * The events of a stream from the last backward, those not yet durable first (the writer's view:
 * what a recovering projection already wrote).
 *
 * @since 0.1.0
 * @category accessors
 */
export function* writtenBackward(store: Store, stream: string): Generator<EventRecord> {
  const entry = store.stream(stream)
  if (entry === undefined) return
  const pending = entry.pending?.events ?? []
  for (let i = pending.length - 1; i >= 0; i--) yield pending[i]!
  for (let i = entry.events.length - 1; i >= 0; i--) yield entry.events[i]!
}

/**
 * Was the stream ever written (durably or not)?
 *
 * @since 0.1.0
 * @category accessors
 */
export const wasWritten = (store: Store, stream: string): boolean =>
  store.lastEventNumber(stream) >= 0 || store.stream(stream)?.pending !== undefined

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
