/**
 * OpenTelemetry through @effect/opentelemetry, with an in-memory exporter per program: an append
 * is a producer span whose trace context goes into each event's JSON metadata (`$traceId`,
 * `$spanId`, as the official clients write them), merged with the caller's and left out of
 * metadata that is not JSON; a catch-up subscription and a persistent consumer in another program
 * (its own connection and tracer) make a consumer span per event, a child of the producer's;
 * reads make none; without a tracer nothing is written. And the metrics of operations and
 * deliveries.
 */
import * as OtelTracer from "@effect/opentelemetry/OtelTracer"
import { SpanKind } from "@opentelemetry/api"
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Stream from "effect/Stream"
import { NewEvent } from "../src/domain/NewEvent.ts"
import type { RecordedEvent } from "../src/domain/RecordedEvent.ts"
import * as EventStoreDB from "../src/layers/EventStoreDB.ts"
import { calls } from "../src/internal/transport/Metrics.ts"
import { PersistentSubscriptions } from "../src/services/PersistentSubscriptions.ts"
import { Streams } from "../src/services/Streams.ts"
import { type RunningNode, startEmbeddedNode } from "../src/server/EmbeddedNode.ts"

/** A program's own tracer: an OpenTelemetry SDK provider exporting to memory. */
const otel = () => {
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  const layer = OtelTracer.layer.pipe(Layer.provide(Layer.succeed(OtelTracer.OtelTracerProvider, provider)))
  return { exporter, layer }
}

/** A program: its own connection and its own tracer. */
const program = <A, E>(
  node: RunningNode,
  tracer: Layer.Layer<never> | undefined,
  effect: Effect.Effect<A, E, EventStoreDB.Services>
) => {
  const client = EventStoreDB.layer({ connectionString: node.connectionString }).pipe(Layer.orDie)
  return Effect.provide(effect, tracer === undefined ? client : Layer.merge(client, tracer))
}

const nodeResource = Effect.acquireRelease(Effect.promise(() => startEmbeddedNode()), (n) => Effect.promise(() => n.stop()))

const json = (text: string) => new TextEncoder().encode(text)
const metadataOf = (event: RecordedEvent): unknown => {
  try {
    return JSON.parse(new TextDecoder().decode(event.metadata))
  } catch {
    return new TextDecoder().decode(event.metadata)
  }
}

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId

