/**
 * The seed's filter constants (`ESDB_SYSTEM_EVENTS_REGEX`, `ESDB_PERSISTENT_CONFIG_EVENTS_REGEX`,
 * `DEFAULT_EXCLUDE_FILTER`) and the official client's `excludeSystemEvents` regex, exported from
 * `Filter`, used against `readAll` on an embedded node; and recorded events comparing equal to
 * the new events they were appended from.
 */
import { assert, layer } from "@effect/vitest"
import * as Equal from "effect/Equal"
import * as Effect from "effect/Effect"
import { Filter, NewEvent, Streams } from "../../src/index.ts"
import { EmbeddedNode } from "../../src/server/EmbeddedNode.ts"
import { collect, uniqueId, uniqueStream } from "./_support.ts"

layer(EmbeddedNode.layerClient(), { excludeTestServices: true, timeout: "30 seconds" })("Filter constants", (it) => {
  it("are the seed's patterns, anchored as one expression by the default exclusion", () => {
    assert.strictEqual(Filter.ESDB_SYSTEM_EVENTS_REGEX, "\\$.+")
    assert.strictEqual(Filter.ESDB_PERSISTENT_CONFIG_EVENTS_REGEX, "PersistentConfig\\d+")
    assert.deepStrictEqual(Filter.DEFAULT_EXCLUDE_FILTER, [Filter.ESDB_SYSTEM_EVENTS_REGEX, Filter.ESDB_PERSISTENT_CONFIG_EVENTS_REGEX])
    assert.deepStrictEqual(Filter.toServerFilter(undefined), { on: "eventType", regex: "^(?!(?:\\$.+|PersistentConfig\\d+)$)" })
    assert.deepStrictEqual(Filter.toServerFilter({ filterExclude: Filter.DEFAULT_EXCLUDE_FILTER }), Filter.toServerFilter({}))
  })

  it.effect("select system, persistent-config and application events in readAll", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const s = uniqueId()
      const prefix = `filters-${s}-`
      const start = yield* streams.append(`${prefix}marker`, new NewEvent({ type: `Marker${s}`, data: "{}" }), {
        currentVersion: "no_stream"
      })
      const types = [`Order${s}`, `$system${s}`, "PersistentConfig1", `PersistentConfigX${s}`, `Snapshot${s}`]
      for (const [i, type] of types.entries()) {
        yield* streams.append(`${prefix}${i}`, new NewEvent({ type, data: "{}" }), { currentVersion: "no_stream" })
      }
      const read = (options: Filter.FilterOptions) =>
        Effect.map(
          collect(streams.readAll({ commitPosition: start, ...options })),
          (events) => events.filter((e) => e.streamName.startsWith(prefix) && e.type !== `Marker${s}`).map((e) => e.type)
        )
      const applicationEvents = [`Order${s}`, `PersistentConfigX${s}`, `Snapshot${s}`]
      // the default exclusion, given or not
      assert.deepStrictEqual(yield* read({}), applicationEvents)
      assert.deepStrictEqual(yield* read({ filterExclude: Filter.DEFAULT_EXCLUDE_FILTER }), applicationEvents)
      // extended, as the seed's README shows
      assert.deepStrictEqual(
        yield* read({ filterExclude: [...Filter.DEFAULT_EXCLUDE_FILTER, ".*Snapshot.*"] }),
        [`Order${s}`, `PersistentConfigX${s}`]
      )
      // each constant alone
      assert.deepStrictEqual(yield* read({ filterInclude: [Filter.ESDB_SYSTEM_EVENTS_REGEX] }), [`$system${s}`])
      assert.deepStrictEqual(yield* read({ filterInclude: [Filter.ESDB_PERSISTENT_CONFIG_EVENTS_REGEX] }), ["PersistentConfig1"])
      assert.deepStrictEqual(yield* read({ filterExclude: [Filter.ESDB_SYSTEM_EVENTS_REGEX] }), types.filter((t) => !t.startsWith("$")))
      // the official client's excludeSystemEvents(): keeps PersistentConfig events
      assert.deepStrictEqual(yield* read({ filterInclude: [Filter.NON_SYSTEM_EVENTS_REGEX] }), types.filter((t) => !t.startsWith("$")))
      // no filter at all
      assert.deepStrictEqual(yield* read({ filterExclude: [] }), types)
    }))

  it.effect("a recorded event equals the new event it was appended from, and not another", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("equality")
      const created = NewEvent.json("OrderCreated", { order: 1 }, { metadata: { user: "u" } })
      const attached = NewEvent.binary("Attachment", new Uint8Array([0, 1, 255]))
      const plain = new NewEvent({ type: "Noted", data: "not json" })
      yield* streams.append(stream, [created, attached, plain], { currentVersion: "no_stream" })
      const recorded = yield* streams.get(stream)
      assert.strictEqual(recorded.length, 3)
      const appended = [created, attached, plain]
      for (const [i, event] of recorded.entries()) {
        for (const [j, original] of appended.entries()) {
          assert.strictEqual(Equal.equals(event, original), i === j, `recorded ${i} vs new ${j}`)
          assert.strictEqual(Equal.equals(original, event), i === j, `new ${j} vs recorded ${i}`)
          assert.strictEqual(event.equals(original), i === j)
          assert.strictEqual(original.equals(event), i === j)
        }
      }
      // the same id with other content is not equal (the node would treat it as a duplicate)
      const sameId = NewEvent.json("OrderCreated", { order: 2 }, { metadata: { user: "u" }, id: created.id })
      assert.isFalse(Equal.equals(recorded[0], sameId))
      assert.isFalse(sameId.equals(recorded[0]!))
    }))
})
