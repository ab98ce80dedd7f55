/**
 * The embedded node in its own process, for the benchmark.
 *
 *   node bench/node.ts <message|coalesced> [--db]
 *
 * `--db` keeps the node's log in a fresh temporary directory (removed when the node stops).
 * Prints `@@READY {"connectionString", "cpuUrl"}` once listening. `cpuUrl` is a loopback HTTP
 * side channel answering `{ user, system, rss }` (µs, µs, bytes) from the node process's own
 * `process.cpuUsage()`; `/profile/start` and `/profile/stop?file=<path>` run the V8 sampling
 * profiler in the node process (see BENCH_PROFILE_NODE in worker.ts). Stops when its stdin closes or on SIGTERM/SIGINT.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:http"
import { Session } from "node:inspector/promises"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { READY_PREFIX } from "./lib/common.ts"

import { startEmbeddedNode } from "../src/server/EmbeddedNode.ts"

const main = async () => {
  const framing = process.argv[2] === "coalesced" ? "coalesced" : "message"
  const db = process.argv.includes("--db") ? mkdtempSync(join(tmpdir(), "effect-esdb-bench-db-")) : undefined
  const node = await startEmbeddedNode({ port: 0, insecure: true, readFraming: framing, db })

  let session: Session | undefined
  const side = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1")
    if (url.pathname === "/profile/start") {
      session = new Session()
      session.connect()
      void session.post("Profiler.enable")
        .then(() => session!.post("Profiler.setSamplingInterval", { interval: 200 }))
        .then(() => session!.post("Profiler.start"))
        .then(() => res.end("started"))
      return
    }
    if (url.pathname === "/profile/stop" && session !== undefined) {
      const s = session
      session = undefined
      void s.post("Profiler.stop").then(({ profile }) => {
        writeFileSync(url.searchParams.get("file") ?? "node.cpuprofile", JSON.stringify(profile))
        s.disconnect()
        res.end("stopped")
      })
      return
    }
    const cpu = node.cpuUsage()
    res.setHeader("content-type", "application/json")
    res.end(JSON.stringify({ user: cpu.user, system: cpu.system, rss: process.memoryUsage().rss }))
  })
  await new Promise<void>((resolve) => side.listen(0, "127.0.0.1", resolve))
  const { port } = side.address() as AddressInfo

  let stopping = false
  const stop = async () => {
    if (stopping) return
    stopping = true
    side.close()
    await node.stop().catch(() => {})
    if (db !== undefined) rmSync(db, { recursive: true, force: true })
    process.exit(0)
  }
  process.on("SIGTERM", stop)
  process.on("SIGINT", stop)
  process.stdin.on("end", stop)
  process.stdin.on("close", stop)
  process.stdin.resume()

  process.stdout.write(`${READY_PREFIX}${JSON.stringify({ connectionString: node.connectionString, cpuUrl: `http://127.0.0.1:${port}/cpu`, framing })}\n`)
}

main().catch((error: unknown) => {
  process.stderr.write(`bench node failed: ${error instanceof Error ? error.stack : String(error)}\n`)
  process.exit(1)
})
