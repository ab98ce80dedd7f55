/**
 * `npm run bench [-- --quick | --rss] [--samples N] [--clients a,b] [--workloads a,b] [--framings a,b] [--variants json,binary] [--out name] [--db]`
 *
 * `--db` starts the node with its log in files (a fresh temporary directory, fsync before each
 * acknowledgement) instead of in memory.
 *
 * Starts the embedded node in its own process (one per read framing and variant, plus a fresh one
 * per client and round of appends), or uses ESDB_URI when set; seeds it; measures every client × workload ×
 * variant in its own process (rounds interleave the clients, and each client runs both variants
 * back to back, so drift hits them alike); writes bench/results/latest.json and regenerates the
 * results section of BENCHMARKS.md. With `--out <name>`, the results go to bench/results/<name>
 * instead and BENCHMARKS.md is left alone (the tables are printed).
 *
 * Variants (reads and subscriptions): `json`, events are application/json and every client hands
 * its consumer the parsed data; `binary`, the same bytes as application/octet-stream, which
 * nobody parses. Against ESDB_URI, pass a single `--variants` value and a server seeded with it.
 *
 * `--snapshot` runs all that on a copy of the committed tree (HEAD), immune to commits landing
 * meanwhile; with `--ref <commit>` the copy's src/ comes from that commit (before/after figures),
 * and `--out <name>` stores the results as bench/results/<name> instead of latest.json.
 *
 * `--rss` instead streams 1,000,000 events through a read and a subscription per client and
 * records RSS growth in bench/results/rss.json (BENCHMARKS.md is regenerated from both files).
 */
import { execSync, spawn } from "node:child_process"
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { cpus, tmpdir, totalmem } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import {
  APPEND_WORKLOADS,
  type ClientName,
  type Framing,
  FULL_SIZES,
  PERSISTENT_WORKLOADS,
  QUICK_SIZES,
  READ_WORKLOADS,
  RESULT_PREFIX,
  type Sample,
  type Variant,
  VARIANTS,
  type Workload,
  WORKLOADS
} from "./lib/common.ts"
import { runChild, seedTarget, startNodeProcess, type Target } from "./lib/procs.ts"
import { type Meta, renderMarkdown, type Results, type RssResults, updateBenchmarksMd } from "./lib/report.ts"

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, "..")
const resultsDir = join(here, "results")

const args = process.argv.slice(2)
const flag = (name: string) => args.includes(name)
const option = (name: string): string | undefined => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : undefined
}
const listOption = <T extends string>(name: string, all: ReadonlyArray<T>): ReadonlyArray<T> => {
  const value = option(name)
  return value === undefined ? all : value.split(",").filter((v): v is T => (all as ReadonlyArray<string>).includes(v))
}

const quick = flag("--quick")
const rssMode = flag("--rss")
const samples = Number(option("--samples") ?? (quick ? 1 : 4))
const external = process.env["ESDB_URI"]
const framings: ReadonlyArray<Framing> = external !== undefined ? ["external"] : listOption("--framings", ["message", "coalesced"] as const)
const workloads = listOption("--workloads", WORKLOADS)
const variants = listOption("--variants", VARIANTS)
if (external !== undefined && variants.length > 1) {
  throw new Error("against ESDB_URI, pass one --variants value (json or binary) and a server seeded with it")
}
const outName = option("--out")
const readClients = listOption("--clients", ["effect", "official", "floor"] as ReadonlyArray<ClientName>)
  .filter((c) => c !== "floor-append" && c !== "effect-notrace")
const appendClients = listOption("--clients", ["effect", "effect-notrace", "official", "floor", "floor-append"] as ReadonlyArray<ClientName>)

const log = (line: string) => process.stderr.write(`${line}\n`)
const startTarget = (framing: Framing) => startNodeProcess(framing, external, flag("--db") ? ["--db"] : [])
const seed = (target: Target, rss: boolean, variant: Variant) => seedTarget(target, quick ? QUICK_SIZES : FULL_SIZES, rss, variant)

interface Failure {
  readonly client: ClientName
  readonly workload: Workload
  readonly framing: Framing
  readonly variant: Variant
  readonly error: string
}

