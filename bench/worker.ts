/**
 * One measurement in a fresh process: opens a client, warms it up on the same workload, then
 * measures wall time, client CPU (process.cpuUsage, all threads), the node's CPU (side channel)
 * and peak RSS, and prints one `@@RESULT {json}` line.
 *
 *   node bench/worker.ts <client> <workload> <framing> <connectionString> [nodeCpuUrl] [--quick] [--rss] [--variant json|binary]
 *
 * `--variant` (default `json`) labels the sample with the variant of the events the node holds
 * (bench/seed.ts); every consumer parses the data of JSON events and takes other data as bytes.
 *
 * With `--profile <file.cpuprofile>`, the measured window (only) is profiled with the V8 sampling
 * profiler through node:inspector and written to that file.
 *
 * With `--rss`, the read workloads stream SEED.rssEvents events instead, and the line also holds
 * the RSS before streaming and samples taken while streaming.
 */
import { randomUUID } from "node:crypto"
import { readFileSync, writeFileSync } from "node:fs"
import { resolve } from "node:path"
import { Session } from "node:inspector/promises"
import {
  type BenchClient,
  type ClientName,
  type Framing,
  FULL_SIZES,
  kibBatch,
  nodeCpuMs,
  percentile,
  QUICK_SIZES,
  RESULT_PREFIX,
  type Sample,
  SEED,
  smallPayload,
  type Variant,
  VARIANTS,
  type Workload
} from "./lib/common.ts"

const [clientName, workload, framing, connectionString, cpuUrl] = process.argv.slice(2) as [
  ClientName,
  Workload,
  Framing,
  string,
  string | undefined
]
const quick = process.argv.includes("--quick")
const rss = process.argv.includes("--rss")
const sizes = quick ? QUICK_SIZES : FULL_SIZES
const variantIndex = process.argv.indexOf("--variant")
const variant = (variantIndex >= 0 ? process.argv[variantIndex + 1] : "json") as Variant
if (!VARIANTS.includes(variant)) throw new Error(`unknown variant ${variant}`)
const profileIndex = process.argv.indexOf("--profile")
const profileFile = profileIndex >= 0 ? process.argv[profileIndex + 1] : undefined

const openClient = async (): Promise<BenchClient> => {
  switch (clientName) {
    case "effect": {
      // BENCH_EFFECT_MODULE: another implementation of bench/clients/effect.ts (e.g. one importing a
      // patched copy of src/), to measure a candidate change before/after in the same harness
      const module = process.env["BENCH_EFFECT_MODULE"]
      const mod = (module !== undefined && module !== ""
        ? await import(resolve(module))
        : await import("./clients/effect.ts")) as { open: (c: string) => Promise<BenchClient> }
      return mod.open(connectionString)
    }
    case "effect-notrace":
      process.env["BENCH_EFFECT_TRACING"] = "false"
      return (await import("./clients/effect.ts")).open(connectionString)
    case "official":
      return (await import("./clients/official.ts")).open(connectionString)
    case "floor":
      return (await import("./clients/floor.ts")).open(connectionString, { appendRpc: "batch" })
    case "floor-append":
      return (await import("./clients/floor.ts")).open(connectionString, { appendRpc: "append" })
  }
}

/** Busy CPU time of the whole machine (ms, all cores) from /proc/stat; NaN where unavailable. */
const machineBusyMs = (): number => {
  try {
    const fields = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/).slice(1).map(Number)
    // user nice system idle iowait irq softirq steal
    const busy = fields[0]! + fields[1]! + fields[2]! + fields[5]! + fields[6]! + (fields[7] ?? 0)
    return busy * 10
  } catch {
    return Number.NaN
  }
}

const unique = (prefix: string) => `${prefix}-${clientName}-${randomUUID().slice(0, 8)}`

interface Plan {
  readonly warmup: (client: BenchClient) => Promise<unknown>
  /** Work done after the warm-up and before the measured window (e.g. creating a group). */
  readonly prepare?: (client: BenchClient) => Promise<void>
  readonly measure: (client: BenchClient, latencies: Array<number>) => Promise<{ events: number; ops: number }>
}

