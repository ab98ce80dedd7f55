/**
 * `Streams.Read`: request validation (the valid combinations of PROTOCOL.md §1), stream and `$all`
 * reads in both directions, and catch-up/live subscriptions, all as producers of pre-encoded
 * `ReadResp` messages driven with backpressure. Live subscriptions keep only a cursor into the log:
 * a slow subscriber never makes the node buffer; it simply reads on from the log when it can.
 *
 * @since 0.1.0
 */
import type { ReadReq, ReadResp } from "../../generated/streams.ts"
import { Access, type Auth, type Principal } from "../Auth.ts"
import {
  invalidArgument,
  invalidArgumentOf,
  invalidCombination,
  isRpcFailure,
  requiredArgument,
  type RpcFailure,
  streamDeleted,
  unhandled
} from "../errors.ts"
import { type CompiledFilter, compileFilter } from "../Filters.ts"
import { IDLE, type Producer, type ReadFraming, ResponseSink } from "../transport/ResponseSink.ts"
import type { ServerCall } from "../transport/ServerCall.ts"
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

/**
 * What the read handler needs from the node.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReadContext {
  readonly store: Store
  readonly auth: Auth
  readonly readFraming: ReadFraming
  /** Open server-streaming calls, ended on shutdown. */
  readonly activeReads: Set<() => void>
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)
const toNumber = (n: bigint): number => (n > MAX_SAFE ? Number.MAX_SAFE_INTEGER : Number(n))

const encodeRecord = (store: Store, record: EventRecord, resolveLinks: boolean, mode: UuidMode): Buffer =>
  resolveLinks && record.eventType === "$>" ? resolvedResp(store.resolveLink(record), record, mode) : eventResp(record, mode)

interface Built {
  readonly producer: Producer
  /** Registers a wake-up on store changes; returns the unregistration. */
  readonly watch?: ((wake: () => void) => () => void) | undefined
}

function* readStreamForwards(
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
    if (record.createdMs < minCreatedMs) continue
    sent++
    yield encodeRecord(store, record, resolveLinks, mode)
  }
  if (compatibility >= 1) yield lastStreamPositionResp(last)
}

function* readStreamBackwards(
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
    if (record.createdMs < minCreatedMs) continue
    sent++
    yield encodeRecord(store, record, resolveLinks, mode)
  }
  if (compatibility >= 1) yield lastStreamPositionResp(last)
}

