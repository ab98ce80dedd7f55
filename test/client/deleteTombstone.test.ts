/**
 * Soft delete and tombstone (seed checklist items 26-30): their version checks, what a deleted
 * stream looks like afterwards, and the typed errors.
 */
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { Streams } from "../../src/index.ts"
import { newEvents, nodeWithClient, uniqueStream } from "./_support.ts"

layer(nodeWithClient(), { excludeTestServices: true, timeout: "30 seconds" })("delete", (it) => {
  it.effect("delete with a wrong version is a WrongCurrentVersion; with the right one it can be repeated", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("delete")
      yield* streams.append(stream, newEvents(2), { currentVersion: "no_stream" })
      const error = yield* Effect.flip(streams.delete(stream, { currentVersion: 0n }))
      assert.strictEqual(error._tag, "WrongCurrentVersion")
      if (error._tag === "WrongCurrentVersion") {
        assert.strictEqual(error.stream, stream)
        assert.strictEqual(error.expected, 0n)
        assert.strictEqual(error.actual, 1n)
      }
      yield* streams.delete(stream, { currentVersion: 1n })
      yield* streams.delete(stream, { currentVersion: 1n })
    }))

  it.effect("delete and tombstone return the commit position of the deletion, after the stream's last event", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const deleted = uniqueStream("delete-position")
      const appended = yield* streams.append(deleted, newEvents(2), { currentVersion: "no_stream" })
      const deletedAt = yield* streams.delete(deleted, { currentVersion: 1n })
      assert.isTrue(deletedAt > appended, `${deletedAt} > ${appended}`)
      const tombstoned = uniqueStream("tombstone-position")
      const appendedToo = yield* streams.append(tombstoned, newEvents(1), { currentVersion: "no_stream" })
      const tombstonedAt = yield* streams.tombstone(tombstoned, { currentVersion: 0n })
      assert.isTrue(tombstonedAt > appendedToo, `${tombstonedAt} > ${appendedToo}`)
      assert.isTrue(tombstonedAt > deletedAt)
      // the tombstone is in $all at (or before) that position
      assert.isTrue((yield* streams.getCommitPosition({ filterExclude: [] })) >= tombstonedAt)
    }))

  it.effect("a deleted stream reads as missing; appending again continues its numbering", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      for (const reopenWith of ["no_stream", 1n] as const) {
        const stream = uniqueStream("reopen")
        yield* streams.append(stream, newEvents(2), { currentVersion: "no_stream" })
        yield* streams.delete(stream, { currentVersion: 1n })
        const missing = yield* Effect.flip(streams.get(stream))
        assert.strictEqual(missing._tag, "NotFound")
        assert.strictEqual(yield* streams.getCurrentVersion(stream), "no_stream")
        yield* streams.append(stream, newEvents(1, "Reopened"), { currentVersion: reopenWith })
        const read = yield* streams.get(stream)
        assert.deepStrictEqual(read.map((e) => [e.streamPosition, e.type]), [[2n, "Reopened"]], String(reopenWith))
        assert.strictEqual(yield* streams.getCurrentVersion(stream), 2n)
      }
    }))

  it.effect("deleting a missing stream (any or exists) is NotFound; exists on a deleted stream is StreamDeleted", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const missing = uniqueStream("never")
      for (const currentVersion of ["any", "exists"] as const) {
        const error = yield* Effect.flip(streams.delete(missing, { currentVersion }))
        assert.strictEqual(error._tag, "NotFound", currentVersion)
        if (error._tag === "NotFound") assert.strictEqual(error.stream, missing)
      }
      const stream = uniqueStream("deleted")
      yield* streams.append(stream, newEvents(1), { currentVersion: "no_stream" })
      yield* streams.delete(stream, { currentVersion: "any" })
      const error = yield* Effect.flip(streams.delete(stream, { currentVersion: "exists" }))
      assert.strictEqual(error._tag, "StreamDeleted")
      if (error._tag === "StreamDeleted") assert.strictEqual(error.stream, stream)
    }))
})

layer(nodeWithClient(), { excludeTestServices: true, timeout: "30 seconds" })("tombstone", (it) => {
  it.effect("tombstone with a wrong version is a WrongCurrentVersion; afterwards everything is StreamDeleted", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("tombstone")
      yield* streams.append(stream, newEvents(2), { currentVersion: "no_stream" })
      const wrong = yield* Effect.flip(streams.tombstone(stream, { currentVersion: 5n }))
      assert.strictEqual(wrong._tag, "WrongCurrentVersion")
      if (wrong._tag === "WrongCurrentVersion") {
        assert.strictEqual(wrong.expected, 5n)
        assert.strictEqual(wrong.actual, 1n)
      }
      yield* streams.tombstone(stream, { currentVersion: 1n })

      const again = yield* Effect.flip(streams.tombstone(stream, { currentVersion: "any" }))
      assert.strictEqual(again._tag, "StreamDeleted")
      const read = yield* Effect.flip(streams.get(stream))
      assert.strictEqual(read._tag, "StreamDeleted")
      if (read._tag === "StreamDeleted") assert.strictEqual(read.stream, stream)
      const version = yield* Effect.flip(streams.getCurrentVersion(stream))
      assert.strictEqual(version._tag, "StreamDeleted")
      for (const currentVersion of ["any", "no_stream", 1n] as const) {
        const append = yield* Effect.flip(streams.append(stream, newEvents(1), { currentVersion }))
        assert.strictEqual(append._tag, "StreamDeleted", String(currentVersion))
      }
      const deleteAfter = yield* Effect.flip(streams.delete(stream, { currentVersion: "any" }))
      assert.strictEqual(deleteAfter._tag, "StreamDeleted")
    }))

  it.effect("tombstoning a missing stream: any succeeds, exists is NotFound", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const error = yield* Effect.flip(streams.tombstone(uniqueStream("never"), { currentVersion: "exists" }))
      assert.strictEqual(error._tag, "NotFound")
      const stream = uniqueStream("never")
      yield* streams.tombstone(stream, { currentVersion: "any" })
      const read = yield* Effect.flip(streams.get(stream))
      assert.strictEqual(read._tag, "StreamDeleted")
    }))
})
