/**
 * An EventStoreDB/KurrentDB node (data in memory, or in files with `db`) serving the real gRPC protocol on loopback: the
 * target of tests, benchmarks and local development, and of the official client's conformance
 * suite. It serves gRPC on its own HTTP/2 implementation (src/server/http2) over `node:net` or
 * `node:tls` (ALPN h2). `startEmbeddedNode` starts one; `EmbeddedNode.layer` scopes one to an Effect layer.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { GossipService } from "../generated/gossip.ts"
import { ServerFeaturesService } from "../generated/serverfeatures.ts"
import { Auth } from "./Auth.ts"
import { devCaCert, devNodeCert, devNodeKey } from "./DevCerts.ts"
import type { ReadFraming } from "./Framing.ts"
import { makeGossipHandler } from "./GossipHandler.ts"
import { GrpcServer, type ServerTls, type ServiceDefinition } from "./http2/GrpcServer.ts"
import { makeServerFeaturesHandler } from "./ServerFeaturesHandler.ts"
import { openFileLog } from "./storage/FileLog.ts"
import { Store } from "./storage/Store.ts"
import { makeStreamsHandler, StreamsServiceDefinition } from "./StreamsHandler.ts"
import { newUuid } from "./Uuid.ts"

/**
 * Options of an embedded node.
 *
 * @since 0.1.0
 * @category models
 */
export interface EmbeddedNodeOptions {
  /** Default "127.0.0.1". */
  readonly host?: string | undefined
  /** Default 0 = a free port. */
  readonly port?: number | undefined
  /** Default true. */
  readonly insecure?: boolean | undefined
  /** Default: the bundled dev certificates (src/server/certs). */
  readonly tls?: {
    readonly certChain: Buffer
    readonly privateKey: Buffer
    readonly rootCerts?: Buffer | undefined
  } | undefined
  /**
   * Default "message": exactly one HTTP/2 DATA frame per read reply (many frames still share one
   * socket write). "coalesced": several replies packed into DATA frames of up to the client's
   * maximum frame size.
   */
  readonly readFraming?: "message" | "coalesced" | undefined
  /** Default 256 MiB. */
  readonly maxAppendSize?: number | undefined
  /** Default 16 MiB. */
  readonly maxAppendEventSize?: number | undefined
  /** Reported by ServerFeatures (`--server-version`), default "24.10.0". */
  readonly version?: string | undefined
  /**
   * Keep the log in files in this directory (`--db`): every write is written and fsynced before
   * it is acknowledged, and a restart on the same directory reads it back. Default: in memory.
   */
  readonly db?: string | undefined
  /** With `db`: wait this long before each flush, like a slow disk (for crash tests); default 0. */
  readonly dbFlushDelayMs?: number | undefined
  /** Host name gossip reports for this node (a real node's AdvertiseHostToClientAs); default the bound host (`localhost` when secure). */
  readonly advertiseHost?: string | undefined
  /** Port gossip reports for this node (AdvertiseHttpPortToClientAs); default the bound port. */
  readonly advertisePort?: number | undefined
  /** Concurrent calls allowed per HTTP/2 connection; default 100, as a real node. */
  readonly maxConcurrentStreams?: number | undefined
  /**
   * Default false. Like a node started with `--run-projections=All --start-standard-projections`;
   * writes `$et-<type>` and `$ce-<category>` link streams as events are appended.
   */
  readonly standardProjections?: boolean | undefined
}

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
}

const statsByNode = new WeakMap<RunningNode, () => NodeStats>()

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

const DEFAULT_MAX_APPEND_SIZE = 256 * 1024 * 1024
const DEFAULT_MAX_APPEND_EVENT_SIZE = 16 * 1024 * 1024

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
  const log = options.db === undefined ? undefined : openFileLog(options.db, { flushDelayMs: options.dbFlushDelayMs })
  const store = new Store({ standardProjections: options.standardProjections, log })
  const auth = new Auth(store, insecure)
  if (store.fresh) {
    // a fresh database: the default users' streams, as a real node writes them on becoming leader
    // (PROTOCOL.md §8); they are in the log whether or not the node checks credentials
    auth.createUser("admin", "changeit", "KurrentDB Administrator", ["$admins"])
    auth.createUser("ops", "changeit", "KurrentDB Operations", ["$ops"])
  } else {
    auth.loadUsers()
  }
  await store.sync()

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

  // our own HTTP/2 + gRPC transport (src/server/http2); like a real node (Kestrel's HTTP/2
  // default): at most 100 concurrent calls per connection
  const server = new GrpcServer({ maxConcurrentStreams: options.maxConcurrentStreams ?? 100 })
  let boundPort = options.port ?? 0
  const activeReads = new Set<() => void>()
  const activeBatches = new Set<() => void>()
  const services: ReadonlyArray<ServiceDefinition> = [StreamsServiceDefinition, GossipService, ServerFeaturesService]
  server.addService(
    StreamsServiceDefinition,
    makeStreamsHandler({
      store,
      auth,
      readFraming,
      maxAppendSize: options.maxAppendSize ?? DEFAULT_MAX_APPEND_SIZE,
      maxAppendEventSize: options.maxAppendEventSize ?? DEFAULT_MAX_APPEND_EVENT_SIZE,
      activeReads,
      activeBatches
    })
  )
  server.addService(
    GossipService,
    makeGossipHandler({
      auth,
      instanceId: newUuid(),
      endpoint: () => ({ host: options.advertiseHost ?? (insecure ? host : "localhost"), port: options.advertisePort ?? boundPort })
    })
  )
  server.addService(
    ServerFeaturesService,
    makeServerFeaturesHandler(options.version ?? "24.10.0", () => services)
  )

  try {
    boundPort = await server.listen(host, boundPort, secure)
  } catch (e) {
    await store.close()
    throw e
  }

  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> => {
    if (stopping !== undefined) return stopping
    // end open reads and subscriptions so a graceful shutdown can complete
    for (const end of Array.from(activeReads)) end()
    for (const end of Array.from(activeBatches)) end()
    stopping = server.shutdown(1000).finally(() => store.close())
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
    stop
  }
  statsByNode.set(running, () => ({ activeReads: activeReads.size, storeListeners: store.listenerCount, records: store.log.length }))
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
        Effect.promise(() => startEmbeddedNode(options)),
        (node) => Effect.promise(() => node.stop())
      )
    )
}
