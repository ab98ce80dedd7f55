/**
 * Client spans of operations, with OpenTelemetry database attributes (`db.system.name`,
 * `server.address`, `server.port`) and the user's `spanAttributes`. None are made when tracing is
 * off, or when only Effect's native tracer is installed (nobody could observe them).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import type { ConnectionSettings } from "../ConnectionString.ts"

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
}

/**
 * Makes the tracing of a connection.
 *
 * @internal
 */
export const make = (
  settings: ConnectionSettings,
  options: { readonly tracing?: boolean | undefined; readonly spanAttributes?: Readonly<Record<string, unknown>> | undefined }
): Tracing => {
  const tracing = options.tracing ?? true
  const spanAttributes: Readonly<Record<string, unknown>> = {
    "db.system.name": "eventstoredb",
    "server.address": settings.hosts[0]?.host,
    "server.port": settings.hosts[0]?.port,
    ...options.spanAttributes
  }
  // spans are built without stack capture (a library span always starts on the same line), and
  // not at all when tracing is disabled: they sit on every call
  const spanOptions = (attributes?: SpanAttributes) => ({
    kind: "client" as const,
    captureStackTrace: false,
    attributes: { ...spanAttributes, ...(typeof attributes === "function" ? attributes() : attributes) }
  })
  // with only the native tracer installed nobody can observe a span, so none is made (about a
  // tenth of the client CPU of a single-event append); one step per call when no tracer is
  // installed: the fiber's tracer is read in place
  const traceEffect = (name: string, attributes?: SpanAttributes) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    tracing
      ? Effect.withFiber((fiber) =>
        fiber.getRef(Tracer.Tracer) === Tracer.nativeTracer
          ? effect
          : Effect.withSpan(effect, name, spanOptions(attributes))
      )
      : effect
  const traceStream = (name: string, attributes?: SpanAttributes) => <A, E, R>(stream: Stream.Stream<A, E, R>): Stream.Stream<A, E, R> =>
    tracing ? Stream.withSpan(stream, name, spanOptions(attributes)) : stream
  return { traceEffect, traceStream }
}
