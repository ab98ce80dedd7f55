/**
 * Appending to and reading one stream (seed checklist items 9-18), typed errors end to end, bad
 * input rejected before anything is written, and uint64 positions kept exact as bigint.
 */
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { NewEvent, Streams } from "../../src/index.ts"
import {
  collect,
  EmbeddedNode,
  eventually,
  makeStreams,
  newEvents,
  nodeLayer,
  nodeWithClient,
  proxyScoped,
  uniqueStream,
  withHostPort
} from "./_support.ts"

const UINT64_MAX = 2n ** 64n - 1n

/** The head of `$all`, system events included: it moves whenever anything is written. */
const headOfAll = Effect.flatMap(Streams.Streams, (streams) => streams.getCommitPosition({ filterExclude: [] }))

layer(nodeWithClient(), { excludeTestServices: true, timeout: "30 seconds" })("append and read a stream", (it) => {
  it.effect("reading a missing stream fails with NotFound, whatever the read arguments", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("missing")
      const variants = [
        {},
        { backwards: true },
        { streamPosition: 0n },
        { streamPosition: 1n, backwards: true },
        { limit: 10 },
        { backwards: true, limit: 1 },
        { resolveLinks: true }
      ]
      for (const options of variants) {
        const error = yield* Effect.flip(streams.get(stream, options))
        assert.strictEqual(error._tag, "NotFound", Object.keys(options).join(", "))
        if (error._tag === "NotFound") assert.strictEqual(error.stream, stream)
      }
      // the lazy form fails the same way when pulled
      const lazy = yield* Effect.flip(Stream.runDrain(streams.read(stream)))
      assert.strictEqual(lazy._tag, "NotFound")
    }))

  it.effect("append takes one event or a list, and returns the commit position read back from $all", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("order")
      const first = yield* streams.append(stream, new NewEvent({ type: "OrderCreated", data: "{}" }), {
        currentVersion: "no_stream"
      })
      const last = yield* streams.append(stream, newEvents(2, "OrderUpdated"), { currentVersion: 0n })
      assert.isTrue(last > first)
      const all = yield* collect(streams.readAll({ commitPosition: first, limit: 3 }))
      assert.deepStrictEqual(all.map((e) => e.streamName), [stream, stream, stream])
      assert.strictEqual(all[0]!.commitPosition, first)
      assert.strictEqual(all[2]!.commitPosition, last)
      assert.deepStrictEqual(all.map((e) => e.type), ["OrderCreated", "OrderUpdated", "OrderUpdated"])
    }))

  it.effect("a wrong current version fails with WrongCurrentVersion carrying stream, expected and actual", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("wev")

      const onMissing = yield* Effect.flip(streams.append(stream, newEvents(1), { currentVersion: 5n }))
      assert.strictEqual(onMissing._tag, "WrongCurrentVersion")
      if (onMissing._tag === "WrongCurrentVersion") {
        assert.strictEqual(onMissing.stream, stream)
        assert.strictEqual(onMissing.expected, 5n)
        assert.strictEqual(onMissing.actual, "no_stream")
        assert.strictEqual(onMissing.message, `Stream '${stream}' does not exist (expected 5)`)
      }
      const existsOnMissing = yield* Effect.flip(streams.append(stream, newEvents(1), { currentVersion: "exists" }))
      assert.strictEqual(existsOnMissing._tag, "WrongCurrentVersion")

      yield* streams.append(stream, newEvents(2), { currentVersion: "no_stream" })

      const noStreamOnExisting = yield* Effect.flip(streams.append(stream, newEvents(1), { currentVersion: "no_stream" }))
      assert.strictEqual(noStreamOnExisting._tag, "WrongCurrentVersion")
      if (noStreamOnExisting._tag === "WrongCurrentVersion") {
        assert.strictEqual(noStreamOnExisting.expected, "no_stream")
        assert.strictEqual(noStreamOnExisting.actual, 1n)
        assert.strictEqual(noStreamOnExisting.message, `Stream position of last event is 1 not NO_STREAM in stream '${stream}'`)
      }
      const stale = yield* Effect.flip(streams.append(stream, newEvents(1), { currentVersion: 0n }))
      assert.strictEqual(stale._tag, "WrongCurrentVersion")
      if (stale._tag === "WrongCurrentVersion") {
        assert.strictEqual(stale.expected, 0n)
        assert.strictEqual(stale.actual, 1n)
      }
      // nothing of the failed appends was written
      assert.lengthOf(yield* streams.get(stream), 2)
    }))

  it.effect("commit positions increase, and getCurrentVersion reads no_stream, 0, 1, 2", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("versions")
      assert.strictEqual(yield* streams.getCurrentVersion(stream), "no_stream")
      let previous = -1n
      for (const expected of ["no_stream", 0n, 1n] as const) {
        const position = yield* streams.append(stream, newEvents(1), { currentVersion: expected })
        assert.isTrue(position > previous, `${position} > ${previous}`)
        previous = position
        assert.strictEqual(yield* streams.getCurrentVersion(stream), expected === "no_stream" ? 0n : expected + 1n)
      }
    }))

  it.effect("every field of a recorded event round-trips", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("fields")
      const event = new NewEvent({
        type: "OrderCreated",
        data: '{"order_number":"123456"}',
        metadata: '{"user":"alice"}',
        id: "8d5b2ce9-3a39-4a86-b6c2-56fbd0f3c8d1"
      })
      const binary = new NewEvent({ type: "Blob", data: new Uint8Array([0, 1, 255]), contentType: "application/octet-stream" })
      const before = Date.now()
      const position = yield* streams.append(stream, [event, binary], { currentVersion: "no_stream" })
      const [read, readBinary] = yield* streams.get(stream)
      assert.strictEqual(read!.type, "OrderCreated")
      assert.strictEqual(read!.dataText, '{"order_number":"123456"}')
      assert.deepStrictEqual(JSON.parse(read!.dataText), { order_number: "123456" })
      assert.strictEqual(new TextDecoder().decode(read!.metadata), '{"user":"alice"}')
      assert.strictEqual(read!.contentType, "application/json")
      assert.strictEqual(read!.id, event.id)
      assert.strictEqual(read!.streamName, stream)
      assert.strictEqual(read!.streamPosition, 0n)
      assert.isDefined(read!.commitPosition)
      assert.strictEqual(read!.preparePosition, read!.commitPosition)
      assert.isUndefined(read!.link)
      assert.isUndefined(read!.retryCount)
      const recordedAt = read!.recordedAt!.getTime()
      assert.isTrue(recordedAt >= before - 1000 && recordedAt <= Date.now() + 1000, `recordedAt ${recordedAt}`)

      assert.strictEqual(readBinary!.contentType, "application/octet-stream")
      assert.deepStrictEqual(Array.from(readBinary!.data), [0, 1, 255])
      assert.strictEqual(readBinary!.id, binary.id)
      assert.strictEqual(readBinary!.streamPosition, 1n)
      assert.strictEqual(readBinary!.commitPosition, position, "append returns the last event's position")
      assert.isTrue(readBinary!.commitPosition! > read!.commitPosition!)
    }))

  it.effect("re-appending the same events is idempotent; a mix of old and new events is a WrongCurrentVersion", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("idempotent")
      const [a, b, c] = newEvents(3)
      const position = yield* streams.append(stream, [a!, b!], { currentVersion: "no_stream" })
      assert.strictEqual(yield* streams.append(stream, [a!, b!], { currentVersion: "no_stream" }), position)
      assert.strictEqual(yield* streams.append(stream, [a!, b!], { currentVersion: "any" }), position)
      const mixed = yield* Effect.flip(streams.append(stream, [a!, c!], { currentVersion: "no_stream" }))
      assert.strictEqual(mixed._tag, "WrongCurrentVersion")
      assert.deepStrictEqual((yield* streams.get(stream)).map((e) => e.id), [a!.id, b!.id])
    }))

  it.effect("any and exists work for one event and for batches", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("states")
      yield* streams.append(stream, newEvents(1), { currentVersion: "any" })
      yield* streams.append(stream, newEvents(2), { currentVersion: "any" })
      yield* streams.append(stream, newEvents(1), { currentVersion: "exists" })
      yield* streams.append(stream, newEvents(3), { currentVersion: "exists" })
      const read = yield* streams.get(stream)
      assert.deepStrictEqual(read.map((e) => e.streamPosition), [0n, 1n, 2n, 3n, 4n, 5n, 6n])
    }))

  it.effect("getCommitPosition equals the position of the last append", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const position = yield* streams.append(uniqueStream("last"), newEvents(2), { currentVersion: "no_stream" })
      assert.strictEqual(yield* streams.getCommitPosition(), position)
    }))

  it.effect("an append that runs out of time fails with DeadlineExceeded and writes nothing", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("deadline")
      const big = Array.from({ length: 200 }, () => new NewEvent({ type: "Big", data: "x".repeat(4096) }))
      const error = yield* Effect.flip(streams.append(stream, big, { currentVersion: "any", timeout: 0 }))
      assert.strictEqual(error._tag, "DeadlineExceeded")
      assert.strictEqual(yield* streams.getCurrentVersion(stream), "no_stream")
    }))

  it.effect("reading from a position is inclusive, forwards and backwards, and limit caps the count", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("positions")
      yield* streams.append(stream, newEvents(5), { currentVersion: "no_stream" })
      const positions = (events: ReadonlyArray<{ readonly streamPosition: bigint }>) => events.map((e) => e.streamPosition)
      assert.deepStrictEqual(positions(yield* streams.get(stream)), [0n, 1n, 2n, 3n, 4n])
      assert.deepStrictEqual(positions(yield* streams.get(stream, { streamPosition: 2n })), [2n, 3n, 4n])
      assert.deepStrictEqual(positions(yield* streams.get(stream, { backwards: true })), [4n, 3n, 2n, 1n, 0n])
      assert.deepStrictEqual(positions(yield* streams.get(stream, { streamPosition: 2n, backwards: true })), [2n, 1n, 0n])
      assert.deepStrictEqual(positions(yield* streams.get(stream, { limit: 2 })), [0n, 1n])
      assert.deepStrictEqual(positions(yield* streams.get(stream, { streamPosition: 3n, backwards: true, limit: 2 })), [
        3n,
        2n
      ])
      assert.deepStrictEqual(positions(yield* streams.get(stream, { limit: 0 })), [])
      assert.deepStrictEqual(positions(yield* streams.get(stream, { streamPosition: 10n })), [])
      // the lazy read can be cut short by the consumer
      assert.deepStrictEqual(positions(yield* collect(Stream.take(streams.read(stream), 3))), [0n, 1n, 2n])
    }))
})

