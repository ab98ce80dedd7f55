/**
 * `Streams.appendMany` (AppendSession) and `Streams.appendRecords` against the embedded node
 * (default version 26.1): atomicity, the typed errors, concurrent multi-stream appends never
 * interleaving partially, a v1 read of v2 records, and `UnsupportedFeature` from older nodes.
 */
import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { NewEvent, Streams } from "../../src/index.ts"
import { newEvents, nodeWithClient, uniqueStream } from "./_support.ts"

const failureOf = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.flip(effect)

layer(nodeWithClient(), { excludeTestServices: true, timeout: "60 seconds" })("appendMany and appendRecords (26.1)", (it) => {
  it.effect("an aggregate command writes two streams atomically: revisions in order and one position", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const order = uniqueStream("order")
      const stock = uniqueStream("stock")
      yield* streams.append(stock, newEvents(2), { currentVersion: "no_stream" })
      const result = yield* streams.appendMany([
        { stream: order, events: NewEvent.json("OrderPlaced", { sku: "a" }), currentVersion: "no_stream" },
        { stream: stock, events: [NewEvent.json("Reserved", { sku: "a" })], currentVersion: 1n }
      ])
      assert.deepStrictEqual(result.revisions, [{ stream: order, revision: 0n }, { stream: stock, revision: 2n }])
      const reserved = (yield* streams.get(stock))[2]
      assert.strictEqual(reserved!.type, "Reserved")
      // the commit position of the transaction is its last record's
      assert.strictEqual(result.position, reserved!.commitPosition)
    }))

  it.effect("one wrong expected version leaves every stream untouched; the error names that stream", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const a = uniqueStream("a")
      const b = uniqueStream("b")
      const c = uniqueStream("c")
      yield* streams.append(b, newEvents(1), { currentVersion: "no_stream" })
      const error = yield* failureOf(streams.appendMany([
        { stream: a, events: newEvents(2), currentVersion: "any" },
        { stream: b, events: newEvents(1), currentVersion: 5n },
        { stream: c, events: newEvents(1), currentVersion: "no_stream" }
      ]))
      assert.strictEqual(error._tag, "WrongCurrentVersion")
      if (error._tag !== "WrongCurrentVersion") return
      assert.strictEqual(error.stream, b)
      assert.strictEqual(error.expected, 5n)
      assert.strictEqual(error.actual, 0n)
      assert.strictEqual(yield* streams.getCurrentVersion(a), "no_stream")
      assert.strictEqual(yield* streams.getCurrentVersion(b), 0n)
      assert.strictEqual(yield* streams.getCurrentVersion(c), "no_stream")
    }))

  it.effect("a tombstoned stream: StreamDeleted, nothing written", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const a = uniqueStream("a")
      const dead = uniqueStream("dead")
      yield* streams.append(dead, newEvents(1), { currentVersion: "any" })
      yield* streams.tombstone(dead, { currentVersion: "any" })
      const error = yield* failureOf(streams.appendMany([
        { stream: a, events: newEvents(1), currentVersion: "any" },
        { stream: dead, events: newEvents(1), currentVersion: "any" }
      ]))
      assert.deepStrictEqual([error._tag, "stream" in error ? error.stream : ""], ["StreamDeleted", dead])
      assert.strictEqual(yield* streams.getCurrentVersion(a), "no_stream")
    }))

  it.effect("bad input is refused before anything is sent: the same stream twice, no streams, no events, metadata not an object or with an integer beyond 2^53", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const a = uniqueStream("a")
      const twice = yield* failureOf(streams.appendMany([
        { stream: a, events: newEvents(1), currentVersion: "any" },
        { stream: a.toUpperCase(), events: newEvents(1), currentVersion: "any" }
      ]))
      assert.strictEqual(twice._tag, "InvalidArgument")
      assert.strictEqual((yield* failureOf(streams.appendMany([])))._tag, "InvalidArgument")
      assert.strictEqual((yield* failureOf(streams.appendMany([{ stream: a, events: [], currentVersion: "any" }])))._tag, "InvalidArgument")
      const notObject = yield* failureOf(streams.appendMany([
        { stream: a, events: new NewEvent({ type: "T", data: "{}", metadata: "[1]" }), currentVersion: "any" }
      ]))
      assert.strictEqual(notObject._tag, "InvalidArgument")
      // a record's properties hold numbers as doubles: an id beyond 2^53 would be stored changed
      const bigId = yield* failureOf(streams.appendMany([
        { stream: a, events: new NewEvent({ type: "T", data: "{}", metadata: `{"order": {"id": 12345678901234567890}}` }), currentVersion: "any" }
      ]))
      assert.strictEqual(bigId._tag, "InvalidArgument")
      assert.include(bigId.message, `"id": 12345678901234567890`)
      assert.strictEqual(yield* streams.getCurrentVersion(a), "no_stream")
      // what a double holds exactly is taken as it is
      yield* streams.appendMany([
        { stream: a, events: new NewEvent({ type: "T", data: "{}", metadata: `{"id": 9007199254740991, "big": 1.5e300}` }), currentVersion: "any" }
      ])
      assert.strictEqual(yield* streams.getCurrentVersion(a), 0n)
    }))

  it.effect("concurrent multi-stream appends never interleave partially", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const a = uniqueStream("ca")
      const b = uniqueStream("cb")
      // 20 writers, each appending one event to both streams, expecting the revision it last saw:
      // every committed transaction wrote both streams, so both always have the same length
      const writer = (w: number) =>
        Effect.gen(function*() {
          let committed = 0
          for (let k = 0; k < 5; k++) {
            const v = yield* streams.getCurrentVersion(a)
            const r = yield* Effect.result(streams.appendMany([
              { stream: a, events: NewEvent.json("W", { w, k }), currentVersion: v },
              { stream: b, events: NewEvent.json("W", { w, k }), currentVersion: v }
            ]))
            if (r._tag === "Success") committed++
          }
          return committed
        })
      const counts = yield* Effect.all(Array.from({ length: 20 }, (_, w) => writer(w)), { concurrency: "unbounded" })
      const total = counts.reduce((x, y) => x + y, 0)
      const ea = yield* streams.get(a)
      const eb = yield* streams.get(b)
      assert.strictEqual(ea.length, total)
      assert.strictEqual(eb.length, total)
      assert.deepStrictEqual(ea.map((e) => new TextDecoder().decode(e.data)), eb.map((e) => new TextDecoder().decode(e.data)))
    }))

  it.effect("a v1 read of v2 records: type, content type, and the properties with $schema.name/$schema.format", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const a = uniqueStream("v1")
      yield* streams.appendMany([{
        stream: a,
        currentVersion: "any",
        events: [
          NewEvent.json("Placed", { x: 1 }, { metadata: { user: "ada", n: 2, ok: true, nested: { l: [1, "x", null] } } }),
          NewEvent.binary("Blob", new Uint8Array([7]))
        ]
      }])
      const [json, blob] = yield* streams.get(a)
      assert.strictEqual(json!.type, "Placed")
      assert.strictEqual(json!.contentType, "application/json")
      assert.strictEqual(
        new TextDecoder().decode(json!.metadata),
        `{ "user": "ada", "n": 2, "ok": true, "nested": { "l": [ 1, "x", null ] }, "$schema.name": "Placed", "$schema.format": "Json" }`
      )
      assert.strictEqual(blob!.type, "Blob")
      assert.strictEqual(blob!.contentType, "application/octet-stream")
      assert.strictEqual(new TextDecoder().decode(blob!.metadata), `{ "$schema.format": "Bytes", "$schema.name": "Blob" }`)
    }))

  it.effect("appendRecords: interleaved records, checks on streams not written; every failing check listed", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const a = uniqueStream("ra")
      const b = uniqueStream("rb")
      const c = uniqueStream("rc")
      const result = yield* streams.appendRecords([
        { stream: a, event: NewEvent.json("A1", {}) },
        { stream: b, event: NewEvent.json("B1", {}) },
        { stream: a, event: NewEvent.json("A2", {}) }
      ], { checks: [{ stream: c, expected: "no_stream" }] })
      assert.deepStrictEqual(result.revisions, [{ stream: a, revision: 1n }, { stream: b, revision: 0n }])
      const error = yield* failureOf(streams.appendRecords(
        [{ stream: c, event: NewEvent.json("C1", {}) }],
        { checks: [{ stream: a, expected: 0n }, { stream: b, expected: "exists" }, { stream: c, expected: "exists" }] }
      ))
      assert.strictEqual(error._tag, "ConsistencyViolation")
      if (error._tag !== "ConsistencyViolation") return
      assert.deepStrictEqual(error.violations, [
        { checkIndex: 0, stream: a, expected: 0n, actual: 1n },
        { checkIndex: 2, stream: c, expected: "exists", actual: "no_stream" }
      ])
      assert.strictEqual(yield* streams.getCurrentVersion(c), "no_stream")
      const bad = yield* failureOf(streams.appendRecords([{ stream: c, event: NewEvent.json("C1", {}) }], {
        checks: [{ stream: a, expected: "any" as never }]
      }))
      assert.strictEqual(bad._tag, "InvalidArgument")
    }))
})

