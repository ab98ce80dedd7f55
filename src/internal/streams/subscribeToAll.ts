/**
 * `Streams.subscribeToAll`: a catch-up subscription to `$all`. Each run of the returned Stream is
 * a new subscription with its own cursor. It never ends by itself: after a connection failure, a
 * node restart or leader change, or a call the node ended, it resumes after the last position it
 * saw, with no gap and no duplicate, under the resume Schedule (default forever); only its
 * consumer, or a failure that cannot be resumed (AccessDenied, ConnectionClosed…), ends it.
 *
 * @internal
 */
import type * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { CaughtUp } from "../../domain/CaughtUp.ts"
import { Checkpoint } from "../../domain/Checkpoint.ts"
import type { FilterOptions } from "../../domain/Filter.ts"
import type { RecordedEvent } from "../../domain/RecordedEvent.ts"
import type { CallOptions, ResumeFailure } from "../transport/Options.ts"
import { observeDeliveries } from "../transport/Deliveries.ts"
import type { Emit, TransportShape } from "../transport/Transport.ts"
import { type ReadAllError, toReadAllError } from "./errors.ts"
import { Read } from "./methods.ts"
import { allRequest, filterOption, type From } from "./readRequest.ts"
import * as validate from "./validate.ts"

const UINT64_MAX = 18446744073709551615n

/**
 * Options of a subscription to `$all`.
 *
 * @since 0.1.0
 * @category models
 */
export interface SubscribeToAllOptions extends CallOptions, FilterOptions {
  /** Exclusive start: the subscription delivers events after this position. */
  readonly commitPosition?: bigint | undefined
  /** Only events recorded after the subscription starts. */
  readonly fromEnd?: boolean | undefined
  readonly resolveLinks?: boolean | undefined
  /** Deliver {@link Checkpoint}s (filtered subscriptions only). */
  readonly includeCheckpoints?: boolean | undefined
  /** Deliver a {@link CaughtUp} when the subscription goes live. */
  readonly includeCaughtUp?: boolean | undefined
  /**
   * Replaces the connection's `resumeSchedule` for this subscription: how it goes on after a
   * failure it can resume from (default: forever, 100 ms doubling to 5 s, jittered).
   */
  readonly resumeSchedule?: Schedule.Schedule<unknown, ResumeFailure> | undefined
  /** The server's search window for filtered subscriptions (default 30). */
  readonly windowSize?: number | undefined
  /** A checkpoint every `windowSize × checkpointIntervalMultiplier` considered events (default 5). */
  readonly checkpointIntervalMultiplier?: number | undefined
}

/**
 * True when the options may turn `K` on: present and not `false`/`undefined` in their type.
 *
 * @since 0.1.0
 * @category models
 */
export type Enabled<O, K extends PropertyKey> = K extends keyof O ? O[K] extends false | undefined ? false : true
  : false

/**
 * What a subscription to `$all` yields with options `O`: recorded events, plus checkpoints when
 * `includeCheckpoints` is on and caught-up markers when `includeCaughtUp` is.
 *
 * @since 0.1.0
 * @category models
 */
export type SubscribeToAllItem<O> =
  | RecordedEvent
  | (Enabled<O, "includeCheckpoints"> extends true ? Checkpoint : never)
  | (Enabled<O, "includeCaughtUp"> extends true ? CaughtUp : never)

/** @internal */
export const subscribeToAll = <O extends SubscribeToAllOptions>(
  transport: TransportShape,
  options?: O
): Stream.Stream<SubscribeToAllItem<O>, ReadAllError> => {
  const problem = validate.position("commitPosition", options?.commitPosition) ??
    validate.atLeastOne("checkpointIntervalMultiplier", options?.checkpointIntervalMultiplier) ??
    validate.atLeastOne("windowSize", options?.windowSize)
  if (problem) return Stream.fail(problem)
  const filter = filterOption(options, options?.windowSize, options?.checkpointIntervalMultiplier)
  const resolveLinks = options?.resolveLinks === true
  const includeCheckpoints = options?.includeCheckpoints === true
  const includeCaughtUp = options?.includeCaughtUp === true
  // a subscription has no deadline unless its options give one; then it bounds the whole run
  return transport.stream({
    name: "Streams.subscribeToAll",
    kind: "read",
    options,
    attributes: { "db.collection.name": "$all" },
    narrow: toReadAllError
  }, (spec) => {
    // the cursor of this run
    let from: From = options?.commitPosition ?? (options?.fromEnd === true ? "end" : "start")
    return () =>
      transport.serverStream(
        Read,
        allRequest(from, false, resolveLinks, "subscription", filter),
        spec,
        (message, emit: Emit<RecordedEvent | Checkpoint | CaughtUp>) => {
          switch (message._tag) {
            case "event": {
              const event = message.event
              if (event === undefined) return
              if (event.commitPosition !== undefined) from = event.commitPosition
              emit.push(event)
              return
            }
            case "checkpoint": {
              if (typeof from === "bigint" && message.commitPosition < from) return
              from = message.commitPosition
              if (includeCheckpoints) emit.push(new Checkpoint(message.commitPosition, message.preparePosition))
              return
            }
            case "caughtUp": {
              // the server went live after this position: resuming from it neither repeats nor
              // skips anything (this matters most for `fromEnd`, whose "end" would move on)
              const position = message.position
              if (position !== undefined && position !== UINT64_MAX && (typeof from !== "bigint" || position > from)) {
                from = position
              }
              if (includeCaughtUp) {
                emit.push(new CaughtUp({ commitPosition: message.position, timestamp: message.timestamp }))
              }
              return
            }
          }
        }
      )
  }, { endless: true, schedule: options?.resumeSchedule }).pipe(
    // checkpoints and caught-up markers are pushed only when the options ask for them, which is
    // what SubscribeToAllItem<O> says
    Stream.filter((item): item is SubscribeToAllItem<O> =>
      item._tag === "RecordedEvent" || (item._tag === "Checkpoint" ? includeCheckpoints : includeCaughtUp)
    ),
    observeDeliveries(transport, { operation: "Streams.subscribeToAll", destination: "$all" })
  )
}
