/**
 * `Streams.subscribeToStream`: a catch-up subscription to one stream. Each run of the returned
 * Stream is a new subscription with its own cursor. It never ends by itself: after a connection
 * failure, a node restart or leader change, or a call the node ended, it resumes after the last
 * event it delivered, with no gap and no duplicate, under the resume Schedule (default forever);
 * only its consumer, or a failure that cannot be resumed (StreamDeleted, AccessDenied,
 * ConnectionClosed…), ends it.
 *
 * @internal
 */
import type * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { CaughtUp } from "../../domain/CaughtUp.ts"
import type { RecordedEvent } from "../../domain/RecordedEvent.ts"
import type { CallOptions, ResumeFailure } from "../transport/Options.ts"
import { observeDeliveries } from "../transport/Deliveries.ts"
import type { Emit, TransportShape } from "../transport/Transport.ts"
import { type SubscribeToStreamError, toSubscribeToStreamError } from "./errors.ts"
import { Read } from "./methods.ts"
import { type From, streamRequest } from "./readRequest.ts"
import type { Enabled } from "./subscribeToAll.ts"
import * as validate from "./validate.ts"

/**
 * Options of a subscription to one stream.
 *
 * @since 0.1.0
 * @category models
 */
export interface SubscribeToStreamOptions extends CallOptions {
  /** Exclusive start: the subscription delivers events after this stream position. */
  readonly streamPosition?: bigint | undefined
  readonly fromEnd?: boolean | undefined
  readonly resolveLinks?: boolean | undefined
  /** Deliver a {@link CaughtUp} when the subscription goes live. */
  readonly includeCaughtUp?: boolean | undefined
  /**
   * Replaces the connection's `resumeSchedule` for this subscription: how it goes on after a
   * failure it can resume from (default: forever, 100 ms doubling to 5 s, jittered).
   */
  readonly resumeSchedule?: Schedule.Schedule<unknown, ResumeFailure> | undefined
}

/**
 * What a subscription to one stream yields with options `O`: recorded events, plus caught-up
 * markers when `includeCaughtUp` is on.
 *
 * @since 0.1.0
 * @category models
 */
export type SubscribeToStreamItem<O> =
  | RecordedEvent
  | (Enabled<O, "includeCaughtUp"> extends true ? CaughtUp : never)

/** @internal */
export const subscribeToStream = <O extends SubscribeToStreamOptions>(
  transport: TransportShape,
  stream: string,
  options?: O
): Stream.Stream<SubscribeToStreamItem<O>, SubscribeToStreamError> => {
  const problem = validate.streamName(stream) ?? validate.position("streamPosition", options?.streamPosition)
  if (problem) return Stream.fail(problem)
  const resolveLinks = options?.resolveLinks === true
  const includeCaughtUp = options?.includeCaughtUp === true
  // a subscription has no deadline unless its options give one; then it bounds the whole run
  return transport.stream({
    name: "Streams.subscribeToStream",
    kind: "read",
    options,
    context: { stream },
    attributes: { "db.collection.name": stream },
    narrow: toSubscribeToStreamError
  }, (spec) => {
    // the cursor of this run
    let from: From = options?.streamPosition ?? (options?.fromEnd === true ? "end" : "start")
    return () =>
      transport.serverStream(
        Read,
        streamRequest(stream, from, false, resolveLinks, "subscription"),
        spec,
        (message, emit: Emit<RecordedEvent | CaughtUp>) => {
          if (message._tag === "event") {
            const event = message.event
            if (event === undefined) return
            from = event.link?.streamName === stream ? event.link.streamPosition : event.streamPosition
            emit.push(event)
          } else if (message._tag === "caughtUp") {
            // resume from where the server went live: its last revision then, or, when the stream
            // did not exist yet (a caught-up with a timestamp but no revision, as servers since
            // 2025 send), its start; otherwise "end" would skip what was written during a fault
            const revision = message.streamRevision
            if (revision !== undefined && (typeof from !== "bigint" || revision > from)) from = revision
            else if (revision === undefined && from === "end" && message.timestamp !== undefined) from = "start"
            if (includeCaughtUp) {
              emit.push(new CaughtUp({ streamPosition: message.streamRevision, timestamp: message.timestamp }))
            }
          }
        }
      )
  }, { endless: true, schedule: options?.resumeSchedule }).pipe(
    // caught-up markers are pushed only when the options ask for them, as SubscribeToStreamItem<O> says
    Stream.filter((item): item is SubscribeToStreamItem<O> => item._tag === "RecordedEvent" || includeCaughtUp),
    observeDeliveries(transport, { operation: "Streams.subscribeToStream", destination: stream })
  )
}
