/**
 * The statistics a node reports through `Monitoring.Stats`: a subset of a real node's keys,
 * each with a value measured here (nothing invented), flat and as strings
 * (`useMetadata = false`, values `ToString()`ed).
 *
 * Sources (kurrent-io/KurrentDB): `src/KurrentDB.Core/Services/Monitoring/SystemStatsHelper.cs`
 * (`proc-*`, `sys-*`, `es-checksum*`, `sys-drive-<disk>-*`, `es-queue-<queue>-*`),
 * `src/KurrentDB.Core/Services/Monitoring/MonitoringService.cs` (stats collected at most once a
 * second: `MemoizePeriod`).
 *
 * Reported: `proc-startTime`, `proc-id`, `proc-mem` (resident set), `proc-cpu` (percent of all
 * cores since the previous collection), `proc-threadsCount` (Linux), `proc-gc-totalBytesInHeaps`,
 * `proc-gc-largeHeapSize`, `proc-diskIo-readOps`/`writeOps`, `proc-diskIo-readBytes`/
 * `writtenBytes` (Linux), `proc-tcp-connections`, `sys-cpu`, `sys-loadavg-1m/5m/15m`,
 * `sys-freeMem`, `sys-totalMem`, `es-checksum`, `es-checksumNonFlushed`, `sys-drive-<mount>-
 * availableBytes/totalBytes/usage/usedBytes` for the database's disk, and the queue stats of the
 * node's one writer as `es-queue-StorageWriterQueue-*` (`queueName`, `groupName`,
 * `totalItemsProcessed` = records written, `avgItemsPerSecond` since the previous collection,
 * `length` = writes not yet durable is not tracked and left out). Not reported: the .NET GC
 * generations, contention and exception rates, TCP speeds, the other queues.
 *
 * HTTP `/stats` serves the same collection ({@link StatsCollector.collectValues}: numbers as
 * numbers) grouped as a real node groups it ({@link groupStats}, `StatsContainer.Group`). Constant
 * by nature: `proc-startTime`, `proc-id`, `sys-totalMem`, and the writer queue's `queueName` and
 * `groupName` (""): this node has one writer and no message bus, so there is one queue to report.
 *
 * @since 0.1.0
 */
import { readFileSync, statfsSync } from "node:fs"
import * as os from "node:os"
import { resolve } from "node:path"
import { getHeapSpaceStatistics } from "node:v8"

/**
 * What the collector reads from the node.
 *
 * @since 0.1.0
 * @category models
 */
export interface StatsSource {
  /** The writer checkpoint (position after the last record). */
  readonly checkpoint: () => number
  /** Records written so far. */
  readonly records: () => number
  /** Open connections. */
  readonly connections: () => number
  /** The directory of the database (or the working directory in memory). */
  readonly dbPath: string
}

/** A .NET round-trip ("O") UTC date: seven fraction digits. */
const roundTrip = (ms: number): string => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$10000Z")

const readProc = (file: string): string | undefined => {
  try {
    return readFileSync(file, "utf8")
  } catch {
    return undefined
  }
}

/** The mount point holding `path` (the longest matching one), as `DriveStats.GetDriveInfo` picks it. */
const mountOf = (path: string): string => {
  const mounts = readProc("/proc/mounts")
  if (mounts === undefined) return "/"
  let best = "/"
  for (const line of mounts.split("\n")) {
    const point = line.split(" ")[1]
    if (point === undefined) continue
    const prefix = point.endsWith("/") ? point : point + "/"
    if ((path + "/").startsWith(prefix) && point.length > best.length) best = point
  }
  return best
}

const systemCpuTimes = (): { idle: number; total: number } => {
  let idle = 0
  let total = 0
  for (const cpu of os.cpus()) {
    const t = cpu.times
    idle += t.idle
    total += t.user + t.nice + t.sys + t.idle + t.irq
  }
  return { idle, total }
}

/**
 * Collects the stats of one node; `collect` takes the time now (the caller's Clock) and answers
 * the same map for a second after a collection, as a real node memoizes them.
 *
 * @since 0.1.0
 * @category models
 */
export class StatsCollector {
  private readonly source: StatsSource
  private readonly startTime = roundTrip(Date.now() - process.uptime() * 1000)
  private readonly dbPath: string
  private readonly drive: string
  private last: { atMs: number; cpu: NodeJS.CpuUsage; wallUs: bigint; sys: { idle: number; total: number }; records: number } | undefined
  private memo: { atMs: number; stats: ReadonlyMap<string, string>; values: ReadonlyMap<string, number | string> } | undefined

  constructor(source: StatsSource) {
    this.source = source
    this.dbPath = resolve(source.dbPath)
    this.drive = mountOf(this.dbPath)
  }

  /** The stats at `nowMs` (a fresh collection at most once a second), as strings (`Monitoring.Stats`). */
  collect(nowMs: number): ReadonlyMap<string, string> {
    return this.collected(nowMs).stats
  }

  /** The same stats with their values as measured: numbers as numbers (HTTP `/stats`). */
  collectValues(nowMs: number): ReadonlyMap<string, number | string> {
    return this.collected(nowMs).values
  }

