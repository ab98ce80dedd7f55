/**
 * A scavenge of a `--db` log (issue 18): size before and after, time (wall and CPU), the longest
 * the event loop was held meanwhile, reads served meanwhile, and the start over the scavenged log.
 *
 *   node --experimental-strip-types --no-warnings bench/scavenge.ts [--events 100000] [--streams 1000]
 *        [--size 200] [--out bench/results/scavenge.json]
 *
 * Builds the log through the store's own writer (`Store` over `openFileLog`: appends of 100 events
 * of `--size`-byte JSON to `--streams` streams), soft-deletes half the streams, then scavenges it
 * in process (`Scavenge.ts`, default slices) while a reader reads a kept stream as fast as the
 * event loop lets it; then opens the scavenged log in a new store.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { monitorEventLoopDelay } from "node:perf_hooks"
import { openFileLog } from "../src/server/storage/FileLog.ts"
import { scavenge } from "../src/server/storage/Scavenge.ts"
import { Store } from "../src/server/storage/Store.ts"

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? process.argv[i + 1] : undefined
}
const events = Number(arg("--events") ?? 100_000)
const streams = Number(arg("--streams") ?? 1000)
const size = Number(arg("--size") ?? 200)
const out = arg("--out") ?? join(new URL(".", import.meta.url).pathname, "results/scavenge.json")
const BATCH = 100

const dir = mkdtempSync(join(tmpdir(), "effect-esdb-bench-scavenge-"))
const logSize = () => statSync(join(dir, "events.log")).size
const event = (i: number) => {
  const text = JSON.stringify({ n: i, pad: "" })
  return {
    eventId: crypto.randomUUID(),
    eventType: "BenchEvent",
    isJson: true,
    data: Buffer.from(JSON.stringify({ n: i, pad: "x".repeat(Math.max(0, size - text.length)) })),
    customMetadata: Buffer.alloc(0)
  }
}

try {
  let store = new Store({ log: await openFileLog(dir, { logger: () => {} }) })
  const name = (s: number) => `bench-${s}`
  for (let i = 0; i < events; i += BATCH) {
    const s = (i / BATCH) % streams
    store.append(name(s), { _tag: "Any" }, Array.from({ length: Math.min(BATCH, events - i) }, (_, k) => event(i + k)))
    if ((i / BATCH) % 50 === 0) await store.sync()
  }
  for (let s = 0; s < streams; s += 2) store.softDelete(name(s), { _tag: "Any" })
  await store.sync()
  const sizeBefore = logSize()

  // a reader of a kept stream, as fast as the event loop lets it, and the event loop's delay
  let reads = 0
  let reading = true
  const reader = () => {
    if (!reading) return
    const view = store.view(name(1))
    if (view._tag === "Ok") view.event(view.first)
    reads++
    setImmediate(reader)
  }
  const delay = monitorEventLoopDelay({ resolution: 1 })
  delay.enable()
  setImmediate(reader)
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const result = await scavenge(store.scavengeTarget(), { now: Date.now(), stopped: () => false })
  const wallMs = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  reading = false
  delay.disable()
  const sizeAfter = logSize()
  await store.close()

  const t1 = performance.now()
  store = new Store({ log: await openFileLog(dir, { logger: () => {} }) })
  const openMs = performance.now() - t1
  const kept = store.view(name(1))
  const deleted = store.view(name(0))
  await store.close()

  const report = {
    date: new Date().toISOString(),
    loadavg: loadavg().map((l) => Number(l.toFixed(2))),
    events,
    streams,
    eventBytes: size,
    softDeletedStreams: Math.ceil(streams / 2),
    sizeBefore,
    sizeAfter,
    recordsDropped: result.recordsDropped,
    scavengeWallMs: Math.round(wallMs),
    scavengeCpuMs: Math.round((cpu.user + cpu.system) / 1000),
    eventLoopDelayMaxMs: Math.round(delay.max / 1e6),
    eventLoopDelayP99Ms: Math.round(delay.percentile(99) / 1e6),
    readsDuringScavenge: reads,
    openAfterMs: Math.round(openMs),
    keptStream: kept._tag === "Ok" ? { first: kept.first, last: kept.last } : kept._tag,
    deletedStream: deleted._tag
  }
  console.log(JSON.stringify(report, null, 2))
  writeFileSync(out, JSON.stringify(report, null, 2) + "\n")
} finally {
  rmSync(dir, { recursive: true, force: true })
}
