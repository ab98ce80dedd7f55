#!/usr/bin/env -S node --max-semi-space-size=8 --heap-growing-percent=100
/**
 * Command line entry of the embedded node (`npm run server -- …`, the package bin
 * `effect-esdb-server`); `--help` lists every flag with its default. With `--db` the log is kept
 * in `<dir>` (written and fsynced before each write is acknowledged) and read back on the next
 * start; without it everything lives in memory. A log damaged in its middle stops the start (exit
 * code 1, the message names the offset) unless `--salvage` is given; a failed write (a full disk)
 * stops the node with exit code 1, as a real node's process ends. Like a real node it is secure
 * (TLS, users admin/ops) unless `--insecure` is given.
 *
 * Output: the connection string alone on the first line of stdout (scripts and tests read it),
 * then a start line on stderr (address, TLS, data directory, projections, version) and a stop
 * line when it stops. It runs under Effect's `NodeRuntime.runMain`: SIGINT and SIGTERM interrupt
 * the main fiber, whose scope stops the node gracefully (open streaming calls are ended as a real
 * node ends them, connections drained) before the process exits with 0.
 *
 * Side channel for benchmarks and tests that run the node in a child process: each line `cpu`
 * written to stdin is answered with one JSON line `{"cpu":{"user":µs,"system":µs}}` (the node
 * process's `process.cpuUsage()`); a line `mem` with `{"mem":{"rss":bytes,...}}`
 * (`process.memoryUsage()`); a line `heap` with `{"heap":{<space>:{"size","used"}}}` (V8's heap
 * spaces); a line `gc` runs a full collection first when the process runs with `--expose-gc`, then
 * answers as `mem`; a line `stop` stops the node as a signal would.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import { readFileSync } from "node:fs"
import { parseArgs } from "node:util"
import { startEmbeddedCluster } from "./cluster/EmbeddedCluster.ts"
import { getHeapSpaceStatistics } from "node:v8"
import { DEFAULT_SERVER_VERSION, type EmbeddedNodeOptions, startEmbeddedNode } from "./EmbeddedNode.ts"
import { DEFAULT_READ_CACHE_BYTES } from "./storage/LogReader.ts"

/** The flags, each with its value name (none for switches), default and meaning, as `--help` prints them. */
const FLAGS = [
  ["port", "<n>", "2113", "port to listen on (0: any free port)"],
  ["host", "<address>", "127.0.0.1", "address to listen on"],
  ["insecure", "", "off", "cleartext and no authentication; otherwise TLS with the bundled development certificates, users admin/ops"],
  ["db", "<dir>", "none, in memory", "keep the log in <dir>/events.log, fsynced before each acknowledgement"],
  ["db-cache-bytes", "<bytes>", "33554432", "with --db: bytes of the cache of event bodies read from the log (0: no cache; memory holds an index, bodies are read from the file)"],
  ["salvage", "", "off", "with --db: start on a log damaged in its middle by keeping every intact record and moving the damaged bytes to <dir>/events.log.damaged-<offset>; without it such a log stops the start"],
  ["run-projections", "none|system|all", "none", "create the system projections (system, all); they stay stopped unless started"],
  ["start-standard-projections", "", "off", "create and run the system projections ($by_category, $stream_by_category, ...); alias --standard-projections"],
  ["read-framing", "message|coalesced", "message", "one write per read reply, or replies merged into frame-sized writes"],
  ["max-connections", "<n>", "1000", "connections open at once; at the limit the oldest one that has not completed a request is closed"],
  ["max-pending-connections", "<n>", "500", "connections that have not completed a request yet, open at once"],
  ["idle-timeout-ms", "<ms>", "130000", "close a connection with no call and no traffic for this long (0: never)"],
  ["max-append-size", "<bytes>", "268435456", "largest append (data + metadata + 2 x type length of its events)"],
  ["max-receive-message-size", "<bytes>", "16767216", "largest request message of the Streams service (others: 4 MiB)"],
  ["advertise-host", "<name>", "the bound host", "host gossip reports for this node"],
  ["advertise-port", "<n>", "the bound port", "port gossip reports for this node"],
  ["cluster", "<n>", "off, a single node", "run an embedded cluster of <n> voting members (secure unless --insecure, as a single node) on --port, --port + 1, ...: writes acknowledged by a majority, elections, gossip; the connection string lists every member as a gossip seed"],
  ["read-only-replicas", "<n>", "0", "with --cluster: that many read-only replicas besides the voting members"],
  ["server-version", "X.Y.Z", "26.1.0", "the KurrentDB version the node acts as: reported by ServerFeatures and /info; v2 AppendSession from 25.1, AppendRecords from 26.1"],
  ["help", "", "", "print this help and exit"]
] as const

