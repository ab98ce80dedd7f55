/**
 * Writing pre-encoded `ReadResp` messages to a server stream with backpressure, in one of two
 * framings: `message` (one stream write per gRPC message; nghttp2 packs what is queued into DATA
 * frames) or `coalesced` (several length-prefixed messages merged into writes of up to the
 * client's maximum frame size). A producer pauses while the stream's write returns false, until
 * 'drain'.
 *
 * Responses are cached already framed (5-byte gRPC header + message) and written as they are.
 *
 * @since 0.1.0
 */
import type { ServerCall } from "./ServerCall.ts"

/**
 * Framing of server-streamed responses.
 *
 * @since 0.1.0
 * @category models
 */
export type ReadFraming = "message" | "coalesced"

/**
 * Buffered, backpressure-aware writer of pre-framed messages to one server stream.
 *
 * @since 0.1.0
 * @category models
 */
export class ResponseSink {
  private readonly call: ServerCall
  private readonly coalesced: boolean
  private readonly frameLimit: number
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

  constructor(call: ServerCall, framing: ReadFraming) {
    this.call = call
    this.coalesced = framing === "coalesced"
    this.frameLimit = call.maxFrameSize
    call.on("drain", this.onDrain)
  }

  /**
   * Queues one framed message (5-byte gRPC header + message bytes); returns `false` when the
   * producer should pause.
   */
  push(framed: Buffer): boolean {
    if (!this.coalesced) {
      if (!this.call.writeFramed(framed)) this.congested = true
      return !this.congested
    }
    if (this.pendingBytes > 0 && this.pendingBytes + framed.length > this.frameLimit) this.flush()
    this.pending.push(framed)
    this.pendingBytes += framed.length
    if (this.pendingBytes >= this.frameLimit) return this.flush()
    return !this.congested
  }

  /** Writes what is buffered; returns `false` when the producer should pause. */
  flush(): boolean {
    if (this.pendingBytes === 0) return !this.congested
    const bytes = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes)
    this.pending = []
    this.pendingBytes = 0
    if (!this.call.writeFramed(bytes)) this.congested = true
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
