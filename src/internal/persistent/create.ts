/**
 * `PersistentSubscriptions.createToStream` / `createToAll`: one Create call. Settings not given
 * take the defaults of {@link PersistentSubscriptionSettings}; the node takes what is sent
 * literally (PROTOCOL.md §4), so the defaults are always sent.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { type FilterOptions, toServerFilter } from "../../domain/Filter.ts"
import type { PersistentSubscriptionSettingsInput } from "../../domain/PersistentSubscriptionSettings.ts"
import type { CreateReq, CreateReq_AllOptions } from "../../generated/persistent.ts"
import { streamIdentifier } from "../convert.ts"
import type { CallOptions } from "../transport/Options.ts"
import type { TransportShape } from "../transport/Transport.ts"
import { type CreateSubscriptionError, toCreateError } from "./errors.ts"
import { Create } from "./methods.ts"
import * as validate from "./settings.ts"

/**
 * Options of `createToStream`.
 *
 * @since 0.1.0
 * @category models
 */
export interface CreateToStreamOptions extends CallOptions {
  /** Where the group starts: `"start"` (the default, as in the seed; the official clients start at the end), `"end"` (new events only) or an event number. */
  readonly from?: validate.StreamFrom | undefined
  readonly settings?: PersistentSubscriptionSettingsInput | undefined
}

/**
 * Options of `createToAll`: a start, the filters of `readAll` (by default, as there, system
 * events and persistent-subscription configuration are excluded: `filterExclude: []` delivers
 * every event), and the settings.
 *
 * @since 0.1.0
 * @category models
 */
export interface CreateToAllOptions extends CallOptions, FilterOptions {
  /** Where the group starts: `"start"` (the default, as in the seed; the official clients start at the end), `"end"`, a commit position or a position. */
  readonly from?: validate.AllFrom | undefined
  readonly settings?: PersistentSubscriptionSettingsInput | undefined
}

/** The `$all` start and filter of a Create request. @internal */
export const allOptions = (from: validate.AllFrom | undefined, filter: FilterOptions | undefined): CreateReq_AllOptions => {
  const server = toServerFilter(filter)
  return {
    allOption: from === undefined || from === "start"
      ? { $case: "start", value: {} }
      : from === "end"
      ? { $case: "end", value: {} }
      : typeof from === "object"
      ? { $case: "position", value: from }
      : { $case: "position", value: { commitPosition: from, preparePosition: from } },
    filterOption: server === undefined
      ? { $case: "noFilter", value: {} }
      : {
        $case: "filter",
        value: {
          filter: server.on === "streamName"
            ? { $case: "streamIdentifier", value: { regex: server.regex, prefix: [] } }
            : { $case: "eventType", value: { regex: server.regex, prefix: [] } },
          window: { $case: "count", value: {} },
          checkpointIntervalMultiplier: 1
        }
      }
  }
}

const run = (
  transport: TransportShape,
  name: string,
  stream: string,
  group: string,
  request: CreateReq,
  options: CallOptions | undefined
): Effect.Effect<void, CreateSubscriptionError> =>
  transport.call({
    name,
    kind: "write",
    options,
    context: { stream },
    attributes: { "db.collection.name": stream, group },
    narrow: toCreateError(stream, group)
  }, (spec) => transport.unary(Create, request, spec)).pipe(Effect.asVoid)

/** @internal */
export const createToStream = (
  transport: TransportShape,
  stream: string,
  group: string,
  options?: CreateToStreamOptions
): Effect.Effect<void, CreateSubscriptionError> =>
  Effect.suspend(() => {
    const settings = validate.settings(options?.settings)
    const problem = validate.streamOnly(stream) ?? validate.groupName(group) ?? validate.from(options?.from)
    if (problem) return Effect.fail(problem)
    if (settings instanceof Error) return Effect.fail(settings)
    const from = options?.from
    const request: CreateReq = {
      options: {
        streamOption: {
          $case: "stream",
          value: {
            streamIdentifier: streamIdentifier(stream),
            revisionOption: from === undefined || from === "start"
              ? { $case: "start", value: {} }
              : from === "end"
              ? { $case: "end", value: {} }
              : { $case: "revision", value: from }
          }
        },
        groupName: group,
        settings: validate.createSettings(settings)
      }
    }
    return run(transport, "PersistentSubscriptions.createToStream", stream, group, request, options)
  })

/** @internal */
export const createToAll = (
  transport: TransportShape,
  group: string,
  options?: CreateToAllOptions
): Effect.Effect<void, CreateSubscriptionError> =>
  Effect.suspend(() => {
    const settings = validate.settings(options?.settings)
    const problem = validate.groupName(group) ?? validate.from(options?.from)
    if (problem) return Effect.fail(problem)
    if (settings instanceof Error) return Effect.fail(settings)
    const request: CreateReq = {
      options: {
        streamOption: { $case: "all", value: allOptions(options?.from, options) },
        groupName: group,
        settings: validate.createSettings(settings)
      }
    }
    return run(transport, "PersistentSubscriptions.createToAll", validate.ALL, group, request, options)
  })