const usage = (): string => {
  const width = Math.max(...FLAGS.map(([name, value]) => `--${name} ${value}`.length))
  const lines = FLAGS.map(([name, value, dflt, meaning]) =>
    `  ${`--${name} ${value}`.padEnd(width)}  ${meaning}${dflt === "" ? "" : ` (default: ${dflt})`}`
  )
  return `usage: effect-esdb-server [flags]\n\n${lines.join("\n")}\n`
}

/** Bad command line input: printed with the usage, exit code 2. */
class UsageError extends Error {}

const integer = (flag: string, v: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined => {
  if (v === undefined) return undefined
  const n = Number(v)
  if (v.trim() === "" || !Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`invalid --${flag} ${v}`)
  return n
}

/** The options of a command line (throws {@link UsageError}); `undefined` for `--help`. */
const parse = (
  argv: ReadonlyArray<string>
): EmbeddedNodeOptions & { readonly port: number; readonly clusterNodes?: number | undefined; readonly readOnlyReplicas?: number | undefined } | undefined => {
  let values
  try {
    values = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      allowNegative: true,
      options: {
        port: { type: "string" },
        host: { type: "string" },
        insecure: { type: "boolean" },
        db: { type: "string" },
        "db-cache-bytes": { type: "string" },
        salvage: { type: "boolean" },
        "run-projections": { type: "string" },
        "start-standard-projections": { type: "boolean" },
        "standard-projections": { type: "boolean" },
        "read-framing": { type: "string" },
        "max-connections": { type: "string" },
        "max-pending-connections": { type: "string" },
        "idle-timeout-ms": { type: "string" },
        "max-append-size": { type: "string" },
        "max-receive-message-size": { type: "string" },
        "advertise-host": { type: "string" },
        "advertise-port": { type: "string" },
        "server-version": { type: "string" },
        cluster: { type: "string" },
        "read-only-replicas": { type: "string" },
        help: { type: "boolean", short: "h" }
      }
    }).values
  } catch (e) {
    throw new UsageError((e as Error).message)
  }
  if (values.help === true) return undefined
  const framing = values["read-framing"] ?? "message"
  if (framing !== "message" && framing !== "coalesced") throw new UsageError(`invalid --read-framing ${framing}`)
  const run = (values["run-projections"] ?? "none").toLowerCase()
  if (run !== "none" && run !== "system" && run !== "all") throw new UsageError(`invalid --run-projections ${values["run-projections"]}`)
  const version = values["server-version"]
  if (version !== undefined && !/^\d+\.\d+\.\d+/.test(version)) throw new UsageError(`invalid --server-version ${version} (expected X.Y.Z)`)
  const dbCacheBytes = integer("db-cache-bytes", values["db-cache-bytes"], 0)
  if (dbCacheBytes !== undefined && values.db === undefined) throw new UsageError("--db-cache-bytes needs --db")
  // crash tests only: a slow disk (see FileLog.ts)
  const delay = Number(process.env["EFFECT_ESDB_TEST_FLUSH_DELAY_MS"] ?? 0)
  const cluster = integer("cluster", values.cluster, 1, 99)
  const readOnlyReplicas = integer("read-only-replicas", values["read-only-replicas"], 0, 99)
  if (readOnlyReplicas !== undefined && cluster === undefined) throw new UsageError("--read-only-replicas needs --cluster")
  // and a slow scavenge: 64 records a slice, this long between slices (Scavenge.ts)
  const scavengePause = Number(process.env["EFFECT_ESDB_TEST_SCAVENGE_PAUSE_MS"] ?? 0)
  return {
    clusterNodes: cluster,
    readOnlyReplicas,
    port: integer("port", values.port, 0, 65535) ?? 2113,
    host: values.host ?? "127.0.0.1",
    insecure: values.insecure ?? false,
    readFraming: framing,
    standardProjections: values["start-standard-projections"] ?? values["standard-projections"] ?? false,
    runProjections: run !== "none",
    maxConnections: integer("max-connections", values["max-connections"], 1),
    maxPendingConnections: integer("max-pending-connections", values["max-pending-connections"], 1),
    idleTimeoutMs: integer("idle-timeout-ms", values["idle-timeout-ms"], 0),
    maxAppendSize: integer("max-append-size", values["max-append-size"], 1),
    maxReceiveMessageSize: integer("max-receive-message-size", values["max-receive-message-size"], 1),
    db: values.db,
    dbCacheBytes,
    salvage: values.salvage ?? false,
    advertiseHost: values["advertise-host"],
    advertisePort: integer("advertise-port", values["advertise-port"], 1, 65535),
    version,
    dbFlushDelayMs: Number.isFinite(delay) && delay > 0 ? delay : undefined,
    scavenge: Number.isFinite(scavengePause) && scavengePause > 0
      ? { storage: { slice: 64, pause: () => new Promise<void>((resolve) => setTimeout(resolve, scavengePause)) } }
      : undefined
  }
}

