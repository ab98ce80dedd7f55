/**
 * One member of an embedded cluster: its log directory, its port (kept across restarts), its role
 * and state as gossip reports them, the links the tests cut or delay, and its node while it runs.
 *
 * @since 0.1.0
 */
import { MemberInfo_VNodeState } from "../../generated/gossip.ts"
import type { RunningNode } from "../EmbeddedNode.ts"
import type { Handler } from "../transport/ServerCall.ts"
import type { MemberInternals } from "./ClusterHooks.ts"
import type { ReplicatedLog } from "./ReplicatedLog.ts"

/**
 * A member's state, as gossip names it (PROTOCOL.md §6, `Data/VNodeState.cs`).
 *
 * @since 0.1.0
 * @category models
 */
export type MemberState = Exclude<keyof typeof MemberInfo_VNodeState, "UNRECOGNIZED">

/**
 * A frame of the leader on its way to a follower.
 *
 * @since 0.1.0
 * @category models
 */
export interface Shipped {
  readonly frame: Buffer
  /** The log offset after the frame. */
  readonly end: number
}

/**
 * One member.
 *
 * @since 0.1.0
 * @category models
 */
export class ClusterMember {
  readonly index: number
  readonly instanceId: string
  readonly dir: string
  readonly readOnly: boolean
  port: number
  priority = 0
  state: MemberState = "Initializing"
  node: RunningNode | undefined
  internals: MemberInternals | undefined
  log: ReplicatedLog | undefined
  /** Bumped at each start: callbacks of an earlier run are ignored. */
  generation = 0
  /** The controller stops this node (so its `stopped` is not news). */
  stopping = false
  cutPeers = false
  cutClients = false
  peerDelayMs = 0
  clientDelayMs = 0
  /** The epoch of the last epoch record its log holds (known when it last ran). */
  epoch = -1
  /** The leader it follows, and whether it has caught up (live frames are applied once it has). */
  following: ClusterMember | undefined
  ready = false
  queue: Array<Shipped> = []
  /** What it holds durably, as its leader last heard (the leader: its own). */
  acked = 0
  /** The commit point its leader announced. */
  leaderCommit = 0
  /** Its node's own handlers by method path (followers forward calls to them while it leads). */
  handlers: ReadonlyMap<string, Handler> = new Map()
  /** Streaming calls followers forwarded to it while it led (let go when it stops: `gone`). */
  readonly forwarded = new Set<{ readonly closed: boolean; gone(): void }>()
  /** The leader's log end once it had started: it is Leader once that is committed. */
  startEnd = 0

  constructor(index: number, dir: string, readOnly: boolean) {
    this.index = index
    this.dir = dir
    this.readOnly = readOnly
    this.port = 0
    // a stable id per member, so that a database kept with `db` keeps its members' ids
    this.instanceId = `00000000-0000-4000-8000-${(index + 1).toString(16).padStart(12, "0")}`
  }

  /** Is its node running? */
  get running(): boolean {
    return this.node !== undefined
  }
}
