/**
 * The embedded node's own CPU per append (and per event read), measured without the full benchmark:
 * for each round, each tree (this one, and optionally a baseline) and each workload it starts a fresh
 * node (bench/node.ts of that tree, in its own process), runs one bench worker (a client of this tree)
 * against it and reads the node's `process.cpuUsage()` over the measured window through the node's
 * side channel. Trees alternate within a round (A, B, A, B …), so neighbours' load hits both alike;
 * the report is the median per tree and workload, with the node's share of one core over the window.
 *
 *   npm run bench:node -- [--rounds 5] [--client floor] [--workloads append-1,append-concurrent,append-100]
 *                         [--db] [--memory-and-db] [--base <dir>] [--quick] [--out nodeperf-x.json]
 *
 * `--base <dir>`: a copy of another tree (e.g. `git archive <commit> | tar -x -C <dir>`, with a
 * node_modules link) whose node is measured beside this one. `--db`: the node keeps its log on disk
 * (a fresh temporary directory per node); `--memory-and-db` measures both. Read and persistent workloads seed the node
 * first. Prints a table and writes bench/results/<out> when `--out` is given. Measures only; nothing
 * here asserts a speed.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import { loadavg } from "node:os"
import { join, resolve } from "node:path"
import { createInterface } from "node:readline"
import { CONSUME_WORKLOADS, FULL_SIZES, QUICK_SIZES, READY_PREFIX, RESULT_PREFIX, type Sample, type Workload } from "./lib/common.ts"
import { benchDir, rootDir, runChild, seedTarget, type Target } from "./lib/procs.ts"

const args = process.argv.slice(2)
const option = (name: string): string | undefined => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : undefined
}
const rounds = Number(option("--rounds") ?? 5)
const client = option("--client") ?? "floor"
const workloads = (option("--workloads") ?? "append-1,append-concurrent,append-100").split(",") as Array<Workload>
const quick = args.includes("--quick")
const storages: Array<"memory" | "db"> = args.includes("--memory-and-db") ? ["memory", "db"] : args.includes("--db") ? ["db"] : ["memory"]
const base = option("--base")
const out = option("--out")
const trees: Array<{ readonly name: string; readonly root: string }> = [
  ...(base === undefined ? [] : [{ name: "base", root: resolve(base) }]),
  { name: "this", root: rootDir }
]

const children = new Set<ChildProcess>()
process.on("exit", () => {
  for (const child of children) child.kill("SIGTERM")
})

/** Starts `<root>/bench/node.ts` (message framing), optionally with `--db`. */
const startNode = (root: string, db: boolean): Promise<Target> =>
  new Promise((done, reject) => {
    const child = spawn(process.execPath, ["--experimental-strip-types", "--no-warnings", join(root, "bench", "node.ts"), "message", ...(db ? ["--db"] : [])], {
      cwd: root,
      stdio: ["pipe", "pipe", "inherit"]
    })
    children.add(child)
    const timer = setTimeout(() => reject(new Error("the node did not start within 30 s")), 30_000)
    child.on("exit", (code) => {
      children.delete(child)
      clearTimeout(timer)
      reject(new Error(`the node exited with ${code}`))
    })
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (!line.startsWith(READY_PREFIX)) return
      clearTimeout(timer)
      const ready = JSON.parse(line.slice(READY_PREFIX.length)) as { connectionString: string; cpuUrl: string }
      done({
        framing: "message",
        connectionString: ready.connectionString,
        cpuUrl: ready.cpuUrl,
        stop: () =>
          new Promise<void>((stopped) => {
            child.removeAllListeners("exit")
            child.on("exit", () => {
              children.delete(child)
              stopped()
            })
            child.stdin!.end()
            setTimeout(() => child.kill("SIGKILL"), 5_000).unref()
          })
      })
    })
  })

interface Cell {
  readonly tree: string
  readonly storage: "memory" | "db"
  readonly workload: Workload
  readonly events: number
  readonly eventsPerSecond: number
  readonly opsPerSecond: number
  readonly nodeCpuUsPerEvent: number
  readonly nodeCpuUsPerOp: number
  readonly nodeCoreShare: number
  readonly clientCoreShare: number
  readonly otherCoreShare: number
  readonly loadavg1: number
}

