/**
 * Client CPU per event of several clients in ONE process, alternating short blocks (A, B, C, A, B,
 * C, ...), for differences of a few percent on a loaded machine, where separate processes minutes
 * apart differ by more than that (BENCHMARKS.md §11, §13):
 *
 *   node --expose-gc bench/inprocess.ts <append-1|append-100|persistent> <blocks> <out.json|-> <label>=<module>[,ENV=value...] ...
 *
 * `<module>` is `floor`, `effect` (bench/clients/effect.ts) or a path to another copy of
 * bench/clients/effect.ts (e.g. of an older tree); each variant's environment is set while it is
 * opened (BENCH_EFFECT_METRICS=false, ...). One embedded node in its own process (framing
 * `message`), seeded for `persistent`. A block is 500 single-event appends, 20 appends of 100
 * 1 KiB events (as the benchmark's append-100 workload), or one consumer of a
 * fresh group taking 5,000 events and acking each (as in the benchmark's persistent workload).
 * Before each block the heap is collected (outside the measurement), so each block pays for its
 * own garbage (the time spent in GC during the block is reported too). CPU is `process.cpuUsage()` of this process over the block; the result is each
 * variant's median µs per event and the median of its per-block-round ratio to the first variant.
 */
import { writeFileSync } from "node:fs"
import { PerformanceObserver } from "node:perf_hooks"
import { loadavg } from "node:os"
import { join, resolve } from "node:path"
import { type BenchClient, FULL_SIZES, kibBatch, median, parseVariantSpec, SEED, smallPayload } from "./lib/common.ts"
import { benchDir, seedTarget, startNodeProcess } from "./lib/procs.ts"

const [workload, blocksArg, out, ...specs] = process.argv.slice(2) as [string, string, string, ...Array<string>]
const blocks = Number(blocksArg)
const APPENDS = 500
const EVENTS = 5_000
const BATCHES = 20

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {})

const main = async () => {
  const load0 = loadavg()
  const target = await startNodeProcess("message", undefined)
  if (workload === "persistent") await seedTarget(target, FULL_SIZES, false, "json")
  const clients: Array<{ label: string; client: BenchClient }> = []
  for (const spec of specs) {
    const { client: module, env, label } = parseVariantSpec(spec)
    const saved = { ...process.env }
    Object.assign(process.env, env)
    const client: BenchClient = module === "floor"
      ? await (await import("./clients/floor.ts")).open(target.connectionString, { appendRpc: "batch" })
      : await (await import(module === "effect" ? "./clients/effect.ts" : resolve(module)) as {
        open: (c: string) => Promise<BenchClient>
      }).open(target.connectionString)
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key]
    Object.assign(process.env, saved)
    clients.push({ label, client })
  }
  let groups = 0
  const block = async (client: BenchClient, round: number): Promise<number> => {
    if (workload === "append-1") {
      await client.appendSequential(`inprocess-${round}-${groups++}`, APPENDS, smallPayload)
      return APPENDS
    }
    if (workload === "append-100") {
      await client.appendBatches(`inprocess-${round}-${groups++}`, BATCHES, kibBatch)
      return BATCHES * 100
    }
    const group = `inprocess-${process.pid}-${groups++}`
    await client.createPersistent(SEED.readStream, group)
    return client.persistent(SEED.readStream, group, EVENTS)
  }
  // warm-up: two blocks each
  for (let i = 0; i < 2; i++) for (const { client } of clients) await block(client, -1)
  const samples: Array<{ label: string; round: number; cpuUsPerEvent: number; gcUsPerEvent: number; eventsPerSec: number }> = []
  // time spent in garbage collection during each block (GC runs on this thread, inside the CPU measured)
  let gcMs = 0
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcMs += entry.duration
  })
  observer.observe({ entryTypes: ["gc"] })
  for (let round = 0; round < blocks; round++) {
    for (const { label, client } of clients) {
      // a fresh group is created before the window for persistent blocks
      gc()
      // the forced collection's GC entry is delivered asynchronously: let it arrive first
      await new Promise((resolve) => setTimeout(resolve, 5))
      const gc0 = gcMs
      const cpu0 = process.cpuUsage()
      const t0 = performance.now()
      const events = await block(client, round)
      const wall = performance.now() - t0
      const cpu = process.cpuUsage(cpu0)
      // the GC observer's entries arrive asynchronously: collect them before reading
      await new Promise((resolve) => setTimeout(resolve, 5))
      samples.push({
        label,
        round,
        cpuUsPerEvent: (cpu.user + cpu.system) / events,
        gcUsPerEvent: ((gcMs - gc0) * 1000) / events,
        eventsPerSec: (events / wall) * 1000
      })
    }
    if (round % 10 === 9) process.stderr.write(`  ${round + 1} rounds, load ${loadavg()[0]!.toFixed(2)}\n`)
  }
  const load1 = loadavg()
  const first = clients[0]!.label
  const summary = clients.map(({ label }) => {
    const mine = samples.filter((s) => s.label === label)
    const ratios = mine.map((s) => s.cpuUsPerEvent / samples.find((b) => b.label === first && b.round === s.round)!.cpuUsPerEvent)
    return {
      label,
      cpuUsPerEvent: median(mine.map((s) => s.cpuUsPerEvent)),
      gcUsPerEvent: median(mine.map((s) => s.gcUsPerEvent)),
      eventsPerSec: median(mine.map((s) => s.eventsPerSec)),
      ratioToFirst: median(ratios)
    }
  })
  observer.disconnect()
  for (const s of summary) {
    process.stdout.write(
      `${s.label.padEnd(24)} ${s.cpuUsPerEvent.toFixed(2).padStart(8)} µs/ev (GC ${s.gcUsPerEvent.toFixed(2)})  ${Math.round(s.eventsPerSec).toString().padStart(7)} ev/s  ×${first} ${s.ratioToFirst.toFixed(3)}\n`
    )
  }
  process.stdout.write(`load average before ${load0.map((l) => l.toFixed(2)).join(" ")}, after ${load1.map((l) => l.toFixed(2)).join(" ")}\n`)
  if (out !== "-") {
    writeFileSync(
      join(benchDir, "results", out),
      JSON.stringify({ workload, blocks, specs, date: new Date().toISOString(), loadavgBefore: load0, loadavgAfter: load1, summary, samples }, null, 2)
    )
  }
  for (const { client } of clients) await client.close()
  await target.stop()
  process.exit(0)
}

main().catch((error) => {
  process.stderr.write(`${String(error)}\n`)
  process.exit(1)
})
