/**
 * The seed client's persistent-subscription behaviours (ANCHORS.md Part A section 4, items 38-62)
 * not covered by persistentSubscriptions / persistentRead, against the embedded node: replaying
 * parked events of a `$all` group; message-timeout redelivery order with a buffer of 1 and of 10;
 * `maxRetryCount` + 1 deliveries; a consumer stopped before any event gets none; `$all` from the
 * end; filters on type and stream (include, exclude, none); resolving links; every setting
 * updated on its own; starts changed back and forth; a stream group from an event number and
 * round-robin alternation; the buffer size the node is told; acks in batches and by delay.
 */
import { assert, layer } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { NewEvent, PersistentSubscriptions, PersistentSubscriptionSettings, type RecordedEvent, Streams } from "../../src/index.ts"
import type { PersistentSubscription } from "../../src/services/PersistentSubscriptions.ts"
import { infoUntil, positions } from "./_persistent.ts"
import { collect, newEvents, nodeWithClient, uniqueStream } from "./_support.ts"

const take = (
  sub: PersistentSubscription,
  n: number,
  f: (e: RecordedEvent) => Effect.Effect<void, unknown> = () => Effect.void
) => sub.events.pipe(Stream.tap(f), Stream.take(n), collect)

/** The events a `$all` consumer gets that are not system events (`$`-types), the first `n`. */
const userEvents = (sub: PersistentSubscription, n: number) =>
  sub.events.pipe(
    Stream.tap((e) => sub.ack(e)),
    Stream.filter((e) => !e.type.startsWith("$")),
    Stream.take(n),
    collect
  )

