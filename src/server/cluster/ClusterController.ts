/**
 * The cluster's machinery, in process: it starts each member's node, runs the elections, carries
 * the leader's commits to the other members and their acknowledgements back (through links the
 * tests can cut or delay), moves the commit point once a majority holds a write durably, and
 * brings a returning member's log in line with the leader's (LogSync.ts).
 *
 * Operations that change who leads (start, stop, kill, restart, cut, heal, elections) run one at a
 * time, in order; frames and acknowledgements flow meanwhile.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import { join } from "node:path"
import { LOG_FILE } from "../storage/FileLog.ts"
import { type EmbeddedNodeOptions, startEmbeddedNode } from "../EmbeddedNode.ts"
import type { GossipMember } from "../handlers/GossipHandler.ts"
import { RequestCanceledError } from "../errors.ts"
import type { Handler, ServiceDefinition, ServiceImplementation } from "../transport/ServerCall.ts"
import type { ClusterHooks } from "./ClusterHooks.ts"
import { type ClusterClock, clusterClock } from "./ClusterClock.ts"
import { gateService, type GateView } from "./ClusterGate.ts"
import { gateViewOf, gossipOf, lastEpochOf, localDurable } from "./ClusterViews.ts"
import { FORWARD_TIMEOUT_MS } from "./ForwardedBatchAppend.ts"
import { ClusterLinks } from "./ClusterLinks.ts"
import type { ClusterMember } from "./ClusterMember.ts"
import { bestCandidate, COMMIT_TIMEOUT_MS, majorityPoint, NO_QUORUM_TIMEOUT_MS } from "./Election.ts"
import { commitsOf, commonPrefix, lastCommitEnd, truncateLog } from "./LogSync.ts"

/**
 * The controller of one cluster.
 *
 * @since 0.1.0
 * @category models
 */
export class ClusterController {
  readonly members: ReadonlyArray<ClusterMember>
  leader: ClusterMember | undefined
  private term = -1
  private chain: Promise<unknown> = Promise.resolve()
  private readonly voters: number
  private readonly host: string
  /** The host gossip and not-leader answers name (the bound host; `localhost` when secure, as a single node). */
  private readonly advertised: string
  private readonly nodeOptions: EmbeddedNodeOptions
  private readonly logger: (message: string) => void
  private closed = false
  private readonly clock: ClusterClock
  private readonly noQuorumTimeoutMs: number
  /** How long a follower's forwarded write waits for a leader that went away (ForwardedBatchAppend.ts). */
  private readonly forwardTimeoutMs: number
  /** Which member wrote each epoch (the elections prefer a live previous leader: Election.ts). */
  private readonly epochLeaders = new Map<number, number>()
  /** The links between members (ClusterLinks.ts). */
  private readonly links: ClusterLinks

  constructor(
    members: ReadonlyArray<ClusterMember>,
    host: string,
    nodeOptions: EmbeddedNodeOptions,
    logger: (message: string) => void,
    noQuorumTimeoutMs: number = NO_QUORUM_TIMEOUT_MS,
    forwardTimeoutMs: number = FORWARD_TIMEOUT_MS
  ) {
    this.noQuorumTimeoutMs = noQuorumTimeoutMs
    this.forwardTimeoutMs = forwardTimeoutMs
    this.members = members
    this.voters = members.filter((m) => !m.readOnly).length
    this.host = host
    this.advertised = nodeOptions.insecure === false ? "localhost" : host
    this.nodeOptions = nodeOptions
    this.logger = logger
    this.clock = clusterClock(nodeOptions.context ?? Context.empty())
    this.links = new ClusterLinks(this.clock)
  }

  /** Runs `op` after every operation queued before it. */
  run<A>(op: () => Promise<A>): Promise<A> {
    const next = this.chain.then(op).finally(() => this.admit())
    this.chain = next.catch(() => {})
    return next
  }