const packageVersion = (): string => {
  try {
    return (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: string }).version ?? "?"
  } catch {
    return "?"
  }
}

/** Resolves when a line `stop` arrives on stdin; answers `cpu` and `mem` meanwhile. */
const sideChannel = (node: { readonly cpuUsage: () => unknown }, other?: (command: string) => boolean) =>
  Effect.callback<void>((resume) => {
    if (process.stdin.isTTY) return
    let buffered = ""
    const onData = (chunk: string) => {
      buffered += chunk
      let nl: number
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const command = buffered.slice(0, nl).trim()
        buffered = buffered.slice(nl + 1)
        if (command === "cpu") console.log(JSON.stringify({ cpu: node.cpuUsage() }))
        else if (command === "mem") console.log(JSON.stringify({ mem: process.memoryUsage() }))
        else if (command === "heap") {
          const spaces = getHeapSpaceStatistics().map((s) => [s.space_name, { size: s.space_size, used: s.space_used_size }])
          console.log(JSON.stringify({ heap: Object.fromEntries(spaces) }))
        } else if (command === "gc") {
          // a full collection first when the process runs with --expose-gc (memory benchmarks)
          ;(globalThis as { gc?: () => void }).gc?.()
          console.log(JSON.stringify({ mem: process.memoryUsage() }))
        }
        else if (command === "stop") resume(Effect.void)
        else other?.(command)
      }
    }
    process.stdin.setEncoding("utf8")
    process.stdin.on("error", () => {})
    process.stdin.on("data", onData)
    return Effect.sync(() => {
      process.stdin.removeListener("data", onData)
      process.stdin.pause()
    })
  })

/**
 * `--cluster <n>`: an embedded cluster (src/server/cluster). Besides `cpu`, `mem` and `stop`, the
 * side channel takes `kill <i>`, `stop <i>`, `restart <i>`, `elect` (each answered `{"ok":...}`
 * once done) and `members` (`{"members":[...]}`).
 */
const runCluster = (
  opts: EmbeddedNodeOptions & { readonly port: number; readonly clusterNodes?: number | undefined; readonly readOnlyReplicas?: number | undefined },
  nodes: number,
  readOnlyReplicas: number
) =>
  Effect.gen(function*() {
    const { advertisePort: _a, clusterNodes: _n, db, host, insecure, port, readOnlyReplicas: _r, tls, ...node } = opts
    const started = yield* Effect.promise(() =>
      startEmbeddedCluster({ nodes, readOnlyReplicas, host, db, port, insecure, tls, node }).then(
        (cluster) => ({ cluster }),
        (error: unknown) => ({ error })
      )
    )
    if ("error" in started) {
      process.stderr.write(`effect-esdb-server cannot start the cluster: ${started.error instanceof Error ? started.error.message : String(started.error)}\n`)
      return 1
    }
    const cluster = yield* Effect.acquireRelease(
      Effect.succeed(started.cluster),
      (cluster) =>
        Effect.promise(() => cluster.close()).pipe(
          Effect.andThen(Effect.sync(() => process.stderr.write("effect-esdb-server cluster stopped\n")))
        )
    )
    process.stdout.write(`${cluster.connectionString}\n`)
    process.stderr.write(
      `effect-esdb-server ${packageVersion()} cluster of ${nodes} members${readOnlyReplicas > 0 ? ` and ${readOnlyReplicas} read-only replicas` : ""} ` +
        `on ${cluster.members().map((m) => `${host}:${m.port}`).join(", ")}, TLS ${cluster.insecure ? "off (insecure)" : "on"}, data ${db === undefined ? "in memory" : `in ${db}/node-<i>`}, ` +
        `leader member ${cluster.leader()}, reporting server version ${opts.version ?? DEFAULT_SERVER_VERSION}\n`
    )
    yield* sideChannel({ cpuUsage: () => process.cpuUsage() }, (command) => {
      const [verb, arg] = command.split(/\s+/)
      const i = Number(arg)
      const done = (p: Promise<unknown>) =>
        p.then((v) => console.log(JSON.stringify({ ok: command, leader: cluster.leader(), value: v ?? null })), (e: Error) =>
          console.log(JSON.stringify({ error: command, message: e.message })))
      if (verb === "kill") done(cluster.kill(i))
      else if (verb === "stop" && arg !== undefined) done(cluster.stop(i))
      else if (verb === "restart") done(cluster.restart(i))
      else if (verb === "elect") done(cluster.electLeader())
      else if (verb === "members") console.log(JSON.stringify({ members: cluster.members(), leader: cluster.leader() }))
      else return false
      return true
    })
    return 0
  })