function* readAll(
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

type SubscriptionStart =
  | { readonly _tag: "Start" }
  | { readonly _tag: "End" }
  | { readonly _tag: "At"; readonly value: number }

function* streamSubscription(
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
      for (let last = store.lastEventNumber(name); cursor <= last;) yield* send(store.event(name, cursor++)!)
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
        if (record.createdMs < view.minCreatedMs) continue
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

function* allSubscription(
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

const STREAM_CASES = { stream: "Stream", all: "All" } as const
const COUNT_CASES = { count: "Count", subscription: "Subscription" } as const
const FILTER_CASES = { filter: "Filter", noFilter: "NoFilter" } as const

const build = (ctx: ReadContext, request: ReadReq, principal: Principal): Built | RpcFailure => {
  const { auth, store } = ctx
  const options = request.options
  // a real node dereferences the options first (Streams.Read.cs): a NullReferenceException, UNKNOWN
  if (options === undefined) return unhandled()
  const uuidOption = options.uuidOption
  if (uuidOption === undefined) {
    return requiredArgument("uuidOption", "EventStore.Client.Streams.ReadReq+Types+Options+Types+UUIDOption")
  }
  const mode: UuidMode = uuidOption.content?.$case === "string" ? 1 : 0
  const streamOption = options.streamOption
  if (streamOption === undefined) {
    return invalidArgumentOf("None", "EventStore.Client.Streams.ReadReq+Types+Options+StreamOptionOneofCase")
  }
  let streamName = "$all"
  let streamBytes: Buffer = Buffer.from("$all")
  if (streamOption.$case === "stream") {
    const id = streamOption.value.streamIdentifier
    // converting a missing identifier to a name throws a NullReferenceException: UNKNOWN
    if (id === undefined) return unhandled()
    if (id.streamName.length === 0) return requiredArgument("streamIdentifier", "EventStore.Client.StreamIdentifier")
    streamBytes = id.streamName
    streamName = id.streamName.toString("utf8")
  }
  const allowed = auth.authorize(principal, Access.stream(streamName, "read"))
  if (isRpcFailure(allowed)) return allowed

  const direction = options.readDirection
  if (direction !== 0 && direction !== 1) {
    return invalidArgumentOf(String(direction), "EventStore.Client.Streams.ReadReq+Types+Options+Types+ReadDirection")
  }
  const countOption = options.countOption
  const filterOption = options.filterOption
  const combination = [
    STREAM_CASES[streamOption.$case],
    countOption === undefined ? "None" : COUNT_CASES[countOption.$case],
    direction === 0 ? "Forwards" : "Backwards",
    filterOption === undefined ? "None" : FILTER_CASES[filterOption.$case]
  ]
  const key = combination.join(",")
  const valid = [
    "Stream,Count,Forwards,NoFilter",
    "Stream,Count,Backwards,NoFilter",
    "All,Count,Forwards,NoFilter",
    "All,Count,Forwards,Filter",
    "All,Count,Backwards,NoFilter",
    "All,Count,Backwards,Filter",
    "Stream,Subscription,Forwards,NoFilter",
    "All,Subscription,Forwards,NoFilter",
    "All,Subscription,Forwards,Filter"
  ]
  if (!valid.includes(key)) return invalidCombination(combination)

  let filter: CompiledFilter | undefined
  if (filterOption?.$case === "filter") {
    const compiled = compileFilter(filterOption.value)
    if (isRpcFailure(compiled)) return compiled
    filter = compiled
  }
  const resolveLinks = options.resolveLinks
  const compatibility = options.controlOption?.compatibility ?? 0

  if (streamOption.$case === "stream") {
    const revisionOption = streamOption.value.revisionOption
    if (revisionOption === undefined) {
      return invalidArgumentOf("None", "EventStore.Client.Streams.ReadReq+Types+Options+Types+StreamOptions+RevisionOptionOneofCase")
    }
    if (countOption!.$case === "count") {
      const count = toNumber(countOption!.value)
      if (direction === 0) {
        const from = revisionOption.$case === "start"
          ? 0
          : revisionOption.$case === "end"
          ? store.lastEventNumber(streamName) + 1
          : toNumber(revisionOption.value)
        return {
          producer: readStreamForwards(store, streamName, streamBytes, from, count, resolveLinks, compatibility, mode)
        }
      }
      const from = revisionOption.$case === "start"
        ? 0
        : revisionOption.$case === "end"
        ? Number.MAX_SAFE_INTEGER
        : toNumber(revisionOption.value)
      return {
        producer: readStreamBackwards(store, streamName, streamBytes, from, count, resolveLinks, compatibility, mode)
      }
    }
    const start: SubscriptionStart = revisionOption.$case === "start"
      ? { _tag: "Start" }
      : revisionOption.$case === "end"
      ? { _tag: "End" }
      : { _tag: "At", value: toNumber(revisionOption.value) }
    return {
      producer: streamSubscription(store, streamName, start, resolveLinks, mode),
      watch: (wake) => store.onAppendStream(streamName, wake)
    }
  }

  const allOption = streamOption.value.allOption
  if (allOption === undefined) {
    return invalidArgumentOf("None", "EventStore.Client.Streams.ReadReq+Types+Options+Types+AllOptions+AllOptionOneofCase")
  }
  if (allOption.$case === "position" && allOption.value.commitPosition < allOption.value.preparePosition) {
    return invalidArgument("Trying to read from an invalid position.")
  }
  if (countOption!.$case === "count") {
    const count = toNumber(countOption!.value)
    if (direction === 0) {
      const startIndex = allOption.$case === "start"
        ? 0
        : allOption.$case === "end"
        ? store.log.length
        : store.log.indexAtOrAfter(toNumber(allOption.value.commitPosition))
      return { producer: readAll(store, startIndex, "forwards", count, resolveLinks, filter, mode) }
    }
    const startIndex = allOption.$case === "start"
      ? -1
      : allOption.$case === "end"
      ? store.log.length - 1
      : store.log.indexAtOrAfter(toNumber(allOption.value.commitPosition)) - 1
    return { producer: readAll(store, startIndex, "backwards", count, resolveLinks, filter, mode) }
  }
  if (filter !== undefined && filter.checkpointIntervalMultiplier === 0) {
    // ArgumentOutOfRangeException from the enumerator's constructor, not an RpcException: UNKNOWN
    return unhandled()
  }
  const start: SubscriptionStart = allOption.$case === "start"
    ? { _tag: "Start" }
    : allOption.$case === "end"
    ? { _tag: "End" }
    : { _tag: "At", value: toNumber(allOption.value.commitPosition) }
  return {
    producer: allSubscription(store, start, resolveLinks, filter, mode),
    watch: (wake) => store.onAppendAll(wake)
  }
}

const fail = (call: ServerCall<ReadReq, ReadResp>, failure: RpcFailure): void => {
  call.sendStatus(failure)
}

/**
 * Drives a producer over a server stream until it ends, fails or the call is cancelled.
 *
 * @since 0.1.0
 * @category handlers
 */
export const runProducer = (
  call: ServerCall,
  framing: ReadFraming,
  built: Built,
  active: Set<() => void>
): void => {
  const { producer, watch } = built
  const sink = new ResponseSink(call, framing)
  let finished = false
  let running = false
  let again = false
  let unwatch: (() => void) | undefined

  const cleanup = () => {
    finished = true
    active.delete(shutdown)
    if (unwatch !== undefined) unwatch()
    unwatch = undefined
    sink.dispose()
    call.removeListener("cancelled", onCancel)
    try {
      producer.return()
    } catch {
      // ignore
    }
  }
  const finish = (failure?: RpcFailure) => {
    if (finished) return
    sink.flush()
    cleanup()
    if (failure !== undefined) call.sendStatus(failure)
    else call.end()
  }
  const onCancel = () => {
    if (finished) return
    cleanup()
  }
  const shutdown = () => finish()

  const step = (): void => {
    if (finished) return
    if (running) {
      again = true
      return
    }
    if (sink.congested) {
      sink.whenDrained(step)
      return
    }
    running = true
    try {
      for (;;) {
        const r = producer.next()
        if (r.done === true) {
          finish()
          return
        }
        if (r.value === IDLE) {
          if (!sink.flush()) sink.whenDrained(step)
          return
        }
        if (!sink.push(r.value)) {
          sink.whenDrained(step)
          return
        }
      }
    } catch (e) {
      finish(isRpcFailure(e) ? e : unhandled())
    } finally {
      running = false
      if (again && !finished) {
        again = false
        queueMicrotask(step)
      }
    }
  }

  call.on("cancelled", onCancel)
  active.add(shutdown)
  if (watch !== undefined) unwatch = watch(step)
  step()
}

/**
 * The `Read` handler.
 *
 * @since 0.1.0
 * @category handlers
 */
export const makeReadHandler = (ctx: ReadContext) => (call: ServerCall<ReadReq, ReadResp>): void => {
  try {
    const principal = ctx.auth.authorize(call.metadata, Access.any)
    if (isRpcFailure(principal)) return fail(call, principal)
    const built = build(ctx, call.request, principal)
    if (isRpcFailure(built)) return fail(call, built)
    runProducer(call, ctx.readFraming, built, ctx.activeReads)
  } catch {
    fail(call, unhandled())
  }
}
