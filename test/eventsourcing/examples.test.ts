/**
 * The event-sourcing examples (examples/eventsourcing, the second part of `npm run demo`) end to
 * end against the embedded node and PGlite served through its socket server, and again against
 * a real PostgreSQL: they do what the README says.
 */
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { pglite } from "../../examples/eventsourcing/database.ts"
import { eventSourcingDemo } from "../../examples/eventsourcing/main.ts"
import { nodeWithClient } from "../client/_support.ts"
import { postgresLayer } from "../support/postgres.ts"

const check = Effect.gen(function*() {
  const { outcomes, rows, snapshots } = yield* eventSourcingDemo
  assert.deepStrictEqual(
    [snapshots.before.fromSnapshot, snapshots.snapshotted.fromSnapshot, snapshots.after.fromSnapshot],
    [false, true, true]
  )
  assert.deepStrictEqual([snapshots.before.version, snapshots.snapshotted.version, snapshots.after.version], [1n, 2n, 3n])
  assert.strictEqual(snapshots.after.eventsSinceSnapshot, 1)
  assert.strictEqual(snapshots.after.state.total, 23)
  assert.deepStrictEqual(outcomes, [
    "refused: no such order",
    "ok: OrderCreated (version 0)",
    "refused: the order exists",
    "refused: nothing to confirm",
    "ok: ItemAdded (version 1)",
    "ok: OrderConfirmed (version 2)",
    "refused: the order is confirmed"
  ])
  assert.deepStrictEqual(rows.map((r) => [r.customer, Number(r.items), Number(r.total), r.status]), [
    ["Fido's owner", 4, 23, "open"],
    ["ada", 1, 5, "confirmed"]
  ])
})

layer(Layer.mergeAll(nodeWithClient(), pglite.pipe(Layer.orDie)), { excludeTestServices: true, timeout: 60_000 })(
  "event-sourcing examples on PGlite",
  (it) => {
    it.effect("snapshots, typed domain errors, a read model in SQL", () => check, 60_000)
  }
)

layer(Layer.mergeAll(nodeWithClient(), postgresLayer().pipe(Layer.orDie)), { excludeTestServices: true, timeout: 60_000 })(
  "event-sourcing examples on PostgreSQL",
  (it) => {
    it.effect("snapshots, typed domain errors, a read model in SQL", () => check, 60_000)
  }
)
