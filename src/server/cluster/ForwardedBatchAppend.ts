/**
 * A follower's BatchAppend call forwarded to the leader, as a real follower forwards it: the
 * client's call belongs to the follower and stays open whoever leads; each write goes to the
 * leader of the moment, and a write the leader never answered (it stepped down, was killed, or
 * cut off meanwhile) times out on its own.
 *
 * A real follower's BatchAppend service publishes each complete write to its own node, whose
 * controller forwards it to the leader (kurrent-io/KurrentDB
 * `src/KurrentDB.Core/Services/VNode/ClusterVNodeController.cs`, `HandleAsNonLeader` /
 * `ForwardRequest`) and registers a forwarding timeout of `PrepareTimeoutMs + CommitTimeoutMs +
 * 300` ms (4.3 s by default) answered `ForwardTimeout` (`MessageForwardingProxy.TimeoutForwardings`,
 * run by `RequestForwardingService`); `Streams.BatchAppend.cs` turns `ForwardTimeout`,
 * `CommitTimeout` and `PrepareTimeout` into the write's `Timeout` status. With no leader known
 * (an election) a write is not handled, "Server Is Not Ready" (`DenyRequestBecauseNotReady`, the
 * `NotHandled` answer of `Streams.BatchAppend.cs`). A leader that steps down alive answers its
 * waiting writes at once (`RequestCanceledError`: CommitTimeout "Request canceled by server").
 *
 * Here each leg to a leader runs that leader's own BatchAppend handler on a stand-in call ({@link
 * Leg}), relaying its answers to the client's call.
 *
 * @since 0.1.0
 */
import { EventEmitter } from "node:events"
import { Empty } from "../../generated/google/protobuf/empty.ts"
import type { UUID } from "../../generated/shared.ts"
import { type BatchAppendReq, BatchAppendResp } from "../../generated/streams.ts"
import { fromWire } from "../codec/Uuid.ts"
import { batchTimeout } from "../streams/BatchAppendHandler.ts"
import type { CallStatus, Handler, ServerCall, TrailerSource } from "../transport/ServerCall.ts"

/**
 * A real node's forwarding timeout: `PrepareTimeoutMs` (2 s) + `CommitTimeoutMs` (2 s) + 300 ms
 * (`ClusterVNodeController`).
 *
 * @since 0.1.0
 * @category constants
 */
export const FORWARD_TIMEOUT_MS = 4300

/**
 * Where a forwarded call's writes go now.
 *
 * @since 0.1.0
 * @category models
 */
export interface ForwardTarget {
  /** The leader's BatchAppend handler, undefined when no leader is reachable. */
  readonly handler: Handler | undefined
  /** Registers the leg with the leader: `gone` is called when it stops leading. */
  readonly adopt: (leg: { readonly closed: boolean; gone(): void }) => void
  /** Delay of the link to the leader, ms. */
  readonly delayMs: number
}

interface InFlight {
  readonly correlationId: UUID | undefined
  readonly streamName: Buffer | undefined
}

/** The stand-in call a leader's handler serves: what it writes goes to the client's call. */
class Leg extends EventEmitter {
  request: unknown = undefined
  cancelled = false
  private ended = false
  private readonly client: ServerCall
  private readonly answered: (correlationId: UUID | undefined) => void
  private readonly onEnd: () => void
  private readonly onGone: () => void

