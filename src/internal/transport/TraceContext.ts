/**
 * The trace context an append writes into each event's metadata, and a consumer reads back: the
 * keys the official clients use, `$traceId` (32 lowercase hex digits) and `$spanId` (16), as
 * strings in the event's JSON metadata object (`@kurrent/opentelemetry`'s instrumentation and
 * the .NET client's `TracingMetadata`). Metadata that is not a JSON object is left as it is.
 *
 * The user's metadata is edited, not re-serialized: its members keep their text, so numbers
 * beyond 2^53, number formats, escapes and key order come back as they were written (a
 * `JSON.parse` + `JSON.stringify` round trip, as an earlier version did, turned
 * `12345678901234567890` into `12345678901234567000` in every traced append).
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

const parseText = (text: string): Record<string, unknown> | undefined => {
  try {
    const value: unknown = JSON.parse(text)
    return isObject(value) ? value : undefined
  } catch {
    return undefined
  }
}

const decodeText = (metadata: Uint8Array): string | undefined => {
  try {
    return decoder.decode(metadata)
  } catch {
    return undefined
  }
}

const parseObject = (metadata: Uint8Array): Record<string, unknown> | undefined => {
  const text = decodeText(metadata)
  return text === undefined ? undefined : parseText(text)
}

/** The two members written, in the text of a JSON object (the ids are hex: nothing to escape). */
const members = (context: TraceContext): string => `"${TRACE_ID}":"${context.traceId}","${SPAN_ID}":"${context.spanId}"`

// the metadata of an event that had none, for the last context: an append writes the same bytes
// into each of its events (never mutated: the encoder copies them)
let lastContext: TraceContext | undefined
let lastEmpty: Uint8Array = new Uint8Array(0)

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09
const skipSpace = (text: string, i: number): number => {
  while (i < text.length && isSpace(text.charCodeAt(i))) i++
  return i
}
/** Past the string starting at `i` (a `"`). */
const stringEnd = (text: string, i: number): number => {
  i++
  for (;;) {
    const c = text.charCodeAt(i)
    if (c === 0x22) return i + 1
    i += c === 0x5c ? 2 : 1
  }
}
/** Past the value starting at `i`. */
const valueEnd = (text: string, i: number): number => {
  const c = text.charCodeAt(i)
  if (c === 0x22) return stringEnd(text, i)
  if (c === 0x7b || c === 0x5b) {
    let depth = 0
    for (;;) {
      const d = text.charCodeAt(i)
      if (d === 0x22) {
        i = stringEnd(text, i)
        continue
      }
      if (d === 0x7b || d === 0x5b) depth++
      else if (d === 0x7d || d === 0x5d) {
        depth--
        if (depth === 0) return i + 1
      }
      i++
    }
  }
  // a number, true, false or null
  while (i < text.length) {
    const d = text.charCodeAt(i)
    if (d === 0x2c || d === 0x7d || d === 0x5d || isSpace(d)) return i
    i++
  }
  return i
}

/**
 * `text` (a JSON object, as `JSON.parse` accepted it) with the trace context's members: added
 * after the last member, or, when the object had `$traceId` or `$spanId` already, in their place
 * at the end (the other members kept, each as written).
 */
const withMembers = (text: string, context: TraceContext): string => {
  let i = skipSpace(text, skipSpace(text, 0) + 1)
  const first = i
  const kept: Array<string> = []
  let replaced = false
  let last = i
  if (text.charCodeAt(i) !== 0x7d) {
    for (;;) {
      const start = i
      const keyEnd = stringEnd(text, i)
      // a key with escapes is decoded (`"\u0024traceId"` is `$traceId` too)
      const raw = text.slice(i + 1, keyEnd - 1)
      const key: unknown = raw.includes("\\") ? JSON.parse(text.slice(i, keyEnd)) : raw
      i = valueEnd(text, skipSpace(text, skipSpace(text, keyEnd) + 1))
      last = i
      if (key === TRACE_ID || key === SPAN_ID) replaced = true
      else kept.push(text.slice(start, i))
      i = skipSpace(text, i)
      if (text.charCodeAt(i) !== 0x2c) break
      i = skipSpace(text, i + 1)
    }
  }
  if (!replaced) return `${text.slice(0, last)}${last === first ? "" : ","}${members(context)}${text.slice(last)}`
  kept.push(members(context))
  return `${text.slice(0, first)}${kept.join(",")}${text.slice(last)}`
}

/**
 * The metadata with the trace context merged in: empty metadata becomes `{"$traceId": ...,
 * "$spanId": ...}`; a JSON object gets the two members (replacing earlier ones), the rest of its
 * text unchanged; anything else (not JSON, a JSON array or scalar) is returned unchanged.
 *
 * @internal
 */
export const inject = (metadata: Uint8Array, context: TraceContext): Uint8Array => {
  if (metadata.length === 0) {
    if (context !== lastContext) {
      lastEmpty = encoder.encode(`{${members(context)}}`)
      lastContext = context
    }
    return lastEmpty
  }
  const text = decodeText(metadata)
  if (text === undefined || parseText(text) === undefined) return metadata
  return encoder.encode(withMembers(text, context))
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