  /**
   * Every running member takes clients again, but those cut from them: a member (re)started as a
   * replica refuses them until the operation that started it is over (its log cut and caught up,
   * or no leader to follow), so that no client reads a tail it is about to cut, as a real node
   * truncates before it serves.
   */
  private admit(): void {
    for (const m of this.members) m.internals?.refuseClients(m.cutClients)
  }

  // -----------------------------------------------------------------------------------------------
  // members' nodes

  private hooks(m: ClusterMember, role: "leader" | "replica"): ClusterHooks {
    const generation = m.generation
    // the node's own handlers, by method path: followers forward calls to them while it leads
    const handlers = new Map<string, Handler>()
    m.handlers = handlers
    return {
      role,
      instanceId: m.instanceId,
      epoch: this.term,
      onLog: (log) => {
        m.log = log
        if (role === "leader") log.onWrite = (frame, end) => this.ship(m, generation, frame, end)
      },
      gate: (definition: ServiceDefinition, implementation: ServiceImplementation) => {
        for (const name of Object.keys(implementation)) {
          const path = definition[name]?.path
          if (path !== undefined) handlers.set(path, implementation[name]!)
        }
        return gateService(definition, implementation, () => this.gateView(m), this.clock.after)
      },
      gossip: () => this.gossip(m),
      resign: () => void this.resign(m.index),
      setPriority: (priority) => {
        m.priority = priority
      },
      onStarted: (internals) => {
        m.internals = internals
        internals.refuseClients(role === "replica" || m.cutClients)
      }
    }
  }

  /** Starts a member's node (on its port once it has one). */
  private async start(m: ClusterMember, role: "leader" | "replica"): Promise<void> {
    m.generation++
    m.stopping = false
    m.acked = 0
    m.leaderCommit = 0
    m.state = role === "leader" ? "PreLeader" : m.readOnly ? "ReadOnlyLeaderless" : "Unknown"
    m.startEnd = Number.POSITIVE_INFINITY
    const node = await startEmbeddedNode({
      ...this.nodeOptions,
      host: this.host,
      port: m.port,
      db: m.dir,
      cluster: this.hooks(m, role)
    })
    m.port = node.port
    m.node = node
    m.epoch = lastEpochOf(m)
    const generation = m.generation
    // a node stopped from outside (Operations.Shutdown, a failed log) is a member gone
    node.stopped.then(() => {
      if (m.generation !== generation || m.stopping || this.closed) return
      void this.run(() => this.lost(m, false))
    })
  }

  /** Stops a member's node: gracefully, or at once (`kill`). */
  private async halt(m: ClusterMember, kill: boolean): Promise<void> {
    const node = m.node
    if (node === undefined) return
    m.stopping = true
    m.state = "ShuttingDown"
    m.generation++
    m.following = undefined
    m.ready = false
    m.queue = []
    if (m === this.leader) this.leader = undefined
    // the calls followers forwarded to it live on the followers' connections: a BatchAppend call
    // stays open there, and its writes this leader does not answer time out (ForwardedBatchAppend.ts)
    const letGo = () => {
      for (const call of m.forwarded) if (!call.closed) call.gone()
      m.forwarded.clear()
    }
    if (kill) {
      // a killed process answers nothing: its clients see their connections reset, and what
      // followers forwarded to it waits for their forwarding timeout
      letGo()
      m.log?.abandon(new Error("not committed: the node was killed"))
    } else {
      // a leader that steps down or stops answers its waiting writes timed out (RequestCanceledError)
      m.log?.abandon(new RequestCanceledError())
      letGo()
    }
    if (kill && m.internals !== undefined) await m.internals.kill()
    else await node.stop()
    m.node = undefined
    m.internals = undefined
    m.log = undefined
    m.state = "Shutdown"
  }

  // -----------------------------------------------------------------------------------------------
  // replication

