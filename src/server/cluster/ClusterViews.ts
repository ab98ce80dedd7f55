/**
 * What the members of an embedded cluster see of it, derived from the controller's state
 * (ClusterController.ts): how a member's gate treats calls (ClusterGate.ts), the members as gossip
 * reports them to one member, and the small facts the controller reads off a member's log.
 *
 * @since 0.1.0
 */
import type { GossipMember } from "../handlers/GossipHandler.ts"
import type { GateView } from "./ClusterGate.ts"
import type { ClusterMember } from "./ClusterMember.ts"
import type { ReplicatedLog } from "./ReplicatedLog.ts"

/**
 * The end of what `log` holds durably on its own member, once it is durable.
 *
 * @since 0.1.0
 * @category utils
 */
export const localDurable = (log: ReplicatedLog): Promise<number> =>
  new Promise((resolve, reject) => log.localDurable((error, end) => (error === undefined ? resolve(end) : reject(error))))

/**
 * The epoch number of the last epoch record a member's store holds (−1: none).
 *
 * @since 0.1.0
 * @category utils
 */
export const lastEpochOf = (m: ClusterMember): number => {
  const record = m.internals?.store.lastEvent("$epoch-information")
  if (record === undefined) return -1
  try {
    const e = (JSON.parse(record.data.toString("utf8")) as { $e?: unknown }).$e
    return typeof e === "number" ? e : -1
  } catch {
    return -1
  }
}

/**
 * How member `m`'s gate treats calls now, given the current `leader` (if any), the host gossip
 * and not-leader answers name, and how long a forwarded write waits for a leader that went away.
 *
 * @since 0.1.0
 * @category views
 */
export const gateViewOf = (
  leader: ClusterMember | undefined,
  m: ClusterMember,
  advertised: string,
  forwardTimeoutMs: number
): GateView => {
  const reach = leader !== undefined && !m.cutPeers && !leader.cutPeers && leader.running
  const endpoint = reach
    ? {
      host: advertised,
      port: leader.port,
      handler: (path: string) => (leader.running ? leader.handlers.get(path) : undefined),
      delayMs: Math.max(m.peerDelayMs, leader.peerDelayMs),
      ready: leader.state === "Leader",
      adopt: (call: { readonly closed: boolean; gone(): void }) => {
        if (leader.forwarded.size >= 64) for (const c of leader.forwarded) if (c.closed) leader.forwarded.delete(c)
        leader.forwarded.add(call)
      }
    }
    : undefined
  const role: GateView["role"] = m === leader
    ? (m.state === "Leader" ? "Leader" : "PreLeader")
    : m.readOnly
    ? "ReadOnly"
    : reach && m.following === leader
    ? "Follower"
    : "Unknown"
  return { role, leader: endpoint, clientDelayMs: m.clientDelayMs, forwardTimeoutMs }
}

/**
 * The members as gossip reports them to `viewer` (a member cut off sees the others dead).
 *
 * @since 0.1.0
 * @category views
 */
export const gossipOf = (
  members: ReadonlyArray<ClusterMember>,
  viewer: ClusterMember,
  advertised: string
): ReadonlyArray<GossipMember> => {
  return members.map((m) => ({
    instanceId: m.instanceId,
    state: m === viewer || !viewer.cutPeers ? m.state : "Unknown",
    isAlive: m.running && (m === viewer || (!viewer.cutPeers && !m.cutPeers)),
    host: advertised,
    port: m.port
  }))
}