layer(nodeWithClient({ insecure: true, maxAppendSize: 1024 * 1024 }), { excludeTestServices: true, timeout: "30 seconds" })(
  "size limits",
  (it) => {
    it.effect("a transaction over MaxAppendSize: MaximumAppendSizeExceeded with the maximum, nothing written", () =>
      Effect.gen(function*() {
        const streams = yield* Streams.Streams
        const a = uniqueStream("big-a")
        const b = uniqueStream("big-b")
        const blob = () => NewEvent.binary("Blob", new Uint8Array(600 * 1024))
        const error = yield* failureOf(streams.appendMany([
          { stream: a, events: blob(), currentVersion: "any" },
          { stream: b, events: blob(), currentVersion: "any" }
        ]))
        assert.strictEqual(error._tag, "MaximumAppendSizeExceeded")
        if (error._tag === "MaximumAppendSizeExceeded") assert.strictEqual(error.maximum, 1024 * 1024)
        assert.strictEqual(yield* streams.getCurrentVersion(a), "no_stream")
        const records = yield* failureOf(streams.appendRecords([{ stream: a, event: blob() }, { stream: b, event: blob() }]))
        assert.strictEqual(records._tag, "MaximumAppendSizeExceeded")
        assert.strictEqual(yield* streams.getCurrentVersion(b), "no_stream")
      }))
  }
)

