/**
 * The seed's snapshot how-to with effect-esdb/eventsourcing: an order aggregate whose state is
 * snapshotted every 3 events into `snapshot-$<stream>` (state as data, the version it covers in
 * the metadata) and loaded from the latest snapshot plus the events after it.
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { CommandHandler } from "../../src/eventsourcing/index.ts"
import { codec, order, orderSnapshots } from "./order.ts"

export const snapshotsHowTo = (orderId: string) =>
  Effect.gen(function*() {
    const orders = CommandHandler.make({ decider: order, codec, snapshots: orderSnapshots })

    yield* orders.handle(orderId, { _tag: "Create", customer: "Fido's owner" })
    yield* orders.handle(orderId, { _tag: "AddItem", sku: "ball", quantity: 1, price: 5 })
    const before = yield* orders.load(orderId) // version 1, from the events alone

    yield* orders.handle(orderId, { _tag: "AddItem", sku: "bone", quantity: 2, price: 3 }) // 3rd event: snapshot
    const snapshotted = yield* orders.load(orderId) // version 2, from the snapshot

    yield* orders.handle(orderId, { _tag: "AddItem", sku: "leash", quantity: 1, price: 12 })
    const after = yield* orders.load(orderId) // version 3: the snapshot and one event after it

    for (const [label, loaded] of [["before", before], ["snapshotted", snapshotted], ["after", after]] as const) {
      yield* Console.log(
        `  ${label}: version ${loaded.version}, total ${loaded.state.total}, from snapshot: ${loaded.fromSnapshot} (+${loaded.eventsSinceSnapshot} events)`
      )
    }
    return { before, snapshotted, after }
  })
