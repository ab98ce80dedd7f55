/**
 * The README's examples, gathered in examples/tour.ts, run against an embedded node and do
 * what the README says they do.
 */
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { chunkedTour, consumerTour, parkedTour, persistentTour } from "../examples/persistent.ts"
import { projectionsTour } from "../examples/projections.ts"
import { tour } from "../examples/tour.ts"
import { EmbeddedNode } from "../src/server/EmbeddedNode.ts"
import { uniqueId } from "./support/unique.ts"

layer(EmbeddedNode.layerClient({ insecure: true, standardProjections: true }), { excludeTestServices: true, timeout: "30 seconds" })(
  "README examples",
  (it) => {
    it.effect("the Streams tour", () =>
      Effect.gen(function*() {
        const suffix = uniqueId()
        const result = yield* tour(suffix)
        assert.strictEqual(result.conflict, `stream order-${suffix} is at 3, not 0`)
        assert.isTrue(result.idempotentSamePosition)
        assert.deepStrictEqual(result.missing, [])
        assert.isTrue(result.readBackEqual)
        assert.strictEqual(result.version, 3n)
        assert.isTrue(result.headAtLeastLastAppend)
        assert.isTrue(result.deletionsHavePositions)
        assert.deepStrictEqual(result.pageTypes.length, 2)
        assert.deepStrictEqual(result.linkedTypes, [`OrderCreated${suffix.replace(/-/g, "")}`])
        // the start position is exclusive: position1 is the commit position of the batch's last event
        assert.deepStrictEqual(result.subscribed, ["Attachment", "Noted"])
        assert.strictEqual(result.metadataMaxCount, 50)
        assert.strictEqual(result.afterTombstone, "tombstoned")
      }))

    it.effect("the persistent subscriptions tour", () =>
      Effect.gen(function*() {
        const result = yield* persistentTour(uniqueId())
        assert.strictEqual(result.again, "exists")
        assert.strictEqual(result.startFrom, "start")
        assert.strictEqual(result.strategy, "Pinned")
        assert.isTrue(result.listed)
        assert.deepStrictEqual(result.updated, [5, "Pinned"])
        assert.strictEqual(result.afterDelete, "deleted")
      }))

    it.effect("the persistent subscription consumer: failures retried three times, then parked", () =>
      Effect.gen(function*() {
        const result = yield* consumerTour(uniqueId(), 10)
        assert.strictEqual(result.acked, 6)
        assert.deepStrictEqual(result.parked, [0n, 3n, 6n, 9n])
      }))

    it.effect("the chunked persistent consumer: every chunk handled, then acked with one call", () =>
      Effect.gen(function*() {
        const result = yield* chunkedTour(uniqueId(), 50)
        assert.deepStrictEqual(result, { handled: 50, inFlight: 0, retry: 0 })
      }))

    it.effect("the parked events: five parked, two dropped with stopAt, then the rest", () =>
      Effect.gen(function*() {
        const result = yield* parkedTour(uniqueId())
        assert.deepStrictEqual(result, { parked: 5n, afterStopAt: 3n, afterAll: 0n })
      }))

    it.effect("the projections tour", () =>
      Effect.gen(function*() {
        const result = yield* projectionsTour(uniqueId())
        assert.deepStrictEqual(result.json, { count: 2, total: 15 })
        assert.deepStrictEqual(result.totals, { count: 2, total: 15 })
        assert.strictEqual(result.again, "exists")
        assert.strictEqual(result.state, "Running")
        assert.isTrue(result.enabled)
        assert.isTrue(result.listed)
        assert.deepStrictEqual(result.latest, { count: 2, total: 15 })
        assert.strictEqual(result.stopped, "Stopped")
        assert.deepStrictEqual(result.resetTotals, { count: 3, total: 22 })
        assert.isTrue(result.resetEpochAdvanced)
        assert.deepStrictEqual(result.updated, { count: 6, total: 22 })
        assert.include(result.fault, "no totals")
        assert.strictEqual(result.whileRunning, "running")
        assert.strictEqual(result.afterDelete, "deleted")
      }))
  }
)