  /** The leader wrote a commit: to its own disk, and to every member following it. */
  private ship(leader: ClusterMember, generation: number, frame: Buffer, end: number): void {
    if (leader.generation !== generation) return
    leader.log!.localDurable((error, durable) => {
      if (error !== undefined || leader.generation !== generation) return
      leader.acked = Math.max(leader.acked, durable)
      this.advance(leader)
    })
    for (const f of this.members) {
      if (f.following !== leader) continue
      if (!f.ready) f.queue.push({ frame, end })
      else {
        const fg = f.generation
        this.links.send(leader, f, () => {
          if (f.generation === fg && f.following === leader) this.apply(f, leader, { frame, end })
        })
      }
    }
  }

  /** A follower applies a frame of its leader (in order: one it has is skipped, a gap resyncs it). */
  private apply(f: ClusterMember, leader: ClusterMember, { end, frame }: { frame: Buffer; end: number }): void {
    const log = f.log!
    const start = end - frame.length
    if (start < log.end) return
    if (start > log.end) {
      f.following = undefined
      void this.run(() => this.follow(f))
      return
    }
    try {
      f.internals!.store.replicate(frame)
    } catch (e) {
      this.logger(`member ${f.index}: a commit of the leader could not be written (${(e as Error).message})`)
      return
    }
    log.commitTo(Math.min(f.leaderCommit, log.end))
    const fg = f.generation
    log.localDurable((error, durable) => {
      if (error !== undefined) return
      this.links.send(f, leader, () => {
        if (f.generation !== fg || f.following !== leader || !leader.running) return
        f.acked = Math.max(f.acked, durable)
        this.advance(leader)
      })
    })
  }

  /** Moves the leader's commit point to what a majority holds, and tells its followers. */
  private advance(leader: ClusterMember): void {
    const log = leader.log
    if (log === undefined || leader !== this.leader) return
    const held = this.members
      .filter((m) => !m.readOnly)
      .map((m) => (m === leader ? m.acked : m.following === leader && m.ready ? m.acked : 0))
    const point = majorityPoint(held, this.voters)
    if (leader.state === "PreLeader" && Math.max(point, log.commitPoint) >= leader.startEnd) leader.state = "Leader"
    if (point <= log.commitPoint) return
    log.commitTo(point)
    for (const f of this.members) {
      if (f.following !== leader || !f.ready) continue
      const fg = f.generation
      this.links.send(leader, f, () => {
        if (f.generation !== fg || f.following !== leader) return
        f.leaderCommit = Math.max(f.leaderCommit, point)
        f.log?.commitTo(Math.min(f.leaderCommit, f.log.end))
      })
    }
  }

  /**
   * Brings a running member in line with the leader and has it follow: the common prefix of the
   * two logs is kept, a tail the leader lacks is cut (the member restarts on the cut log), the
   * leader's commits from there are copied, then the live ones applied.
   */
  async follow(f: ClusterMember): Promise<void> {
    const leader = this.leader
    if (leader === undefined || f === leader || !f.running || f.cutPeers || leader.cutPeers || leader.log === undefined) return
    f.following = leader
    f.ready = false
    f.queue = []
    f.acked = 0
    f.leaderCommit = 0
    f.state = f.readOnly ? "PreReadOnlyReplica" : "PreReplica"
    await localDurable(f.log!)
    const snapshot = leader.log.end
    await localDurable(leader.log)
    const end = f.log!.end
    const common = commonPrefix(f.log!.file, end, leader.log.file, snapshot)
    if (common < end) {
      const cut = lastCommitEnd(f.log!.file, common)
      this.logger(`member ${f.index}: offline truncation: ${end - cut} bytes from offset ${cut} that the leader (member ${leader.index}) lacks`)
      await this.halt(f, false)
      truncateLog(join(f.dir, LOG_FILE), cut)
      await this.start(f, "replica")
      return this.follow(f)
    }
    f.state = f.readOnly ? "PreReadOnlyReplica" : "CatchingUp"
    const store = f.internals!.store
    for (const commit of commitsOf(leader.log.file, end, snapshot)) store.replicate(commit)
    f.ready = true
    f.epoch = leader.epoch
    const queued = f.queue
    f.queue = []
    for (const shipped of queued) this.apply(f, leader, shipped)
    const durable = await localDurable(f.log!)
    if (f.following !== leader) return
    f.state = f.readOnly ? "ReadOnlyReplica" : "Follower"
    // what the leader had committed before: readable here once held
    f.leaderCommit = Math.max(f.leaderCommit, leader.log?.commitPoint ?? 0)
    f.log!.commitTo(Math.min(f.leaderCommit, f.log!.end))
    // the caught-up member tells the leader what it holds, over its link
    const fg = f.generation
    this.links.send(f, leader, () => {
      if (f.generation !== fg || f.following !== leader) return
      f.acked = Math.max(f.acked, durable)
      this.advance(leader)
    })
  }

