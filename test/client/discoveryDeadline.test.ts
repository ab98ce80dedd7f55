/**
 * An operation's deadline also bounds its wait for a connection: when the client has to find a
 * node first and the gossip seeds accept connections but never answer (hosts behind a dead load
 * balancer, a network that drops the replies), discovery takes up to
 * MaxDiscoverAttempts × seeds × GossipTimeout (here 10 × 2 × 5 s), and an operation given
 * `timeout: 300 ms` fails with DeadlineExceeded at its deadline instead of waiting for that
 * (found by the fault scenarios, bench/faults/allDown.ts). Discovery goes on for the next call.
 * A subscription or a consumer waiting for that discovery (no deadline) ends at once when
 * interrupted.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as net from "node:net"
import { NewEvent } from "../../src/domain/NewEvent.ts"
import * as EventStoreDB from "../../src/layers/EventStoreDB.ts"
import { PersistentSubscriptions } from "../../src/services/PersistentSubscriptions.ts"
import { Projections } from "../../src/services/Projections.ts"
import { Streams } from "../../src/services/Streams.ts"
import { newEvents } from "./_support.ts"

/** A TCP listener that accepts connections and never answers; closed with the scope. */
const silentSeed: Effect.Effect<number, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(() =>
    new Promise<{ server: net.Server; sockets: Set<net.Socket> }>((resolve) => {
      const sockets = new Set<net.Socket>()
      const server = net.createServer((socket) => {
        sockets.add(socket)
        socket.on("error", () => {})
        socket.on("close", () => sockets.delete(socket))
      })
      server.listen(0, "127.0.0.1", () => resolve({ server, sockets }))
    })
  ),
  ({ server, sockets }) =>
    Effect.promise(() => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      for (const socket of sockets) socket.destroy()
      return closed
    })
).pipe(Effect.map(({ server }) => (server.address() as net.AddressInfo).port))

const timeout = "300 millis" as const
const options = { timeout }
const write = { timeout, currentVersion: "any" as const }

type Services = Context.Context<Streams | PersistentSubscriptions | Projections>
type Case = readonly [string, (services: Services) => Effect.Effect<unknown, { readonly _tag: string }>]

const streams = (s: Services) => Context.get(s, Streams)
const groups = (s: Services) => Context.get(s, PersistentSubscriptions)
const projections = (s: Services) => Context.get(s, Projections)

// one of each way a call is made: the shared BatchAppend call, unary and client-stream calls,
// reads, subscriptions
const cases: ReadonlyArray<Case> = [
  ["Streams.append", (s) => streams(s).append("s", newEvents(1), write)],
  ["Streams.appendMany", (s) => streams(s).appendMany([{ stream: "s", events: new NewEvent({ type: "E", data: "{}" }), currentVersion: "any" }], options)],
  ["Streams.delete", (s) => streams(s).delete("s", write)],
  ["Streams.get", (s) => streams(s).get("s", options)],
  ["Streams.getStreamMetadata", (s) => streams(s).getStreamMetadata("s", options)],
  ["Streams.readAll", (s) => Stream.runDrain(streams(s).readAll(options))],
  ["Streams.subscribeToStream", (s) => Stream.runDrain(streams(s).subscribeToStream("s", options))],
  ["PersistentSubscriptions.createToStream", (s) => groups(s).createToStream("s", "g", options)],
  ["PersistentSubscriptions.getInfoToStream", (s) => groups(s).getInfoToStream("s", "g", options)],
  ["Projections.list", (s) => projections(s).list(options)]
]

describe("a deadline bounds the wait for discovery", () => {
  it.live("seeds that never answer: every operation with timeout 300 ms fails with DeadlineExceeded long before discovery ends", () =>
    Effect.scoped(Effect.gen(function*() {
      const seeds = [yield* silentSeed, yield* silentSeed]
      const services = yield* Layer.build(
        EventStoreDB.layer({ connectionString: `esdb://${seeds.map((p) => `127.0.0.1:${p}`).join(",")}?tls=false` }).pipe(Layer.orDie)
      )
      const late: Array<string> = []
      for (const [name, run] of cases) {
        const started = Date.now()
        // bounded well under discovery's 100 s, so that an operation still waiting is named
        const error = yield* Effect.flip(run(services)).pipe(Effect.timeoutOption("15 seconds"))
        const elapsed = Date.now() - started
        if (error._tag === "None") {
          late.push(`${name}: still waiting after 15 s`)
          continue
        }
        assert.strictEqual(error.value._tag, "DeadlineExceeded", `${name} failed with ${error.value._tag}`)
        // generous (a loaded machine), and far below one gossip read's 5 s
        if (elapsed > 3000) late.push(`${name}: ${elapsed} ms`)
      }
      assert.deepStrictEqual(late, [], "operations that outlived their deadline")
    })), { timeout: 120_000 })

  it.live("a subscription and a consumer waiting for discovery (no deadline) end at once when interrupted", () =>
    Effect.scoped(Effect.gen(function*() {
      const seeds = [yield* silentSeed, yield* silentSeed]
      const services = yield* Layer.build(
        EventStoreDB.layer({ connectionString: `esdb://${seeds.map((p) => `127.0.0.1:${p}`).join(",")}?tls=false` }).pipe(Layer.orDie)
      )
      const waiting = [
        Stream.runDrain(streams(services).subscribeToAll()),
        groups(services).consumeToStream("s", "g", () => Effect.void)
      ]
      for (const wait of waiting) {
        const fiber = yield* Effect.forkChild(wait)
        yield* Effect.sleep("500 millis")
        assert.isUndefined(fiber.pollUnsafe(), "still looking for a node")
        const started = Date.now()
        // bounded, so that an interruption that waits for the discovery fails here
        const done = yield* Fiber.interrupt(fiber).pipe(Effect.timeoutOption("15 seconds"))
        assert.strictEqual(done._tag, "Some", "the interruption waited for the discovery")
        assert.isBelow(Date.now() - started, 3000)
      }
    })), { timeout: 120_000 })
})