layer(nodeWithClient(), { excludeTestServices: true, timeout: "30 seconds" })("bad input", (it) => {
  /** Runs `attempt`, expects InvalidArgument, and checks that `$all` did not move. */
  const rejected = <A, E extends { readonly _tag: string }, R>(what: string, attempt: Effect.Effect<A, E, R>) =>
    Effect.gen(function*() {
      const before = yield* headOfAll
      const error = yield* Effect.flip(attempt)
      assert.strictEqual(error._tag, "InvalidArgument", what)
      assert.strictEqual(yield* headOfAll, before, `${what}: nothing was written`)
    })

  it.effect("appends with invalid arguments fail with InvalidArgument and write nothing", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("bad")
      yield* streams.append(uniqueStream("warmup"), newEvents(1), { currentVersion: "any" })
      const ok = newEvents(1)[0]!
      yield* rejected("empty stream name", streams.append("", ok, { currentVersion: "any" }))
      yield* rejected("empty event type", streams.append(stream, new NewEvent({ type: "", data: "{}" }), { currentVersion: "any" }))
      yield* rejected(
        "non-UUID id",
        streams.append(stream, [ok, new NewEvent({ type: "T", data: "{}", id: "not-a-uuid" })], { currentVersion: "any" })
      )
      yield* rejected("empty event list", streams.append(stream, [], { currentVersion: "any" }))
      yield* rejected("negative currentVersion", streams.append(stream, ok, { currentVersion: -1n }))
      yield* rejected("currentVersion beyond uint64", streams.append(stream, ok, { currentVersion: 2n ** 64n }))
      yield* rejected(
        "unknown currentVersion",
        streams.append(stream, ok, { currentVersion: "latest" as unknown as "any" })
      )
      yield* rejected("empty stream name on delete", streams.delete("", { currentVersion: "any" }))
      yield* rejected("bad currentVersion on tombstone", streams.tombstone(stream, { currentVersion: -5n }))
      assert.strictEqual(yield* streams.getCurrentVersion(stream), "no_stream")
    }))

  it.effect("reads with invalid arguments fail with InvalidArgument", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("bad-read")
      yield* streams.append(stream, newEvents(1), { currentVersion: "no_stream" })
      const invalid = <A, E extends { readonly _tag: string }>(what: string, attempt: Effect.Effect<A, E>) =>
        Effect.map(Effect.flip(attempt), (error) => assert.strictEqual(error._tag, "InvalidArgument", what))
      yield* invalid("negative limit", streams.get(stream, { limit: -1 }))
      yield* invalid("fractional limit", streams.get(stream, { limit: 1.5 }))
      yield* invalid("empty stream name", streams.get(""))
      yield* invalid("negative stream position", streams.get(stream, { streamPosition: -1n }))
      yield* invalid("stream position beyond uint64", streams.get(stream, { streamPosition: 2n ** 64n }))
      yield* invalid("negative commit position", collect(streams.readAll({ commitPosition: -1n })))
      yield* invalid("negative $all limit", collect(streams.readAll({ limit: -3n })))
      yield* invalid("subscription from a negative position", collect(Stream.take(streams.subscribeToStream(stream, { streamPosition: -1n }), 1)))
      yield* invalid("subscription from beyond uint64", collect(Stream.take(streams.subscribeToAll({ commitPosition: 2n ** 64n }), 1)))
      yield* invalid("unsafe integer limit", streams.get(stream, { limit: 2 ** 60 }))
      yield* invalid("NaN limit", streams.get(stream, { limit: Number.NaN }))
      yield* invalid("window size 0", collect(Stream.take(streams.subscribeToAll({ windowSize: 0 }), 1)))
      yield* invalid("checkpoint multiplier NaN", collect(Stream.take(streams.subscribeToAll({ checkpointIntervalMultiplier: Number.NaN }), 1)))
    }))
})

