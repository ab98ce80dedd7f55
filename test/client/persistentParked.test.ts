/**
 * Parked events against the embedded node: `truncateParked` drops them without delivering them
 * (all, or those before a parked-stream event number), moving the parked stream's `$tb` forward
 * only, as a real node's TruncateParkedMessages does; GetInfo's parkedMessageCount counts what is
 * left; events parked afterwards are kept. A missing group is SubscriptionNotFound (stream and
 * `$all`), bad input an InvalidArgument before any call, and only admins and ops may truncate.
 */
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { type Credentials, PersistentSubscriptions, Streams } from "../../src/index.ts"
import type { PersistentSubscription } from "../../src/services/PersistentSubscriptions.ts"
import { infoUntil, positions } from "./_persistent.ts"
import { collect, EmbeddedNode, newEvents, nodeLayer, nodeWithClient, uniqueStream, withClient } from "./_support.ts"

/** The first `n` events of a run, each nacked `park`. */
const parkAll = (sub: PersistentSubscription, n: number) =>
  sub.events.pipe(Stream.tap((e) => sub.nack(e, "park", "later")), Stream.take(n), collect)

/** A stream of `events` events, a group on it from the start, and `parked` of them parked. */
const setup = (events: number, parked: number) =>
  Effect.gen(function*() {
    const ps = yield* PersistentSubscriptions.PersistentSubscriptions
    const streams = yield* Streams.Streams
    const stream = uniqueStream("ps-parked")
    const group = uniqueStream("g")
    yield* streams.append(stream, newEvents(events), { currentVersion: "no_stream" })
    yield* ps.createToStream(stream, group, { from: "start", settings: { messageTimeout: 10_000 } })
    if (parked > 0) {
      yield* Effect.scoped(Effect.flatMap(ps.readToStream(stream, group, { bufferSize: parked, ackDelay: 0 }), (sub) =>
        parkAll(sub, parked)))
      yield* infoUntil(stream, group, (info) => info.parkedMessageCount === BigInt(parked))
    }
    const parkedStream = `$persistentsubscription-${stream}::${group}-parked`
    return { ps, streams, stream, group, parkedStream }
  })

layer(nodeWithClient(), { excludeTestServices: true, timeout: "30 seconds" })("persistent subscriptions: parked events", (it) => {
  it.effect("truncateParked with stopAt drops the parked events before that parked event number; without, the rest", () =>
    Effect.gen(function*() {
      const { ps, streams, stream, group, parkedStream } = yield* setup(4, 4)
      yield* ps.truncateParkedToStream(stream, group, { stopAt: 2 })
      assert.strictEqual((yield* ps.getInfoToStream(stream, group)).parkedMessageCount, 2n)
      // the parked stream keeps its events from number 2: those of events 2 and 3
      const left = yield* streams.get(parkedStream)
      assert.deepStrictEqual(left.map((e) => [e.streamPosition, e.dataText]), [[2n, `2@${stream}`], [3n, `3@${stream}`]])
      yield* ps.truncateParkedToStream(stream, group)
      assert.strictEqual((yield* ps.getInfoToStream(stream, group)).parkedMessageCount, 0n)
      assert.deepStrictEqual(yield* streams.get(parkedStream), [])
      // a replay has nothing left to deliver: the consumer gets the next new event
      yield* ps.replayParkedToStream(stream, group)
      yield* streams.append(stream, newEvents(1), { currentVersion: 3n })
      const next = yield* Effect.scoped(Effect.flatMap(ps.readToStream(stream, group, { bufferSize: 5 }), (sub) =>
        sub.events.pipe(Stream.tap((e) => sub.ack(e)), Stream.take(1), collect)))
      assert.deepStrictEqual(positions(next), [[4n, 0]])
      assert.strictEqual((yield* ps.getInfoToStream(stream, group)).totalInFlightMessages, 0)
    }))

  it.effect("the truncate-before only moves forward: a stopAt at or before it writes nothing; later parks are kept", () =>
    Effect.gen(function*() {
      const { ps, streams, stream, group, parkedStream } = yield* setup(4, 3)
      const metadataEvents = () => Effect.map(streams.get(`$$${parkedStream}`), (events) => events.length)
      yield* ps.truncateParkedToStream(stream, group, { stopAt: 2 })
      const written = yield* metadataEvents()
      assert.strictEqual(written, 1)
      assert.strictEqual((yield* streams.getStreamMetadata(parkedStream)).metadata.$tb, 2n)
      for (const stopAt of [0, 1, 2]) yield* ps.truncateParkedToStream(stream, group, { stopAt })
      assert.strictEqual(yield* metadataEvents(), written)
      assert.strictEqual((yield* ps.getInfoToStream(stream, group)).parkedMessageCount, 1n)
      // a stopAt past the parked stream's end drops what is there, no more
      yield* ps.truncateParkedToStream(stream, group, { stopAt: 2n ** 62n })
      assert.strictEqual((yield* streams.getStreamMetadata(parkedStream)).metadata.$tb, 3n)
      // the next event parked is counted, and kept
      yield* Effect.scoped(Effect.flatMap(ps.readToStream(stream, group, { bufferSize: 1, ackDelay: 0 }), (sub) =>
        parkAll(sub, 1)))
      const info = yield* infoUntil(stream, group, (i) => i.parkedMessageCount === 1n)
      assert.strictEqual(info.totalInFlightMessages, 0)
      assert.deepStrictEqual((yield* streams.get(parkedStream)).map((e) => e.dataText), [`3@${stream}`])
    }))

  it.effect("truncateParked of a group with nothing parked succeeds and writes nothing; on $all too", () =>
    Effect.gen(function*() {
      const { ps, streams, stream, group, parkedStream } = yield* setup(1, 0)
      yield* ps.truncateParkedToStream(stream, group)
      yield* ps.truncateParkedToStream(stream, group, { stopAt: 10 })
      // no metadata stream was written: reading it finds nothing (any other failure fails the test)
      const metadata = yield* Effect.flip(streams.get(`$$${parkedStream}`))
      assert.strictEqual(metadata._tag, "NotFound", String(metadata))
      const g = uniqueStream("all")
      yield* ps.createToAll(g)
      yield* ps.truncateParkedToAll(g)
      assert.strictEqual((yield* ps.getInfoToAll(g)).parkedMessageCount, 0n)
      yield* ps.deleteToAll(g)
    }))

  it.effect("truncateParked of a missing group is SubscriptionNotFound, on a stream and on $all", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const stream = uniqueStream("ps-parked-missing")
      const onStream = yield* Effect.flip(ps.truncateParkedToStream(stream, "nope"))
      const onAll = yield* Effect.flip(ps.truncateParkedToAll("nope", { stopAt: 3 }))
      assert.strictEqual(onStream._tag, "SubscriptionNotFound")
      if (onStream._tag === "SubscriptionNotFound") assert.deepStrictEqual([onStream.stream, onStream.group], [stream, "nope"])
      assert.strictEqual(onAll._tag, "SubscriptionNotFound")
      if (onAll._tag === "SubscriptionNotFound") assert.strictEqual(onAll.stream, "$all")
    }))
})