const measure = async (
  client: ClientName,
  workload: Workload,
  target: Target,
  round: number,
  variant: Variant,
  extra: ReadonlyArray<string> = []
): Promise<(Sample & { round: number }) | Failure> => {
  const childArgs = [
    client,
    workload,
    target.framing,
    target.connectionString,
    target.cpuUrl ?? "",
    "--variant",
    variant,
    ...(quick ? ["--quick"] : []),
    ...extra
  ]
  try {
    const out = await runChild("worker.ts", childArgs)
    const line = out.split("\n").find((l) => l.startsWith(RESULT_PREFIX))
    if (line === undefined) throw new Error("no result line")
    const sample = { ...(JSON.parse(line.slice(RESULT_PREFIX.length)) as Sample), round }
    const cpu = ((sample.cpuUserMs + sample.cpuSystemMs) / sample.events) * 1000
    const node = sample.nodeCpuMs === null ? "" : ` node ${((sample.nodeCpuMs * 1000) / sample.events).toFixed(1)} µs/ev (${Math.round((sample.nodeCpuMs / sample.wallMs) * 100)}%)`
    const lat = sample.latency === null ? "" : ` p50 ${sample.latency.p50.toFixed(2)} p99 ${sample.latency.p99.toFixed(2)} ms`
    const other = ` other ${Math.round((sample.otherCpuMs / sample.wallMs) * 100)}%`
    log(`  [${round}] ${client.padEnd(12)} ${workload.padEnd(17)} ${target.framing.padEnd(9)} ${variant.padEnd(6)} ${Math.round((sample.events / sample.wallMs) * 1000).toLocaleString("en-US").padStart(9)} ev/s  cpu ${cpu.toFixed(1)} ms/1k  rss ${Math.round(sample.maxRssMB)} MB${node}${lat}${other}`)
    return sample
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    log(`  [${round}] ${client} ${workload} ${target.framing} ${variant} FAILED: ${message}`)
    return { client, workload, framing: target.framing, variant, error: message }
  }
}

const rotate = <A>(items: ReadonlyArray<A>, by: number): Array<A> => items.map((_, i) => items[(i + by) % items.length]!)

// ------------------------------------------------------------------------------------------------
// Metadata
// ------------------------------------------------------------------------------------------------

