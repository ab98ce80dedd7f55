/**
 * The seed client's summary example, against an embedded node started in-process:
 * append three events to a new stream (the first two expecting NO_STREAM), get the stream back,
 * subscribe to $all from the start until the last commit position arrives, and print what
 * happened. Run with `npm run demo`. Its second part runs the event-sourcing examples
 * (examples/eventsourcing: an order aggregate with snapshots, a command handler with typed domain
 * errors, a read model projected into SQL exactly once) with their own node and PGlite.
 */
import { randomUUID } from "node:crypto"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { EventStoreDB, NewEvent, Streams } from "../src/index.ts"
import { EmbeddedNode } from "../src/server/EmbeddedNode.ts"
import { runEventSourcingDemo } from "./eventsourcing/main.ts"

const program = Effect.gen(function*() {
  const node = yield* EmbeddedNode
  yield* Console.log(`embedded node listening: ${node.connectionString}`)
  const streams = yield* Streams.Streams

  const stream = `order-${randomUUID()}`
  const event1 = new NewEvent({ type: "OrderCreated", data: '{"order_number": "123456"}' })
  const event2 = new NewEvent({ type: "OrderSubmitted", data: "{}" })
  const event3 = new NewEvent({ type: "OrderCancelled", data: "{}" })

  const commitPosition1 = yield* streams.append(stream, [event1, event2], { currentVersion: "no_stream" })
  yield* Console.log(`appended OrderCreated, OrderSubmitted to ${stream} (NO_STREAM): commit position ${commitPosition1}`)

  const commitPosition2 = yield* streams.append(stream, event3, { currentVersion: 1n })
  yield* Console.log(`appended OrderCancelled expecting version 1: commit position ${commitPosition2}`)
  if (!(commitPosition2 > commitPosition1)) return yield* Effect.die("commit positions must increase")

  const wrong = yield* streams.append(stream, new NewEvent({ type: "Late", data: "{}" }), { currentVersion: 1n }).pipe(
    Effect.map(() => "appended (unexpected)"),
    Effect.catchTag("WrongCurrentVersion", (e) => Effect.succeed(`WrongCurrentVersion: ${e.message}`))
  )
  yield* Console.log(`appending again expecting version 1 -> ${wrong}`)

  const recorded = yield* streams.get(stream)
  yield* Console.log(`get_stream: ${recorded.length} events`)
  for (const event of recorded) {
    yield* Console.log(`  #${event.streamPosition} ${event.type} ${event.dataText} id=${event.id} at ${event.commitPosition}`)
  }
  const ids = [event1.id, event2.id, event3.id]
  if (recorded.length !== 3 || recorded.some((e, i) => e.id !== ids[i] || e.streamPosition !== BigInt(i))) {
    return yield* Effect.die("the stream does not hold the three events in order")
  }

  // without includeCheckpoints / includeCaughtUp a subscription yields recorded events alone
  const received = yield* streams.subscribeToAll({ commitPosition: 0n }).pipe(
    Stream.takeUntil((event) => event.commitPosition === commitPosition2),
    Stream.runCollect,
    Effect.map((chunk) => Array.from(chunk))
  )
  const last3 = received.slice(-3)
  yield* Console.log(`subscribe_to_all from 0: received ${received.length} events until commit position ${commitPosition2}; the last three:`)
  for (const event of last3) yield* Console.log(`  ${event.type} ${event.dataText} in ${event.streamName}`)
  if (last3.map((e) => e.id).join() !== ids.join()) return yield* Effect.die("the subscription did not deliver the events in order")

  yield* Console.log("summary example: OK")
})

const NodeLayer = EmbeddedNode.layer({ insecure: true })
const ClientLayer = Layer.unwrap(
  Effect.map(EmbeddedNode, (node) => EventStoreDB.layer({ connectionString: node.connectionString }))
)

program.pipe(
  Effect.provide(ClientLayer.pipe(Layer.provideMerge(NodeLayer))),
  Effect.andThen(Console.log("\nevent sourcing (effect-esdb/eventsourcing):")),
  Effect.andThen(runEventSourcingDemo),
  Effect.runPromise
).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
