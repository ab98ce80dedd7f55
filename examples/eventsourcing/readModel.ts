/**
 * The seed's exactly-once how-to with effect-esdb/eventsourcing: a read model of orders
 * projected into SQL. Each event's SQL and the position it brings the projection to commit in
 * one transaction; the checkpoint table's uniqueness constraints refuse an event applied twice,
 * and a restarted projector resumes after the last committed position.
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as SqlClient from "effect/sql/SqlClient"
import { Projector } from "../../src/eventsourcing/index.ts"
import { codec } from "./order.ts"

export const readModelExample = (prefix: string, lastPosition: bigint) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE IF NOT EXISTS orders (id text PRIMARY KEY, customer text, items int NOT NULL DEFAULT 0, total numeric NOT NULL DEFAULT 0, status text)`

    const project = Projector.run({
      subscription: Projector.all({ filterInclude: `${prefix}.*`, filterByStreamName: true }),
      store: { name: `orders-${prefix}` },
      batch: { size: 100, delay: "20 millis" },
      handler: Projector.typed(codec, ({ event, recorded }) => {
        const id = recorded.streamName
        switch (event._tag) {
          case "OrderCreated":
            return sql`INSERT INTO orders (id, customer, status) VALUES (${id}, ${event.customer}, 'open')`
          case "ItemAdded":
            return sql`UPDATE orders SET items = items + ${event.quantity}, total = total + ${event.quantity * event.price} WHERE id = ${id}`
          case "OrderConfirmed":
            return sql`UPDATE orders SET status = 'confirmed' WHERE id = ${id}`
          case "OrderCancelled":
            return sql`UPDATE orders SET status = 'cancelled' WHERE id = ${id}`
        }
      }, { unknownTypes: "skip" })
    })

    // run it until it has projected everything appended so far, stop it, and start it again:
    // the second run resumes after the recorded position and applies nothing twice
    for (const run of [1, 2]) {
      const fiber = yield* Effect.forkChild(project)
      while (((yield* Projector.position({ name: `orders-${prefix}` })) ?? -1n) < lastPosition) yield* Effect.sleep("20 millis")
      yield* Fiber.interrupt(fiber)
      yield* Console.log(`  run ${run}: projected up to ${lastPosition}`)
    }
    const rows = yield* sql<{ id: string; customer: string; items: number; total: string; status: string }>`
      SELECT id, customer, items, total::text AS total, status FROM orders WHERE id LIKE ${prefix + "%"} ORDER BY id`
    for (const row of rows) yield* Console.log(`  ${row.id}: ${row.customer}, ${row.items} items, ${row.total}, ${row.status}`)
    return rows
  })
