/**
 * Spans of operations, after OpenTelemetry's database and messaging conventions:
 *
 * - every operation a `client` span named after it (`Streams.read`, `Users.create` ...), with
 *   `db.system.name`, `db.operation.name`, `db.collection.name` (the stream), `server.address` /
 *   `server.port` of the node actually used (the connection's current endpoint, set again when
 *   the span ends), and the user's `spanAttributes`;
 * - `append` a `producer` span ({@link Tracing.produce}) whose trace context the append writes
 *   into each event's metadata (`$traceId`, `$spanId`, as the official clients do; see
 *   TraceContext.ts), with `messaging.*` attributes;
 * - catch-up subscriptions and persistent consumers a `consumer` span per delivered event
 *   ({@link Tracing.consumerSpan}), a child of the producer span found in the event's metadata.
 *
 * None are made when tracing is off, or when only Effect's native tracer is installed (nobody
 * could observe them): then each entry point costs one read of the fiber's tracer, and the
 * append path builds no metadata.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import type { ConnectionSettings } from "../ConnectionString.ts"
import { type TraceContext, traceContextOf } from "./TraceContext.ts"

/**
 * Span attributes: a record, or a function called only when a span is made.
 *
 * @internal
 */
export type SpanAttributes = Record<string, unknown> | (() => Record<string, unknown>)

/**
 * Makes spans around effects and streams.
 *
 * @internal
 */
export interface Tracing {
  readonly traceEffect: (
    name: string,
    attributes?: SpanAttributes
  ) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  readonly traceStream: (
    name: string,
    attributes?: SpanAttributes
  ) => <A, E, R>(stream: Stream.Stream<A, E, R>) => Stream.Stream<A, E, R>
  /**
   * A `producer` span around the effect `body` makes; `body` gets the span's trace context to
   * write into the events, or undefined when no span is made (then it must do no tracing work).
   */
  readonly produce: <A, E, R>(
    name: string,
    attributes: SpanAttributes,
    body: (context: TraceContext | undefined) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E, R>
  /** Whether spans are made for the running fiber (tracing on, and a tracer other than the native one installed). */
  readonly enabled: Effect.Effect<boolean>
  /**
   * One `consumer` span for a delivered event, ended at once (what the consumer does with it is
   * its own), child of the producer span found in the event's metadata (else of the current
   * span). Only call it when {@link Tracing.enabled}.
   */
  readonly consumerSpan: (name: string, metadata: Uint8Array, attributes: Record<string, unknown>) => Effect.Effect<void>
  /**
   * A `consumer` span around handling one delivered event (persistent consumers): a child of the
   * producer span found in its metadata.
   */
  readonly consumeWith: (
    name: string,
    metadata: Uint8Array,
    attributes: SpanAttributes
  ) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

/** Where the connection is: the current endpoint, when one was opened. */
type EndpointOf = () => { readonly host: string; readonly port: number } | undefined

/**
 * Makes the tracing of a connection.
 *
 * @internal
 */
export const make = (
  settings: ConnectionSettings,
  options: { readonly tracing?: boolean | undefined; readonly spanAttributes?: Readonly<Record<string, unknown>> | undefined },
  currentEndpoint: EndpointOf = () => undefined
): Tracing => {
  const tracing = options.tracing ?? true
  const base: Readonly<Record<string, unknown>> = { "db.system.name": "eventstoredb" }
  const user: Readonly<Record<string, unknown>> = options.spanAttributes ?? {}
  const server = () => {
    const endpoint = currentEndpoint() ?? settings.hosts[0]
    return { "server.address": endpoint?.host, "server.port": endpoint?.port }
  }
  const resolve = (attributes?: SpanAttributes) => typeof attributes === "function" ? attributes() : attributes
  // spans are built without stack capture (a library span always starts on the same line), and
  // not at all when tracing is disabled: they sit on every call
  const spanOptions = (kind: Tracer.SpanKind, attributes?: SpanAttributes, parent?: Tracer.AnySpan) => ({
    kind,
    captureStackTrace: false,
    attributes: { ...base, ...server(), ...user, ...resolve(attributes) },
    ...(parent === undefined ? {} : { parent })
  })
  // the node the call actually went to: known once it connected
  const setServer = (span: Tracer.Span) =>
    Effect.sync(() => {
      const endpoint = currentEndpoint()
      if (endpoint === undefined) return
      span.attribute("server.address", endpoint.host)
      span.attribute("server.port", endpoint.port)
    })
  const observedBy = (tracer: Tracer.Tracer) => tracing && tracer !== Tracer.nativeTracer

  // with only the native tracer installed nobody can observe a span, so none is made (about a
  // tenth of the client CPU of a single-event append); one step per call when no tracer is
  // installed: the fiber's tracer is read in place
  const spanned = <A, E, R>(
    name: string,
    kind: Tracer.SpanKind,
    attributes: SpanAttributes | undefined,
    body: (span: Tracer.Span) => Effect.Effect<A, E, R>,
    parent?: Tracer.AnySpan
  ): Effect.Effect<A, E, R> =>
    Effect.useSpan(name, spanOptions(kind, attributes, parent), (span) =>
      Effect.withParentSpan(Effect.ensuring(body(span), setServer(span)), span))

  const traceEffect = (name: string, attributes?: SpanAttributes) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    tracing
      ? Effect.withFiber((fiber) => observedBy(fiber.getRef(Tracer.Tracer)) ? spanned(name, "client", attributes, () => effect) : effect)
      : effect

  const traceStream = (name: string, attributes?: SpanAttributes) => <A, E, R>(stream: Stream.Stream<A, E, R>): Stream.Stream<A, E, R> =>
    tracing ? Stream.withSpan(stream, name, spanOptions("client", attributes)) : stream

  const produce: Tracing["produce"] = (name, attributes, body) =>
    tracing
      ? Effect.withFiber((fiber) =>
        observedBy(fiber.getRef(Tracer.Tracer))
          ? spanned(name, "producer", attributes, (span) => body({ traceId: span.traceId, spanId: span.spanId }))
          : body(undefined)
      )
      : body(undefined)

  const enabled: Effect.Effect<boolean> = Effect.withFiber((fiber) => Effect.succeed(observedBy(fiber.getRef(Tracer.Tracer))))

  const producerOf = (metadata: Uint8Array): Tracer.ExternalSpan | undefined => {
    const context = traceContextOf(metadata)
    return context === undefined ? undefined : Tracer.externalSpan({ traceId: context.traceId, spanId: context.spanId })
  }

  const consumerSpan: Tracing["consumerSpan"] = (name, metadata, attributes) =>
    Effect.flatMap(
      Effect.makeSpan(name, spanOptions("consumer", attributes, producerOf(metadata))),
      (span) => Effect.clockWith((clock) => Effect.sync(() => span.end(clock.currentTimeNanosUnsafe(), Exit.void)))
    )

  const consumeWith = (name: string, metadata: Uint8Array, attributes: SpanAttributes) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    tracing
      ? Effect.withFiber((fiber) =>
        observedBy(fiber.getRef(Tracer.Tracer)) ? spanned(name, "consumer", attributes, () => effect, producerOf(metadata)) : effect
      )
      : effect

  return { traceEffect, traceStream, produce, enabled, consumerSpan, consumeWith }
}
