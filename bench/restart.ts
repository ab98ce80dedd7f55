/**
 * Restart of a `--db` node over a large log: how long until it serves a read, and how much memory
 * it holds (issue 15: the chunked start; issue 22: the goals, ≤ 2 s and ≤ 300 MB for 1 M events).
 *
 *   npm run bench:restart -- [--events 1000000,10000000] [--streams 1000] [--dir DIR] [--keep]
 *                            [--rss-cap-mb 6144] [--cli path/to/cli.ts] [--skip-scan] [--out bench/results/restart.json]
 *
 * For each event count: builds the log quickly through the store's own writer and codec
 * (`openFileLog` + `encodeEvent` + `sealCommit`: commits of 1,000 events of 200-byte JSON spread
 * over `--streams` streams, after the system records a first start writes), then measures, each in
 * a fresh process:
 * - scan: `openFileLog` and reading every record (the chunked check every start does), alone;
 * - node: `cli.ts --insecure --db DIR`, from spawn to the connection string (listening) and to the
 *   first read answered; its RSS then, and its peak RSS (VmHWM).
 * A node whose RSS passes `--rss-cap-mb` (default 6 GiB) is killed and reported as such, so that a
 * layout that does not fit cannot take the machine down. `--keep` keeps (and reuses) the logs in
 * `--dir` (default: the temporary directory).
 */
import * as grpc from "@grpc/grpc-js"
import { spawn } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { StreamsClient } from "../src/generated/streams.ts"
import { startEmbeddedNode } from "../src/server/EmbeddedNode.ts"
import { openFileLog } from "../src/server/storage/FileLog.ts"
import { encodeEvent, sealCommit } from "../src/server/storage/RecordCodec.ts"

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? process.argv[i + 1] : undefined
}
const here = new URL(".", import.meta.url).pathname
// `--cli PATH`: measure another tree's node on the same logs (e.g. /work/main/src/server/cli.ts, before a change)
const cli = arg("--cli") ?? join(here, "../src/server/cli.ts")

// ---- child mode: the scan alone --------------------------------------------------------------
if (process.argv[2] === "--scan-only") {
  const dir = process.argv[3]!
  const t0 = performance.now()
  const log = await openFileLog(dir, { logger: () => {} })
  let records = 0
  for (const _ of log.entries) records++
  const ms = performance.now() - t0
  await log.close()
  const hwm = Number(/VmHWM:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))![1]) * 1024
  console.log(JSON.stringify({ ms, records, rss: process.memoryUsage().rss, peakRss: hwm }))
  process.exit(0)
}

const counts = (arg("--events") ?? "1000000,10000000").split(",").map(Number)
const streams = Number(arg("--streams") ?? 1000)
const keep = process.argv.includes("--keep")
const base = arg("--dir") ?? tmpdir()
const capBytes = Number(arg("--rss-cap-mb") ?? 6144) * 1024 * 1024
const out = arg("--out") ?? join(here, "results/restart.json")
const BATCH = 1000

/** 200 bytes of JSON, as the benchmark's seed writes them. */
const payload = (i: number): Buffer => {
  const text = JSON.stringify({ n: i, pad: "" })
  return Buffer.from(JSON.stringify({ n: i, pad: "x".repeat(200 - text.length) }))
}

const build = async (dir: string, events: number): Promise<number> => {
  const marker = join(dir, `built-${events}`)
  if (keep && existsSync(marker)) return statSync(join(dir, "events.log")).size
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  // the system records a first start writes (users, epoch)
  const node = await startEmbeddedNode({ db: dir, logger: () => {} })
  await node.stop()
  const log = await openFileLog(dir, { logger: () => {} })
  let position = 0
  let ticks = 0
  for (const { record } of log.entries) {
    position = Math.max(position, record._tag === "Event" ? record.position : record.next)
    if (record._tag === "Event") ticks = Math.max(ticks, record.createdTicks)
  }
  position += 1024
  const type = "BenchEvent"
  const meta = Buffer.alloc(0)
  const names = Array.from({ length: streams }, (_, s) => Buffer.from(`bench-restart-${s}`))
  const now = Date.now()
  for (let i = 0; i < events;) {
    const frames: Array<Buffer> = []
    const stream = names[(i / BATCH) % streams]!
    for (let k = 0; k < BATCH && i < events; k++, i++) {
      const data = payload(i)
      frames.push(encodeEvent({
        tombstone: false,
        position,
        createdMs: now,
        createdTicks: ++ticks,
        isJson: true,
        stream,
        eventType: type,
        eventId: crypto.randomUUID(),
        data,
        customMetadata: meta
      }))
      // the store's own estimate of a record's size (Store.advance)
      position += (90 + stream.length + type.length * 2 + data.length + 7) & ~7
    }
    log.write(sealCommit(frames))
    if ((i / BATCH) % 100 === 0) {
      const error = await new Promise<Error | undefined>((r) => log.whenDurable(r))
      if (error !== undefined) throw error
    }
  }
  const error = await new Promise<Error | undefined>((r) => log.whenDurable(r))
  if (error !== undefined) throw error
  await log.close()
  writeFileSync(marker, "")
  return statSync(join(dir, "events.log")).size
}

const scanOnly = (dir: string): Promise<{ ms: number; records: number; rss: number; peakRss: number }> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--experimental-strip-types", "--no-warnings", new URL(import.meta.url).pathname, "--scan-only", dir], {
      stdio: ["ignore", "pipe", "inherit"]
    })
    let text = ""
    child.stdout!.on("data", (chunk: Buffer) => (text += chunk.toString()))
    child.once("exit", (code) => (code === 0 ? resolve(JSON.parse(text)) : reject(new Error(`scan exited with ${code}`))))
  })