layer(nodeWithClient(), { excludeTestServices: true, timeout: "30 seconds" })("persistent subscriptions: the seed's behaviours", (it) => {
  it.effect("40: parked events of a $all group are replayed", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const streams = yield* Streams.Streams
      const stream = uniqueStream("ps-seed-park")
      const group = uniqueStream("g")
      yield* ps.createToAll(group, { from: "start", filterInclude: stream, filterByStreamName: true })
      yield* streams.append(stream, newEvents(2), { currentVersion: "no_stream" })
      yield* Effect.scoped(Effect.gen(function*() {
        const sub = yield* ps.readToAll(group, { bufferSize: 2, ackDelay: 0 })
        yield* take(sub, 2, (e) => sub.nack(e, "park", "later"))
        yield* infoUntil({ all: true }, group, (info) => info.parkedMessageCount === 2n)
      }))
      yield* ps.replayParkedToAll(group)
      const replayed = yield* Effect.scoped(Effect.flatMap(ps.readToAll(group, { bufferSize: 2 }), (sub) =>
        take(sub, 2, (e) => sub.ack(e))))
      assert.deepStrictEqual(replayed.map((e) => [e.streamName, e.streamPosition]), [[stream, 0n], [stream, 1n]])
      assert.strictEqual(replayed[0]!.link?.streamName, `$persistentsubscription-$all::${group}-parked`)
      const info = yield* infoUntil({ all: true }, group, (i) => i.parkedMessageCount === 0n)
      assert.strictEqual(info.parkedMessageCount, 0n)
    }))

  it.effect("42: message-timeout redeliveries: buffer 1 retries each event before the next, buffer 10 after the others", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const streams = yield* Streams.Streams
      const order = (bufferSize: number) =>
        Effect.gen(function*() {
          const stream = uniqueStream("ps-seed-timeout")
          const group = uniqueStream("g")
          yield* streams.append(stream, newEvents(3), { currentVersion: "no_stream" })
          yield* ps.createToStream(stream, group, { from: "start", settings: { messageTimeout: 100, maxRetryCount: 5 } })
          // never acked, only the second delivery of an event is acked
          return yield* Effect.scoped(Effect.flatMap(ps.readToStream(stream, group, { bufferSize, ackDelay: 0 }), (sub) =>
            take(sub, 6, (e) => (e.retryCount === 1 ? sub.ack(e) : Effect.void))))
        })
      assert.deepStrictEqual(positions(yield* order(1)), [[0n, 0], [0n, 1], [1n, 0], [1n, 1], [2n, 0], [2n, 1]])
      assert.deepStrictEqual(positions(yield* order(10)), [[0n, 0], [1n, 0], [2n, 0], [0n, 1], [1n, 1], [2n, 1]])
    }))

  it.effect("43: maxRetryCount 3 gives 4 deliveries, then the event is parked", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const streams = yield* Streams.Streams
      const stream = uniqueStream("ps-seed-retry")
      const group = uniqueStream("g")
      yield* streams.append(stream, newEvents(2), { currentVersion: "no_stream" })
      yield* ps.createToStream(stream, group, { from: "start", settings: { maxRetryCount: 3, messageTimeout: 10_000 } })
      const events = yield* Effect.scoped(Effect.flatMap(ps.readToStream(stream, group, { bufferSize: 1, ackDelay: 0 }), (sub) =>
        take(sub, 5, (e) => (e.streamPosition === 0n ? sub.nack(e, "retry", "again") : sub.ack(e)))))
      assert.deepStrictEqual(positions(events), [[0n, 0], [0n, 1], [0n, 2], [0n, 3], [1n, 0]])
      yield* infoUntil(stream, group, (info) => info.parkedMessageCount === 1n)
    }))

  it.effect("44: a consumer stopped before any event gets none; the events go to the next one, never delivered", () =>
    Effect.gen(function*() {
      const { ps, streams, stream, group } = yield* setupStream(0)
      const got: Array<RecordedEvent> = []
      yield* Effect.scoped(Effect.gen(function*() {
        const sub = yield* ps.readToStream(stream, group)
        const fiber = yield* Effect.forkChild(Stream.runForEach(sub.events, (e) => Effect.sync(() => got.push(e))))
        yield* infoUntil(stream, group, (info) => info.connections.length === 1)
        yield* Fiber.interrupt(fiber)
      }))
      yield* infoUntil(stream, group, (info) => info.connections.length === 0)
      yield* streams.append(stream, newEvents(2), { currentVersion: "no_stream" })
      assert.strictEqual(got.length, 0)
      const next = yield* Effect.scoped(Effect.flatMap(ps.readToStream(stream, group, { bufferSize: 2 }), (sub) =>
        take(sub, 2, (e) => sub.ack(e))))
      assert.deepStrictEqual(positions(next), [[0n, 0], [1n, 0]])
    }))

  it.effect("45: a $all group from the end delivers only events appended after it was created", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const streams = yield* Streams.Streams
      const stream = uniqueStream("ps-seed-end")
      yield* streams.append(stream, newEvents(3), { currentVersion: "no_stream" })
      const group = uniqueStream("g")
      yield* ps.createToAll(group, { from: "end" })
      yield* streams.append(stream, [new NewEvent({ type: "After", data: "{}" })], { currentVersion: 2n })
      // creating the group wrote a $PersistentConfig event after the end: system events are skipped
      const events = yield* Effect.scoped(Effect.flatMap(ps.readToAll(group, { bufferSize: 10 }), (sub) => userEvents(sub, 1)))
      assert.deepStrictEqual(events.map((e) => [e.streamName, e.streamPosition, e.type]), [[stream, 3n, "After"]])
    }))

  it.effect("46: $all filters on event type and stream name, include and exclude; no filter delivers both", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const streams = yield* Streams.Streams
      const tag = uniqueStream("f").replace(/-/g, "")
      const [a, b] = [`psa${tag}`, `psb${tag}`]
      const position = yield* streams.append(a, [new NewEvent({ type: `Kept${tag}`, data: "{}" })], { currentVersion: "no_stream" })
      yield* streams.append(b, [new NewEvent({ type: `Other${tag}`, data: "{}" })], { currentVersion: "no_stream" })
      const ours = (e: RecordedEvent) => e.streamName === a || e.streamName === b
      const run = (filter: { filterInclude?: string; filterExclude?: string | ReadonlyArray<string>; filterByStreamName?: boolean }, n: number) =>
        Effect.gen(function*() {
          const group = uniqueStream("g")
          yield* ps.createToAll(group, { from: position, ...filter })
          return yield* Effect.scoped(Effect.flatMap(ps.readToAll(group, { bufferSize: 50 }), (sub) =>
            sub.events.pipe(Stream.tap((e) => sub.ack(e)), Stream.filter(ours), Stream.take(n), collect)))
        })
      const names = (events: ReadonlyArray<RecordedEvent>) => events.map((e) => e.streamName)
      assert.deepStrictEqual(names(yield* run({ filterInclude: `Kept${tag}` }, 1)), [a])
      assert.deepStrictEqual(names(yield* run({ filterInclude: b, filterByStreamName: true }, 1)), [b])
      // excluding one type (and the system events) leaves the other
      const excluded = yield* run({ filterExclude: [`Kept${tag}`, "^\\$.*"] }, 1)
      assert.deepStrictEqual(names(excluded), [b])
      const byStream = yield* run({ filterExclude: a, filterByStreamName: true }, 1)
      assert.deepStrictEqual(names(byStream), [b])
      // no filter ([] excludes nothing): both
      assert.deepStrictEqual(names(yield* run({ filterExclude: [] }, 2)), [a, b])
    }))

  it.effect("47: resolveLinks delivers the linked event with its link; without it, or to a deleted stream, the link", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const streams = yield* Streams.Streams
      const target = uniqueStream("ps-seed-target")
      const links = uniqueStream("ps-seed-links")
      yield* streams.append(target, newEvents(2), { currentVersion: "no_stream" })
      yield* streams.append(links, [0, 1].map((i) => new NewEvent({ type: "$>", data: `${i}@${target}` })), { currentVersion: "no_stream" })
      const [resolved, plain] = [uniqueStream("g"), uniqueStream("g")]
      yield* ps.createToStream(links, resolved, { from: "start", settings: { resolveLinks: true } })
      yield* ps.createToStream(links, plain, { from: "start" })
      const read = (group: string) =>
        Effect.scoped(Effect.flatMap(ps.readToStream(links, group, { bufferSize: 2 }), (sub) => take(sub, 2, (e) => sub.ack(e))))
      const r = yield* read(resolved)
      assert.deepStrictEqual(r.map((e) => [e.streamName, e.streamPosition, e.link?.streamName]), [[target, 0n, links], [target, 1n, links]])
      assert.deepStrictEqual(JSON.parse(r[1]!.dataText), { i: 1 })
      // acks go by the link's id
      assert.strictEqual(r[0]!.ackId, r[0]!.link?.id)
      const p = yield* read(plain)
      assert.deepStrictEqual(p.map((e) => [e.streamName, e.type, e.link]), [[links, "$>", undefined], [links, "$>", undefined]])

      // a link to a deleted stream cannot be resolved: the link itself is delivered, and acked
      yield* streams.delete(target, { currentVersion: "any" })
      const gone = uniqueStream("g")
      yield* ps.createToStream(links, gone, { from: "start", settings: { resolveLinks: true } })
      const unresolved = yield* read(gone)
      assert.deepStrictEqual(unresolved.map((e) => [e.streamName, e.streamPosition, e.type, e.link]), [
        [links, 0n, "$>", undefined],
        [links, 1n, "$>", undefined]
      ])
      const info = yield* infoUntil(links, gone, (i) => i.connections.length === 0)
      assert.strictEqual(info.retryBufferCount, 0)
      assert.strictEqual(info.totalInFlightMessages, 0)
    }))

  it.effect("52: every setting updates on its own, the others keep their values", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const stream = uniqueStream("ps-seed-settings")
      const group = uniqueStream("g")
      yield* ps.createToStream(stream, group)
      const defaults = new PersistentSubscriptionSettings({})
      const changes = {
        resolveLinks: true,
        extraStatistics: true,
        messageTimeout: 12_345,
        maxRetryCount: 7,
        minCheckpointCount: 3,
        maxCheckpointCount: 333,
        checkpointAfter: 4_321,
        maxSubscriberCount: 4,
        liveBufferSize: 222,
        readBatchSize: 11,
        historyBufferSize: 444,
        consumerStrategy: "Pinned"
      } as const
      // durations compared in milliseconds (given as numbers of milliseconds, reported as Durations)
      const plain = (value: unknown) => Duration.isDuration(value) ? Duration.toMillis(value) : value
      const expected: Record<string, unknown> = { ...defaults }
      for (const [key, value] of Object.entries(changes)) {
        yield* ps.updateToStream(stream, group, { settings: { [key]: value } })
        expected[key] = value
        const info = yield* ps.getInfoToStream(stream, group)
        for (const k of Object.keys(changes)) {
          assert.strictEqual(plain((info as unknown as Record<string, unknown>)[k]), plain(expected[k]), `${k} after updating ${key}`)
        }
      }
    }))

  it.effect("53: starts go start -> end -> position -> start, on $all and on a stream", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const streams = yield* Streams.Streams
      const stream = uniqueStream("ps-seed-start")
      const position = yield* streams.append(stream, newEvents(3), { currentVersion: "no_stream" })
      const [ga, gs] = [uniqueStream("g"), uniqueStream("g")]
      yield* ps.createToAll(ga, { from: "start" })
      yield* ps.createToStream(stream, gs, { from: "start" })
      const all = () => Effect.map(ps.getInfoToAll(ga), (i) => i.startFrom)
      const one = () => Effect.map(ps.getInfoToStream(stream, gs), (i) => i.startFrom)
      assert.strictEqual(yield* all(), "start")
      assert.strictEqual(yield* one(), "start")
      yield* ps.updateToAll(ga, { from: "end" })
      yield* ps.updateToStream(stream, gs, { from: "end" })
      assert.strictEqual(yield* all(), "end")
      assert.strictEqual(yield* one(), "end")
      yield* ps.updateToAll(ga, { from: position })
      yield* ps.updateToStream(stream, gs, { from: 2n })
      assert.deepStrictEqual(yield* all(), { commitPosition: position, preparePosition: position })
      assert.strictEqual(yield* one(), 2n)
      yield* ps.updateToAll(ga, { from: "start" })
      yield* ps.updateToStream(stream, gs, { from: "start" })
      assert.strictEqual(yield* all(), "start")
      assert.strictEqual(yield* one(), "start")
    }))

  it.effect("55: an unknown strategy is refused on update as on create", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const stream = uniqueStream("ps-seed-strategy")
      const group = uniqueStream("g")
      yield* ps.createToStream(stream, group)
      const error = yield* Effect.flip(ps.updateToStream(stream, group, { settings: { consumerStrategy: "Fastest" as "Pinned" } }))
      assert.strictEqual(error._tag, "InvalidArgument")
      assert.strictEqual((yield* ps.getInfoToStream(stream, group)).consumerStrategy, "DispatchToSingle")
    }))

  it.effect("57: a stream group from an event number starts there (inclusive); round-robin alternates over 2 consumers", () =>
    Effect.gen(function*() {
      const { ps, stream, group } = yield* setupStream(4, 2n)
      const from2 = yield* Effect.scoped(Effect.flatMap(ps.readToStream(stream, group, { bufferSize: 2 }), (sub) =>
        take(sub, 2, (e) => sub.ack(e))))
      assert.deepStrictEqual(positions(from2), [[2n, 0], [3n, 0]])

      const streams = yield* Streams.Streams
      const rr = uniqueStream("ps-seed-rr")
      const g = uniqueStream("g")
      yield* ps.createToStream(rr, g, { from: "start", settings: { consumerStrategy: "RoundRobin" } })
      const got: Array<Array<bigint>> = [[], []]
      const fibers = yield* Effect.forEach([0, 1], (i) =>
        Effect.forkChild(Effect.scoped(Effect.flatMap(ps.readToStream(rr, g, { bufferSize: 10 }), (sub) =>
          take(sub, 2, (e) => {
            got[i]!.push(e.streamPosition)
            return sub.ack(e)
          })))))
      yield* infoUntil(rr, g, (info) => info.connections.length === 2)
      yield* streams.append(rr, newEvents(4), { currentVersion: "no_stream" })
      yield* Effect.forEach(fibers, Fiber.join)
      const sorted = got.map((g) => g.join(",")).sort()
      assert.deepStrictEqual(sorted, ["0,2", "1,3"])
    }))

  it.effect("59: the node is told the consumer's buffer size (150 free slots)", () =>
    Effect.gen(function*() {
      const { ps, stream, group } = yield* setupStream(0)
      yield* Effect.scoped(Effect.gen(function*() {
        const sub = yield* ps.readToStream(stream, group, { bufferSize: 150 })
        yield* Effect.forkScoped(Stream.runDrain(sub.events))
        const info = yield* infoUntil(stream, group, (i) => i.connections.length === 1)
        assert.strictEqual(info.connections[0]!.availableSlots, 150)
      }))
    }))

  it.effect("60: 102 acks with batches of 50: 100 go at once, the last 2 after the delay; acks and a nack keep their order", () =>
    Effect.gen(function*() {
      const { ps, stream, group } = yield* setupStream(104)
      yield* Effect.scoped(Effect.gen(function*() {
        const sub = yield* ps.readToStream(stream, group, { bufferSize: 104, ackBatchSize: 50, ackDelay: "400 millis" })
        const events: Array<RecordedEvent> = []
        yield* Effect.forkScoped(Stream.runForEach(sub.events, (e) => Effect.sync(() => events.push(e))))
        yield* Effect.gen(function*() {
          while (events.length < 104) yield* Effect.sleep(Duration.millis(5))
        }).pipe(Effect.timeout("5 seconds"))
        // one ack at a time, as a consumer acks: a batch goes at 50 and at 100 ids
        for (const e of events.slice(0, 102)) yield* sub.ack(e)
        // two batches went at once: 4 in flight (2 waiting, 2 never acked)
        yield* infoUntil(stream, group, (info) => info.totalInFlightMessages === 4)
        // the delay sends the 2 left, without the scope closing
        yield* infoUntil(stream, group, (info) => info.totalInFlightMessages === 2)
        // ack, ack, nack park: sent in that order, all of them
        yield* sub.ack(events[102]!)
        yield* sub.nack(events[103]!, "park", "bad")
        yield* infoUntil(stream, group, (info) => info.totalInFlightMessages === 0 && info.parkedMessageCount === 1n)
      }))
    }))
})

const setupStream = (events: number, from: "start" | bigint = "start") =>
  Effect.gen(function*() {
    const ps = yield* PersistentSubscriptions.PersistentSubscriptions
    const streams = yield* Streams.Streams
    const stream = uniqueStream("ps-seed")
    const group = uniqueStream("g")
    if (events > 0) yield* streams.append(stream, newEvents(events), { currentVersion: "no_stream" })
    yield* ps.createToStream(stream, group, { from, settings: { messageTimeout: 10_000 } })
    return { ps, streams, stream, group }
  })
