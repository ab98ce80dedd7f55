/**
 * The options of an embedded node (`startEmbeddedNode`, `EmbeddedNode.layer`) and the defaults it
 * applies when an option is left out.
 *
 * @since 0.1.0
 */
import type { ScavengesOptions } from "./operations/Scavenges.ts"
import type { Context } from "effect"
import type { ClusterHooks } from "./cluster/ClusterHooks.ts"
import type { GossipMember } from "./handlers/GossipHandler.ts"
import type { LogWrite } from "./storage/FileLog.ts"

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
   * Default "message": one stream write per read reply (nghttp2 still packs queued writes into
   * DATA frames). "coalesced": several replies merged into writes of up to the client's maximum
   * frame size.
   */
  readonly readFraming?: "message" | "coalesced" | undefined
  /** Default 256 MiB (a real node's since Oct 2025; 1 MiB before). Counted as a real node does: data + custom metadata + 2 × type length per event. */
  readonly maxAppendSize?: number | undefined
  /** Default 16 MiB. */
  readonly maxAppendEventSize?: number | undefined
  /**
   * The KurrentDB version the node acts as (`--server-version`): reported by ServerFeatures and
   * `/info`, and deciding what it serves and advertises (the v2 AppendSession from 25.1,
   * AppendRecords from 26.1, projections' duplicate-name answer after 26.1). Default "26.1.0", the
   * newest released version whose behaviour the node implements.
   */
  readonly version?: string | undefined
  /**
   * Keep the log in files in this directory (`--db`): every write is written and fsynced before
   * it is acknowledged, and a restart on the same directory reads it back. Default: in memory.
   */
  readonly db?: string | undefined
  /** With `db`: wait this long before each flush, like a slow disk (for crash tests); default 0. */
  readonly dbFlushDelayMs?: number | undefined
  /**
   * With `db`: bytes of the cache of event bodies read from (or just written to) the log; default
   * 32 MiB. Memory holds an index; bodies are read from the file through this cache.
   */
  readonly dbCacheBytes?: number | undefined
  /**
   * With `db` (`--salvage`): start on a log damaged in its middle by keeping every intact record and
   * moving each damaged range aside to `events.log.damaged-<offset>` (logged). Default false: such a
   * log stops the start with an error naming the offset (`LogDamagedError`). A torn tail (what a
   * crash leaves) is cut either way, and logged.
   */
  readonly salvage?: boolean | undefined
  /** With `db`: replaces `fs.write` for the log (tests: a full disk). */
  readonly dbWrite?: LogWrite | undefined
  /**
   * Where the node reports what it did to its data (a torn tail cut, a salvage) and why it stopped
   * on its own (a failed write); default: stderr, one line each.
   */
  readonly logger?: ((message: string) => void) | undefined
  /**
   * Called when the node stops on its own because its log failed (a full disk), before `stopped`
   * resolves: as a real node's storage writer ends the process (`Application.Exit(ExitCode.Error,
   * ...)`), the CLI then exits with code 1.
   */
  readonly onFatal?: ((error: Error) => void) | undefined
  /** Host name gossip reports for this node (a real node's AdvertiseHostToClientAs); default the bound host (`localhost` when secure). */
  readonly advertiseHost?: string | undefined
  /** Port gossip reports for this node (AdvertiseHttpPortToClientAs); default the bound port. */
  readonly advertisePort?: number | undefined
  /**
   * Tests of client discovery: replaces the members gossip reports (called on every gossip read),
   * so that single nodes can act as the members of a cluster. Default: this node, the Leader.
   */
  readonly gossip?: (() => ReadonlyArray<GossipMember>) | undefined
  /**
   * Set by an embedded cluster (src/server/cluster/EmbeddedCluster.ts) on the nodes it starts: the
   * node is one of its members. Not for other use.
   */
  readonly cluster?: ClusterHooks | undefined
  /** Concurrent calls allowed per HTTP/2 connection; default 100, as a real node. */
  readonly maxConcurrentStreams?: number | undefined
  /**
   * Connections open at once; default 1000. At the limit the oldest connection that has not
   * completed a request yet is closed to admit a newcomer; with none such, the newcomer is closed.
   */
  readonly maxConnections?: number | undefined
  /** Connections that have not completed a request yet, open at once (past it the oldest is closed); default 500. */
  readonly maxPendingConnections?: number | undefined
  /**
   * Time a unary or server-streaming call has to send its request before it must average 240 B/s
   * (Kestrel's `MinRequestBodyDataRate`); a call behind that closes its connection. Default 5000 ms.
   */
  readonly requestGracePeriodMs?: number | undefined
  /** A connection with no open call and no traffic for this long is closed; default 130000 ms (Kestrel's), 0 = never. */
  readonly idleTimeoutMs?: number | undefined
  /**
   * Largest gRPC request message of the Streams service; default 16 MiB - 10000 bytes (a real
   * node's `TFConsts.EffectiveMaxLogRecordSize`). Other services allow 4 MiB (ASP.NET Core's
   * default). Larger messages are answered RESOURCE_EXHAUSTED without being read.
   */
  readonly maxReceiveMessageSize?: number | undefined
  /**
   * Bytes of incomplete request messages the node holds at once, over all calls; a call whose
   * message would pass it is answered RESOURCE_EXHAUSTED. Default 128 MiB.
   */
  readonly maxBufferedRequestBytes?: number | undefined
  /**
   * Default false. Like a node started with `--run-projections=All --start-standard-projections`:
   * the system projections (`$by_category`, `$by_event_type`, `$stream_by_category`, `$streams`,
   * `$by_correlation_id`) are created and run, writing the `$ce-`, `$et-`, `$category-`,
   * `$streams` and `$bc-` streams asynchronously, as a real node's do.
   */
  readonly standardProjections?: boolean | undefined
  /**
   * Default false. Like `--run-projections=All` without `--start-standard-projections`: the system
   * projections exist but are stopped until enabled (`standardProjections` starts them).
   */
  readonly runProjections?: boolean | undefined
  /** Most projections the node holds at once (each runs in its own sandbox); default 256. */
  readonly maxProjections?: number | undefined
  /**
   * The Effect services the node's own timers run with (the Monitoring refresh, scavenges): their
   * `Clock`. `EmbeddedNode.layer` passes the layer's; default the default services.
   */
  readonly context?: Context.Context<never> | undefined
  /** Tests: a scavenge takes this long (on the node's Clock) before completing; default 0. */
  readonly scavengeDelayMs?: number | undefined
  /**
   * Tests: how the storage scavenges (records per slice, a pause between slices, a wait just
   * before the new log file replaces the old one) and where each finished scavenge is reported.
   */
  readonly scavenge?: Pick<ScavengesOptions, "storage" | "onCompleted"> | undefined
  /**
   * Node-wide budget for projection memory, bytes; default 2 GiB. Each running JS projection
   * counts its worker thread (16 MiB), its sandbox's heap and its partition states; a projection
   * that takes the total over the budget faults (and its worker is freed).
   */
  readonly projectionMemoryBytes?: number | undefined
  /**
   * Time limit of one projection handler call, ms; default 250 (a real node's
   * `ProjectionExecutionTimeout`). Past it the projection faults.
   */
  readonly projectionExecutionTimeoutMs?: number | undefined
}

/**
 * The version a node reports and acts as by default: the newest released KurrentDB whose behaviour
 * it implements (v2 AppendSession and AppendRecords included).
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_SERVER_VERSION = "26.1.0"

/** Default `maxAppendSize`: 256 MiB. */
export const DEFAULT_MAX_APPEND_SIZE = 256 * 1024 * 1024
/** Default `maxAppendEventSize`: 16 MiB. */
export const DEFAULT_MAX_APPEND_EVENT_SIZE = 16 * 1024 * 1024
/** Default `maxReceiveMessageSize` of the Streams service: 16 MiB less 10000 bytes. */
export const DEFAULT_MAX_STREAMS_MESSAGE_SIZE = 16 * 1024 * 1024 - 10000
