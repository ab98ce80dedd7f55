/**
 * `PersistentSubscriptions.delete`: one Delete call for a group of a stream or of `$all`
 * (connected consumers are dropped; the group's checkpoints and parked events go with it).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { CallOptions } from "../transport/Options.ts"
import type { TransportShape } from "../transport/Transport.ts"
import { type SubscriptionGroupError, toGroupError } from "./errors.ts"
import { Delete } from "./methods.ts"
import * as validate from "./settings.ts"

/** @internal */
export const deleteGroup = (
  transport: TransportShape,
  stream: string,
  group: string,
  options?: CallOptions
): Effect.Effect<void, SubscriptionGroupError> =>
  Effect.suspend(() => {
    const problem = validate.streamName(stream) ?? validate.groupName(group)
    if (problem) return Effect.fail(problem)
    const request = { options: { streamOption: validate.source(stream), groupName: group } }
    return transport.call({
      name: "PersistentSubscriptions.delete",
      kind: "write",
      options,
      context: { stream },
      attributes: { "db.collection.name": stream, group },
      narrow: toGroupError(stream, group)
    }, (spec) => transport.unary(Delete, request, spec)).pipe(Effect.asVoid)
  })

/** For a group on a stream (not `$all`). @internal */
export const deleteToStream = (
  transport: TransportShape,
  stream: string,
  group: string,
  options?: CallOptions
): Effect.Effect<void, SubscriptionGroupError> => validate.onStream(stream, () => deleteGroup(transport, stream, group, options))

/** For a group on `$all`. @internal */
export const deleteToAll = (
  transport: TransportShape,
  group: string,
  options?: CallOptions
): Effect.Effect<void, SubscriptionGroupError> => deleteGroup(transport, validate.ALL, group, options)