const statusOf = (pid: number) => {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8")
    return {
      rss: Number(/VmRSS:\s+(\d+)/.exec(status)![1]) * 1024,
      peak: Number(/VmHWM:\s+(\d+)/.exec(status)![1]) * 1024
    }
  } catch {
    return undefined
  }
}

interface NodeRun {
  readonly listenMs?: number | undefined
  readonly firstReadMs?: number | undefined
  readonly rss?: number | undefined
  readonly peakRss: number
  readonly aborted?: string
}

const restartNode = (dir: string): Promise<NodeRun> =>
  new Promise((resolve) => {
    const t0 = performance.now()
    const child = spawn(process.execPath, ["--experimental-strip-types", "--no-warnings", cli, "--insecure", "--port", "0", "--db", dir], {
      stdio: ["pipe", "pipe", "pipe"]
    })
    let peak = 0
    let finished = false
    const finish = (run: NodeRun) => {
      if (finished) return
      finished = true
      clearInterval(poll)
      resolve(run)
    }
    const poll = setInterval(() => {
      const s = statusOf(child.pid!)
      if (s === undefined) return
      peak = Math.max(peak, s.peak)
      if (s.rss > capBytes) {
        child.kill("SIGKILL")
        finish({
          peakRss: peak,
          aborted: `killed at ${Math.round(s.rss / 1048576)} MB RSS after ${((performance.now() - t0) / 1000).toFixed(1)} s, before it listened`
        })
      }
    }, 50)
    let stderr = ""
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.once("exit", (code, signal) => {
      const fatal = /FATAL ERROR: .*/.exec(stderr)?.[0] ?? stderr.trim().split("\n").slice(-1)[0] ?? ""
      finish({
        peakRss: peak,
        aborted: `exited (${code ?? signal}) after ${((performance.now() - t0) / 1000).toFixed(1)} s, before it served a read: ${fatal.slice(0, 200)}`
      })
    })
    let listenMs: number | undefined
    let firstReadMs: number | undefined
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (line.startsWith("{\"mem\"")) {
        const rss = (JSON.parse(line) as { mem: { rss: number } }).mem.rss
        peak = Math.max(peak, statusOf(child.pid!)?.peak ?? 0)
        child.removeAllListeners("exit")
        child.once("exit", () => finish({ listenMs, firstReadMs, rss, peakRss: peak }))
        child.stdin!.write("stop\n")
        return
      }
      const match = /^esdb:\/\/[^:]+:(\d+)/.exec(line)
      if (match === null) return
      listenMs = performance.now() - t0
      const client = new StreamsClient(`127.0.0.1:${match[1]}`, grpc.credentials.createInsecure())
      const call = client.read({
        options: {
          streamOption: { $case: "stream", value: { streamIdentifier: { streamName: Buffer.from("bench-restart-0") }, revisionOption: { $case: "start", value: {} } } },
          readDirection: 0,
          resolveLinks: false,
          countOption: { $case: "count", value: 10n },
          filterOption: { $case: "noFilter", value: {} },
          uuidOption: { content: { $case: "string", value: {} } },
          controlOption: undefined
        }
      })
      let events = 0
      call.on("data", (m: { content?: { $case: string } }) => {
        if (m.content?.$case === "event") events++
      })
      call.on("error", (e) => console.error(`warning: the read failed: ${e.message}`))
      call.on("end", () => {
        firstReadMs = performance.now() - t0
        client.close()
        if (events !== 10) console.error(`warning: the read got ${events} events`)
        child.stdin!.write("mem\n")
      })
    })
  })

const mb = (bytes: number | undefined) => (bytes === undefined ? "–" : `${Math.round(bytes / 1048576)} MB`)
const s = (ms: number | undefined) => (ms === undefined ? "–" : `${(ms / 1000).toFixed(2)} s`)

const results: Array<Record<string, unknown>> = []
const load = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")
for (const events of counts) {
  const dir = join(base, `effect-esdb-restart-${events}`)
  const t0 = performance.now()
  const size = await build(dir, events)
  const buildMs = performance.now() - t0
  console.log(`${events.toLocaleString("en")} events: log ${mb(size)} (built in ${s(buildMs)})`)
  const scan = process.argv.includes("--skip-scan") ? { ms: 0, records: 0, rss: 0, peakRss: 0 } : await scanOnly(dir)
  if (scan.records > 0) console.log(`  scan alone: ${s(scan.ms)}, ${scan.records.toLocaleString("en")} records, RSS ${mb(scan.rss)}, peak ${mb(scan.peakRss)}`)
  const node = await restartNode(dir)
  if (node.aborted !== undefined) console.log(`  node: ${node.aborted}; peak RSS ${mb(node.peakRss)}`)
  else {
    console.log(
      `  node: listening after ${s(node.listenMs)}, first read after ${s(node.firstReadMs)}; RSS ${mb(node.rss)}, peak ${mb(node.peakRss)}`
    )
  }
  console.log(`  load average ${load()}`)
  results.push({ events, logBytes: size, scan, node, loadAverage: load() })
  if (!keep) rmSync(dir, { recursive: true, force: true })
}
mkdirSync(join(here, "results"), { recursive: true })
writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), cli, streams, results }, null, 2) + "\n")
console.log(`written ${out}`)