const plans: Record<Workload, () => Plan> = {
  "append-1": () => ({
    warmup: (c) => c.appendSequential(unique("warm1"), sizes.append1.warmup, smallPayload),
    measure: async (c, lat) => {
      await c.appendSequential(unique("append1"), sizes.append1.ops, smallPayload, lat)
      return { events: sizes.append1.ops, ops: sizes.append1.ops }
    }
  }),
  "append-100": () => {
    return {
      warmup: (c) => c.appendBatches(unique("warm100"), sizes.append100.warmup, kibBatch),
      measure: async (c, lat) => {
        await c.appendBatches(unique("append100"), sizes.append100.ops, kibBatch, lat)
        return { events: sizes.append100.ops * 100, ops: sizes.append100.ops }
      }
    }
  },
  "append-multi": () => {
    const { ops, warmup } = sizes.appendMulti ?? { ops: 3_000, warmup: 300 }
    const names = (prefix: string) => [unique(`${prefix}a`), unique(`${prefix}b`), unique(`${prefix}c`)]
    return {
      warmup: (c) => c.appendMulti(names("warmm"), warmup, smallPayload),
      measure: async (c, lat) => {
        await c.appendMulti(names("multi"), ops, smallPayload, lat)
        return { events: ops * 3, ops }
      }
    }
  },
  "append-concurrent": () => {
    const { appenders, ops, warmup } = sizes.appendConcurrent
    const names = (prefix: string) => Array.from({ length: appenders }, (_, i) => unique(`${prefix}${i}`))
    return {
      warmup: (c) => c.appendConcurrent(names("warmc"), Math.ceil(warmup / appenders), smallPayload),
      measure: async (c, lat) => {
        const perStream = Math.ceil(ops / appenders)
        await c.appendConcurrent(names("conc"), perStream, smallPayload, lat)
        return { events: perStream * appenders, ops: perStream * appenders }
      }
    }
  },
  "read-stream": () => {
    const stream = rss ? SEED.rssStream : SEED.readStream
    const events = rss ? SEED.rssEvents : sizes.readStream.events
    return {
      warmup: (c) => c.readStream(stream, sizes.readStream.warmup),
      measure: async (c) => ({ events: expect(await c.readStream(stream, events), events), ops: 1 })
    }
  },
  "read-all": () => {
    const events = rss ? SEED.rssEvents : sizes.readAll.events
    return {
      warmup: (c) => c.readAll(sizes.readAll.warmup),
      measure: async (c) => ({ events: expect(await c.readAll(events), events), ops: 1 })
    }
  },
  "subscribe-all": () => {
    const events = rss ? SEED.rssEvents : sizes.subscribeAll.events
    return {
      warmup: (c) => c.subscribeAll(sizes.subscribeAll.warmup),
      measure: async (c) => ({ events: expect(await c.subscribeAll(events), events), ops: 1 })
    }
  },
  // a fresh group per sample on the seeded read stream, from its start, created before the window
  persistent: () => {
    const { events, warmup } = sizes.persistent ?? FULL_SIZES.persistent!
    const warmGroup = unique("warm")
    const group = unique("group")
    return {
      warmup: async (c) => {
        await c.createPersistent(SEED.readStream, warmGroup)
        return c.persistent(SEED.readStream, warmGroup, warmup)
      },
      prepare: (c) => c.createPersistent(SEED.readStream, group),
      measure: async (c) => ({ events: expect(await c.persistent(SEED.readStream, group, events), events), ops: 1 })
    }
  }
}

const expect = (seen: number, wanted: number): number => {
  if (seen !== wanted) throw new Error(`${clientName}/${workload}: saw ${seen} events, expected ${wanted}`)
  return seen
}