  constructor(client: ServerCall, answered: (correlationId: UUID | undefined) => void, onEnd: () => void, onGone: () => void) {
    super()
    this.client = client
    this.answered = answered
    this.onEnd = onEnd
    this.onGone = onGone
  }
  get metadata() {
    return this.client.metadata
  }
  get peer() {
    return this.client.peer
  }
  get path() {
    return this.client.path
  }
  get maxFrameSize() {
    return this.client.maxFrameSize
  }
  get pendingBytes() {
    return this.client.pendingBytes
  }
  get closed(): boolean {
    return this.ended || this.cancelled || this.client.closed
  }
  write(value: BatchAppendResp): boolean {
    if (this.closed) return false
    this.answered(value.correlationId)
    return this.client.write(value)
  }
  writeFramed(framed: Buffer): boolean {
    if (this.closed) return false
    // one length-prefixed message (a hand-encoded success)
    this.answered(BatchAppendResp.decode(framed.subarray(5)).correlationId)
    return this.client.writeFramed(framed)
  }
  end(trailers?: TrailerSource | undefined): void {
    this.sendStatus({ code: 0, metadata: trailers })
  }
  sendStatus(status: CallStatus): void {
    if (this.closed) return
    this.ended = true
    // the leader's handler ended the call: after the client's end, or refusing it (credentials)
    if ((status.code ?? 2) === 0) this.onEnd()
    else this.client.sendStatus(status)
  }
  setDeadline(): void {}
  /** The leader stops leading: its handler lets go, and the client's call stays. */
  gone(): void {
    if (this.closed) return
    this.cancelled = true
    this.emit("cancelled")
    this.onGone()
  }
  /** The client went away. */
  cancel(): void {
    if (this.closed) return
    this.cancelled = true
    this.emit("cancelled")
  }
}

/**
 * Serves a client's BatchAppend call on a follower by forwarding each write to the leader of the
 * moment (`target()`); writes left unanswered by a leader that went away are answered `Timeout`
 * after `forwardTimeoutMs` on the cluster's clock (`after`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const forwardBatchAppend = (
  client: ServerCall<BatchAppendReq, BatchAppendResp>,
  target: () => ForwardTarget,
  after: (ms: number, f: () => void) => void,
  forwardTimeoutMs: number
): void => {
  const inFlight = new Map<string, InFlight>()
  let leg: Leg | undefined
  let clientEnded = false
  const answered = (correlationId: UUID | undefined) => {
    const key = fromWire(correlationId)
    if (key !== undefined) inFlight.delete(key)
  }
  const timeOut = (key: string) => {
    const w = inFlight.get(key)
    if (w === undefined || !inFlight.delete(key) || client.closed) return
    client.write({
      correlationId: w.correlationId,
      streamIdentifier: w.streamName === undefined ? undefined : { streamName: w.streamName },
      result: { $case: "error", value: batchTimeout() }
    })
    if (clientEnded && leg === undefined && inFlight.size === 0) client.end()
  }
  const open = (): Leg | undefined => {
    const t = target()
    const handler = t.handler
    if (handler === undefined) return undefined
    const current: Leg = new Leg(
      client,
      answered,
      () => {
        if (leg === current) leg = undefined
        if (clientEnded) client.end()
      },
      () => {
        if (leg === current) leg = undefined
        // what this leader never answered times out on its own, as a real forwarding does
        for (const key of inFlight.keys()) after(forwardTimeoutMs, () => timeOut(key))
        if (clientEnded && inFlight.size === 0) client.end()
      }
    )
    t.adopt(current)
    ;(handler as (c: ServerCall) => void)(current as unknown as ServerCall)
    return current
  }
  client.on("data", (request: BatchAppendReq) => {
    if (client.closed) return
    if (leg === undefined || leg.closed) leg = open()
    if (leg === undefined) {
      // no leader to forward to: not handled, "Server Is Not Ready"
      client.write({
        correlationId: request.correlationId,
        streamIdentifier: request.options?.streamIdentifier,
        result: {
          $case: "error",
          value: { code: 0, message: "Server Is Not Ready", details: { typeUrl: "type.googleapis.com/google.protobuf.Empty", value: Buffer.from(Empty.encode({}).finish()) } }
        }
      })
      return
    }
    const key = fromWire(request.correlationId)
    if (key !== undefined && request.options !== undefined && !inFlight.has(key)) {
      inFlight.set(key, { correlationId: request.correlationId, streamName: request.options.streamIdentifier?.streamName })
    }
    const current = leg
    const delay = target().delayMs
    if (delay <= 0) current.emit("data", request)
    else after(delay, () => current.closed || current.emit("data", request))
  })
  client.on("end", () => {
    clientEnded = true
    if (leg !== undefined && !leg.closed) leg.emit("end")
    else if (inFlight.size === 0) client.end()
  })
  client.on("cancelled", () => leg?.cancel())
}
