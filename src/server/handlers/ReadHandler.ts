/**
 * `Streams.Read`: request validation (the valid combinations of PROTOCOL.md §1), stream and `$all`
 * reads in both directions, and catch-up/live subscriptions, all as producers of pre-encoded
 * `ReadResp` messages driven with backpressure. Live subscriptions keep only a cursor into the log:
 * a slow subscriber never makes the node buffer; it simply reads on from the log when it can.
 * The producers themselves are in streams/ReadProducers.ts.
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
  unhandled
} from "../errors.ts"
import { type CompiledFilter, compileFilter } from "../Filters.ts"
import { IDLE, type Producer, type ReadFraming, ResponseSink } from "../transport/ResponseSink.ts"
import type { ServerCall } from "../transport/ServerCall.ts"
import { type UuidMode } from "../codec/ReadEncoding.ts"
import type { Store } from "../storage/Store.ts"
import {
  allSubscription,
  readAll,
  readStreamBackwards,
  readStreamForwards,
  streamSubscription,
  type SubscriptionStart
} from "../streams/ReadProducers.ts"

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

interface Built {
  readonly producer: Producer
  /** Registers a wake-up on store changes; returns the unregistration. */
  readonly watch?: ((wake: () => void) => () => void) | undefined
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
