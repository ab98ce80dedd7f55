/**
 * `PersistentSubscriptions.getInfo`: one GetInfo call for a group of a stream or of `$all`.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { SubscriptionInfo } from "../../domain/SubscriptionInfo.ts"
import { GrpcError } from "../../errors/GrpcError.ts"
import { Code } from "../../generated/code.ts"
import type { CallOptions } from "../transport/Options.ts"
import type { TransportShape } from "../transport/Transport.ts"
import { type SubscriptionGroupError, toGroupError } from "./errors.ts"
import { GetInfo } from "./methods.ts"
import * as validate from "./settings.ts"

/** @internal */
export const getInfo = (
  transport: TransportShape,
  stream: string,
  group: string,
  options?: CallOptions
): Effect.Effect<SubscriptionInfo, SubscriptionGroupError> =>
  Effect.suspend(() => {
    const problem = validate.streamName(stream) ?? validate.groupName(group)
    if (problem) return Effect.fail(problem)
    const request = { options: { streamOption: validate.source(stream), groupName: group } }
    return transport.call({
      name: "PersistentSubscriptions.getInfo",
      kind: "read",
      options,
      context: { stream },
      attributes: { "db.collection.name": stream, group },
      narrow: toGroupError(stream, group)
    }, (spec) => transport.unary(GetInfo, request, spec)).pipe(
      Effect.flatMap((response) =>
        response.subscriptionInfo === undefined
          ? Effect.fail(new GrpcError({ code: Code.UNKNOWN, details: "GetInfo answered without the group's info", metadata: {} }))
          : Effect.try({
            try: () => validate.toInfo(response.subscriptionInfo!),
            catch: (e) => new GrpcError({ code: Code.UNKNOWN, details: `Unreadable group info: ${String(e)}`, metadata: {} })
          })
      )
    )
  })

/** For a group on a stream (not `$all`). @internal */
export const getInfoToStream = (
  transport: TransportShape,
  stream: string,
  group: string,
  options?: CallOptions
): Effect.Effect<SubscriptionInfo, SubscriptionGroupError> => validate.onStream(stream, () => getInfo(transport, stream, group, options))

/** For a group on `$all`. @internal */
export const getInfoToAll = (
  transport: TransportShape,
  group: string,
  options?: CallOptions
): Effect.Effect<SubscriptionInfo, SubscriptionGroupError> => getInfo(transport, validate.ALL, group, options)
