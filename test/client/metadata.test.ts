/**
 * Stream metadata (seed checklist items 63-66): `{}` before anything is set, `$tb` after a
 * delete kept exact as a bigint, versioned writes, `$acl` round-trips, typed errors.
 */
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { Streams } from "../../src/index.ts"
import { newEvents, nodeWithClient, uniqueStream } from "./_support.ts"

const MAX_LONG = 9223372036854775807n

layer(nodeWithClient(), { excludeTestServices: true, timeout: "30 seconds" })("stream metadata", (it) => {
  it.effect("a stream starts with {} metadata; after a delete $tb is the exact max long", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("meta")
      yield* streams.append(stream, newEvents(2), { currentVersion: "no_stream" })
      assert.deepStrictEqual(yield* streams.getStreamMetadata(stream), { metadata: {}, version: "no_stream" })
      yield* streams.delete(stream, { currentVersion: 1n })
      const { metadata, version } = yield* streams.getStreamMetadata(stream)
      assert.strictEqual(metadata.$tb, MAX_LONG)
      assert.strictEqual(typeof metadata.$tb, "bigint")
      assert.strictEqual(version, 0n)
    }))

  it.effect("set and get metadata with versions; a missing stream gives {} and can be given metadata", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("meta-set")
      assert.deepStrictEqual(yield* streams.getStreamMetadata(stream), { metadata: {}, version: "no_stream" })
      yield* streams.setStreamMetadata(stream, { $maxCount: 10, custom: "first" }, { currentVersion: "no_stream" })
      assert.deepStrictEqual(yield* streams.getStreamMetadata(stream), {
        metadata: { $maxCount: 10, custom: "first" },
        version: 0n
      })
      yield* streams.setStreamMetadata(stream, { $maxAge: 3600, custom: { nested: [1, 2] } }, { currentVersion: 0n })
      const second = yield* streams.getStreamMetadata(stream)
      assert.deepStrictEqual(second, { metadata: { $maxAge: 3600, custom: { nested: [1, 2] } }, version: 1n })
      // the stream itself is still missing
      assert.strictEqual(yield* streams.getCurrentVersion(stream), "no_stream")
    }))

  it.effect("$acl round-trips; a wrong version is a WrongCurrentVersion", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("meta-acl")
      yield* streams.append(stream, newEvents(1), { currentVersion: "no_stream" })
      const acl = { $r: ["$all"], $w: "ops", $d: "$admins", $mr: ["$admins", "ops"], $mw: "$admins" }
      yield* streams.setStreamMetadata(stream, { $acl: acl })
      const { metadata, version } = yield* streams.getStreamMetadata(stream)
      assert.deepStrictEqual(metadata.$acl, acl)
      assert.strictEqual(version, 0n)
      const error = yield* Effect.flip(streams.setStreamMetadata(stream, { $maxCount: 1 }, { currentVersion: 5n }))
      assert.strictEqual(error._tag, "WrongCurrentVersion")
      if (error._tag === "WrongCurrentVersion") {
        assert.strictEqual(error.stream, `$$${stream}`)
        assert.strictEqual(error.expected, 5n)
        assert.strictEqual(error.actual, 0n)
      }
      assert.deepStrictEqual((yield* streams.getStreamMetadata(stream)).metadata.$acl, acl)
    }))

  it.effect("$tb over 2^53 is written and read back exactly", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("meta-tb")
      yield* streams.setStreamMetadata(stream, { $tb: 2n ** 60n + 1n })
      assert.strictEqual((yield* streams.getStreamMetadata(stream)).metadata.$tb, 2n ** 60n + 1n)
    }))

  it.effect("after a tombstone, reading the metadata is StreamDeleted", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("meta-tombstone")
      yield* streams.append(stream, newEvents(1), { currentVersion: "no_stream" })
      yield* streams.setStreamMetadata(stream, { custom: 1 })
      yield* streams.tombstone(stream, { currentVersion: "any" })
      const error = yield* Effect.flip(streams.getStreamMetadata(stream))
      assert.strictEqual(error._tag, "StreamDeleted")
    }))

  it.effect("invalid metadata is an InvalidArgument and nothing is written", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("meta-invalid")
      const bad: ReadonlyArray<unknown> = [
        { $maxCount: -1 },
        { $maxCount: 1.5 },
        { $maxAge: "a day" },
        { $tb: -1n },
        { $acl: { $r: 42 } },
        { $tmp: "yes" }
      ]
      for (const metadata of bad) {
        const error = yield* Effect.flip(streams.setStreamMetadata(stream, metadata as never))
        assert.strictEqual(error._tag, "InvalidArgument", JSON.stringify(metadata, (_k, v) => typeof v === "bigint" ? `${v}n` : v))
        assert.include(error.message, "Invalid stream metadata")
      }
      assert.deepStrictEqual(yield* streams.getStreamMetadata(stream), { metadata: {}, version: "no_stream" })
    }))
})