  // -----------------------------------------------------------------------------------------------
  // elections

  /**
   * Elects a leader among the running voting members that reach each other, if they are a
   * majority: the best candidate (Election.ts) restarts as leader with a new epoch; every other
   * running member follows it. Without a majority there is no leader.
   */
  async elect(resigning?: ClusterMember): Promise<void> {
    if (this.closed) return
    const old = this.leader
    const candidates = this.members
      .filter((m) => !m.readOnly && m.running && !m.cutPeers)
      .map((m) => ({
        index: m.index,
        epoch: m.epoch,
        end: m.log?.end ?? 0,
        priority: m.priority,
        resigning: m === resigning,
        epochLeader: this.epochLeaders.get(m.epoch)
      }))
    const best = bestCandidate(candidates, this.voters)
    this.leader = undefined
    for (const m of this.members) {
      m.following = undefined
      m.ready = false
      if (m.running) m.state = m.readOnly ? "ReadOnlyLeaderless" : "Unknown"
    }
    if (old !== undefined && old.running) {
      // the old leader steps down: what waits for the cluster is never acknowledged
      await this.halt(old, false)
      await this.start(old, "replica")
    }
    if (best === undefined) {
      this.logger(`no leader: ${candidates.length} of ${this.voters} voting members reachable`)
      return
    }
    const winner = this.members[best.index]!
    this.term = Math.max(this.term, ...this.members.map((m) => m.epoch)) + 1
    this.leader = winner
    if (winner.internals !== undefined && winner.log !== undefined) {
      // a running replica becomes the leader in place (its clients keep their connections), as a
      // real node goes from Follower through PreLeader to Leader
      const generation = winner.generation
      winner.following = undefined
      winner.ready = false
      winner.queue = []
      winner.state = "PreLeader"
      winner.startEnd = Number.POSITIVE_INFINITY
      winner.acked = 0
      winner.log.onWrite = (frame, end) => this.ship(winner, generation, frame, end)
      winner.internals.lead(this.term)
    } else {
      await this.start(winner, "leader")
    }
    winner.epoch = this.term
    this.epochLeaders.set(this.term, winner.index)
    winner.startEnd = winner.log!.end
    winner.acked = await localDurable(winner.log!)
    this.logger(`member ${winner.index} is leader (epoch ${this.term})`)
    this.advance(winner)
    for (const m of this.members) if (m !== winner && m.running && !m.cutPeers) await this.follow(m)
  }

  /** A member stopped (by the tests, or on its own): elect again when it led. */
  async lost(m: ClusterMember, kill: boolean): Promise<void> {
    const wasLeader = m === this.leader
    await this.halt(m, kill)
    if (wasLeader) await this.elect()
    else if (this.leader === undefined) await this.elect()
    else this.watchQuorum()
  }

  /** Can the leader reach a majority of the voting members (itself included)? */
  private hasQuorum(leader: ClusterMember): boolean {
    const reachable = this.members.filter((m) => !m.readOnly && m.running && !m.cutPeers).length
    return !leader.cutPeers && reachable >= Math.floor(this.voters / 2) + 1
  }

