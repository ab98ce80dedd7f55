/**
 * Every operation is a span named after it (appends a producer span, the others client spans), with OpenTelemetry database attributes
 * (`db.system.name`, `db.collection.name`, `server.address`, `server.port`) plus the user's
 * `spanAttributes`; `tracing: false` creates none.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import { NewEvent } from "../src/domain/NewEvent.ts"
import * as EventStoreDB from "../src/layers/EventStoreDB.ts"
import { Streams } from "../src/services/Streams.ts"
import { startEmbeddedNode } from "../src/server/EmbeddedNode.ts"

const recordingTracer = () => {
  const spans: Array<Tracer.NativeSpan> = []
  const tracer = Tracer.make({
    span: (options) => {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    }
  })
  return { spans, tracer }
}

const workload = Effect.gen(function*() {
  const streams = yield* Streams
  const stream = `traced-${crypto.randomUUID()}`
  yield* streams.append(stream, new NewEvent({ type: "Traced", data: "{}" }), { currentVersion: "no_stream" })
  yield* Stream.runDrain(streams.read(stream))
  return stream
})

describe("tracing", () => {
  it.live("operations are client spans with database attributes", () =>
    Effect.gen(function*() {
      const node = yield* Effect.acquireRelease(Effect.promise(() => startEmbeddedNode()), (n) => Effect.promise(() => n.stop()))
      const { spans, tracer } = recordingTracer()
      const stream = yield* workload.pipe(
        Effect.provide(EventStoreDB.layer({ connectionString: node.connectionString, spanAttributes: { "app.name": "tests" } })),
        Effect.withTracer(tracer)
      )
      const append = spans.find((s) => s.name === "Streams.append")
      const read = spans.find((s) => s.name === "Streams.read")
      assert.isDefined(append)
      assert.isDefined(read)
      assert.strictEqual(append!.kind, "producer")
      assert.strictEqual(read!.kind, "client")
      assert.strictEqual(append!.attributes.get("db.system.name"), "eventstoredb")
      assert.strictEqual(append!.attributes.get("db.collection.name"), stream)
      assert.strictEqual(append!.attributes.get("db.operation.name"), "append")
      assert.strictEqual(append!.attributes.get("server.address"), node.host)
      assert.strictEqual(append!.attributes.get("server.port"), node.port)
      assert.strictEqual(append!.attributes.get("app.name"), "tests")
      assert.strictEqual(append!.status._tag, "Ended")
      assert.strictEqual(read!.attributes.get("db.collection.name"), stream)
    }))

  it.live("tracing: false creates no spans", () =>
    Effect.gen(function*() {
      const node = yield* Effect.acquireRelease(Effect.promise(() => startEmbeddedNode()), (n) => Effect.promise(() => n.stop()))
      const { spans, tracer } = recordingTracer()
      yield* workload.pipe(
        Effect.provide(EventStoreDB.layer({ connectionString: node.connectionString, tracing: false }).pipe(Layer.orDie)),
        Effect.withTracer(tracer)
      )
      assert.deepStrictEqual(spans.filter((s) => s.name.startsWith("Streams.")).map((s) => s.name), [])
    }))
})
