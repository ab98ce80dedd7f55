/**
 * The `--db` node's memory, start time and read throughput (issue 22), printed as JSON and written
 * to bench/results/storage.json.
 *
 *   npm run bench:storage -- [--events 1000000] [--streams 1000] [--big 10000000] [--reads 200000] [--out storage.json]
 *
 * A phase given 0 events is skipped.
 *
 * The node is the command line (`src/server/cli.ts`) in a child process, run with the Node flags
 * of its `#!` line (bench/lib/storageProcs.ts); `--node-flags "…"` replaces them (`""`: none), to
 * compare heap settings. Every phase notes the load average.
 *
 * 1. `--events` events of 200-byte JSON appended over gRPC (Append RPC, batches of 1,000, one
 *    stream per 1,000 events) to a fresh `--db` node: append rate, the node's CPU per appended
 *    event (its `process.cpuUsage()`), its RSS and `process.memoryUsage()` after.
 * 2. The node restarted on that directory: time from spawn until a read is answered, RSS then, and
 *    RSS after reading all of `$all` and after a catch-up subscription over it (peak too).
 * 3. `--reads` events in an in-memory node and in a `--db` node: a stream read, a `$all` read and a
 *    `$all` subscription (best of 3 each), and the ratio.
 * 4. `--big` events (0 skips) built through the store's own writer, then a node started on them:
 *    start time, RSS, a read.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { open } from "./clients/floor.ts"
import { buildLog, eventsOf, streamName } from "./lib/buildLog.ts"
import { readPayload } from "./lib/common.ts"
import { cliNodeFlags, rssOf, startStorageNode, type StorageNode } from "./lib/storageProcs.ts"

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const EVENTS = arg("--events", 1_000_000)
const STREAMS = arg("--streams", Math.max(1, Math.ceil(EVENTS / 1000)))
const BIG = arg("--big", 10_000_000)
const READS = arg("--reads", 200_000)
const MB = (bytes: number) => Math.round(bytes / 1024 / 1024)
const log = (line: string) => process.stderr.write(`${line}\n`)
const NODE_FLAGS = process.argv.includes("--node-flags")
  ? process.argv[process.argv.indexOf("--node-flags") + 1]!.split(" ").filter((s) => s !== "")
  : cliNodeFlags()
const loadavg = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")
const start = (dir: string) => startStorageNode(dir, { nodeFlags: NODE_FLAGS })
const memoryOf = async (node: StorageNode) => {
  const m = await node.memoryUsage()
  return { rssMB: MB(rssOf(node.pid)), heapUsedMB: MB(m.heapUsed), heapTotalMB: MB(m.heapTotal), externalMB: MB(m.external), arrayBuffersMB: MB(m.arrayBuffers) }
}
const results: Record<string, unknown> = { date: new Date().toISOString(), events: EVENTS, streams: STREAMS, nodeFlags: NODE_FLAGS.join(" ") }

const seedOverGrpc = async (node: StorageNode, events: number, streams: number) => {
  const client = await open(node.connectionString, { appendRpc: "append" })
  const started = performance.now()
  for (let k = 0; k < streams; k += 4) {
    await Promise.all([k, k + 1, k + 2, k + 3].filter((s) => s < streams).map((s) => {
      const total = eventsOf(s, events, streams)
      return client.appendBatches(streamName(s), Math.ceil(total / 1000), (b) =>
        Array.from({ length: Math.min(1000, total - b * 1000) }, (_, j) => readPayload(b * 1000 + j)))
    }))
  }
  const seconds = (performance.now() - started) / 1000
  await client.close()
  return seconds
}

/** Spawn until the first read is answered. */
const restart = async (dir: string) => {
  const started = performance.now()
  const node = await start(dir)
  const client = await open(node.connectionString, { appendRpc: "append" })
  const seen = await client.readStream(streamName(0), 1)
  const ms = performance.now() - started
  await client.close()
  if (seen !== 1) throw new Error("the first read returned nothing")
  return { node, ms }
}

const best = async (run: () => Promise<number>, times = 3) => {
  let bestRate = 0
  for (let i = 0; i < times; i++) {
    const t = performance.now()
    const n = await run()
    bestRate = Math.max(bestRate, n / ((performance.now() - t) / 1000))
  }
  return Math.round(bestRate)
}