  /**
   * A leader that cannot reach a majority for `noQuorumTimeoutMs` (3 s) steps down, as a real one
   * retires (`LeaderReplicationService.ManageNoQuorumDetection`, `NoQuorumTimeout`: "NO QUORUM
   * EMERGED WITHIN TIMEOUT... RETIRING..."): what waits for the cluster is never acknowledged, and
   * no member leads until a majority is back.
   */
  private watchQuorum(): void {
    const leader = this.leader
    if (leader === undefined || this.hasQuorum(leader)) return
    const generation = leader.generation
    this.clock.after(this.noQuorumTimeoutMs, () => {
      void this.run(async () => {
        if (this.closed || this.leader !== leader || leader.generation !== generation || this.hasQuorum(leader)) return
        this.logger(`member ${leader.index}: no quorum within ${this.noQuorumTimeoutMs} ms: it steps down`)
        await this.elect()
      })
    })
  }

  /**
   * ResignNode: the leader steps down and the others elect (it wins only if none else can), as a
   * real leader resigns (`ElectionsService.Handle(ResignNode)`, `ClusterVNodeController`): it is
   * ResigningLeader, refusing new writes as not ready (`HandleAsResigningLeader`), until its
   * waiting writes are done (`RequestQueueDrained`: here, committed, or after the commit timeout),
   * then the election runs without it among the best.
   */
  resign(index: number): Promise<void> {
    return this.run(async () => {
      const m = this.members[index]!
      if (m !== this.leader) return
      m.state = "ResigningLeader"
      await this.drain(m)
      if (m !== this.leader || !m.running) return this.elect()
      await this.elect(m)
    })
  }

  /** Resolves once what the leader wrote is committed, or after `COMMIT_TIMEOUT_MS`. */
  private drain(m: ClusterMember): Promise<void> {
    const log = m.log
    if (log === undefined || log.commitPoint >= log.end) return Promise.resolve()
    return new Promise((resolve) => {
      log.whenDurable(() => resolve())
      this.clock.after(COMMIT_TIMEOUT_MS, resolve)
    })
  }

  /** Starts every member, then elects. */
  async startAll(): Promise<void> {
    for (const m of this.members) await this.start(m, "replica")
    this.term = Math.max(-1, ...this.members.map((m) => m.epoch))
    await this.elect()
  }

  /** Restarts a stopped member: it follows the leader, or an election runs when there is none. */
  async restart(m: ClusterMember): Promise<void> {
    if (m.running) return
    await this.start(m, "replica")
    if (this.leader === undefined) await this.elect()
    else await this.follow(m)
  }

  /** Cuts or restores a member's links to its peers. */
  async setPeers(m: ClusterMember, cut: boolean): Promise<void> {
    if (m.cutPeers === cut) return
    m.cutPeers = cut
    if (cut) {
      if (m === this.leader) await this.elect()
      else {
        m.following = undefined
        m.ready = false
        if (m.running) m.state = m.readOnly ? "ReadOnlyLeaderless" : "Unknown"
        if (this.leader === undefined) await this.elect()
        else this.watchQuorum()
      }
      return
    }
    if (this.leader === undefined) await this.elect()
    else await this.follow(m)
  }

  /** Stops every member. */
  async close(): Promise<void> {
    this.closed = true
    for (const m of this.members) await this.halt(m, false)
  }

  // -----------------------------------------------------------------------------------------------
  // what members see (ClusterViews.ts)

  /** How a member's gate treats calls now. */
  gateView(m: ClusterMember): GateView {
    return gateViewOf(this.leader, m, this.advertised, this.forwardTimeoutMs)
  }

  /** The members as gossip reports them to `viewer` (a member cut off sees the others dead). */
  gossip(viewer: ClusterMember): ReadonlyArray<GossipMember> {
    return gossipOf(this.members, viewer, this.advertised)
  }
}