layer(nodeWithClient(), { excludeTestServices: true, timeout: "30 seconds" })("uint64 positions", (it) => {
  it.effect("currentVersion 2^64-1 is a value like any other: on an existing stream it is a WrongCurrentVersion", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("u64")
      yield* streams.append(stream, newEvents(1), { currentVersion: "no_stream" })
      const error = yield* Effect.flip(streams.append(stream, newEvents(1), { currentVersion: UINT64_MAX }))
      assert.strictEqual(error._tag, "WrongCurrentVersion")
      if (error._tag === "WrongCurrentVersion") {
        assert.strictEqual(error.expected, UINT64_MAX)
        assert.strictEqual(error.actual, 0n)
      }
      const huge = yield* Effect.flip(streams.append(stream, newEvents(1), { currentVersion: 2n ** 62n }))
      assert.strictEqual(huge._tag, "WrongCurrentVersion")
      if (huge._tag === "WrongCurrentVersion") assert.strictEqual(huge.expected, 2n ** 62n)
      assert.lengthOf(yield* streams.get(stream), 1)
    }))

  it.effect("positions are bigints, exact, and a read far past the end is empty", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("u64-read")
      const position = yield* streams.append(stream, newEvents(3), { currentVersion: "no_stream" })
      assert.strictEqual(typeof position, "bigint")
      const read = yield* streams.get(stream)
      for (const event of read) {
        assert.strictEqual(typeof event.streamPosition, "bigint")
        assert.strictEqual(typeof event.commitPosition, "bigint")
      }
      assert.deepStrictEqual(yield* streams.get(stream, { streamPosition: 10n ** 12n }), [])
      assert.deepStrictEqual(yield* collect(streams.readAll({ commitPosition: position + 10n ** 15n, limit: 5 })), [])
    }))
})

