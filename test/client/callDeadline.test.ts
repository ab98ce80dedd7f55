/**
 * One deadline per operation, retries included: with `timeout: 300 ms` against a port where
 * nothing listens, every operation of every service fails with DeadlineExceeded or
 * ServiceUnavailable within 300 ms + 200 ms (the default retry Schedule alone would retry for
 * about 3 s).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as EventStoreDB from "../../src/layers/EventStoreDB.ts"
import { PersistentSubscriptions } from "../../src/services/PersistentSubscriptions.ts"
import { Projections } from "../../src/services/Projections.ts"
import { Streams } from "../../src/services/Streams.ts"
import { freePort, newEvents } from "./_support.ts"

const timeout = "300 millis" as const
const options = { timeout }
const write = { timeout, currentVersion: "any" as const }

type Services = Context.Context<Streams | PersistentSubscriptions | Projections>
type Case = readonly [string, (services: Services) => Effect.Effect<unknown, { readonly _tag: string }>]

const drain = <A, E extends { readonly _tag: string }>(stream: Stream.Stream<A, E>) => Stream.runDrain(stream)

const streams = (s: Services) => Context.get(s, Streams)
const groups = (s: Services) => Context.get(s, PersistentSubscriptions)
const projections = (s: Services) => Context.get(s, Projections)

const cases: ReadonlyArray<Case> = [
  ["Streams.append", (s) => streams(s).append("s", newEvents(1), write)],
  ["Streams.read", (s) => drain(streams(s).read("s", options))],
  ["Streams.get", (s) => streams(s).get("s", options)],
  ["Streams.readAll", (s) => drain(streams(s).readAll(options))],
  ["Streams.getCurrentVersion", (s) => streams(s).getCurrentVersion("s", options)],
  ["Streams.getCommitPosition", (s) => streams(s).getCommitPosition(options)],
  ["Streams.getStreamMetadata", (s) => streams(s).getStreamMetadata("s", options)],
  ["Streams.setStreamMetadata", (s) => streams(s).setStreamMetadata("s", { maxCount: 1 }, options)],
  ["Streams.delete", (s) => streams(s).delete("s", write)],
  ["Streams.tombstone", (s) => streams(s).tombstone("s", write)],
  ["Streams.subscribeToAll", (s) => drain(streams(s).subscribeToAll(options))],
  ["Streams.subscribeToStream", (s) => drain(streams(s).subscribeToStream("s", options))],
  ["PersistentSubscriptions.createToStream", (s) => groups(s).createToStream("s", "g", options)],
  ["PersistentSubscriptions.createToAll", (s) => groups(s).createToAll("g", options)],
  ["PersistentSubscriptions.updateToStream", (s) => groups(s).updateToStream("s", "g", options)],
  ["PersistentSubscriptions.updateToAll", (s) => groups(s).updateToAll("g", options)],
  ["PersistentSubscriptions.deleteToStream", (s) => groups(s).deleteToStream("s", "g", options)],
  ["PersistentSubscriptions.deleteToAll", (s) => groups(s).deleteToAll("g", options)],
  ["PersistentSubscriptions.getInfoToStream", (s) => groups(s).getInfoToStream("s", "g", options)],
  ["PersistentSubscriptions.getInfoToAll", (s) => groups(s).getInfoToAll("g", options)],
  ["PersistentSubscriptions.list", (s) => groups(s).list(options)],
  ["PersistentSubscriptions.listToStream", (s) => groups(s).listToStream("s", options)],
  ["PersistentSubscriptions.listToAll", (s) => groups(s).listToAll(options)],
  ["PersistentSubscriptions.replayParkedToStream", (s) => groups(s).replayParkedToStream("s", "g", options)],
  ["PersistentSubscriptions.replayParkedToAll", (s) => groups(s).replayParkedToAll("g", options)],
  ["PersistentSubscriptions.truncateParkedToStream", (s) => groups(s).truncateParkedToStream("s", "g", options)],
  ["PersistentSubscriptions.truncateParkedToAll", (s) => groups(s).truncateParkedToAll("g", options)],
  ["PersistentSubscriptions.restartSubsystem", (s) => groups(s).restartSubsystem(options)],
  ["Projections.create", (s) => projections(s).create("p", "fromAll()", options)],
  ["Projections.createOneTime", (s) => projections(s).createOneTime("fromAll()", options)],
  ["Projections.createTransient", (s) => projections(s).createTransient("p", "fromAll()", options)],
  ["Projections.update", (s) => projections(s).update("p", "fromAll()", options)],
  ["Projections.delete", (s) => projections(s).delete("p", options)],
  ["Projections.enable", (s) => projections(s).enable("p", options)],
  ["Projections.disable", (s) => projections(s).disable("p", options)],
  ["Projections.abort", (s) => projections(s).abort("p", options)],
  ["Projections.reset", (s) => projections(s).reset("p", options)],
  ["Projections.restartSubsystem", (s) => projections(s).restartSubsystem(options)],
  ["Projections.getState", (s) => projections(s).getState("p", options)],
  ["Projections.getResult", (s) => projections(s).getResult("p", options)],
  ["Projections.getStatistics", (s) => projections(s).getStatistics("p", options)],
  ["Projections.list", (s) => projections(s).list(options)],
  ["Projections.awaitIdle", (s) => projections(s).awaitIdle("p", options)]
]

describe("one deadline per operation, retries included", () => {
  it.live("with timeout 300 ms against a port where nothing listens, every operation fails within 500 ms", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(() => freePort())
      const services = yield* Layer.build(
        EventStoreDB.layer({ connectionString: `esdb://127.0.0.1:${port}?tls=false` }).pipe(Layer.orDie)
      )
      const slow: Array<string> = []
      for (const [name, run] of cases) {
        const started = Date.now()
        // bounded, so that a slow operation is named rather than timing the test out
        const error = yield* Effect.flip(run(services)).pipe(Effect.timeoutOption("10 seconds"))
        const elapsed = Date.now() - started
        if (error._tag === "None") {
          slow.push(`${name}: still running after 10 s`)
          continue
        }
        assert.oneOf(error.value._tag, ["DeadlineExceeded", "ServiceUnavailable"], `${name} failed with ${error.value._tag}`)
        if (elapsed > 500) slow.push(`${name}: ${elapsed} ms`)
      }
      assert.deepStrictEqual(slow, [], "operations that took longer than 300 ms + 200 ms")
    }), { timeout: 60_000 })
})
