/**
 * The EventStoreDB layers: `layer` and `layerConfig` connect from a connection string (held as
 * Redacted when read from configuration), and fail with typed errors on bad input.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import { NewEvent } from "../src/domain/NewEvent.ts"
import * as EventStoreDB from "../src/layers/EventStoreDB.ts"
import { Streams } from "../src/services/Streams.ts"
import { startEmbeddedNode } from "../src/server/EmbeddedNode.ts"
import { uniqueStream } from "./support/unique.ts"

const roundTrip = Effect.gen(function*() {
  const streams = yield* Streams
  const stream = uniqueStream("layer")
  yield* streams.append(stream, new NewEvent({ type: "Configured", data: "{}" }), { currentVersion: "no_stream" })
  const events = yield* streams.get(stream)
  return events.map((e) => e.type)
})

describe("EventStoreDB layers", () => {
  it.live("layerConfig reads the connection string from configuration (ESDB_URI)", () =>
    Effect.gen(function*() {
      const node = yield* Effect.acquireRelease(Effect.promise(() => startEmbeddedNode({ insecure: true })), (n) => Effect.promise(() => n.stop()))
      const live = EventStoreDB.layerConfig({ connectionString: Config.Redacted("ESDB_URI") }).pipe(
        Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ ESDB_URI: node.connectionString })))
      )
      const types = yield* Effect.provide(roundTrip, live)
      assert.deepStrictEqual(types, ["Configured"])
    }))

  it.live("layerConfig fails with a ConfigError when ESDB_URI is missing", () =>
    Effect.gen(function*() {
      const live = EventStoreDB.layerConfig({ connectionString: Config.Redacted("ESDB_URI") }).pipe(
        Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({})))
      )
      const exit = yield* Effect.exit(Effect.provide(roundTrip, live))
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
      assert.strictEqual(error?._tag, "Fail")
      assert.strictEqual(error?._tag === "Fail" ? (error.error as { _tag: string })._tag : "", "ConfigError")
    }))

  it.live("layer fails with InvalidConnectionString (and no I/O) on a bad string", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.provide(roundTrip, EventStoreDB.layer({ connectionString: "esdb://localhost:notaport?tls=false" })))
      assert.strictEqual(error._tag, "InvalidConnectionString")
      assert.include(error.message, "port")
    }))

  it.live("credentials in an insecure connection string: a warning is logged when the layer is built (they are never sent)", () =>
    Effect.gen(function*() {
      const warnings: Array<string> = []
      const collect = Logger.make((options) => {
        if (options.logLevel === "Warn") warnings.push(String(options.message))
      })
      const node = yield* Effect.acquireRelease(Effect.promise(() => startEmbeddedNode({ insecure: true })), (n) => Effect.promise(() => n.stop()))
      const insecure = node.connectionString.replace("://", "://admin:changeit@")
      const types = yield* Effect.provide(roundTrip, EventStoreDB.layer({ connectionString: insecure })).pipe(
        Effect.provide(Logger.layer([collect]))
      )
      // the calls still work (an insecure node authenticates nobody)
      assert.deepStrictEqual(types, ["Configured"])
      assert.strictEqual(warnings.length, 1, warnings.join("\n"))
      assert.match(warnings[0]!, /credentials of the user info \(position \d+\) are not sent because Tls=false/)
      assert.notInclude(warnings[0]!, "changeit")
      // without credentials, nothing to warn about
      warnings.length = 0
      yield* Effect.provide(roundTrip, EventStoreDB.layer({ connectionString: node.connectionString })).pipe(
        Effect.provide(Logger.layer([collect]))
      )
      assert.deepStrictEqual(warnings, [])
    }))

  it.live("an unknown key is reported, never silently ignored", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.provide(roundTrip, EventStoreDB.layer({ connectionString: "esdb://localhost:2113?tls=false&Tsl=true" })))
      assert.strictEqual(error._tag, "InvalidConnectionString")
      assert.include(error.message.toLowerCase(), "tsl")
    }))
})
