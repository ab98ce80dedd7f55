/**
 * The producers behind `Streams.Read`: stream and `$all` reads in both directions and catch-up/live
 * subscriptions, each a generator of pre-encoded `ReadResp` messages that the response sink drives
 * with backpressure. A live subscription keeps only a cursor into the log.
 *
 * @since 0.1.0
 */
import { streamDeleted } from "../errors.ts"
import { type CompiledFilter } from "../Filters.ts"
import { IDLE, type Producer } from "../transport/ResponseSink.ts"
import {
  caughtUpResp,
  checkpointResp,
  confirmationResp,
  eventResp,
  firstStreamPositionResp,
  lastStreamPositionResp,
  resolvedResp,
  streamNotFoundResp,
  type UuidMode
} from "../codec/ReadEncoding.ts"
import type { EventRecord, Store } from "../storage/Store.ts"
import { newUuid } from "../codec/Uuid.ts"

const encodeRecord = (store: Store, record: EventRecord, resolveLinks: boolean, mode: UuidMode): Buffer =>
  resolveLinks && record.eventType === "$>" ? resolvedResp(store.resolveLink(record), record, mode) : eventResp(record, mode)

/** Reads a stream forwards from a revision, up to `count` events. */
export function* readStreamForwards(
  store: Store,
  name: string,
  nameBytes: Buffer,
  from: number,
  count: number,
  resolveLinks: boolean,
  compatibility: number,
  mode: UuidMode
): Producer {
  const view = store.view(name)
  if (view._tag === "Deleted") throw streamDeleted(name)
  if (view._tag === "NoStream") {
    yield streamNotFoundResp(nameBytes)
    return
  }
  const { event, last, first, minCreatedMs } = view
  if (compatibility >= 1 && count > 0) {
    // what the first 32-event page of the real reader returns when it is empty
    const pageEnd = from + Math.min(32, count) - 1
    let next: number | undefined
    if (from > last) next = last + 1
    else if (pageEnd < first) next = first
    else if (Math.max(from, first) > last) next = last + 1
    if (next !== undefined && next !== from) yield firstStreamPositionResp(next)
  }
  let sent = 0
  for (let n = Math.max(from, first); n <= last && sent < count; n++) {
    const record = event(n)
    // undefined: dropped by a scavenge since the view was taken
    if (record === undefined || record.createdMs < minCreatedMs) continue
    sent++
    yield encodeRecord(store, record, resolveLinks, mode)
  }
  if (compatibility >= 1) yield lastStreamPositionResp(last)
}

/** Reads a stream backwards from a revision, up to `count` events. */
export function* readStreamBackwards(
  store: Store,
  name: string,
  nameBytes: Buffer,
  from: number,
  count: number,
  resolveLinks: boolean,
  compatibility: number,
  mode: UuidMode
): Producer {
  const view = store.view(name)
  if (view._tag === "Deleted") throw streamDeleted(name)
  if (view._tag === "NoStream") {
    yield streamNotFoundResp(nameBytes)
    return
  }
  const { event, last, first, minCreatedMs } = view
  let sent = 0
  for (let n = Math.min(from, last); n >= first && sent < count; n--) {
    const record = event(n)
    // undefined: dropped by a scavenge since the view was taken
    if (record === undefined || record.createdMs < minCreatedMs) continue
    sent++
    yield encodeRecord(store, record, resolveLinks, mode)
  }
  if (compatibility >= 1) yield lastStreamPositionResp(last)
}

/** Reads `$all` (filtered) in either direction from a position, up to `count` events. */
export function* readAll(
  store: Store,
  startIndex: number,
  direction: "forwards" | "backwards",
  count: number,
  resolveLinks: boolean,
  filter: CompiledFilter | undefined,
  mode: UuidMode
): Producer {
  const cursor = store.log.cursor(startIndex, direction)
  const matches = filter?.matches
  let sent = 0
  while (sent < count) {
    const record = cursor.next()
    if (record === undefined) return
    if (matches !== undefined && !matches(record)) continue
    sent++
    yield encodeRecord(store, record, resolveLinks, mode)
  }
}

/** Where a subscription starts: the beginning, the end, or after a revision/position. */
export type SubscriptionStart =
  | { readonly _tag: "Start" }
  | { readonly _tag: "End" }
  | { readonly _tag: "At"; readonly value: number }

