/**
 * `Users.details` (one user) and `list` (every user, as a Stream): the Details call, server
 * streaming one reply per user, sorted by login. A list resumed after a failure skips the logins
 * it delivered already (the node sorts them), so none is delivered twice.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { UserDetails } from "../../domain/UserDetails.ts"
import { GrpcError } from "../../errors/GrpcError.ts"
import { UserNotFound } from "../../errors/UserNotFound.ts"
import { Code } from "../../generated/code.ts"
import type { DetailsResp, DetailsResp_UserDetails } from "../../generated/users.ts"
import type { CallOptions } from "../transport/Options.ts"
import type { Emit, TransportShape } from "../transport/Transport.ts"
import { type ListUsersError, toUserError, type UserError } from "./errors.ts"
import { toTransportError } from "../transport/TransportError.ts"
import { Details } from "./methods.ts"
import * as validate from "./validate.ts"

/** Most users one list is read to (a node listing more is a hostile one). */
const MAX_USERS = 1_000_000

/** .NET ticks (100 ns) since the Unix epoch, as the node sends `last_updated`. */
const TICKS_PER_MILLISECOND = 10_000n

/** @internal */
export const toUserDetails = (d: DetailsResp_UserDetails): UserDetails =>
  new UserDetails({
    loginName: d.loginName,
    fullName: d.fullName,
    groups: [...d.groups],
    disabled: d.disabled,
    lastUpdated: d.lastUpdated === undefined ? undefined : new Date(Number(d.lastUpdated.ticksSinceEpoch / TICKS_PER_MILLISECOND))
  })

/** @internal */
export const details = (
  transport: TransportShape,
  loginName: string,
  options?: CallOptions
): Effect.Effect<UserDetails, UserError> =>
  Effect.suspend(() => {
    const problem = validate.loginName(loginName)
    if (problem) return Effect.fail(problem)
    return transport.call({
      name: "Users.details",
      kind: "read",
      options,
      attributes: { "esdb.user.name": loginName },
      narrow: toUserError(loginName)
    }, (spec) =>
      Stream.runHead(transport.serverStream(Details, { options: { loginName } }, spec, (message: DetailsResp, emit: Emit<UserDetails>) => {
        if (message.userDetails !== undefined) emit.push(toUserDetails(message.userDetails))
      }))).pipe(
        Effect.flatMap((head) =>
          head._tag === "Some"
            ? Effect.succeed(head.value)
            : Effect.fail(new UserNotFound({ loginName }))
        )
      )
  })

/** @internal */
export const list = (transport: TransportShape, options?: CallOptions): Stream.Stream<UserDetails, ListUsersError> =>
  transport.stream({
    name: "Users.list",
    kind: "read",
    options,
    narrow: toTransportError
  }, (spec) => {
    // the cursor of this run: the last login delivered
    let last: string | undefined
    let count = 0
    return () =>
      transport.serverStream(Details, { options: { loginName: "" } }, spec, (message: DetailsResp, emit: Emit<UserDetails>) => {
        const d = message.userDetails
        if (d === undefined) return
        if (last !== undefined && d.loginName <= last) return
        if (++count > MAX_USERS) {
          return emit.fail(new GrpcError({ code: Code.RESOURCE_EXHAUSTED, details: `More than ${MAX_USERS} users listed`, metadata: {} }))
        }
        last = d.loginName
        emit.push(toUserDetails(d))
      })
  })