describe("older nodes", () => {
  layer(nodeWithClient({ insecure: true, version: "25.1.0" }), { excludeTestServices: true, timeout: "30 seconds" })("25.1", (it) => {
    it.effect("appendMany works; appendRecords is UnsupportedFeature naming 26.1", () =>
      Effect.gen(function*() {
        const streams = yield* Streams.Streams
        const a = uniqueStream("old")
        yield* streams.appendMany([{ stream: a, events: newEvents(1), currentVersion: "any" }])
        const error = yield* failureOf(streams.appendRecords([{ stream: a, event: newEvents(1)[0]! }]))
        assert.strictEqual(error._tag, "UnsupportedFeature")
        if (error._tag === "UnsupportedFeature") assert.strictEqual(error.requiredVersion, "26.1")
      }))
  })
  layer(nodeWithClient({ insecure: true, version: "24.10.0" }), { excludeTestServices: true, timeout: "30 seconds" })("24.10", (it) => {
    it.effect("appendMany is UnsupportedFeature naming 25.1", () =>
      Effect.gen(function*() {
        const streams = yield* Streams.Streams
        const error = yield* failureOf(streams.appendMany([{ stream: uniqueStream("old"), events: newEvents(1), currentVersion: "any" }]))
        assert.strictEqual(error._tag, "UnsupportedFeature")
        if (error._tag === "UnsupportedFeature") assert.strictEqual(error.requiredVersion, "25.1")
      }))
  })
})
