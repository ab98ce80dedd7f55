/**
 * `Streams.readAll` and `getCommitPosition`: reading `$all`. Each run of the returned Stream is a
 * new call with its own cursor; after a connection failure it resumes after the last event it
 * delivered.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { FilterOptions } from "../../domain/Filter.ts"
import type { RecordedEvent } from "../../domain/RecordedEvent.ts"
import { InvalidArgument } from "../../errors/InvalidArgument.ts"
import type { CallOptions } from "../transport/Options.ts"
import type { Emit, TransportShape } from "../transport/Transport.ts"
import { type ReadAllError, toReadAllError } from "./errors.ts"
import { Read } from "./methods.ts"
import { allRequest, filterOption, type From } from "./readRequest.ts"
import * as validate from "./validate.ts"

/**
 * Options of reading `$all`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReadAllOptions extends CallOptions, FilterOptions {
  /** Forwards: inclusive start; backwards: exclusive start. The start (or end) of `$all` by default. */
  readonly commitPosition?: bigint | undefined
  readonly backwards?: boolean | undefined
  readonly resolveLinks?: boolean | undefined
  readonly limit?: number | bigint | undefined
}

/** @internal */
export const readAll = (
  transport: TransportShape,
  options?: ReadAllOptions
): Stream.Stream<RecordedEvent, ReadAllError> => {
  const limit = validate.limit(options?.limit)
  if (limit instanceof InvalidArgument) return Stream.fail(limit)
  const badPosition = validate.position("commitPosition", options?.commitPosition)
  if (badPosition) return Stream.fail(badPosition)
  const backwards = options?.backwards === true
  const resolveLinks = options?.resolveLinks === true
  const filter = filterOption(options)
  return transport.stream({
    name: "Streams.readAll",
    kind: "read",
    options,
    attributes: { "db.collection.name": "$all" },
    narrow: toReadAllError
  }, (spec) => {
    // the cursor of this run
    let next: From = options?.commitPosition ?? (backwards ? "end" : "start")
    let skipAt: bigint | undefined
    let remaining = limit
    return () => {
      if (remaining === 0n) return Stream.empty
      return transport.serverStream(
        Read,
        allRequest(next, backwards, resolveLinks, remaining + (skipAt === undefined ? 0n : 1n), filter),
        spec,
        (message, emit: Emit<RecordedEvent>) => {
          if (message._tag !== "event") return
          const event = message.event
          if (event === undefined) return
          const position = event.commitPosition
          // a resumed forward read starts at the last delivered event, inclusive: skip it
          if (skipAt !== undefined && position === skipAt) {
            skipAt = undefined
            return
          }
          skipAt = undefined
          if (position !== undefined) {
            next = position
            if (!backwards) skipAt = position
          }
          if (remaining === 0n) return emit.end()
          remaining--
          emit.push(event)
          if (remaining === 0n) emit.end()
        }
      )
    }
  })
}

/** @internal */
export const getCommitPosition = (
  transport: TransportShape,
  options?: FilterOptions & CallOptions
): Effect.Effect<bigint, ReadAllError> =>
  Stream.runHead(readAll(transport, { ...options, backwards: true, limit: 1 })).pipe(
    Effect.map((head) => (head._tag === "Some" ? head.value.commitPosition ?? 0n : 0n)),
    transport.traceEffect("Streams.getCommitPosition")
  )