const pkgVersion = (name: string): string => {
  try {
    return (JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8")) as { version: string }).version
  } catch {
    return "?"
  }
}

const sh = (command: string): string => {
  try {
    return execSync(command, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim()
  } catch {
    return "?"
  }
}

const collectMeta = (started: Date, finished: Date): Meta => ({
  date: finished.toISOString(),
  durationSeconds: Math.round((finished.getTime() - started.getTime()) / 1000),
  mode: quick ? "quick" : "full",
  samples,
  target: external !== undefined ? "external (ESDB_URI)" : "embedded node (separate process)",
  machine: {
    nproc: Number(sh("nproc")) || cpus().length,
    cpuModel: cpus()[0]?.model ?? "?",
    memoryGB: Math.round(totalmem() / 2 ** 30)
  },
  node: process.version,
  commit: process.env["BENCH_COMMIT"] ?? sh("git rev-parse --short HEAD"),
  packages: {
    "effect-esdb": (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version,
    effect: pkgVersion("effect"),
    "@grpc/grpc-js": pkgVersion("@grpc/grpc-js"),
    "@bufbuild/protobuf": pkgVersion("@bufbuild/protobuf"),
    "ts-proto": pkgVersion("ts-proto"),
    "@kurrent/kurrentdb-client": pkgVersion("@kurrent/kurrentdb-client"),
    "@kurrent/bridge": pkgVersion("@kurrent/bridge")
  },
  sizes: quick ? QUICK_SIZES : FULL_SIZES
})

// ------------------------------------------------------------------------------------------------
// Runs
// ------------------------------------------------------------------------------------------------

const runMain = async () => {
  const started = new Date()
  const all: Array<Sample & { round: number }> = []
  const failures: Array<Failure> = []
  const keep = (result: (Sample & { round: number }) | Failure) => {
    if ("error" in result) failures.push(result)
    else all.push(result)
  }

  const reads = READ_WORKLOADS.filter((w) => workloads.includes(w))
  if (reads.length > 0) {
    for (const framing of framings) {
      // one node per variant (the read workloads start at $all's start), all up for the whole
      // framing so each client runs every variant in the same round
      const targets: Array<readonly [Variant, Target]> = []
      try {
        for (const variant of variants) {
          const target = await startTarget(framing)
          targets.push([variant, target])
          await seed(target, false, variant)
        }
        for (let round = 0; round < samples; round++) {
          for (const client of rotate(readClients, round)) {
            for (const [variant, target] of rotate(targets, round)) {
              for (const workload of reads) keep(await measure(client, workload, target, round, variant))
            }
          }
        }
      } finally {
        for (const [, target] of targets) await target.stop()
      }
    }
  }

  // persistent subscriptions: one node per variant (first framing), only the read stream seeded;
  // each sample creates its own group on it (bench/worker.ts)
  const persistents = PERSISTENT_WORKLOADS.filter((w) => workloads.includes(w))
  if (persistents.length > 0) {
    const framing = framings[0]!
    const sizes = quick ? QUICK_SIZES : FULL_SIZES
    const events = Math.max(sizes.readStream.events + sizes.readStream.warmup, (sizes.persistent?.events ?? 0) + (sizes.persistent?.warmup ?? 0))
    const targets: Array<readonly [Variant, Target]> = []
    try {
      for (const variant of variants) {
        const target = await startTarget(framing)
        targets.push([variant, target])
        log(`seeding ${framing} node with ${variant} events (the read stream only)...`)
        await runChild("seed.ts", [target.connectionString, "--stream", String(events), "--all", String(events), "--variant", variant])
      }
      for (let round = 0; round < samples; round++) {
        for (const client of rotate(readClients, round)) {
          for (const [variant, target] of rotate(targets, round)) {
            for (const workload of persistents) keep(await measure(client, workload, target, round, variant))
          }
        }
      }
    } finally {
      for (const [, target] of targets) await target.stop()
    }
  }

  const appends = APPEND_WORKLOADS.filter((w) => workloads.includes(w))
  if (appends.length > 0) {
    for (let round = 0; round < samples; round++) {
      for (const client of rotate(appendClients, round)) {
        // a fresh node per client and round: a client measured after another one would otherwise
        // pay for what that one left in the node (its events, and after the Append RPC client,
        // thousands of closed calls), which showed as up to 1.5x node CPU per append
        const target = await startTarget(external !== undefined ? "external" : "message")
        try {
          for (const workload of appends) keep(await measure(client, workload, target, round, "json"))
        } finally {
          await target.stop()
        }
      }
    }
  }

  const meta = collectMeta(started, new Date())
  const results: Results = { meta, samples: all, failures }
  mkdirSync(resultsDir, { recursive: true })
  const file = outName ?? "latest.json"
  writeFileSync(join(resultsDir, file), `${JSON.stringify(results, null, 2)}\n`)
  log(`wrote bench/results/${file} (${all.length} samples, ${failures.length} failures) in ${meta.durationSeconds} s`)
  if (outName === undefined) regenerate()
  else process.stdout.write(`${renderMarkdown(results, readJson<RssResults>("rss.json"))}\n`)
}

const runRss = async () => {
  const started = new Date()
  const target = await startTarget(external !== undefined ? "external" : "message")
  const all: Array<Sample & { round: number }> = []
  const failures: Array<Failure> = []
  try {
    await seed(target, true, "json")
    for (const client of readClients) {
      for (const workload of ["read-stream", "subscribe-all"] as const) {
        const result = await measure(client, workload, target, 0, "json", ["--rss"])
        if ("error" in result) failures.push(result)
        else all.push(result)
      }
    }
  } finally {
    await target.stop()
  }
  const rss: RssResults = { meta: collectMeta(started, new Date()), samples: all, failures }
  mkdirSync(resultsDir, { recursive: true })
  writeFileSync(join(resultsDir, "rss.json"), `${JSON.stringify(rss, null, 2)}\n`)
  log(`wrote bench/results/rss.json in ${rss.meta.durationSeconds} s`)
  regenerate()
}

const readJson = <A>(file: string): A | undefined =>
  existsSync(join(resultsDir, file)) ? (JSON.parse(readFileSync(join(resultsDir, file), "utf8")) as A) : undefined

const regenerate = () => {
  const results = readJson<Results>("latest.json")
  const rss = readJson<RssResults>("rss.json")
  const markdown = renderMarkdown(results, rss)
  updateBenchmarksMd(join(root, "BENCHMARKS.md"), markdown)
  log("updated BENCHMARKS.md")
  process.stdout.write(`${markdown}\n`)
}

/**
 * `--snapshot`: runs the benchmark on a copy of the committed tree (`git archive HEAD`), so commits
 * landing during the run cannot mix versions; results come back to this tree's bench/results.
 */
const runSnapshot = async () => {
  // --ref <commit>: measure src/ (only) as of that commit, with this harness
  const ref = option("--ref")
  const commit = ref === undefined ? sh("git rev-parse --short HEAD") : `${sh(`git rev-parse --short ${ref}`)}-src`
  const dir = join(tmpdir(), `effect-esdb-bench-${commit}`)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  execSync(`git archive HEAD | tar -x -C ${JSON.stringify(dir)}`, { cwd: root, stdio: "inherit" })
  if (ref !== undefined) {
    rmSync(join(dir, "src"), { recursive: true, force: true })
    execSync(`git archive ${ref} src | tar -x -C ${JSON.stringify(dir)}`, { cwd: root, stdio: "inherit" })
  }
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"))
  log(`running on a snapshot of ${commit} in ${dir}`)
  const rest = args.filter((a, i) => a !== "--snapshot" && a !== "--ref" && args[i - 1] !== "--ref" && a !== "--out" && args[i - 1] !== "--out")
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, join(dir, "bench", "run.ts"), ...rest], {
      cwd: dir,
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...process.env, BENCH_COMMIT: commit }
    })
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`the snapshot run exited with ${code}`))))
  })
  mkdirSync(resultsDir, { recursive: true })
  const file = rssMode ? "rss.json" : "latest.json"
  // --out <name>: keep the results under another name (e.g. before/after figures), leaving latest.json
  const out = option("--out")
  copyFileSync(join(dir, "bench", "results", file), join(resultsDir, out ?? file))
  rmSync(dir, { recursive: true, force: true })
  if (out === undefined) regenerate()
}

const main = flag("--report-only")
  ? async () => regenerate()
  : flag("--snapshot")
  ? runSnapshot
  : rssMode
  ? runRss
  : runMain
main().then(
  () => process.exit(0),
  (error: unknown) => {
    log(`bench failed: ${error instanceof Error ? error.stack : String(error)}`)
    process.exit(1)
  }
)
