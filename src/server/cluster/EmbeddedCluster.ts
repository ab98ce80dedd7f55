/**
 * An embedded cluster: N embedded nodes (three by default) and optional read-only replicas on
 * loopback ports, each with its own log, one of them the leader. The leader's writes are
 * acknowledged once a majority of the voting members hold them durably; gossip reports each
 * member's state; followers serve reads and forward writes; a leader that stops, is killed or is
 * cut off is replaced by an election; a returning member cuts what it had not committed and
 * catches up. Tests drive faults with the controls of {@link RunningCluster}.
 *
 * `startEmbeddedCluster` starts one; `EmbeddedCluster.layer` scopes one to an Effect layer;
 * `EmbeddedCluster.layerClient` scopes one with a client connected through its gossip seeds.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { InvalidConnectionString } from "../../errors/InvalidConnectionString.ts"
import * as EventStoreDB from "../../layers/EventStoreDB.ts"
import { bundledCertsDir, type EmbeddedClientOptions, type RunningNode } from "../EmbeddedNode.ts"
import type { EmbeddedNodeOptions } from "../EmbeddedNodeOptions.ts"
import type { Store } from "../storage/Store.ts"
import { ClusterController } from "./ClusterController.ts"
import { ClusterMember, type MemberState } from "./ClusterMember.ts"

export type { MemberState } from "./ClusterMember.ts"

/**
 * Options of an embedded cluster.
 *
 * @since 0.1.0
 * @category models
 */
export interface EmbeddedClusterOptions {
  /** Voting members; default 3. */
  readonly nodes?: number | undefined
  /** Read-only replicas besides them (they never vote nor lead); default 0. */
  readonly readOnlyReplicas?: number | undefined
  /**
   * Keep the members' logs in `<db>/node-<i>` (a restart of the cluster on the same directory reads
   * them back). Default: temporary directories (in `/dev/shm` when there is one), removed when the
   * cluster stops; a member's log outlives its own restarts either way.
   */
  readonly db?: string | undefined
  /** Default "127.0.0.1". */
  readonly host?: string | undefined
  /** Member `i` listens on `port + i`; default 0: free ports (each member keeps its port across restarts). */
  readonly port?: number | undefined
  /**
   * Default true, as a single embedded node: cleartext, no authentication. `false`: every member
   * serves TLS (with `tls`, else the bundled development certificates, valid for `localhost` and
   * `127.0.0.1`, so one certificate serves every loopback member) and authenticates its callers
   * (users admin/ops); gossip then names the members `localhost`.
   */
  readonly insecure?: boolean | undefined
  /** With `insecure: false`: every member's certificate, key and CA (default: the bundled development ones). */
  readonly tls?: EmbeddedNodeOptions["tls"]
  /** Options of every member's node (not `host`, `port`, `db`, nor `insecure`/`tls`: the cluster's own). */
  readonly node?: Omit<EmbeddedNodeOptions, "host" | "port" | "db" | "cluster" | "gossip" | "insecure" | "tls"> | undefined
  /**
   * How long a leader that cannot reach a majority goes on leading before it steps down (its
   * waiting writes never acknowledged); default 3000 ms, a real node's `NoQuorumTimeout`. On the
   * Clock of the cluster's services.
   */
  readonly noQuorumTimeoutMs?: number | undefined
  /**
   * How long a write a follower forwarded waits for the leader's answer once that leader has gone
   * (stepped down, killed, cut off) before it is answered `Timeout`; default 4300 ms, a real node's
   * forwarding timeout (`PrepareTimeoutMs` + `CommitTimeoutMs` + 300). On the Clock of the
   * cluster's services.
   */
  readonly forwardTimeoutMs?: number | undefined
  /** Where the cluster reports elections and truncations; default: stderr, one line each. */
  readonly logger?: ((message: string) => void) | undefined
}

/**
 * A member as the cluster sees it now.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClusterMemberInfo {
  readonly index: number
  readonly instanceId: string
  readonly port: number
  /** Gossip's state of the member. */
  readonly state: MemberState
  /** Its node runs. */
  readonly alive: boolean
  readonly readOnly: boolean
  readonly priority: number
}

/**
 * A started cluster and its controls. Members are numbered from 0 (voting members first, then
 * read-only replicas). Every control resolves once the cluster has settled (an election held,
 * a returning member caught up).
 *
 * @since 0.1.0
 * @category models
 */