describe("OpenTelemetry", () => {
  it.live("an event appended in one program and consumed in another yields linked spans", () =>
    Effect.gen(function*() {
      const node = yield* nodeResource
      const stream = `otel-${crypto.randomUUID()}`
      const producer = otel()
      yield* program(
        node,
        producer.layer,
        Effect.flatMap(Streams, (streams) =>
          streams.append(stream, [
            new NewEvent({ type: "WithJson", data: "{}", metadata: json(`{"user":"alice","$traceId":"stale"}`) }),
            new NewEvent({ type: "Empty", data: "{}" }),
            new NewEvent({ type: "Binary", data: "{}", metadata: json("not json"), contentType: "application/octet-stream" })
          ], { currentVersion: "no_stream" }))
      )
      const appendSpan = producer.exporter.getFinishedSpans().find((s) => s.name === "Streams.append")
      assert.isDefined(appendSpan)
      const produced = appendSpan!.spanContext()
      assert.strictEqual(appendSpan!.kind, SpanKind.PRODUCER)
      assert.strictEqual(appendSpan!.attributes["db.system.name"], "eventstoredb")
      assert.strictEqual(appendSpan!.attributes["db.operation.name"], "append")
      assert.strictEqual(appendSpan!.attributes["db.collection.name"], stream)
      assert.strictEqual(appendSpan!.attributes["messaging.destination.name"], stream)
      assert.strictEqual(appendSpan!.attributes["messaging.operation.type"], "send")
      assert.strictEqual(appendSpan!.attributes["messaging.batch.message_count"], 3)
      assert.strictEqual(appendSpan!.attributes["server.address"], node.host)
      assert.strictEqual(appendSpan!.attributes["server.port"], node.port)

      // the metadata as stored: merged into the JSON, written into the empty, left out of the rest
      const stored = yield* program(node, undefined, Effect.flatMap(Streams, (streams) => streams.get(stream)))
      assert.deepStrictEqual(stored.map(metadataOf), [
        { user: "alice", $traceId: produced.traceId, $spanId: produced.spanId },
        { $traceId: produced.traceId, $spanId: produced.spanId },
        "not json"
      ])

      // another program: a catch-up subscription, a persistent consumer and a read
      const consumer = otel()
      yield* program(
        node,
        consumer.layer,
        Effect.gen(function*() {
          const streams = yield* Streams
          yield* Stream.runDrain(streams.subscribeToStream(stream).pipe(Stream.take(3)))
          yield* Stream.runDrain(streams.read(stream))
          const groups = yield* PersistentSubscriptions
          yield* groups.createToStream(stream, "otel", { from: "start" })
          let handled = 0
          const fiber = yield* Effect.forkChild(groups.consumeToStream(stream, "otel", () =>
            Effect.sync(() => {
              handled++
            })))
          while (handled < 3) yield* Effect.sleep("10 millis")
          yield* Fiber.interrupt(fiber)
        })
      )
      const spans = consumer.exporter.getFinishedSpans()
      const consumed = spans.filter((s) => s.kind === SpanKind.CONSUMER)
      // three by the subscription, three by the consumer's handlers, none by the read
      assert.strictEqual(consumed.length, 6)
      const subscription = consumed.filter((s) => s.attributes["db.operation.name"] === "subscribeToStream")
      const persistent = consumed.filter((s) => s.attributes["db.operation.name"] === "consume")
      assert.strictEqual(subscription.length, 3)
      assert.strictEqual(persistent.length, 3)
      for (const group of [subscription, persistent]) {
        const byType = new Map(group.map((s) => [s.attributes["esdb.event.type"], s]))
        for (const type of ["WithJson", "Empty"]) {
          const span = byType.get(type)!
          assert.strictEqual(span.name, `process ${stream}`)
          assert.strictEqual(span.spanContext().traceId, produced.traceId, type)
          assert.strictEqual(parentOf(span), produced.spanId, type)
          assert.strictEqual(span.attributes["messaging.operation.type"], "process")
          assert.strictEqual(span.attributes["messaging.destination.name"], stream)
          assert.strictEqual(span.attributes["db.collection.name"], stream)
        }
        // no trace context in its metadata: not linked to the producer
        assert.notStrictEqual(byType.get("Binary")!.spanContext().traceId, produced.traceId)
      }
      for (const span of persistent) assert.strictEqual(span.attributes["messaging.consumer.group.name"], "otel")
      // the read itself is a client span
      assert.isTrue(spans.some((s) => s.name === "Streams.read" && s.kind === SpanKind.CLIENT))
    }))

  it.live("without a tracer, or with tracing off, nothing is written into the metadata", () =>
    Effect.gen(function*() {
      const node = yield* nodeResource
      const stream = `otel-none-${crypto.randomUUID()}`
      const events = [new NewEvent({ type: "A", data: "{}" }), new NewEvent({ type: "B", data: "{}", metadata: json(`{"k":1}`) })]
      yield* program(node, undefined, Effect.flatMap(Streams, (s) => s.append(stream, events, { currentVersion: "no_stream" })))
      const off = otel()
      yield* Effect.flatMap(Streams, (s) => s.append(stream, events.map((e) => new NewEvent({ type: e.type, data: e.data, metadata: e.metadata })), { currentVersion: 1n })).pipe(
        Effect.provide(Layer.merge(EventStoreDB.layer({ connectionString: node.connectionString, tracing: false }).pipe(Layer.orDie), off.layer))
      )
      assert.deepStrictEqual(off.exporter.getFinishedSpans().filter((s) => s.name.startsWith("Streams.")), [])
      const stored = yield* program(node, undefined, Effect.flatMap(Streams, (s) => s.get(stream)))
      assert.deepStrictEqual(stored.map(metadataOf), ["", { k: 1 }, "", { k: 1 }])
    }))

  it.live("the caller's metadata keeps its text: big numbers, number formats, escapes and order", () =>
    Effect.gen(function*() {
      const node = yield* nodeResource
      const stream = `otel-text-${crypto.randomUUID()}`
      const producer = otel()
      const texts = [
        `{"amount": 12345678901234567890, "rate": 1.50, "name": "\\u00e9t\\u00e9"}`,
        `{ "$spanId": "stale", "nested": {"$traceId": "kept"}, "$traceId": "stale", "z": [1e400] }`
      ]
      yield* program(
        node,
        producer.layer,
        Effect.flatMap(Streams, (streams) =>
          streams.append(stream, texts.map((text) => new NewEvent({ type: "T", data: "{}", metadata: json(text) })), {
            currentVersion: "no_stream"
          }))
      )
      const { spanId, traceId } = producer.exporter.getFinishedSpans().find((s) => s.name === "Streams.append")!.spanContext()
      const stored = yield* program(node, undefined, Effect.flatMap(Streams, (streams) => streams.get(stream)))
      const members = `"$traceId":"${traceId}","$spanId":"${spanId}"`
      assert.deepStrictEqual(stored.map((e) => new TextDecoder().decode(e.metadata)), [
        `{"amount": 12345678901234567890, "rate": 1.50, "name": "\\u00e9t\\u00e9",${members}}`,
        // earlier trace ids replaced; a nested one is the caller's own
        `{ "nested": {"$traceId": "kept"},"z": [1e400],${members} }`
      ])
    }))

  it.live("metrics: calls, errors by tag, latency and in flight per operation; events delivered per subscription", () =>
    Effect.gen(function*() {
      const node = yield* nodeResource
      const stream = `otel-metrics-${crypto.randomUUID()}`
      yield* program(
        node,
        undefined,
        Effect.gen(function*() {
          const streams = yield* Streams
          yield* streams.append(stream, [new NewEvent({ type: "A", data: "{}" }), new NewEvent({ type: "A", data: "{}" })], { currentVersion: "no_stream" })
          yield* Effect.flip(streams.append(stream, new NewEvent({ type: "A", data: "{}" }), { currentVersion: "no_stream" }))
          yield* Stream.runDrain(streams.subscribeToStream(stream).pipe(Stream.take(2)))
          yield* streams.getCurrentVersion(stream)
        })
      )
      const snapshot = yield* Metric.snapshot
      const find = (id: string, attributes: Record<string, string>) =>
        snapshot.filter((m) => m.id === id && Object.entries(attributes).every(([k, v]) => m.attributes?.[k] === v))
      const count = (id: string, attributes: Record<string, string>) =>
        find(id, attributes).reduce((n, m) => n + Number((m.state as { count: number }).count), 0)
      assert.isAtLeast(count("esdb_calls", { operation: "Streams.append" }), 2)
      // each operation's own metric is the series `withAttributes` names (one per attribute set)
      assert.strictEqual(find("esdb_calls", { operation: "Streams.append" }).length, 1)
      const viaAttributes = yield* Metric.value(Metric.withAttributes(calls, { operation: "Streams.append" }))
      assert.strictEqual(Number(viaAttributes.count), count("esdb_calls", { operation: "Streams.append" }))
      assert.isAtLeast(count("esdb_call_errors", { operation: "Streams.append", error: "WrongCurrentVersion" }), 1)
      assert.strictEqual(count("esdb_calls_in_flight", { operation: "Streams.append" }), 0)
      const latency = find("esdb_call_duration_ms", { operation: "Streams.append" })
      assert.isAtLeast(latency.reduce((n, m) => n + (m.state as { count: number }).count, 0), 2)
      assert.isAtLeast(count("esdb_subscription_events", { operation: "Streams.subscribeToStream", destination: stream }), 2)
      assert.isAtLeast(count("esdb_calls", { operation: "Streams.subscribeToStream" }), 1)
      assert.strictEqual(count("esdb_calls_in_flight", { operation: "Streams.subscribeToStream" }), 0)
      const lag = find("esdb_subscription_lag_ms", { destination: stream })
      assert.strictEqual(lag.length, 1)
      assert.isAtLeast((lag[0]!.state as { value: number }).value, 0)

      // metrics: false updates none of them
      const appends = count("esdb_calls", { operation: "Streams.append" })
      yield* Effect.flatMap(Streams, (streams) => streams.append(stream, new NewEvent({ type: "A", data: "{}" }), { currentVersion: "any" })).pipe(
        Effect.provide(EventStoreDB.layer({ connectionString: node.connectionString, metrics: false }).pipe(Layer.orDie))
      )
      const after = yield* Metric.snapshot
      const appendsAfter = after.filter((m) => m.id === "esdb_calls" && m.attributes?.["operation"] === "Streams.append")
        .reduce((n, m) => n + Number((m.state as { count: number }).count), 0)
      assert.strictEqual(appendsAfter, appends)
    }))
})
