/**
 * Profiles one client × workload: starts a node (or uses ESDB_URI), seeds it, runs the worker with
 * the V8 sampling profiler on around the measured window only, and prints where the main thread's
 * time went (self time by package and by function).
 *
 *   node bench/profile.ts <client> <workload> [message|coalesced] [--quick]
 *   node bench/profile.ts --analyze <file.cpuprofile>
 *
 * Profiles are written to bench/results/tmp/<client>-<workload>-<framing>.cpuprofile (open them in
 * Chrome DevTools or speedscope for call trees).
 */
import { mkdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { type ClientName, FULL_SIZES, type Framing, QUICK_SIZES, RESULT_PREFIX, type Workload } from "./lib/common.ts"
import { benchDir, runChild, seedTarget, startNodeProcess } from "./lib/procs.ts"

interface ProfileNode {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  readonly children?: ReadonlyArray<number>
}

interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

/** Which package (or part of this repository) a script URL belongs to. */
const packageOf = (url: string, name: string): string => {
  if (url === "") {
    if (name === "(garbage collector)") return "GC"
    if (name === "(idle)") return "idle"
    if (name === "(program)") return "program (native, not JS)"
    return name === "" ? "native" : `native: ${name}`
  }
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (nm) return nm[1]!
  if (url.startsWith("node:")) return "node core"
  const src = /\/(src\/[^/]+\/[^/]+|src\/[^/]+|bench\/[^/]+(?:\/[^/]+)?)$/.exec(url)
  if (src) {
    const path = src[1]!
    if (path.startsWith("src/generated")) return "src/generated (ts-proto codec)"
    return path.startsWith("src/") ? `effect-esdb ${path.replace(/^src\//, "")}` : path
  }
  return url
}

export const analyze = (profile: Profile, top = 30): string => {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
  }
  let total = 0
  let idle = 0
  const byPackage = new Map<string, number>()
  const byFunction = new Map<string, number>()
  for (const [id, us] of self) {
    const node = byId.get(id)!
    const { functionName, url, lineNumber } = node.callFrame
    const pkg = packageOf(url, functionName)
    if (pkg === "idle") {
      idle += us
      continue
    }
    total += us
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us)
    const base = url.slice(url.lastIndexOf("/") + 1)
    const file = url.includes("/node_modules/")
      ? `${pkg}/${base}`
      : url.replace(/^file:\/\//, "").replace(/^.*\/(src|bench)\//, "$1/")
    const key = `${functionName || "(anonymous)"}  ${file}${url ? `:${lineNumber + 1}` : ""}`
    byFunction.set(key, (byFunction.get(key) ?? 0) + us)
  }
  // inclusive time of this repository's functions (time with the function anywhere on the stack)
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const inclusive = new Map<string, number>()
  for (let i = 0; i < profile.samples.length; i++) {
    const seen = new Set<string>()
    for (let id: number | undefined = profile.samples[i]!; id !== undefined; id = parent.get(id)) {
      const { functionName, url, lineNumber } = byId.get(id)!.callFrame
      if (!/\/(src|bench)\/[^/]/.test(url) || url.includes("/node_modules/") || url.includes("/generated/")) continue
      const key = `${functionName || "(anonymous)"}  ${url.replace(/^file:\/\//, "").replace(/^.*\/(src|bench)\//, "$1/")}:${lineNumber + 1}`
      if (seen.has(key)) continue
      seen.add(key)
      inclusive.set(key, (inclusive.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0))
    }
  }
  const pct = (us: number) => `${((us / total) * 100).toFixed(1).padStart(5)}%`
  const lines: Array<string> = []
  lines.push(`busy ${(total / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms (${((idle / (total + idle)) * 100).toFixed(0)}% of the window)`)
  lines.push("", "self time by package (share of busy time):")
  for (const [pkg, us] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 15)) lines.push(`  ${pct(us)}  ${pkg}`)
  lines.push("", `top ${top} functions by self time:`)
  for (const [fn, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(us)}  ${fn}`)
  lines.push("", "this repository's functions by inclusive time (bench/ and src/, generated code excluded):")
  for (const [fn, us] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, 20)) lines.push(`  ${pct(us)}  ${fn}`)
  return lines.join("\n")
}

const main = async () => {
  const args = process.argv.slice(2)
  if (args[0] === "--analyze") {
    process.stdout.write(`${analyze(JSON.parse(readFileSync(args[1]!, "utf8")) as Profile, Number(args[2] ?? 30))}\n`)
    return
  }
  const [client, workload, framingArg] = args as [ClientName, Workload, string | undefined]
  const quick = args.includes("--quick")
  const framing: Framing = framingArg === "coalesced" ? "coalesced" : "message"
  const external = process.env["ESDB_URI"]
  const target = await startNodeProcess(framing, external)
  try {
    if (!workload.startsWith("append")) await seedTarget(target, quick ? QUICK_SIZES : FULL_SIZES, false)
    const dir = join(benchDir, "results", "tmp")
    mkdirSync(dir, { recursive: true })
    const file = join(dir, `${client}-${workload}-${target.framing}.cpuprofile`)
    const out = await runChild("worker.ts", [
      client,
      workload,
      target.framing,
      target.connectionString,
      target.cpuUrl ?? "",
      ...(quick ? ["--quick"] : []),
      "--profile",
      file
    ])
    const line = out.split("\n").find((l) => l.startsWith(RESULT_PREFIX))
    if (line !== undefined) {
      const s = JSON.parse(line.slice(RESULT_PREFIX.length)) as { events: number; wallMs: number; cpuUserMs: number; cpuSystemMs: number }
      process.stdout.write(
        `${client} ${workload} ${target.framing}: ${Math.round((s.events / s.wallMs) * 1000)} ev/s, ${(((s.cpuUserMs + s.cpuSystemMs) / s.events) * 1000).toFixed(1)} ms CPU per 1k events (profiler on)\n${file}\n\n`
      )
    }
    process.stdout.write(`${analyze(JSON.parse(readFileSync(file, "utf8")) as Profile)}\n`)
  } finally {
    await target.stop()
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`)
    process.exit(1)
  }
)
