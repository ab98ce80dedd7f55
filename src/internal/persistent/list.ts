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
    return transport.call(
      { name: "PersistentSubscriptions.list", kind: "read", options, narrow: toListError },
      (spec) => transport.unary(List, request, spec)
    ).pipe(Effect.flatMap(infos))
  })

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
    return transport.call({
      name: "PersistentSubscriptions.listToStream",
      kind: "read",
      options,
      context: { stream },
      attributes: { "db.collection.name": stream },
      narrow: toListError
    }, (spec) =>
      transport.unary(List, request, spec).pipe(
        Effect.map((response): ListResp | undefined => response),
        Effect.catchIf(isNotFound, () => Effect.succeed(undefined))
      )).pipe(Effect.flatMap((response) => response === undefined ? Effect.succeed([]) : infos(response)))
  })

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
