/**
 * What a cluster (EmbeddedCluster.ts) gives one of its members' nodes when it starts it
 * (`EmbeddedNodeOptions.cluster`), and what the node hands back once it listens.
 *
 * @since 0.1.0
 */
import type { GossipMember } from "../handlers/GossipHandler.ts"
import type { Store } from "../storage/Store.ts"
import type { ServiceDefinition, ServiceImplementation } from "../transport/ServerCall.ts"
import type { ReplicatedLog } from "./ReplicatedLog.ts"

/**
 * The node's side of a cluster member.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClusterHooks {
  /**
   * "leader": the store opens as a single node's does (a new epoch record `epoch`, the default
   * users, projections and persistent-subscription groups running); "replica": the store writes
   * only the leader's commits, and nothing of the node's own runs.
   */
  readonly role: "leader" | "replica"
  /** The member's instance id (gossip, `/info`). */
  readonly instanceId: string
  /** The epoch number the leader writes (the cluster's new term). */
  readonly epoch: number
  /** The member's log, before the store opens it. */
  readonly onLog: (log: ReplicatedLog) => void
  /**
   * Wraps each service's handlers (ClusterGate.ts); the cluster keeps the node's own handlers, to
   * which followers forward calls while this member leads.
   */
  readonly gate: (definition: ServiceDefinition, implementation: ServiceImplementation) => ServiceImplementation
  /** The members gossip reports (this member's view of the cluster). */
  readonly gossip: () => ReadonlyArray<GossipMember>
  /** Operations.ResignNode on this member. */
  readonly resign: () => void
  /** Operations.SetNodePriority on this member. */
  readonly setPriority: (priority: number) => void
  /** The node listens: what the cluster drives it with. */
  readonly onStarted: (member: MemberInternals) => void
}

/**
 * A running member's node, as its cluster drives it.
 *
 * @since 0.1.0
 * @category models
 */
export interface MemberInternals {
  readonly store: Store
  readonly log: ReplicatedLog
  /**
   * A replica elected leader becomes it in place: its store writes the epoch record `epoch`, the
   * default users are written if missing, the projections and persistent-subscription groups start
   * from what the log holds.
   */
  readonly lead: (epoch: number) => void
  /** While true the node's port accepts no client connection, and the open ones are dropped. */
  readonly refuseClients: (refuse: boolean) => void
  /** Stops the node at once: connections reset, no call answered, nothing waiting acknowledged. */
  readonly kill: () => Promise<void>
}