  private collected(nowMs: number): { readonly stats: ReadonlyMap<string, string>; readonly values: ReadonlyMap<string, number | string> } {
    if (this.memo !== undefined && nowMs - this.memo.atMs < 1000 && nowMs >= this.memo.atMs) return this.memo
    const stats = new Map<string, string>()
    const values = new Map<string, number | string>()
    const set = (key: string, value: number | string | bigint) => {
      stats.set(key, String(value))
      values.set(key, typeof value === "bigint" ? Number(value) : value)
    }
    const mem = process.memoryUsage()
    const cpu = process.cpuUsage()
    const wallUs = process.hrtime.bigint() / 1000n
    const sys = systemCpuTimes()
    const records = this.source.records()
    const previous = this.last
    const cores = Math.max(1, os.cpus().length)

    set("proc-startTime", this.startTime)
    set("proc-id", process.pid)
    set("proc-mem", mem.rss)
    if (previous !== undefined) {
      const elapsedUs = Number(wallUs - previous.wallUs)
      const usedUs = cpu.user - previous.cpu.user + cpu.system - previous.cpu.system
      set("proc-cpu", elapsedUs > 0 ? Math.min(100, (usedUs / (elapsedUs * cores)) * 100) : 0)
      const total = sys.total - previous.sys.total
      set("sys-cpu", total > 0 ? (1 - (sys.idle - previous.sys.idle) / total) * 100 : 0)
    } else {
      set("proc-cpu", 0)
      set("sys-cpu", 0)
    }
    const threads = readProc("/proc/self/status")?.match(/^Threads:\s+(\d+)/m)?.[1]
    if (threads !== undefined) set("proc-threadsCount", Number(threads))
    set("proc-gc-totalBytesInHeaps", mem.heapUsed)
    const large = getHeapSpaceStatistics().find((s) => s.space_name === "large_object_space")
    if (large !== undefined) set("proc-gc-largeHeapSize", large.space_used_size)
    const usage = process.resourceUsage()
    set("proc-diskIo-readOps", usage.fsRead)
    set("proc-diskIo-writeOps", usage.fsWrite)
    const io = readProc("/proc/self/io")
    const ioField = (name: string) => io?.match(new RegExp(`^${name}:\\s+(\\d+)`, "m"))?.[1]
    const readBytes = ioField("read_bytes")
    const writtenBytes = ioField("write_bytes")
    if (readBytes !== undefined) set("proc-diskIo-readBytes", Number(readBytes))
    if (writtenBytes !== undefined) set("proc-diskIo-writtenBytes", Number(writtenBytes))
    set("proc-tcp-connections", this.source.connections())

    if (process.platform !== "win32") {
      const [one = 0, five = 0, fifteen = 0] = os.loadavg()
      set("sys-loadavg-1m", one)
      set("sys-loadavg-5m", five)
      set("sys-loadavg-15m", fifteen)
    }
    set("sys-freeMem", os.freemem())
    set("sys-totalMem", os.totalmem())

    const checkpoint = this.source.checkpoint()
    set("es-checksum", checkpoint)
    set("es-checksumNonFlushed", checkpoint)

    try {
      const fs = statfsSync(this.dbPath)
      const total = fs.blocks * fs.bsize
      const available = fs.bavail * fs.bsize
      const drive = this.drive.replace(/\\/g, "").replace(/:/g, "")
      set(`sys-drive-${drive}-availableBytes`, available)
      set(`sys-drive-${drive}-totalBytes`, total)
      set(`sys-drive-${drive}-usage`, total !== 0 ? Math.floor(((total - available) * 100) / total) : 0)
      set(`sys-drive-${drive}-usedBytes`, total - available)
    } catch {
      // DriveStats: no drive stats when the path cannot be read
    }

    const queue = (stat: string, value: number | string) => set(`es-queue-StorageWriterQueue-${stat}`, value)
    queue("queueName", "StorageWriterQueue")
    queue("groupName", "")
    queue("totalItemsProcessed", records)
    if (previous !== undefined && nowMs > previous.atMs) {
      queue("avgItemsPerSecond", Math.round(((records - previous.records) * 1000) / (nowMs - previous.atMs)))
    } else {
      queue("avgItemsPerSecond", 0)
    }

    this.last = { atMs: nowMs, cpu, wallUs, sys, records }
    this.memo = { atMs: nowMs, stats, values }
    return this.memo
  }
}

/**
 * A nested view of stats, as a real node's HTTP `/stats` groups them (`StatsContainer.Group`):
 * each key split at its first `-` into a group and the rest, recursively (`proc-gc-totalBytesInHeaps`
 * → `proc.gc.totalBytesInHeaps`).
 *
 * @since 0.1.0
 * @category models
 */
export interface StatsGroup {
  readonly [key: string]: number | string | StatsGroup
}

/**
 * Groups flat stats as a real node's HTTP `/stats` does (see {@link StatsGroup}).
 *
 * @since 0.1.0
 * @category grouping
 */
export const groupStats = (flat: Iterable<readonly [string, number | string]>): StatsGroup => {
  const top: Record<string, number | string | Array<readonly [string, number | string]>> = {}
  for (const [key, value] of flat) {
    const parts = key.split("-").filter((p) => p !== "")
    if (parts.length < 2) {
      top[key] = value
      continue
    }
    const group = parts[0]!
    const rest = parts.slice(1).join("-")
    const entries = top[group]
    if (Array.isArray(entries)) entries.push([rest, value])
    else top[group] = [[rest, value]]
  }
  const out: Record<string, number | string | StatsGroup> = {}
  for (const [key, value] of Object.entries(top)) out[key] = Array.isArray(value) ? groupStats(value) : value
  return out
}