layer(nodeLayer({ insecure: true }), { excludeTestServices: true, timeout: "30 seconds" })("truncateParked: bad input", (it) => {
  it.effect("empty names, a negative, fractional or too large stopAt: InvalidArgument before any call", () =>
    Effect.gen(function*() {
      // a client of an address where nothing listens: any call would fail otherwise
      const errors = yield* withClient(
        "esdb://127.0.0.1:1?tls=false",
        Effect.gen(function*() {
          const ps = yield* PersistentSubscriptions.PersistentSubscriptions
          const bad = [
            ps.truncateParkedToStream("s", ""),
            ps.truncateParkedToStream("", "g"),
            ps.truncateParkedToStream("s", "g", { stopAt: -1 }),
            ps.truncateParkedToStream("s", "g", { stopAt: -1n }),
            ps.truncateParkedToStream("s", "g", { stopAt: 1.5 }),
            ps.truncateParkedToStream("s", "g", { stopAt: Number.NaN }),
            ps.truncateParkedToStream("s", "g", { stopAt: 2n ** 63n }),
            ps.replayParkedToStream("s", "g", { stopAt: 2n ** 63n })
          ]
          const out = []
          for (const effect of bad) out.push(yield* Effect.flip(effect))
          return out
        })
      )
      for (const error of errors) assert.strictEqual(error._tag, "InvalidArgument", String(error))
    }))
})

const user = (username: string, password: string): Credentials => ({ username, password: Redacted.make(password) })

layer(nodeLayer({ insecure: false }), { excludeTestServices: true, timeout: "30 seconds" })("truncateParked: access", (it) => {
  it.effect("admins and ops may truncate; anonymous gets AccessDenied", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      const anonymous = node.connectionString.replace(/\/\/[^@/]*@/, "//")
      const stream = uniqueStream("ps-parked-acl")
      yield* withClient(
        anonymous,
        Effect.gen(function*() {
          const ps = yield* PersistentSubscriptions.PersistentSubscriptions
          const ops = { credentials: user("ops", "changeit") }
          yield* ps.createToStream(stream, "g", ops)
          assert.strictEqual((yield* Effect.flip(ps.truncateParkedToStream(stream, "g")))._tag, "AccessDenied")
          // access is checked before the group is looked for
          assert.strictEqual((yield* Effect.flip(ps.truncateParkedToStream(stream, "missing")))._tag, "AccessDenied")
          yield* ps.truncateParkedToStream(stream, "g", ops)
          yield* ps.truncateParkedToStream(stream, "g", { credentials: user("admin", "changeit") })
          yield* ps.deleteToStream(stream, "g", ops)
        })
      )
    }))
})
