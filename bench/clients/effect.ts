/**
 * effect-esdb, used the way its documentation shows: one layer per process, each workload written
 * as one Effect program (loops inside `Effect.gen`, streams consumed with `Stream.runForEach`).
 * The consumer parses the data of JSON events (`JSON.parse(event.dataText)`; `decodeJson` is
 * the same in the error channel), and takes the data of other events as bytes.
 */
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Stream from "effect/Stream"
import { EventStoreDB, NewEvent, PersistentSubscriptions, Streams } from "../../src/index.ts"
import type { RecordedEvent } from "../../src/domain/RecordedEvent.ts"
import { type BenchClient, jsonField, PERSISTENT_BUFFER, type Payload } from "../lib/common.ts"

const encoder = new TextEncoder()
const toEvent = (p: Payload) =>
  p.binary === true ? NewEvent.binary(p.type, encoder.encode(JSON.stringify(p.value))) : NewEvent.json(p.type, p.value)
const any = { currentVersion: "any" } as const

export const open = async (connectionString: string): Promise<BenchClient> => {
  // BENCH_EFFECT_TRACING=false: the client's `tracing: false` option (no spans at all)
  const tracing = process.env["BENCH_EFFECT_TRACING"] !== "false"
  // BENCH_EFFECT_WINDOW=<bytes>: the client's `flowControlWindow` option (default 256 KiB; the floor uses 4 MiB)
  const window = process.env["BENCH_EFFECT_WINDOW"]
  const flowControlWindow = window === undefined ? undefined : Number(window)
  // BENCH_EFFECT_METRICS=false: the client's `metrics: false` option (no per-operation metrics)
  const metrics = process.env["BENCH_EFFECT_METRICS"] !== "false"
  const runtime = ManagedRuntime.make(EventStoreDB.layer({ connectionString, tracing, flowControlWindow, metrics }))
  const { groups, streams } = await runtime.runPromise(Effect.gen(function*() {
    return { streams: yield* Streams.Streams, groups: yield* PersistentSubscriptions.PersistentSubscriptions }
  }))
  let sum = 0
  /** What the consumer does with each event (see BenchClient). */
  const use = (event: RecordedEvent) => {
    sum += event.type.length + (event.contentType === "application/json" ? jsonField(JSON.parse(event.dataText)) : event.data.length)
  }
  const touch = (event: RecordedEvent) => Effect.sync(() => use(event))

  const appendSequential: BenchClient["appendSequential"] = (stream, n, payload, latencies) =>
    runtime.runPromise(Effect.gen(function*() {
      for (let i = 0; i < n; i++) {
        const t0 = performance.now()
        yield* streams.append(stream, toEvent(payload(i)), any)
        latencies?.push(performance.now() - t0)
      }
    }))

  const appendBatches: BenchClient["appendBatches"] = (stream, n, batchOf, latencies) =>
    runtime.runPromise(Effect.gen(function*() {
      for (let i = 0; i < n; i++) {
        const events = batchOf(i).map(toEvent)
        const t0 = performance.now()
        yield* streams.append(stream, events, any)
        latencies?.push(performance.now() - t0)
      }
    }))

  const appendMulti: BenchClient["appendMulti"] = (names, n, payload, latencies) =>
    runtime.runPromise(Effect.gen(function*() {
      for (let i = 0; i < n; i++) {
        const appends = names.map((stream) => ({ stream, events: toEvent(payload(i)), currentVersion: "any" as const }))
        const t0 = performance.now()
        yield* streams.appendMany(appends)
        latencies?.push(performance.now() - t0)
      }
    }))

  const appendConcurrent: BenchClient["appendConcurrent"] = (names, perStream, payload, latencies) =>
    runtime.runPromise(Effect.forEach(
      names,
      (stream) =>
        Effect.gen(function*() {
          for (let i = 0; i < perStream; i++) {
            const t0 = performance.now()
            yield* streams.append(stream, toEvent(payload(i)), any)
            latencies?.push(performance.now() - t0)
          }
        }),
      { concurrency: "unbounded", discard: true }
    ))

  // BENCH_EFFECT_CONSUMER=array consumes whole chunks (Stream.runForEachArray) instead of one
  // Effect per event, to tell the library's cost from the per-element consumer's
  const perChunk = process.env["BENCH_EFFECT_CONSUMER"] === "array"
  const count = <E>(stream: Stream.Stream<RecordedEvent, E>) => {
    let seen = 0
    return runtime.runPromise(
      stream.pipe(
        perChunk
          ? Stream.runForEachArray((events) =>
            Effect.sync(() => {
              for (const event of events) {
                seen++
                use(event)
              }
            })
          )
          : Stream.runForEach((event) => {
            seen++
            return touch(event)
          }),
        Effect.map(() => seen)
      )
    )
  }

  return {
    appendSequential,
    appendBatches,
    appendConcurrent,
    appendMulti,
    readStream: (stream, limit) => count(streams.read(stream, { limit })),
    readAll: (limit) => count(streams.readAll({ limit, filterExclude: [] })),
    subscribeAll: (limit) =>
      count(
        streams.subscribeToAll({ filterExclude: [] }).pipe(
          Stream.filter((item): item is RecordedEvent => item._tag === "RecordedEvent"),
          Stream.take(limit)
        )
      ),
    // the official client's group settings (its defaults, which the floor sends too), so that every
    // client's consumer reads the same group: effect-esdb's own defaults are the seed's (read
    // batch 200, DispatchToSingle)
    createPersistent: (stream, group) =>
      runtime.runPromise(
        groups.createToStream(stream, group, { from: "start", settings: { readBatchSize: 20, consumerStrategy: "RoundRobin" } })
      ),
    // the README's way: ack each event as it is handled; acks go out in the default batches (half
    // the buffer size, or 20 ms after the first), the last ones when the scope closes
    persistent: (stream, group, limit) =>
      runtime.runPromise(Effect.scoped(Effect.gen(function*() {
        const subscription = yield* groups.readToStream(stream, group, { bufferSize: PERSISTENT_BUFFER })
        let seen = 0
        yield* subscription.events.pipe(
          Stream.take(limit),
          perChunk
            ? Stream.runForEachArray((events) => {
              for (const event of events) {
                seen++
                use(event)
              }
              return subscription.ack(events)
            })
            : Stream.runForEach((event) => {
              seen++
              use(event)
              return subscription.ack(event)
            })
        )
        return seen
      }))),
    checksum: () => sum,
    close: () => runtime.dispose()
  }
}
