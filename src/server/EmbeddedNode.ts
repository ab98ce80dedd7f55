/**
 * An EventStoreDB/KurrentDB node (data in memory, or in files with `db`) serving the real gRPC protocol on loopback: the
 * target of tests, benchmarks and local development, and of the official client's conformance
 * suite. It serves gRPC on Node's own `http2` module (src/server/transport), and HTTP/1.1 (`/ping`,
 * `/info`, `/stats`, `/gossip`) on the same port, cleartext or TLS. `startEmbeddedNode` starts one;
 * `EmbeddedNode.layer` scopes one to an Effect layer;
 * `EmbeddedNode.layerClient` scopes one together with a client connected to it.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import { resolve } from "node:path"
import { createHash } from "node:crypto"
import type { IncomingMessage, ServerResponse } from "node:http"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { InvalidConnectionString } from "../errors/InvalidConnectionString.ts"
import { GossipService } from "../generated/gossip.ts"
import * as EventStoreDB from "../layers/EventStoreDB.ts"
import { ServerFeaturesService } from "../generated/serverfeatures.ts"
import { Auth } from "./Auth.ts"
import { serverShuttingDown } from "./errors.ts"
import { devCaCert, devNodeCert, devNodeKey } from "./DevCerts.ts"
import type { ReadFraming } from "./transport/ResponseSink.ts"
import { makeGossipHandler } from "./handlers/GossipHandler.ts"
import { makeMonitoringHandler, MonitoringServiceDefinition } from "./handlers/MonitoringHandler.ts"
import { makeOperationsHandler, OperationsServiceDefinition } from "./handlers/OperationsHandler.ts"
import { makeUsersHandler, UsersServiceDefinition } from "./handlers/UsersHandler.ts"
import { StatsCollector } from "./monitoring/StatsCollector.ts"
import { Scavenges } from "./operations/Scavenges.ts"
import { UserStore } from "./users/UserStore.ts"
import { makeHttpEndpoints } from "./handlers/HttpEndpoints.ts"
import { makeHttpApi } from "./http/HttpApi.ts"
import {
  makePersistentSubscriptionsHandler,
  PersistentSubscriptionsServiceDefinition
} from "./handlers/PersistentSubscriptionsHandler.ts"
import { makeServerFeaturesHandler } from "./handlers/ServerFeaturesHandler.ts"
import { makeProjectionsHandler, ProjectionsServiceDefinition } from "./handlers/ProjectionsHandler.ts"
import { type GroupsHolding, PersistentGroups } from "./persistent/PersistentGroups.ts"
import { ProjectionManager } from "./projections/ProjectionManager.ts"
import { type FileLog, openFileLog } from "./storage/FileLog.ts"
import { Store } from "./storage/Store.ts"
import { makeReadHandler } from "./handlers/ReadHandler.ts"
import { makeStreamsHandler, StreamsServiceDefinition } from "./handlers/StreamsHandler.ts"
import { makeV2StreamsHandler, v2StreamsDefinition } from "./handlers/V2StreamsHandler.ts"
import { GrpcServer, type ServerTls } from "./transport/GrpcServer.ts"
import type { ServiceDefinition, ServiceImplementation } from "./transport/ServerCall.ts"
import { memberLog } from "./cluster/ReplicatedLog.ts"
import { newUuid } from "./codec/Uuid.ts"
import {
  DEFAULT_MAX_APPEND_EVENT_SIZE,
  DEFAULT_MAX_APPEND_SIZE,
  DEFAULT_MAX_STREAMS_MESSAGE_SIZE,
  DEFAULT_SERVER_VERSION,
  type EmbeddedNodeOptions
} from "./EmbeddedNodeOptions.ts"

export { DEFAULT_SERVER_VERSION, type EmbeddedNodeOptions } from "./EmbeddedNodeOptions.ts"

/**
 * A started node.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunningNode {
  readonly host: string
  readonly port: number
  readonly insecure: boolean
  /** insecure: `esdb://127.0.0.1:<port>?tls=false`; secure: `esdb://admin:changeit@localhost:<port>?tls=true&tlsCaFile=<ca.crt>`. */
  readonly connectionString: string
  /** Absolute path of the CA certificate when secure with the bundled certificates. */
  readonly caFile: string | undefined
  /** CPU used by the process hosting the node. */
  readonly cpuUsage: () => NodeJS.CpuUsage
  /** Graceful, then forced shutdown; idempotent. */
  readonly stop: () => Promise<void>
  /** Resolves once the node has stopped: by `stop`, or by a client's `Operations.Shutdown`. */
  readonly stopped: Promise<void>
}