const measure = async (tree: { name: string; root: string }, storage: "memory" | "db", workload: Workload): Promise<Cell> => {
  const target = await startNode(tree.root, storage === "db")
  try {
    if (CONSUME_WORKLOADS.includes(workload)) await seedTarget(target, quick ? QUICK_SIZES : FULL_SIZES, false)
    const stdout = await runChild("worker.ts", [client, workload, "message", target.connectionString, target.cpuUrl ?? "", ...(quick ? ["--quick"] : [])])
    const line = stdout.split("\n").find((l) => l.startsWith(RESULT_PREFIX))
    if (line === undefined) throw new Error(`no result from the worker: ${stdout}`)
    const s = JSON.parse(line.slice(RESULT_PREFIX.length)) as Sample
    const nodeMs = s.nodeCpuMs ?? Number.NaN
    return {
      tree: tree.name,
      storage,
      workload,
      events: s.events,
      eventsPerSecond: (s.events / s.wallMs) * 1000,
      opsPerSecond: (s.ops / s.wallMs) * 1000,
      nodeCpuUsPerEvent: (nodeMs / s.events) * 1000,
      nodeCpuUsPerOp: (nodeMs / s.ops) * 1000,
      nodeCoreShare: nodeMs / s.wallMs,
      clientCoreShare: (s.cpuUserMs + s.cpuSystemMs) / s.wallMs,
      otherCoreShare: s.otherCpuMs / s.wallMs,
      loadavg1: loadavg()[0]!
    }
  } finally {
    await target.stop()
  }
}

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

const main = async () => {
  const startedAt = new Date().toISOString()
  const loadBefore = readFileSync("/proc/loadavg", "utf8").trim()
  const cells: Array<Cell> = []
  for (let round = 0; round < rounds; round++) {
    for (const storage of storages) {
      for (const workload of workloads) {
        // alternate which tree goes first, so neither always runs on the warmer machine
        const order = round % 2 === 0 ? trees : [...trees].reverse()
        for (const tree of order) {
          const cell = await measure(tree, storage, workload)
          cells.push(cell)
          process.stderr.write(
            `round ${round + 1}/${rounds} ${tree.name} ${storage} ${workload}: node ${cell.nodeCpuUsPerOp.toFixed(1)} µs/op, ` +
              `${(cell.nodeCoreShare * 100).toFixed(0)}% of a core, ${Math.round(cell.opsPerSecond)} ops/s (load ${cell.loadavg1.toFixed(2)})\n`
          )
        }
      }
    }
  }
  const summary: Array<Record<string, unknown>> = []
  const lines = [
    `| workload | storage | tree | ops/s | events/s | node CPU µs/op | node CPU µs/event | node core share (median, max) | client core share | other processes | load avg (1 min) |`,
    `|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|`
  ]
  for (const storage of storages) {
    for (const workload of workloads) {
      for (const tree of trees) {
        const cs = cells.filter((c) => c.tree === tree.name && c.storage === storage && c.workload === workload)
        const row = {
          workload,
          storage,
          tree: tree.name,
          samples: cs.length,
          opsPerSecond: median(cs.map((c) => c.opsPerSecond)),
          eventsPerSecond: median(cs.map((c) => c.eventsPerSecond)),
          nodeCpuUsPerOp: median(cs.map((c) => c.nodeCpuUsPerOp)),
          nodeCpuUsPerOpRange: [Math.min(...cs.map((c) => c.nodeCpuUsPerOp)), Math.max(...cs.map((c) => c.nodeCpuUsPerOp))],
          nodeCpuUsPerEvent: median(cs.map((c) => c.nodeCpuUsPerEvent)),
          nodeCoreShare: median(cs.map((c) => c.nodeCoreShare)),
          nodeCoreShareMax: Math.max(...cs.map((c) => c.nodeCoreShare)),
          clientCoreShare: median(cs.map((c) => c.clientCoreShare)),
          otherCoreShare: median(cs.map((c) => c.otherCoreShare)),
          loadavg1: median(cs.map((c) => c.loadavg1))
        }
        summary.push(row)
        const pct = (x: number) => `${(x * 100).toFixed(0)}%`
        lines.push(
          `| ${workload} | ${storage} | ${tree.name} | ${Math.round(row.opsPerSecond).toLocaleString("en-US")} | ${Math.round(row.eventsPerSecond).toLocaleString("en-US")} | ` +
            `${row.nodeCpuUsPerOp.toFixed(1)} [${row.nodeCpuUsPerOpRange[0]!.toFixed(1)}–${row.nodeCpuUsPerOpRange[1]!.toFixed(1)}] | ${row.nodeCpuUsPerEvent.toFixed(1)} | ` +
            `${pct(row.nodeCoreShare)}, ${pct(row.nodeCoreShareMax)} | ${pct(row.clientCoreShare)} | ${pct(row.otherCoreShare)} | ${row.loadavg1.toFixed(2)} |`
        )
      }
    }
  }
  process.stdout.write(`${lines.join("\n")}\n`)
  if (out !== undefined) {
    const file = join(benchDir, "results", out)
    writeFileSync(
      file,
      `${JSON.stringify({ startedAt, finishedAt: new Date().toISOString(), loadavgBefore: loadBefore, loadavgAfter: readFileSync("/proc/loadavg", "utf8").trim(), client, rounds, quick, trees, summary, cells }, null, 2)}\n`
    )
    process.stderr.write(`wrote ${file}\n`)
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`)
    process.exit(1)
  }
)
