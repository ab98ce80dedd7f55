/**
 * `Gossip.clusterInfo`: one Read call to the node the connection uses, its members converted.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { ClusterMember } from "../../domain/ClusterMember.ts"
import { type ClusterInfo, MemberInfo_VNodeState } from "../../generated/gossip.ts"
import { uuidToString } from "../convert.ts"
import type { CallOptions } from "../transport/Options.ts"
import { toTransportError, type TransportError } from "../transport/TransportError.ts"
import type { TransportShape } from "../transport/Transport.ts"
import { Read } from "./methods.ts"

/** Most members one answer is read to (a cluster has a handful). */
const MAX_MEMBERS = 1_000

/** .NET ticks (100 ns) since the Unix epoch, as the node sends `time_stamp`. */
const TICKS_PER_MILLISECOND = 10_000n

const stateNames: ReadonlyMap<number, string> = new Map(
  Object.entries(MemberInfo_VNodeState)
    .filter(([name]) => name !== "UNRECOGNIZED")
    .map(([name, value]): [number, string] => [value, name])
)

/** @internal */
export const toMembers = (info: ClusterInfo): ReadonlyArray<ClusterMember> =>
  info.members.slice(0, MAX_MEMBERS).map((m) =>
    new ClusterMember({
      instanceId: uuidToString(m.instanceId),
      timestamp: new Date(Number(m.timeStamp / TICKS_PER_MILLISECOND)),
      state: stateNames.get(m.state) ?? "Unknown",
      isAlive: m.isAlive,
      address: { host: m.httpEndPoint?.address ?? "", port: m.httpEndPoint?.port ?? 0 }
    })
  )

/** @internal */
export const clusterInfo = (
  transport: TransportShape,
  options?: CallOptions
): Effect.Effect<ReadonlyArray<ClusterMember>, TransportError> =>
  transport.call(
    { name: "Gossip.clusterInfo", kind: "read", options, narrow: toTransportError },
    (spec) => Effect.map(transport.unary(Read, {}, spec), toMembers)
  )