/**
 * Live counters of a node, for leak checks in tests.
 *
 * @since 0.1.0
 * @category models
 */
export interface NodeStats {
  /** Open Read calls (reads and subscriptions) being served. */
  readonly activeReads: number
  /** Store change listeners (one per live subscription). */
  readonly storeListeners: number
  /** Records in the log. */
  readonly records: number
  /** What the persistent-subscription groups hold: groups, running groups, consumers, messages. */
  readonly persistentGroups: GroupsHolding
}

const statsByNode = new WeakMap<RunningNode, () => NodeStats>()

/** An HTTP handler that runs once the password check of the request's credentials is made off the event loop (`Auth.prepare`). */
const withPreparedAuth = (auth: Auth, handler: (req: IncomingMessage, res: ServerResponse) => void) =>
(req: IncomingMessage, res: ServerResponse): void => {
  const ready = auth.prepare(req.headers.authorization)
  if (ready === undefined) handler(req, res)
  else void ready.then(() => handler(req, res))
}

/**
 * Live counters of a node started by `startEmbeddedNode`.
 *
 * @since 0.1.0
 * @category accessors
 */
export const nodeStats = (node: RunningNode): NodeStats => {
  const get = statsByNode.get(node)
  if (get === undefined) throw new Error("not an embedded node")
  return get()
}

/**
 * Where the bundled dev certificates are (`ca.crt`, `node.crt`, `node.key`): the source tree, or
 * next to the built files; a published build without them writes the embedded copies to a
 * temporary folder. The returned path ends with a separator.
 *
 * @since 0.1.0
 * @category certificates
 */
export const bundledCertsDir = (): string => {
  const candidates = [
    new URL("./certs/", import.meta.url),
    new URL("../../src/server/certs/", import.meta.url)
  ]
  for (const url of candidates) {
    const dir = fileURLToPath(url)
    if (existsSync(dir + "ca.crt") && existsSync(dir + "node.crt") && existsSync(dir + "node.key")) return dir
  }
  const hash = createHash("sha256").update(devCaCert + devNodeCert).digest("hex").slice(0, 12)
  const dir = join(tmpdir(), `effect-esdb-dev-certs-${hash}`) + "/"
  if (!existsSync(dir + "node.key")) {
    mkdirSync(dir, { recursive: true })
    writeFileSync(dir + "ca.crt", devCaCert)
    writeFileSync(dir + "node.crt", devNodeCert)
    writeFileSync(dir + "node.key", devNodeKey, { mode: 0o600 })
  }
  return dir
}

/**
 * Starts a node and resolves once it listens.
 *
 * @since 0.1.0
 * @category constructors
 */