const main = Effect.gen(function*() {
  let options: ReturnType<typeof parse>
  try {
    options = parse(process.argv.slice(2))
  } catch (e) {
    if (!(e instanceof UsageError)) throw e
    process.stderr.write(`${e.message}\n${usage()}`)
    return 2
  }
  if (options === undefined) {
    process.stdout.write(usage())
    return 0
  }
  const opts = options
  if (opts.clusterNodes !== undefined) return yield* runCluster(opts, opts.clusterNodes, opts.readOnlyReplicas ?? 0)
  // the node stops on its own when its log fails (a full disk), as a real node's process ends: exit 1
  let fatalError: Error | undefined
  // a node that cannot start (a damaged log, a log locked by another node, a full disk) says why
  // on stderr and exits with 1
  const started = yield* Effect.promise(() =>
    startEmbeddedNode({ ...opts, onFatal: (error) => (fatalError = error) }).then(
      (node) => ({ node }),
      (error: unknown) => ({ error })
    )
  )
  if ("error" in started) {
    process.stderr.write(`effect-esdb-server cannot start: ${started.error instanceof Error ? started.error.message : String(started.error)}\n`)
    return 1
  }
  const node = yield* Effect.acquireRelease(
    Effect.succeed(started.node),
    (node) =>
      Effect.promise(() => node.stop()).pipe(
        Effect.andThen(Effect.sync(() => process.stderr.write(`effect-esdb-server stopped (${node.host}:${node.port})\n`)))
      )
  )
  process.stdout.write(`${node.connectionString}\n`)
  const projections = opts.standardProjections === true ? "system projections running" : opts.runProjections === true ? "system projections stopped" : "none"
  process.stderr.write(
    `effect-esdb-server ${packageVersion()} listening on ${node.host}:${node.port}, ` +
      `TLS ${node.insecure ? "off (insecure)" : "on"}, data ${opts.db === undefined ? "in memory" : `in ${opts.db} (read cache ${opts.dbCacheBytes ?? DEFAULT_READ_CACHE_BYTES} bytes)`}, ` +
      `projections ${projections}, reporting server version ${opts.version ?? DEFAULT_SERVER_VERSION}\n`
  )
  // ends on `stop` from stdin, or when a client's Operations.Shutdown stopped the node (the
  // process ends with it, as a real node's does), or when its log failed (then exit code 1)
  yield* Effect.raceFirst(sideChannel(node), Effect.promise(() => node.stopped))
  return fatalError === undefined ? 0 : 1
}).pipe(Effect.scoped)

// @effect/platform-node is an optional peer dependency of the package: only this command needs it
const NodeRuntime = await import("@effect/platform-node/NodeRuntime").catch(() => {
  process.stderr.write(
    "effect-esdb-server runs under @effect/platform-node, an optional peer dependency that is not installed: npm install @effect/platform-node@^4.1.5\n"
  )
  process.exit(1)
})

// a stop by signal (an interrupted main fiber) is a normal stop: exit 0; a failure to start: 1
NodeRuntime.runMain(
  main.pipe(Effect.tap((code) => Effect.sync(() => (process.exitCode = code)))),
  {
    teardown: (exit, onExit) =>
      Runtime.defaultTeardown(exit, (code) => {
        const final = code === 130 ? 0 : code === 0 ? Number(process.exitCode ?? 0) : code
        onExit(final)
        process.exit(final)
      })
  }
)