const main = async () => {
  // 1. appends over gRPC
  if (EVENTS > 0) {
    const dir = mkdtempSync(join(tmpdir(), "effect-esdb-storage-"))
    try {
      let node = await start(dir)
      const cpu0 = await node.cpuUsage()
      const seconds = await seedOverGrpc(node, EVENTS, STREAMS)
      const cpu1 = await node.cpuUsage()
      results["append"] = {
        seconds: +seconds.toFixed(1),
        eventsPerSecond: Math.round(EVENTS / seconds),
        nodeCpuUsPerEvent: +((cpu1.user + cpu1.system - cpu0.user - cpu0.system) / EVENTS).toFixed(2),
        ...(await memoryOf(node)),
        peakRssMB: MB(rssOf(node.pid, true)),
        logMB: MB(statSync(join(dir, "events.log")).size),
        loadavg: loadavg()
      }
      log(`appended ${EVENTS} events: ${JSON.stringify(results["append"])}`)
      await node.stop()

      // 2. restart
      const restarted = await restart(dir)
      node = restarted.node
      const afterStart = await memoryOf(node)
      const client = await open(node.connectionString, { appendRpc: "append" })
      let t = performance.now()
      const all = await client.readAll(EVENTS + 100)
      const readAllRate = Math.round(all / ((performance.now() - t) / 1000))
      const afterReadAll = rssOf(node.pid)
      t = performance.now()
      const subscribed = await client.subscribeAll(EVENTS)
      const subscribeRate = Math.round(subscribed / ((performance.now() - t) / 1000))
      await client.close()
      results["restart"] = {
        firstReadMs: Math.round(restarted.ms),
        listeningMs: Math.round(node.readyMs),
        ...afterStart,
        rssAfterReadAllMB: MB(afterReadAll),
        rssAfterSubscribeAllMB: MB(rssOf(node.pid)),
        peakRssMB: MB(rssOf(node.pid, true)),
        readAllEventsPerSecond: readAllRate,
        subscribeAllEventsPerSecond: subscribeRate,
        loadavg: loadavg()
      }
      log(`restart: ${JSON.stringify(results["restart"])}`)
      await node.stop()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }

  // 3. read throughput, in memory vs --db
  if (READS > 0) {
    const readDir = mkdtempSync(join(tmpdir(), "effect-esdb-storage-reads-"))
    try {
      const rates: Record<string, Record<string, number>> = {}
      for (const mode of ["memory", "db"] as const) {
        const node = await start(mode === "memory" ? "-" : readDir)
        // one stream of half the events, the rest in streams of 1,000
        const half = Math.floor(READS / 2)
        const client = await open(node.connectionString, { appendRpc: "append" })
        await client.appendBatches("reads-stream", Math.ceil(half / 1000), (b) => Array.from({ length: 1000 }, (_, j) => readPayload(b * 1000 + j)))
        await client.close()
        await seedOverGrpc(node, READS - half, Math.ceil((READS - half) / 1000))
        const reader = await open(node.connectionString, { appendRpc: "append" })
        rates[mode] = {
          readStream: await best(() => reader.readStream("reads-stream", half)),
          readAll: await best(() => reader.readAll(READS)),
          subscribeAll: await best(() => reader.subscribeAll(READS))
        }
        await reader.close()
        await node.stop()
      }
      const ratio = (k: string) => +(rates["memory"]![k]! / rates["db"]![k]!).toFixed(2)
      results["reads"] = { events: READS, loadavg: loadavg(), ...rates, memoryOverDb: { readStream: ratio("readStream"), readAll: ratio("readAll"), subscribeAll: ratio("subscribeAll") } }
      log(`reads: ${JSON.stringify(results["reads"])}`)
    } finally {
      rmSync(readDir, { recursive: true, force: true })
    }
  }

  // 4. a big log built through the store's writer
  if (BIG > 0) {
    const bigDir = mkdtempSync(join(tmpdir(), "effect-esdb-storage-big-"))
    try {
      const t = performance.now()
      await buildLog(bigDir, BIG, Math.ceil(BIG / 1000))
      const buildSeconds = (performance.now() - t) / 1000
      const { node, ms } = await restart(bigDir)
      results["big"] = {
        events: BIG,
        buildSeconds: Math.round(buildSeconds),
        logMB: MB(statSync(join(bigDir, "events.log")).size),
        firstReadMs: Math.round(ms),
        ...(await memoryOf(node)),
        loadavg: loadavg()
      }
      log(`big: ${JSON.stringify(results["big"])}`)
      await node.stop()
    } finally {
      rmSync(bigDir, { recursive: true, force: true })
    }
  }
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`)
  const out = process.argv.includes("--out") ? process.argv[process.argv.indexOf("--out") + 1]! : "storage.json"
  writeFileSync(join(import.meta.dirname, "results", out), `${JSON.stringify(results, null, 2)}\n`)
  process.exit(0)
}

main().catch((error: unknown) => {
  log(`storage bench failed: ${error instanceof Error ? error.stack : String(error)}`)
  process.exit(1)
})