export interface RunningCluster {
  /**
   * Every member as a gossip seed. Insecure: `esdb://<host>:<p0>,<host>:<p1>,…?tls=false`; secure:
   * `esdb://admin:changeit@localhost:<p0>,localhost:<p1>,…?tls=true&tlsCaFile=<ca.crt>` (no
   * `tlsCaFile` with the caller's own `tls`: the client then needs its CA).
   */
  readonly connectionString: string
  /** Whether the members serve cleartext without authentication. */
  readonly insecure: boolean
  /** Absolute path of the CA certificate when secure with the bundled certificates. */
  readonly caFile: string | undefined
  /** The members now. */
  readonly members: () => ReadonlyArray<ClusterMemberInfo>
  /** The leader's index, once its node runs (Leader, or PreLeader until a majority holds its epoch). */
  readonly leader: () => number | undefined
  /** A member's node while it runs. */
  readonly node: (index: number) => RunningNode | undefined
  /** A member's store while it runs (tests compare the members' logs). */
  readonly store: (index: number) => Store | undefined
  /** Stops a member gracefully (its port then refuses connections); a leader is replaced. */
  readonly stop: (index: number) => Promise<void>
  /** Stops a member at once: connections reset, nothing waiting answered; a leader is replaced. */
  readonly kill: (index: number) => Promise<void>
  /** Starts a stopped member again: it truncates what it had not committed and catches up. */
  readonly restart: (index: number) => Promise<void>
  /**
   * Cuts a member's links: `peers` (replication and elections: a cut leader is replaced, a cut
   * member falls behind) and/or `clients` (its port drops every connection).
   */
  readonly cut: (index: number, links: { readonly peers?: boolean; readonly clients?: boolean }) => Promise<void>
  /** Restores every link of a member (it catches up with the leader). */
  readonly heal: (index: number) => Promise<void>
  /** Delays, in ms, what goes over a member's links to its peers and/or the calls of its clients (0: none). */
  readonly delay: (index: number, delays: { readonly peers?: number; readonly clients?: number }) => void
  /** Holds a new election now (the current leader steps down first); resolves to the new leader. */
  readonly electLeader: () => Promise<number | undefined>
  /** Operations.ResignNode on a member. */
  readonly resign: (index: number) => Promise<void>
  /** Operations.SetNodePriority on a member (weighs in the next election). */
  readonly setPriority: (index: number, priority: number) => void
  /** Stops every member (and removes temporary logs); idempotent. */
  readonly close: () => Promise<void>
}

const memoryRoot = (): string => {
  const shm = "/dev/shm"
  return mkdtempSync(join(existsSync(shm) ? shm : tmpdir(), "effect-esdb-cluster-"))
}

/**
 * Starts a cluster and resolves once it has a leader and its members follow it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const startEmbeddedCluster = async (options: EmbeddedClusterOptions = {}): Promise<RunningCluster> => {
  const voting = options.nodes ?? 3
  const replicas = options.readOnlyReplicas ?? 0
  if (!Number.isInteger(voting) || voting < 1) throw new Error(`a cluster needs at least one voting member (nodes: ${voting})`)
  const host = options.host ?? "127.0.0.1"
  const temporary = options.db === undefined
  const root = options.db ?? memoryRoot()
  const members: Array<ClusterMember> = []
  for (let i = 0; i < voting + replicas; i++) {
    const dir = join(root, `node-${i}`)
    mkdirSync(dir, { recursive: true })
    const m = new ClusterMember(i, dir, i >= voting)
    if (options.port !== undefined && options.port > 0) m.port = options.port + i
    members.push(m)
  }
  const logger = options.logger ?? ((message: string) => process.stderr.write(`[effect-esdb cluster] ${message}\n`))
  const insecure = options.insecure ?? true
  const controller = new ClusterController(
    members,
    host,
    { ...options.node, insecure, tls: insecure ? undefined : options.tls },
    logger,
    options.noQuorumTimeoutMs,
    options.forwardTimeoutMs
  )
  const member = (index: number): ClusterMember => {
    const m = members[index]
    if (m === undefined) throw new Error(`no member ${index} (the cluster has ${members.length})`)
    return m
  }
  let closing: Promise<void> | undefined
  const close = (): Promise<void> => {
    closing ??= controller.run(() => controller.close()).finally(() => {
      if (temporary) rmSync(root, { recursive: true, force: true })
    })
    return closing
  }
  try {
    await controller.run(() => controller.startAll())
  } catch (e) {
    await close()
    throw e
  }
  // the members' nodes use the bundled certificates unless given `tls`
  const caFile = insecure || options.tls !== undefined ? undefined : bundledCertsDir() + "ca.crt"
  const connectionString = insecure
    ? `esdb://${members.map((m) => `${host}:${m.port}`).join(",")}?tls=false`
    : `esdb://admin:changeit@${members.map((m) => `localhost:${m.port}`).join(",")}?tls=true${
      caFile === undefined ? "" : `&tlsCaFile=${caFile}`
    }`
  return {
    connectionString,
    insecure,
    caFile,
    members: () =>
      members.map((m) => ({
        index: m.index,
        instanceId: m.instanceId,
        port: m.port,
        state: m.state,
        alive: m.running,
        readOnly: m.readOnly,
        priority: m.priority
      })),
    leader: () => (controller.leader?.running === true ? controller.leader.index : undefined),
    node: (index) => member(index).node,
    store: (index) => member(index).internals?.store,
    stop: (index) => controller.run(() => controller.lost(member(index), false)),
    kill: (index) => controller.run(() => controller.lost(member(index), true)),
    restart: (index) => controller.run(() => controller.restart(member(index))),
    cut: (index, links) =>
      controller.run(async () => {
        const m = member(index)
        if (links.clients === true) {
          m.cutClients = true
          m.internals?.refuseClients(true)
        }
        if (links.peers === true) await controller.setPeers(m, true)
      }),
    heal: (index) =>
      controller.run(async () => {
        const m = member(index)
        m.cutClients = false
        m.internals?.refuseClients(false)
        await controller.setPeers(m, false)
      }),
    delay: (index, delays) => {
      const m = member(index)
      if (delays.peers !== undefined) m.peerDelayMs = Math.max(0, delays.peers)
      if (delays.clients !== undefined) m.clientDelayMs = Math.max(0, delays.clients)
    },
    electLeader: async () => {
      // the leader resigns (ResigningLeader, its writes drained), as ResignNode does
      const leader = controller.leader
      if (leader !== undefined) await controller.resign(leader.index)
      else await controller.run(() => controller.elect())
      return controller.leader?.index
    },
    resign: (index) => controller.resign(index),
    setPriority: (index, priority) => {
      member(index).priority = priority
    },
    close
  }
}

/**
 * The embedded cluster as an Effect service.
 *
 * @since 0.1.0
 * @category services
 */
