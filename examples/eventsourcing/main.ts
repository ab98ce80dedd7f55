/**
 * The event-sourcing examples end to end: an embedded node (in-process) and a SQL database
 * (PGlite in memory by default, `DATABASE_URL`'s PostgreSQL when set). Run with
 * `npm run demo` (its second part) or `node --experimental-strip-types examples/eventsourcing/main.ts`.
 */
import { randomUUID } from "node:crypto"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { EventStoreDB, Streams } from "../../src/index.ts"
import { EmbeddedNode } from "../../src/server/EmbeddedNode.ts"
import { commandsExample } from "./commands.ts"
import { database } from "./database.ts"
import { readModelExample } from "./readModel.ts"
import { snapshotsHowTo } from "./snapshots.ts"

export const eventSourcingDemo = Effect.gen(function*() {
  const prefix = `shop${randomUUID().slice(0, 8)}-order-`
  yield* Console.log("order aggregate with snapshots (the seed's snapshot how-to):")
  const snapshots = yield* snapshotsHowTo(`${prefix}1`)
  yield* Console.log("command handler with typed domain errors:")
  const outcomes = yield* commandsExample(`${prefix}2`)
  const streams = yield* Streams.Streams
  const last = yield* streams.getCommitPosition({ filterInclude: `${prefix}.*`, filterByStreamName: true })
  yield* Console.log(`read model projected into SQL exactly once (the seed's exactly-once how-to; ${process.env["DATABASE_URL"] ? "DATABASE_URL" : "PGlite"}):`)
  const rows = yield* readModelExample(prefix, last)
  return { snapshots, outcomes, rows }
})

const NodeLayer = EmbeddedNode.layer({ insecure: true })
const ClientLayer = Layer.unwrap(Effect.map(EmbeddedNode, (node) => EventStoreDB.layer({ connectionString: node.connectionString })))

/** Runs the demo with its own node and database. */
export const runEventSourcingDemo = eventSourcingDemo.pipe(
  Effect.provide(Layer.mergeAll(ClientLayer.pipe(Layer.provideMerge(NodeLayer)), database)),
  Effect.tap(() => Console.log("event-sourcing example: OK"))
)

if (import.meta.url === `file://${process.argv[1]}`) {
  Effect.runPromise(runEventSourcingDemo).then(() => process.exit(0), (error) => {
    console.error(error)
    process.exit(1)
  })
}
