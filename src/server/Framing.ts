/**
 * Writing pre-encoded `ReadResp` messages to a grpc-js server stream with backpressure, in one of
 * two framings: `message` (one gRPC message per write, grpc-js's own framing) or `coalesced`
 * (several length-prefixed messages concatenated into ~16 KiB writes).
 *
 * Responses are cached already framed (5-byte gRPC header + message). grpc-js's server call
 * serialises a response and prefixes the header itself, so `enableCoalescedFraming` installs one
 * small hook: a value branded as already framed is written as is (no copy), every other value keeps
 * the normal path. `message` framing uses it to skip grpc-js's copy; `coalesced` framing needs it.
 * Without the hook (a different grpc-js), `message` framing falls back to the ordinary serializer.
 *
 * @since 0.1.0
 */
import { createRequire } from "node:module"
import type { ServerWritableStream } from "@grpc/grpc-js"

const FRAMED: unique symbol = Symbol.for("effect-esdb/server/PreFramed")

/**
 * Bytes that already hold one or more complete gRPC length-prefixed messages.
 *
 * @since 0.1.0
 * @category models
 */
export interface PreFramed {
  readonly [FRAMED]: true
  readonly bytes: Buffer
}

const preFramed = (bytes: Buffer): PreFramed => ({ [FRAMED]: true, bytes })

const isPreFramed = (value: unknown): value is PreFramed =>
  typeof value === "object" && value !== null && (value as { [FRAMED]?: unknown })[FRAMED] === true

let coalescedAvailable: boolean | undefined

/**
 * Installs the hook for pre-framed writes into grpc-js (once per process). Returns `false` if the
 * installed grpc-js does not have the expected shape; callers then fall back to `message` framing.
 *
 * @since 0.1.0
 * @category framing
 */
export const enableCoalescedFraming = (): boolean => {
  if (coalescedAvailable !== undefined) return coalescedAvailable
  try {
    const require = createRequire(import.meta.url)
    const mod = require("@grpc/grpc-js/build/src/server-interceptors.js") as {
      BaseServerInterceptingCall?: { prototype: { serializeMessage?: (value: unknown) => Buffer } }
    }
    const proto = mod.BaseServerInterceptingCall?.prototype
    const original = proto?.serializeMessage
    if (proto === undefined || typeof original !== "function") {
      coalescedAvailable = false
      return false
    }
    const marker = original as { [FRAMED]?: true }
    if (marker[FRAMED] !== true) {
      const patched = function(this: unknown, value: unknown): Buffer {
        return isPreFramed(value) ? value.bytes : original.call(this, value)
      }
      ;(patched as { [FRAMED]?: true })[FRAMED] = true
      proto.serializeMessage = patched
    }
    coalescedAvailable = true
  } catch {
    coalescedAvailable = false
  }
  return coalescedAvailable
}

/**
 * Framing of server-streamed responses.
 *
 * @since 0.1.0
 * @category models
 */
export type ReadFraming = "message" | "coalesced"

const COALESCE_BYTES = 16 * 1024

/**
 * Buffered, backpressure-aware writer of pre-encoded messages to one server stream.
 *
 * @since 0.1.0
 * @category models
 */
export class ResponseSink {
  private readonly call: ServerWritableStream<unknown, unknown>
  private readonly coalesced: boolean
  /** The grpc-js hook is installed: even single messages skip grpc-js's re-framing copy. */
  private readonly preFramedWrites: boolean
  private pending: Array<Buffer> = []
  private pendingBytes = 0
  /** `true` after a write returned false and until 'drain'. */
  congested = false
  private drainWaiter: (() => void) | undefined
  private readonly onDrain = () => {
    this.congested = false
    const waiter = this.drainWaiter
    this.drainWaiter = undefined
    if (waiter !== undefined) waiter()
  }

  constructor(call: ServerWritableStream<unknown, unknown>, framing: ReadFraming) {
    this.call = call
    this.preFramedWrites = enableCoalescedFraming()
    this.coalesced = framing === "coalesced" && this.preFramedWrites
    call.on("drain", this.onDrain)
  }

  /**
   * Queues one framed message (5-byte gRPC header + message bytes); returns `false` when the
   * producer should pause.
   */
  push(framed: Buffer): boolean {
    if (!this.coalesced) {
      const value = this.preFramedWrites ? preFramed(framed) : framed.subarray(5)
      if (!this.call.write(value)) this.congested = true
      return !this.congested
    }
    this.pending.push(framed)
    this.pendingBytes += framed.length
    if (this.pendingBytes >= COALESCE_BYTES) return this.flush()
    return !this.congested
  }

  /** Writes what is buffered; returns `false` when the producer should pause. */
  flush(): boolean {
    if (this.pendingBytes === 0) return !this.congested
    const bytes = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes)
    this.pending = []
    this.pendingBytes = 0
    if (!this.call.write(preFramed(bytes))) this.congested = true
    return !this.congested
  }

  /** Calls `f` once the stream drained (immediately if it is not congested). */
  whenDrained(f: () => void): void {
    if (!this.congested) {
      f()
      return
    }
    this.drainWaiter = f
  }

  /** Removes listeners. */
  dispose(): void {
    this.drainWaiter = undefined
    this.call.removeListener("drain", this.onDrain)
  }
}

/**
 * Marker a producer yields when it has nothing to send until the store changes.
 *
 * @since 0.1.0
 * @category models
 */
export const IDLE: unique symbol = Symbol("effect-esdb/server/IDLE")

/**
 * A producer of encoded responses: yields buffers, `IDLE` to wait for a store notification,
 * returns to end the call OK, throws an RpcFailure to end it with an error.
 *
 * @since 0.1.0
 * @category models
 */
export type Producer = Generator<Buffer | typeof IDLE, void, void>