const main = async () => {
  const plan = plans[workload]()
  const client = await openClient()
  await plan.warmup(client)
  await plan.prepare?.(client)
  // let the warm-up's garbage and timers settle before measuring
  ;(globalThis as { gc?: () => void }).gc?.()
  await new Promise((resolve) => setTimeout(resolve, 50))

  const memBefore = process.memoryUsage()
  const rssBefore = memBefore.rss
  const rssSamples: Array<number> = []
  const peak = { heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 }
  const sampler = rss
    ? setInterval(() => {
      const m = process.memoryUsage()
      rssSamples.push(m.rss)
      peak.heapTotal = Math.max(peak.heapTotal, m.heapTotal)
      peak.heapUsed = Math.max(peak.heapUsed, m.heapUsed)
      peak.external = Math.max(peak.external, m.external)
      peak.arrayBuffers = Math.max(peak.arrayBuffers, m.arrayBuffers)
    }, 100)
    : undefined

  const latencies: Array<number> = []
  let session: Session | undefined
  if (profileFile !== undefined) {
    session = new Session()
    session.connect()
    await session.post("Profiler.enable")
    await session.post("Profiler.setSamplingInterval", { interval: 200 })
    await session.post("Profiler.start")
  }
  // BENCH_PROFILE_NODE=<file>: profile the node process over the measured window too
  const nodeProfile = process.env["BENCH_PROFILE_NODE"]
  if (nodeProfile !== undefined && cpuUrl) await fetch(new URL("/profile/start", cpuUrl))
  const node0 = await nodeCpuMs(cpuUrl)
  const cpu0 = process.cpuUsage()
  const busy0 = machineBusyMs()
  const t0 = performance.now()
  const { events, ops } = await plan.measure(client, latencies)
  const wallMs = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  const busy = machineBusyMs() - busy0
  const node1 = await nodeCpuMs(cpuUrl)
  if (nodeProfile !== undefined && cpuUrl) await fetch(new URL(`/profile/stop?file=${encodeURIComponent(resolve(nodeProfile))}`, cpuUrl))
  if (session !== undefined && profileFile !== undefined) {
    const { profile } = await session.post("Profiler.stop")
    writeFileSync(profileFile, JSON.stringify(profile))
    session.disconnect()
  }
  if (sampler !== undefined) clearInterval(sampler)
  const usage = process.resourceUsage()
  const heapUsedMB = process.memoryUsage().heapUsed / 2 ** 20

  latencies.sort((a, b) => a - b)
  const sample: Sample & { rss?: unknown } = {
    client: clientName,
    workload,
    framing,
    variant,
    events,
    ops,
    wallMs,
    cpuUserMs: cpu.user / 1000,
    cpuSystemMs: cpu.system / 1000,
    maxRssMB: usage.maxRSS / 1024,
    heapUsedMB,
    nodeCpuMs: node0 === null || node1 === null ? null : node1 - node0,
    otherCpuMs: Math.max(0, busy - cpu.user / 1000 - cpu.system / 1000 - (node0 === null || node1 === null ? 0 : node1 - node0)),
    latency: latencies.length === 0
      ? null
      : {
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        mean: latencies.reduce((a, b) => a + b, 0) / latencies.length,
        max: latencies[latencies.length - 1]!
      },
    checksum: client.checksum(),
    ...(rss
      ? {
        rss: {
          beforeMB: rssBefore / 2 ** 20,
          peakMB: Math.max(usage.maxRSS / 1024, ...rssSamples.map((r) => r / 2 ** 20)),
          samplesMB: rssSamples.filter((_, i) => i % 5 === 0).map((r) => Math.round(r / 2 ** 20)),
          peakHeapTotalMB: peak.heapTotal / 2 ** 20,
          peakHeapUsedMB: peak.heapUsed / 2 ** 20,
          peakExternalMB: peak.external / 2 ** 20,
          peakArrayBuffersMB: peak.arrayBuffers / 2 ** 20,
          heapTotalBeforeMB: memBefore.heapTotal / 2 ** 20,
          externalBeforeMB: memBefore.external / 2 ** 20
        }
      }
      : {})
  }
  await client.close()
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(sample)}\n`)
  process.exit(0)
}

main().catch((error: unknown) => {
  process.stderr.write(`worker ${clientName}/${workload}/${framing}/${variant} failed: ${error instanceof Error ? error.stack : String(error)}\n`)
  process.exit(1)
})
