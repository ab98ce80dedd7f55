#!/usr/bin/env node
/**
 * Command line entry of the embedded node:
 * `npm run server -- --port 2113 --insecure [--host 127.0.0.1] [--read-framing message|coalesced] [--standard-projections]
 * [--max-connections 1000] [--idle-timeout-ms 130000] [--max-append-size <bytes>] [--max-receive-message-size <bytes>]
 * [--db <dir>] [--advertise-host <name>] [--advertise-port <port>] [--server-version X.Y.Z]`.
 * With `--db` the log is kept in `<dir>` (written and fsynced before each write is acknowledged)
 * and read back on the next start; without it everything lives in memory.
 * Like a real node it is secure (TLS, users admin/ops) unless `--insecure` is given. Prints the
 * connection string and stops on SIGINT/SIGTERM.
 *
 * Side channel for benchmarks that run the node in a child process: each line `cpu` written to
 * stdin is answered with one JSON line `{"cpu":{"user":µs,"system":µs}}` (the node process's
 * `process.cpuUsage()`); a line `mem` with `{"mem":{"rss":bytes,...}}` (`process.memoryUsage()`); a
 * line `stop` stops the node.
 *
 * @since 0.1.0
 */
import { startEmbeddedNode } from "./EmbeddedNode.ts"

const usage = "usage: effect-esdb-server [--port 2113] [--host 127.0.0.1] [--insecure] [--read-framing message|coalesced] [--standard-projections]" +
  " [--run-projections all|system|none] [--start-standard-projections]" +
  " [--max-connections 1000] [--idle-timeout-ms 130000] [--max-append-size <bytes>] [--max-receive-message-size <bytes>]" +
  " [--db <dir>] [--advertise-host <name>] [--advertise-port <port>] [--server-version X.Y.Z]"

const count = (flag: string, v: string, min: number): number => {
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`invalid ${flag} ${v}`)
  return n
}

const parse = (argv: ReadonlyArray<string>) => {
  let port = 2113
  let host = "127.0.0.1"
  let insecure = false
  let readFraming: "message" | "coalesced" = "message"
  let standardProjections = false
  let runProjections = false
  let maxConnections: number | undefined
  let idleTimeoutMs: number | undefined
  let maxAppendSize: number | undefined
  let maxReceiveMessageSize: number | undefined
  let db: string | undefined
  let advertiseHost: string | undefined
  let advertisePort: number | undefined
  let version: string | undefined
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const [flag, inline] = arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined]
    const value = () => {
      const v = inline ?? argv[++i]
      if (v === undefined) throw new Error(`missing value for ${flag}`)
      return v
    }
    switch (flag) {
      case "--port": {
        const n = Number(value())
        if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`invalid port`)
        port = n
        break
      }
      case "--host":
        host = value()
        break
      case "--insecure":
        insecure = inline === undefined ? true : inline !== "false"
        break
      case "--read-framing": {
        const v = value()
        if (v !== "message" && v !== "coalesced") throw new Error(`invalid --read-framing ${v}`)
        readFraming = v
        break
      }
      case "--standard-projections":
      case "--start-standard-projections":
        standardProjections = inline === undefined ? true : inline !== "false"
        break
      case "--run-projections": {
        const v = value().toLowerCase()
        if (v !== "all" && v !== "system" && v !== "none") throw new Error(`invalid --run-projections ${v}`)
        runProjections = v !== "none"
        break
      }
      case "--max-connections":
        maxConnections = count(flag, value(), 1)
        break
      case "--idle-timeout-ms":
        idleTimeoutMs = count(flag, value(), 0)
        break
      case "--max-append-size":
        maxAppendSize = count(flag, value(), 1)
        break
      case "--max-receive-message-size":
        maxReceiveMessageSize = count(flag, value(), 1)
        break
      case "--db":
        db = value()
        break
      case "--advertise-host":
        advertiseHost = value()
        break
      case "--advertise-port": {
        const n = Number(value())
        if (!Number.isInteger(n) || n <= 0 || n > 65535) throw new Error(`invalid --advertise-port`)
        advertisePort = n
        break
      }
      case "--server-version": {
        const v = value()
        if (!/^\d+\.\d+\.\d+/.test(v)) throw new Error(`invalid --server-version ${v} (expected X.Y.Z)`)
        version = v
        break
      }
      case "--help":
      case "-h":
        console.log(usage)
        process.exit(0)
        break
      default:
        throw new Error(`unknown argument ${arg}`)
    }
  }
  // crash tests only: a slow disk (see FileLog.ts)
  const delay = Number(process.env["EFFECT_ESDB_TEST_FLUSH_DELAY_MS"] ?? 0)
  const dbFlushDelayMs = Number.isFinite(delay) && delay > 0 ? delay : undefined
  return {
    port, host, insecure, readFraming, standardProjections, runProjections, maxConnections, idleTimeoutMs, maxAppendSize,
    maxReceiveMessageSize, db, advertiseHost, advertisePort, version, dbFlushDelayMs }
}

const main = async () => {
  let options: ReturnType<typeof parse>
  try {
    options = parse(process.argv.slice(2))
  } catch (e) {
    console.error(`${(e as Error).message}\n${usage}`)
    process.exit(2)
  }
  const node = await startEmbeddedNode(options)
  console.log(node.connectionString)
  const shutdown = () => {
    node.stop().then(() => process.exit(0), () => process.exit(1))
  }
  // a client's Operations.Shutdown stops the node: the process ends with it, as a real node's does
  node.stopped.then(() => process.exit(0), () => process.exit(1))
  process.once("SIGINT", shutdown)
  process.once("SIGTERM", shutdown)
  if (!process.stdin.isTTY) {
    let buffered = ""
    process.stdin.setEncoding("utf8")
    process.stdin.on("error", () => {})
    process.stdin.on("data", (chunk: string) => {
      buffered += chunk
      let nl: number
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const command = buffered.slice(0, nl).trim()
        buffered = buffered.slice(nl + 1)
        if (command === "cpu") console.log(JSON.stringify({ cpu: node.cpuUsage() }))
        else if (command === "mem") console.log(JSON.stringify({ mem: process.memoryUsage() }))
        else if (command === "stop") shutdown()
      }
    })
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
