/**
 * Reading gRPC failures as grpc-js hands them over: the status shape, the trailing metadata
 * (normalised to string lists) and the few status texts that tell whether the node ever
 * started to execute the request.
 *
 * @since 0.1.0
 */
import type * as grpc from "@grpc/grpc-js"
import { Code } from "../../generated/code.ts"

/**
 * Anything shaped like a grpc-js `ServiceError` / `StatusObject`: a numeric status code, the
 * status detail text and, optionally, the trailing metadata (a `grpc.Metadata` or a plain
 * record of header values).
 *
 * @since 0.1.0
 * @category models
 */
export interface GrpcFailure {
  readonly code: number
  readonly details: string
  readonly metadata?: grpc.Metadata | Readonly<Record<string, string | ReadonlyArray<string>>> | undefined
}

/**
 * Trailing metadata as plain data: lower-case keys, every value a list of strings. Binary
 * (`-bin`) values are base64 (standard alphabet, padded).
 *
 * @since 0.1.0
 * @category models
 */
export type Trailers = Readonly<Record<string, ReadonlyArray<string>>>

/**
 * The gRPC status codes (`google.rpc.Code`, generated from proto/code.proto; the same numbers as
 * grpc-js `status`), so pure code does not need the grpc-js runtime.
 *
 * @since 0.1.0
 * @category constants
 */
export const StatusCode = Code

/**
 * True for values carrying a numeric `code` and a string `details` (grpc-js `ServiceError`,
 * `StatusObject`, or a look-alike). `metadata` is not required.
 *
 * @since 0.1.0
 * @category guards
 */
export const isGrpcFailure = (u: unknown): u is GrpcFailure =>
  typeof u === "object" && u !== null &&
  typeof (u as { code?: unknown }).code === "number" &&
  typeof (u as { details?: unknown }).details === "string"

const isMetadataObject = (m: unknown): m is grpc.Metadata =>
  typeof m === "object" && m !== null &&
  typeof (m as { toJSON?: unknown }).toJSON === "function" &&
  typeof (m as { get?: unknown }).get === "function"

const valueToString = (key: string, value: unknown): string | undefined => {
  if (typeof value === "string") return value
  if (value instanceof Uint8Array) {
    const buffer = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
    return key.endsWith("-bin") ? buffer.toString("base64") : buffer.toString("utf8")
  }
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value)
  return undefined
}

/**
 * Normalises trailing metadata to {@link Trailers}. Accepts a `grpc.Metadata` (any copy of
 * grpc-js: detected by shape), a plain record of `string | string[]` (or Buffer) values, or
 * nothing. Keys are lower-cased; values that are neither strings nor bytes are dropped.
 *
 * @since 0.1.0
 * @category conversions
 */
export const toTrailers = (metadata: GrpcFailure["metadata"] | unknown): Trailers => {
  if (metadata === undefined || metadata === null || typeof metadata !== "object") return {}
  const source: Record<string, unknown> = isMetadataObject(metadata)
    ? metadata.toJSON()
    : metadata as Record<string, unknown>
  const out: Record<string, Array<string>> = {}
  for (const [rawKey, rawValue] of Object.entries(source)) {
    const key = rawKey.toLowerCase()
    const values = Array.isArray(rawValue) ? rawValue : [rawValue]
    const strings: Array<string> = []
    for (const value of values) {
      const s = valueToString(key, value)
      if (s !== undefined) strings.push(s)
    }
    const existing = out[key]
    if (existing === undefined) out[key] = strings
    else existing.push(...strings)
  }
  return out
}

/**
 * The first value of a trailer, or `undefined` when absent.
 *
 * @since 0.1.0
 * @category getters
 */
export const trailer = (trailers: Trailers, key: string): string | undefined => trailers[key]?.[0]

// UNAVAILABLE texts that prove the request never reached a handler that could have acted
// on it: grpc-js failing before the call started (no connection, channel closed, stream
// refused, name resolution) and the node refusing it up front (not ready / too busy; the
// auth middleware's "Server not ready"; BatchAppend's in-band "Server Is Busy").
const notStartedTexts: ReadonlyArray<string> = [
  "no connection established",
  "channel closed before call started",
  "stream refused by server",
  "subchannel not ready",
  "name resolution failed",
  "server is not ready",
  "server is too busy",
  "server is busy",
  "server not ready"
]

/**
 * True when a gRPC status proves the node did not execute the request, so that sending the
 * same request again cannot apply it twice: only UNAVAILABLE statuses with the texts of a
 * connection that was never made, a stream refused or a node that refused the call before
 * running it, and UNKNOWN `client error (Connect)` (a connect failure reported by the
 * official client's transport). A connection dropped mid-call (`Connection dropped`, `read ECONNRESET`, write
 * errors, RST_STREAM) does not qualify: the node may have committed the write.
 *
 * @since 0.1.0
 * @category predicates
 */
export const provesNotExecuted = (code: number, details: string): boolean => {
  const text = details.toLowerCase()
  if (code === StatusCode.UNKNOWN) return text.includes("client error (connect)")
  if (code !== StatusCode.UNAVAILABLE) return false
  return notStartedTexts.some((t) => text.includes(t))
}
