/**
 * `event_store.client.gossip.Gossip`: a single node reports itself as the one alive Leader, with
 * its advertised host and port (PROTOCOL.md §6).
 *
 * @since 0.1.0
 */
import { type ClusterInfo, MemberInfo_VNodeState } from "../../generated/gossip.ts"
import type { Empty } from "../../generated/shared.ts"
import { Access, type Auth } from "../Auth.ts"
import { isRpcFailure } from "../errors.ts"
import type { ServerCall, ServiceImplementation, UnaryCallback } from "../transport/ServerCall.ts"
import { toStructured } from "../codec/Uuid.ts"

/**
 * What the gossip handler needs.
 *
 * @since 0.1.0
 * @category models
 */
export interface GossipContext {
  readonly auth: Auth
  readonly instanceId: string
  /** The advertised endpoint (known once the server is bound). */
  readonly endpoint: () => { readonly host: string; readonly port: number }
  /** Replaces the answer (tests of client discovery: single nodes that report a cluster). */
  readonly members?: (() => ReadonlyArray<GossipMember>) | undefined
}

/**
 * A member a faked gossip answer lists (the node option `gossip`).
 *
 * @since 0.1.0
 * @category models
 */
export interface GossipMember {
  readonly state: Exclude<keyof typeof MemberInfo_VNodeState, "UNRECOGNIZED">
  readonly isAlive: boolean
  readonly host: string
  readonly port: number
  /** The member's instance id; default one made from its endpoint. */
  readonly instanceId?: string | undefined
}

// a stable instance id per faked member (its endpoint as the last 12 hex digits)
const newUuidFor = (m: GossipMember): string => {
  const hex = Buffer.from(`${m.host}:${m.port}`).toString("hex").padStart(12, "0").slice(-12)
  return `00000000-0000-4000-8000-${hex}`
}

/**
 * The Gossip service implementation.
 *
 * @since 0.1.0
 * @category handlers
 */
export const makeGossipHandler = (ctx: GossipContext): ServiceImplementation => ({
  read: (call: ServerCall<Empty, ClusterInfo>, callback: UnaryCallback<ClusterInfo>) => {
    const principal = ctx.auth.authorize(call.metadata, Access.any)
    if (isRpcFailure(principal)) return callback(principal)
    if (ctx.members !== undefined) {
      return callback(null, {
        members: ctx.members().map((m) => ({
          instanceId: toStructured(m.instanceId ?? newUuidFor(m)),
          timeStamp: BigInt(Date.now()) * 10000n,
          state: MemberInfo_VNodeState[m.state],
          isAlive: m.isAlive,
          httpEndPoint: { address: m.host, port: m.port }
        }))
      })
    }
    const { host, port } = ctx.endpoint()
    callback(null, {
      members: [{
        instanceId: toStructured(ctx.instanceId),
        timeStamp: BigInt(Date.now()) * 10000n,
        state: MemberInfo_VNodeState.Leader,
        isAlive: true,
        httpEndPoint: { address: host, port }
      }]
    })
  }
})