export class EmbeddedCluster extends Context.Service<EmbeddedCluster, RunningCluster>()("effect-esdb/EmbeddedCluster") {
  /**
   * Starts a cluster that stops with the layer's scope.
   *
   * @example
   * ```ts
   * import { Effect } from "effect"
   * import { EmbeddedCluster } from "effect-esdb/server"
   *
   * const test = Effect.gen(function*() {
   *   const cluster = yield* EmbeddedCluster
   *   yield* Effect.promise(() => cluster.kill(cluster.leader()!))
   *   return cluster.leader()
   * }).pipe(Effect.provide(EmbeddedCluster.layer({ nodes: 3 })))
   * ```
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layer = (options?: EmbeddedClusterOptions): Layer.Layer<EmbeddedCluster> =>
    Layer.effect(
      EmbeddedCluster,
      Effect.acquireRelease(
        Effect.flatMap(Effect.context<never>(), (context) =>
          Effect.promise(() => startEmbeddedCluster({ ...options, node: { context, ...options?.node } }))),
        (cluster) => Effect.promise(() => cluster.close())
      )
    )

  /**
   * Starts a cluster (as {@link EmbeddedCluster.layer}) and provides the client's services
   * connected to it through every member as a gossip seed (`connectionString`), plus the cluster.
   * `settings` are connection-string settings added to the cluster's (`nodePreference=follower`,
   * `maxDiscoverAttempts=50&discoveryInterval=50`, …); `client` takes the other connection options
   * (retry schedule, tracing, …). A secure cluster (`insecure: false`) is reached over TLS as
   * admin (its connection string's credentials and CA file; with the caller's own `tls`, its CA is
   * the client's `rootCertificates` unless `client` gives them). When the layer's scope closes, the
   * client closes first, then the cluster stops.
   *
   * @example
   * ```ts
   * import { Effect } from "effect"
   * import { NewEvent, Streams } from "effect-esdb"
   * import { EmbeddedCluster } from "effect-esdb/server"
   *
   * // three members over TLS; the client finds the leader through their gossip
   * const test = Effect.gen(function*() {
   *   const streams = yield* Streams.Streams
   *   return yield* streams.append("order-1", NewEvent.json("OrderCreated", {}), { currentVersion: "no_stream" })
   * }).pipe(Effect.provide(EmbeddedCluster.layerClient({ nodes: 3, insecure: false })))
   * ```
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layerClient = (
    options?: EmbeddedClusterOptions & {
      readonly settings?: string | undefined
      readonly client?: EmbeddedClientOptions | undefined
    }
  ): Layer.Layer<EmbeddedCluster | EventStoreDB.Services, InvalidConnectionString> =>
    Layer.unwrap(
      Effect.map(EmbeddedCluster, (cluster) =>
        EventStoreDB.layer({
          ...(options?.insecure === false && options.tls?.rootCerts !== undefined
            ? { rootCertificates: options.tls.rootCerts }
            : {}),
          ...options?.client,
          connectionString: options?.settings === undefined || options.settings === ""
            ? cluster.connectionString
            : `${cluster.connectionString}&${options.settings.replace(/^[?&]/, "")}`
        }))
    ).pipe(Layer.provideMerge(EmbeddedCluster.layer(options)))
}