export const startEmbeddedNode = async (options: EmbeddedNodeOptions = {}): Promise<RunningNode> => {
  const host = options.host ?? "127.0.0.1"
  const insecure = options.insecure ?? true
  const readFraming: ReadFraming = options.readFraming ?? "message"
  const logger = options.logger ?? ((message: string) => process.stderr.write(`[effect-esdb] ${message}\n`))
  // a failed write stops the node, as a real node's storage writer ends its process
  // (StorageWriterService: "Unexpected error in StorageWriterService. Terminating the process...")
  let fatal: ((error: Error) => void) | undefined
  // a cluster member (src/server/cluster): its file log, gated on the cluster's commit point
  const cluster = options.cluster
  const leading = cluster === undefined || cluster.role === "leader"
  const fileLog: FileLog | undefined = options.db === undefined ? undefined : await openFileLog(options.db, {
    flushDelayMs: options.dbFlushDelayMs,
    salvage: options.salvage,
    logger,
    write: options.dbWrite,
    onFailure: (error) => fatal?.(error)
  })
  const replicated = cluster === undefined ? undefined : memberLog(cluster, fileLog)
  const log = replicated ?? fileLog
  let store: Store
  try {
    store = new Store({
      log,
      readCacheBytes: options.dbCacheBytes,
      epoch: cluster === undefined ? undefined : cluster.role === "leader" ? cluster.epoch : false
    })
  } catch (e) {
    await log?.close()
    throw e
  }
  // the users live in their streams ($user-<login>, $users); a kept database has them already
  const users = new UserStore(store)
  const auth = new Auth(store, insecure, (login, password) => users.verify(login, password), (login, password) => users.prepare(login, password))
  // the default users' streams, as a real node writes them on becoming leader when `$user-admin`
  // / `$user-ops` read as NoStream (a fresh database, or the user deleted): PROTOCOL.md §8,
  // UserManagementService.Handle(BecomeLeader); in the log whether or not the node checks credentials
  // (a cluster's replicas write nothing of their own: they receive these from the leader)
  const defaultUsers = () => {
    users.upgradeLegacyRecords()
    if (users.get("admin") === undefined) users.create("admin", "changeit", "KurrentDB Administrator", ["$admins"])
    if (users.get("ops") === undefined) users.create("ops", "changeit", "KurrentDB Operations", ["$ops"])
  }
  if (leading) defaultUsers()
  // the projection subsystem: projections created through the Projections service (read back
  // from their registry and definitions on a kept database)
  const projections = new ProjectionManager(store, {
    maxProjections: options.maxProjections,
    memoryBudgetBytes: options.projectionMemoryBytes,
    timeLimitMs: options.projectionExecutionTimeoutMs,
    maxEventBytes: options.maxAppendEventSize ?? DEFAULT_MAX_APPEND_EVENT_SIZE
  })
  // projections run on a cluster's leader only, and move with it (their state is in the log);
  // the system projections, running: a real node's `--run-projections=All --start-standard-projections`
  const startProjections = (load: boolean) => {
    if (load) projections.load()
    if (options.standardProjections === true || options.runProjections === true) {
      projections.createSystemProjections(options.standardProjections === true)
    }
  }
  if (leading) startProjections(!store.fresh)
  try {
    // a cluster member waits for its own disk only: the cluster commits what a majority holds
    await (replicated?.localSync() ?? store.sync())
  } catch (e) {
    // the log failed before the node listened (a full disk at start): release it, and say why
    projections.close()
    await store.close()
    throw e
  }

  let secure: ServerTls | undefined
  let caFile: string | undefined
  if (insecure) {
    secure = undefined
  } else if (options.tls !== undefined) {
    secure = { cert: options.tls.certChain, key: options.tls.privateKey, ca: options.tls.rootCerts }
  } else {
    const dir = bundledCertsDir()
    caFile = dir + "ca.crt"
    secure = { cert: readFileSync(dir + "node.crt"), key: readFileSync(dir + "node.key"), ca: readFileSync(caFile) }
  }

  // node:http2 + a thin gRPC layer (src/server/transport); like a real node (Kestrel's HTTP/2
  // default): at most 100 concurrent calls per connection
  const server = new GrpcServer({
    maxConcurrentStreams: options.maxConcurrentStreams ?? 100,
    maxConnections: options.maxConnections,
    maxPendingConnections: options.maxPendingConnections,
    requestGracePeriodMs: options.requestGracePeriodMs,
    idleTimeoutMs: options.idleTimeoutMs,
    maxBufferedRequestBytes: options.maxBufferedRequestBytes,
    // the password check of a call, off the event loop, before its handler runs
    beforeCall: (headers) => auth.prepare(headers.authorization)
  })
  let boundPort = options.port ?? 0
  const activeReads = new Set<() => void>()
  const activeBatches = new Set<() => void>()
  const version = options.version ?? DEFAULT_SERVER_VERSION
  const v2Streams = v2StreamsDefinition(version)
  // a cluster member's services answer through its gate (cluster/ClusterGate.ts)
  const addService = (definition: ServiceDefinition, implementation: ServiceImplementation, o?: { readonly maxReceiveMessageSize?: number }) =>
    server.addService(definition, cluster?.gate(definition, implementation) ?? implementation, o)
  const services: ReadonlyArray<ServiceDefinition> = [
    ...(v2Streams === undefined ? [] : [v2Streams]),
    StreamsServiceDefinition,
    PersistentSubscriptionsServiceDefinition,
    ProjectionsServiceDefinition,
    GossipService,
    ServerFeaturesService,
    UsersServiceDefinition,
    OperationsServiceDefinition,
    MonitoringServiceDefinition
  ]
  addService(
    StreamsServiceDefinition,
    makeStreamsHandler({
      store,
      auth,
      read: makeReadHandler({ store, auth, readFraming, activeReads }),
      maxAppendSize: options.maxAppendSize ?? DEFAULT_MAX_APPEND_SIZE,
      maxAppendEventSize: options.maxAppendEventSize ?? DEFAULT_MAX_APPEND_EVENT_SIZE,
      activeBatches
    }),
    { maxReceiveMessageSize: options.maxReceiveMessageSize ?? DEFAULT_MAX_STREAMS_MESSAGE_SIZE }
  )
  if (v2Streams !== undefined) {
    addService(
      v2Streams,
      makeV2StreamsHandler({
        store,
        auth,
        maxAppendSize: options.maxAppendSize ?? DEFAULT_MAX_APPEND_SIZE,
        maxRecordSize: options.maxAppendEventSize ?? DEFAULT_MAX_APPEND_EVENT_SIZE
      }),
      { maxReceiveMessageSize: options.maxReceiveMessageSize ?? DEFAULT_MAX_STREAMS_MESSAGE_SIZE }
    )
  }
  const instanceId = cluster?.instanceId ?? newUuid()
  const endpoint = () => ({ host: options.advertiseHost ?? (insecure ? host : "localhost"), port: options.advertisePort ?? boundPort })
  const groups = new PersistentGroups(store, { load: leading })
  addService(
    PersistentSubscriptionsServiceDefinition,
    makePersistentSubscriptionsHandler({ store, auth, groups })
  )
  addService(ProjectionsServiceDefinition, makeProjectionsHandler({ store, auth, projections, version }))
  addService(GossipService, makeGossipHandler({ auth, instanceId, endpoint, members: cluster?.gossip ?? options.gossip }))
  addService(
    ServerFeaturesService,
    makeServerFeaturesHandler(version, () => services)
  )
  const context = options.context ?? Context.empty()
  addService(UsersServiceDefinition, makeUsersHandler({ store, auth, users }))
  const scavenges = new Scavenges(store, {
    nodeEndpoint: () => `${endpoint().host}:${endpoint().port}`,
    context,
    delayMs: options.scavengeDelayMs,
    storage: options.scavenge?.storage,
    onCompleted: options.scavenge?.onCompleted
  })
  addService(
    OperationsServiceDefinition,
    makeOperationsHandler({
      store,
      auth,
      scavenges,
      groups,
      shutdown: () => void stop(),
      resign: cluster?.resign,
      setPriority: cluster?.setPriority
    })
  )
  const activeStats = new Set<() => void>()
  const nodeStatistics = new StatsCollector({
    checkpoint: () => store.headPosition,
    records: () => store.log.length,
    connections: () => server.connectionCount,
    dbPath: resolve(options.db ?? ".")
  })
  addService(MonitoringServiceDefinition, makeMonitoringHandler({ stats: nodeStatistics, context, active: activeStats }))
  // the HTTP API (streams, persistent subscriptions, projections) and the web UI: src/server/http
  const httpApi = makeHttpApi({ store, auth, groups, projections })
  server.onHttpRequest(withPreparedAuth(auth, makeHttpEndpoints({
    auth,
    instanceId,
    endpoint,
    version,
    insecure,
    records: () => store.log.length,
    members: cluster?.gossip,
    stats: (nowMs) => nodeStatistics.collectValues(nowMs),
    projections: () => true,
    otherwise: httpApi.handle
  })))

  try {
    boundPort = await server.listen(host, boundPort, secure)
  } catch (e) {
    projections.close()
    await store.close()
    throw e
  }

  let stopping: Promise<void> | undefined
  let markStopped: () => void = () => {}
  const stopped = new Promise<void>((resolve) => {
    markStopped = () => resolve()
  })
  fatal = (error) => {
    logger(`the node stops: its log failed (${error.message}); acknowledged writes are kept, nothing more is accepted`)
    // after the callbacks of the failed flush have answered their calls
    options.onFatal?.(error)
    setImmediate(() => void stop())
  }
  /** Graceful, or (`kill`, a cluster member) at once: connections reset, nothing waiting acknowledged. */
  const stop = (kill = false): Promise<void> => {
    if (stopping !== undefined) return stopping
    // like a real node, end every open streaming call (reads, subscriptions, BatchAppend,
    // persistent consumers) with UNAVAILABLE "shutting down" (errors.ts: serverShuttingDown),
    // then release what the handlers hold; unary calls finish
    if (kill) {
      replicated?.abandon(new Error("the node was killed"))
      server.refuseConnections(true)
    } else {
      server.endStreamingCalls(serverShuttingDown())
    }
    for (const end of Array.from(activeReads)) end()
    for (const end of Array.from(activeBatches)) end()
    for (const end of Array.from(activeStats)) end()
    httpApi.close()
    groups.close()
    stopping = scavenges.close().then(() => server.shutdown(kill ? 0 : 1000)).finally(() => {
      projections.close()
      return store.close()
    })
    stopping.then(markStopped, markStopped)
    return stopping
  }

  const connectionString = insecure
    ? `esdb://${host}:${boundPort}?tls=false`
    : `esdb://admin:changeit@localhost:${boundPort}?tls=true${caFile === undefined ? "" : `&tlsCaFile=${caFile}`}`

  const running: RunningNode = {
    host,
    port: boundPort,
    insecure,
    connectionString,
    caFile,
    cpuUsage: () => process.cpuUsage(),
    stop: () => stop(),
    stopped
  }
  cluster?.onStarted({
    store,
    log: replicated!,
    lead: (epoch) => {
      // a replica elected leader takes up what a leader's start does, without a restart
      store.lead(epoch)
      defaultUsers()
      startProjections(true)
      groups.load()
    },
    refuseClients: (refuse) => server.refuseConnections(refuse),
    kill: () => stop(true)
  })
  statsByNode.set(running, () => ({
    activeReads: activeReads.size,
    storeListeners: store.listenerCount,
    records: store.log.length,
    persistentGroups: groups.holding
  }))
  return running
}

