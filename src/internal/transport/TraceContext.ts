/**
 * The trace context an append writes into each event's metadata, and a consumer reads back: the
 * keys the official clients use, `$traceId` (32 lowercase hex digits) and `$spanId` (16), as
 * strings in the event's JSON metadata object (`@kurrent/opentelemetry`'s instrumentation and
 * the .NET client's `TracingMetadata`). Metadata that is not a JSON object is left as it is.
 *
 * @internal
 */

/**
 * A span's ids as the metadata carries them.
 *
 * @internal
 */
export interface TraceContext {
  readonly traceId: string
  readonly spanId: string
}

/** The metadata key of the trace id. @internal */
export const TRACE_ID = "$traceId"

/** The metadata key of the span id. @internal */
export const SPAN_ID = "$spanId"

const encoder = new TextEncoder()
const decoder = new TextDecoder("utf-8", { fatal: true })
const TRACE_ID_BYTES = encoder.encode(`"${TRACE_ID}"`)

const traceIdPattern = /^[0-9a-f]{32}$/
const spanIdPattern = /^[0-9a-f]{16}$/
const invalidTraceId = "00000000000000000000000000000000"
const invalidSpanId = "0000000000000000"

/** Most metadata bytes read for a trace context (larger metadata is not searched). */
const MAX_METADATA = 64 * 1024

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const parseObject = (metadata: Uint8Array): Record<string, unknown> | undefined => {
  try {
    const value: unknown = JSON.parse(decoder.decode(metadata))
    return isObject(value) ? value : undefined
  } catch {
    return undefined
  }
}

/**
 * The metadata with the trace context merged in: empty metadata becomes `{"$traceId": ...,
 * "$spanId": ...}`; a JSON object gets the two keys (replacing earlier ones); anything else (not
 * JSON, a JSON array or scalar) is returned unchanged.
 *
 * @internal
 */
export const inject = (metadata: Uint8Array, context: TraceContext): Uint8Array => {
  if (metadata.length === 0) return encoder.encode(JSON.stringify({ [TRACE_ID]: context.traceId, [SPAN_ID]: context.spanId }))
  const object = parseObject(metadata)
  if (object === undefined) return metadata
  return encoder.encode(JSON.stringify({ ...object, [TRACE_ID]: context.traceId, [SPAN_ID]: context.spanId }))
}

const contains = (haystack: Uint8Array, needle: Uint8Array): boolean =>
  Buffer.from(haystack.buffer, haystack.byteOffset, haystack.byteLength).indexOf(needle) !== -1

/**
 * The trace context in an event's metadata, when it is a JSON object holding valid ids (W3C:
 * hex, lowercase, not all zeros); else undefined. Metadata without the key is not parsed.
 *
 * @internal
 */
export const traceContextOf = (metadata: Uint8Array): TraceContext | undefined => {
  if (metadata.length === 0 || metadata.length > MAX_METADATA || !contains(metadata, TRACE_ID_BYTES)) return undefined
  const object = parseObject(metadata)
  if (object === undefined) return undefined
  const traceId = object[TRACE_ID]
  const spanId = object[SPAN_ID]
  if (typeof traceId !== "string" || typeof spanId !== "string") return undefined
  if (!traceIdPattern.test(traceId) || !spanIdPattern.test(spanId)) return undefined
  if (traceId === invalidTraceId || spanId === invalidSpanId) return undefined
  return { traceId, spanId }
}
