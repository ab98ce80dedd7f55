/**
 * `PersistentSubscriptions.list` / `listToStream`: one List call. A stream without groups lists
 * none (the node's NOT_FOUND for it is read as an empty list).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { SubscriptionInfo } from "../../domain/SubscriptionInfo.ts"
import { GrpcError } from "../../errors/GrpcError.ts"
import { Code } from "../../generated/code.ts"
import type { ListReq, ListResp } from "../../generated/persistent.ts"
import { streamIdentifier } from "../convert.ts"
import type { CallOptions } from "../transport/Options.ts"
import type { TransportShape } from "../transport/Transport.ts"
import { isNotFound, type ListSubscriptionsError, toListError } from "./errors.ts"
import { List } from "./methods.ts"
import * as validate from "./settings.ts"

const infos = (response: ListResp): Effect.Effect<ReadonlyArray<SubscriptionInfo>, GrpcError> =>
  Effect.try({
    try: () => response.subscriptions.map(validate.toInfo),
    catch: (e) => new GrpcError({ code: Code.UNKNOWN, details: `Unreadable group info: ${String(e)}`, metadata: {} })
  })

/** @internal */
export const list = (
  transport: TransportShape,
  options?: CallOptions
): Effect.Effect<ReadonlyArray<SubscriptionInfo>, ListSubscriptionsError> =>
  Effect.suspend(() => {
    const request: ListReq = { options: { listOption: { $case: "listAllSubscriptions", value: {} } } }
    return transport.retry(transport.unary(List, request, { options, kind: "write" })).pipe(
      Effect.mapError(toListError),
      Effect.flatMap(infos)
    )
  }).pipe(transport.traceEffect("PersistentSubscriptions.list"))

/** @internal */
export const listToStream = (
  transport: TransportShape,
  stream: string,
  options?: CallOptions
): Effect.Effect<ReadonlyArray<SubscriptionInfo>, ListSubscriptionsError> =>
  Effect.suspend(() => {
    const problem = validate.streamName(stream)
    if (problem) return Effect.fail(problem)
    const request: ListReq = {
      options: {
        listOption: {
          $case: "listForStream",
          value: {
            streamOption: stream === validate.ALL
              ? { $case: "all", value: {} }
              : { $case: "stream", value: streamIdentifier(stream) }
          }
        }
      }
    }
    return transport.retry(transport.unary(List, request, { options, kind: "write", context: { stream } })).pipe(
      Effect.map((response): ListResp | undefined => response),
      Effect.catchIf(isNotFound, () => Effect.succeed(undefined)),
      Effect.mapError(toListError),
      Effect.flatMap((response) => response === undefined ? Effect.succeed([]) : infos(response))
    )
  }).pipe(transport.traceEffect("PersistentSubscriptions.listToStream", { "db.collection.name": stream }))

/** The groups of one stream (not `$all`). @internal */
export const listOfStream = (
  transport: TransportShape,
  stream: string,
  options?: CallOptions
): Effect.Effect<ReadonlyArray<SubscriptionInfo>, ListSubscriptionsError> =>
  validate.onStream(stream, () => listToStream(transport, stream, options))

/** The groups of `$all`. @internal */
export const listToAll = (
  transport: TransportShape,
  options?: CallOptions
): Effect.Effect<ReadonlyArray<SubscriptionInfo>, ListSubscriptionsError> => listToStream(transport, validate.ALL, options)