/** A catch-up subscription to one stream, live once caught up. */
export function* streamSubscription(
  store: Store,
  name: string,
  start: SubscriptionStart,
  resolveLinks: boolean,
  mode: UuidMode
): Producer {
  yield confirmationResp(newUuid())
  if (store.isTombstoned(name)) throw streamDeleted(name)
  // the event number most recently sent (or the exclusive start): caught_up reports it
  let checkpoint = start._tag === "Start" ? -1 : start._tag === "End" ? store.lastEventNumber(name) : start.value
  let cursor = checkpoint + 1
  let caughtUp = false
  const send = function*(record: EventRecord): Producer {
    yield encodeRecord(store, record, resolveLinks, mode)
    checkpoint = record.eventNumber
    // like the real enumerator: a `$streamDeleted` event ends the subscription
    if (record.eventType === "$streamDeleted") throw streamDeleted(name)
  }
  for (;;) {
    const view = store.view(name)
    if (view._tag === "Deleted") {
      // catching up on a deleted stream fails; live, the tombstone event is delivered first
      if (!caughtUp) throw streamDeleted(name)
      for (let last = store.lastEventNumber(name); cursor <= last;) {
        const record = store.event(name, cursor++)
        if (record !== undefined) yield* send(record)
      }
      const tombstone = store.tombstoneOf(name)
      if (tombstone !== undefined) yield* send(tombstone)
      throw streamDeleted(name)
    }
    if (view._tag === "NoStream") {
      // missing or soft-deleted: nothing visible up to `last`
      cursor = Math.max(cursor, view.last + 1)
    } else {
      if (cursor < view.first) cursor = view.first
      while (cursor <= view.last) {
        const record = view.event(cursor++)
        if (record === undefined || record.createdMs < view.minCreatedMs) continue
        yield encodeRecord(store, record, resolveLinks, mode)
        checkpoint = record.eventNumber
        if (record.eventType === "$streamDeleted") throw streamDeleted(name)
        // the stream may change while the consumer was slow: re-evaluate the view
        if (store.isTombstoned(name)) break
      }
      if (store.isTombstoned(name)) continue
      if (store.lastEventNumber(name) >= cursor) continue
    }
    if (!caughtUp) {
      caughtUp = true
      yield caughtUpResp({ streamRevision: checkpoint })
    }
    yield IDLE
  }
}

/** A catch-up subscription to `$all` (filtered, with checkpoints), live once caught up. */
export function* allSubscription(
  store: Store,
  start: SubscriptionStart,
  resolveLinks: boolean,
  filter: CompiledFilter | undefined,
  mode: UuidMode
): Producer {
  yield confirmationResp(newUuid())
  const log = store.log
  let from: number
  // position most recently sent (filtered: considered); undefined = head of the log (from start)
  let checkpoint: number | undefined
  if (start._tag === "Start") {
    from = 0
  } else if (start._tag === "End") {
    from = log.length
    checkpoint = store.lastPosition
  } else {
    from = log.indexAtOrAfter(start.value + 1)
    checkpoint = start.value
  }
  const cursor = log.cursor(from)
  const matches = filter?.matches
  const interval = filter === undefined ? 0 : filter.checkpointIntervalMultiplier * filter.window
  let counter = 0
  let passed = 0
  let caughtUp = false
  for (;;) {
    for (let record = cursor.next(); record !== undefined; record = cursor.next()) {
      if (filter !== undefined) checkpoint = record.position
      if (matches === undefined || matches(record)) {
        yield encodeRecord(store, record, resolveLinks, mode)
        checkpoint = record.position
      }
      // records hidden from `$all` are considered too
      counter += cursor.passed - passed
      passed = cursor.passed
      if (interval > 0 && counter >= interval) {
        counter %= interval
        yield checkpointResp(record.position)
      }
    }
    if (filter !== undefined && cursor.passed > passed) {
      counter += cursor.passed - passed
      passed = cursor.passed
      checkpoint = cursor.passedPosition
    }
    if (!caughtUp) {
      caughtUp = true
      if (filter !== undefined && checkpoint !== undefined) {
        // always one checkpoint when going live
        yield checkpointResp(checkpoint)
        counter = 0
      }
      yield caughtUpResp({ position: checkpoint })
    }
    yield IDLE
  }
}