layer(nodeWithClient({ insecure: true, maxAppendSize: 4096 }), { excludeTestServices: true, timeout: "30 seconds" })(
  "append size limits",
  (it) => {
    it.effect("an append larger than the node's MaxAppendSize fails with MaximumAppendSizeExceeded and writes nothing", () =>
      Effect.gen(function*() {
        const streams = yield* Streams.Streams
        const stream = uniqueStream("too-big")
        const events = Array.from({ length: 3 }, () => new NewEvent({ type: "Big", data: "x".repeat(2000) }))
        const error = yield* Effect.flip(streams.append(stream, events, { currentVersion: "no_stream" }))
        assert.strictEqual(error._tag, "MaximumAppendSizeExceeded")
        if (error._tag === "MaximumAppendSizeExceeded") assert.strictEqual(error.maximum, 4096)
        assert.strictEqual(yield* streams.getCurrentVersion(stream), "no_stream")
        // under the limit it is fine
        yield* streams.append(stream, events.slice(0, 1), { currentVersion: "no_stream" })
        assert.strictEqual(yield* streams.getCurrentVersion(stream), 0n)
      }))
  }
)

layer(nodeLayer(), { excludeTestServices: true, timeout: "30 seconds" })("client lifecycle", (it) => {
  it.effect("no I/O before the first call; closing the layer closes every connection", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      const proxy = yield* proxyScoped(node)
      const connectionString = withHostPort(node.connectionString, `127.0.0.1:${proxy.port}`)
      yield* Effect.scoped(Effect.gen(function*() {
        const streams = yield* makeStreams(connectionString)
        yield* Effect.sleep("50 millis")
        assert.strictEqual(proxy.accepted(), 0, "making the client connects nothing")
        yield* streams.append(uniqueStream("lifecycle"), newEvents(1), { currentVersion: "no_stream" })
        // a long-lived subscription keeps its connection open while in scope
        yield* Effect.forkScoped(Stream.runDrain(streams.subscribeToAll()))
        yield* eventually("connected", () => proxy.connections() >= 1)
      }))
      yield* eventually("every connection closed with the scope", () => proxy.connections() === 0)
    }))
})
