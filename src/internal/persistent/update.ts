/**
 * `PersistentSubscriptions.updateToStream` / `updateToAll`: reads the group's current settings
 * and start (GetInfo), lays the given ones over them and sends an Update, so settings not given
 * keep their current values (the node itself takes an Update's settings literally). The node
 * drops the group's connected consumers, which reconnect to the updated group.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { PersistentSubscriptionSettingsInput } from "../../domain/PersistentSubscriptionSettings.ts"
import { InvalidArgument } from "../../errors/InvalidArgument.ts"
import type { UpdateReq, UpdateReq_Options } from "../../generated/persistent.ts"
import { streamIdentifier } from "../convert.ts"
import type { CallOptions } from "../transport/Options.ts"
import type { TransportShape } from "../transport/Transport.ts"
import { type SubscriptionGroupError, toGroupError } from "./errors.ts"
import { getInfo } from "./getInfo.ts"
import { Update } from "./methods.ts"
import * as validate from "./settings.ts"

/**
 * Options of `updateToStream` / `updateToAll`: what is not given keeps its current value.
 *
 * @since 0.1.0
 * @category models
 */
export interface UpdateOptions<From> extends CallOptions {
  /** A new start position. */
  readonly from?: From | undefined
  /** The settings to change. */
  readonly settings?: PersistentSubscriptionSettingsInput | undefined
}

/** A start to send: given, or kept from the group's info (a `$all` position with both parts). */
type Kept = validate.AllFrom

const update = (
  transport: TransportShape,
  stream: string,
  group: string,
  options: UpdateOptions<validate.AllFrom> | undefined,
  streamOption: (from: Kept) => UpdateReq_Options["streamOption"] | InvalidArgument
): Effect.Effect<void, SubscriptionGroupError> =>
  Effect.suspend(() => {
    const problem = validate.groupName(group) ?? validate.from(options?.from)
    if (problem) return Effect.fail(problem)
    const given = validate.settings(options?.settings)
    if (given instanceof Error) return Effect.fail(given)
    return getInfo(transport, stream, group, options).pipe(
      Effect.flatMap((info) => {
        const current = validate.settingsOfInfo(info)
        if (current instanceof Error) return Effect.fail(current)
        const merged = validate.settings(options?.settings, current)
        if (merged instanceof Error) return Effect.fail(merged)
        const settings = validate.updateSettings(merged)
        if (settings instanceof Error) return Effect.fail(settings)
        const option = streamOption(options?.from ?? validate.fromOfInfo(info))
        if (option instanceof Error) return Effect.fail(option)
        const request: UpdateReq = { options: { streamOption: option, groupName: group, settings } }
        return transport.call({
          name: "PersistentSubscriptions.update",
          kind: "write",
          options,
          context: { stream },
          attributes: { "db.collection.name": stream, group },
          narrow: toGroupError(stream, group)
        }, (spec) => transport.unary(Update, request, spec)).pipe(Effect.asVoid)
      })
    )
  })

/** @internal */
export const updateToStream = (
  transport: TransportShape,
  stream: string,
  group: string,
  options?: UpdateOptions<validate.StreamFrom>
): Effect.Effect<void, SubscriptionGroupError> => {
  const problem = validate.streamOnly(stream)
  if (problem) return Effect.fail(problem)
  return update(transport, stream, group, options, (from) =>
    typeof from === "object"
      ? new InvalidArgument({ reason: `The group on ${stream} reports a $all start` })
      : {
        $case: "stream",
        value: {
          streamIdentifier: streamIdentifier(stream),
          revisionOption: from === "start"
            ? { $case: "start", value: {} }
            : from === "end"
            ? { $case: "end", value: {} }
            : { $case: "revision", value: from }
        }
      }).pipe(transport.traceEffect("PersistentSubscriptions.updateToStream", { "db.collection.name": stream, group }))
}

/** @internal */
export const updateToAll = (
  transport: TransportShape,
  group: string,
  options?: UpdateOptions<validate.AllFrom>
): Effect.Effect<void, SubscriptionGroupError> =>
  update(transport, validate.ALL, group, options, (from) => ({
    $case: "all",
    value: {
      allOption: from === "start"
        ? { $case: "start", value: {} }
        : from === "end"
        ? { $case: "end", value: {} }
        : typeof from === "object"
        ? { $case: "position", value: { commitPosition: from.commitPosition, preparePosition: from.preparePosition } }
        : { $case: "position", value: { commitPosition: from, preparePosition: from } }
    }
  })).pipe(transport.traceEffect("PersistentSubscriptions.updateToAll", { "db.collection.name": "$all", group }))