/**
 * The embedded node as an Effect service.
 *
 * @since 0.1.0
 * @category services
 */
export class EmbeddedNode extends Context.Service<EmbeddedNode, RunningNode>()("effect-esdb/EmbeddedNode") {
  /**
   * Starts a node (on a free port unless `port` is given) that stops with the layer's scope.
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layer = (options?: EmbeddedNodeOptions): Layer.Layer<EmbeddedNode> =>
    Layer.effect(
      EmbeddedNode,
      Effect.acquireRelease(
        Effect.flatMap(Effect.context<never>(), (context) => Effect.promise(() => startEmbeddedNode({ context, ...options }))),
        (node) => Effect.promise(() => node.stop())
      )
    )

  /**
   * One line for tests: starts a node (as {@link EmbeddedNode.layer}) and provides the client's
   * services (`EventStoreDB.layer`) connected to it with its `connectionString`, plus the node
   * itself. `client` takes the other connection options (retry schedule, tracing, …). When the
   * layer's scope closes, the client closes first, then the node stops.
   *
   * @example
   * ```ts
   * import { Effect } from "effect"
   * import { NewEvent, Streams } from "effect-esdb"
   * import { EmbeddedNode } from "effect-esdb/server"
   *
   * const test = Effect.gen(function*() {
   *   const streams = yield* Streams.Streams
   *   yield* streams.append("order-1", NewEvent.json("OrderCreated", {}), { currentVersion: "no_stream" })
   *   return yield* streams.get("order-1")
   * }).pipe(Effect.provide(EmbeddedNode.layerClient()))
   * ```
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layerClient = (
    options?: EmbeddedNodeOptions & { readonly client?: EmbeddedClientOptions | undefined }
  ): Layer.Layer<EmbeddedNode | EventStoreDB.Services, InvalidConnectionString> =>
    Layer.unwrap(
      Effect.map(EmbeddedNode, (node) =>
        EventStoreDB.layer({ ...options?.client, connectionString: node.connectionString }))
    ).pipe(Layer.provideMerge(EmbeddedNode.layer(options)))
}

/**
 * The client options of {@link EmbeddedNode.layerClient}: those of `EventStoreDB.layer` but the
 * connection string, which is the node's.
 *
 * @since 0.1.0
 * @category models
 */
export type EmbeddedClientOptions = Omit<Parameters<typeof EventStoreDB.layer>[0], "connectionString">
