/**
 * Aggregation of benchmark samples and the generated section of BENCHMARKS.md.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import {
  APPEND_WORKLOADS,
  CLIENT_TITLES,
  type ClientName,
  CLIENTS,
  CONSUME_WORKLOADS,
  type Framing,
  PERSISTENT_BUFFER,
  PERSISTENT_WORKLOADS,
  median,
  type Sample,
  type Sizes,
  type Variant,
  VARIANT_TITLES,
  type Workload,
  WORKLOAD_TITLES,
  workloadTitles
} from "./common.ts"

export interface Meta {
  readonly date: string
  readonly durationSeconds: number
  readonly mode: "quick" | "full"
  readonly samples: number
  readonly target: string
  readonly machine: { readonly nproc: number; readonly cpuModel: string; readonly memoryGB: number }
  readonly node: string
  readonly commit: string
  readonly packages: Record<string, string>
  readonly sizes: Sizes
}

type RoundSample = Sample & { readonly round: number; readonly rss?: { beforeMB: number; peakMB: number; samplesMB: Array<number> } }

export interface Results {
  readonly meta: Meta
  readonly samples: ReadonlyArray<RoundSample>
  readonly failures: ReadonlyArray<{ client: ClientName; workload: Workload; framing: Framing; variant?: Variant; error: string }>
}

export type RssResults = Results

// ------------------------------------------------------------------------------------------------
// Aggregation
// ------------------------------------------------------------------------------------------------

const evps = (s: Sample) => (s.events / s.wallMs) * 1000
const opsps = (s: Sample) => (s.ops / s.wallMs) * 1000
const cpu1k = (s: Sample) => ((s.cpuUserMs + s.cpuSystemMs) / s.events) * 1000
const nodeUs = (s: Sample) => (s.nodeCpuMs === null ? Number.NaN : (s.nodeCpuMs * 1000) / s.events)
const nodeShare = (s: Sample) => (s.nodeCpuMs === null ? Number.NaN : s.nodeCpuMs / s.wallMs)
const clientShare = (s: Sample) => (s.cpuUserMs + s.cpuSystemMs) / s.wallMs
/** The largest finite value, NaN when there is none. */
const maxOf = (values: ReadonlyArray<number>): number => {
  const finite = values.filter(Number.isFinite)
  return finite.length === 0 ? Number.NaN : Math.max(...finite)
}
const otherShare = (s: Sample) => (typeof s.otherCpuMs === "number" ? s.otherCpuMs / s.wallMs : Number.NaN)

/**
 * A cell's variant: results from before the variants existed are `mixed` (JSON events; the
 * official client parsed them, the others handed over bytes).
 */
export type CellVariant = Variant | "mixed"

const variantOf = (s: Sample): CellVariant => s.variant ?? "mixed"

const CELL_VARIANT_TITLES: Record<CellVariant, string> = {
  ...VARIANT_TITLES,
  mixed: "mixed (only the official client parsed)"
}

export interface Cell {
  readonly client: ClientName
  readonly workload: Workload
  readonly framing: Framing
  readonly variant: CellVariant
  readonly n: number
  readonly evps: number
  readonly evpsMin: number
  readonly evpsMax: number
  readonly opsps: number
  readonly cpu1k: number
  readonly rssMB: number
  readonly nodeUs: number
  readonly nodeShare: number
  readonly nodeShareMax: number
  readonly clientShare: number
  readonly otherShare: number
  readonly p50: number
  readonly p99: number
  readonly rounds: ReadonlyMap<number, RoundSample>
}

export const cells = (samples: ReadonlyArray<RoundSample>): Array<Cell> => {
  const groups = new Map<string, Array<RoundSample>>()
  for (const s of samples) {
    const key = `${s.client}|${s.workload}|${s.framing}|${variantOf(s)}`
    const list = groups.get(key) ?? []
    list.push(s)
    groups.set(key, list)
  }
  return [...groups.values()].map((list) => {
    const first = list[0]!
    const speeds = list.map(evps)
    return {
      client: first.client,
      workload: first.workload,
      framing: first.framing,
      variant: variantOf(first),
      n: list.length,
      evps: median(speeds),
      evpsMin: Math.min(...speeds),
      evpsMax: Math.max(...speeds),
      opsps: median(list.map(opsps)),
      cpu1k: median(list.map(cpu1k)),
      rssMB: median(list.map((s) => s.maxRssMB)),
      nodeUs: median(list.map(nodeUs)),
      nodeShare: median(list.map(nodeShare)),
      nodeShareMax: maxOf(list.map(nodeShare)),
      clientShare: median(list.map(clientShare)),
      otherShare: median(list.map(otherShare)),
      p50: median(list.map((s) => s.latency?.p50 ?? Number.NaN)),
      p99: median(list.map((s) => s.latency?.p99 ?? Number.NaN)),
      rounds: new Map(list.map((s) => [s.round, s]))
    }
  })
}

const find = (all: ReadonlyArray<Cell>, client: ClientName, workload: Workload, framing: Framing, variant?: CellVariant) =>
  all.find((c) => c.client === client && c.workload === workload && c.framing === framing && (variant === undefined || c.variant === variant))

/** The variants present among the read cells, in report order. */
const readVariants = (all: ReadonlyArray<Cell>): Array<CellVariant> =>
  (["json", "binary", "mixed"] as const).filter((v) => all.some((c) => c.variant === v && CONSUME_WORKLOADS.includes(c.workload)))

/**
 * The work check: for each read workload, framing, variant and round, whether every client's
 * checksum (what its consumer took from the events, see BenchClient) is the same.
 */
export const checksumMismatches = (samples: ReadonlyArray<RoundSample>): Array<string> => {
  const groups = new Map<string, Array<RoundSample>>()
  for (const s of samples) {
    if (!CONSUME_WORKLOADS.includes(s.workload) || s.variant === undefined) continue
    const key = `${s.workload} / ${s.framing} / ${s.variant} / round ${s.round}`
    const list = groups.get(key) ?? []
    list.push(s)
    groups.set(key, list)
  }
  const out: Array<string> = []
  for (const [key, list] of groups) {
    if (new Set(list.map((s) => s.checksum)).size > 1) {
      out.push(`${key}: ${list.map((s) => `${s.client} ${s.checksum}`).join(", ")}`)
    }
  }
  return out
}

/** The median over rounds of a per-round ratio (steadier than the ratio of medians). */
const roundRatio = (a: Cell | undefined, b: Cell | undefined, metric: (s: Sample) => number): number => {
  if (a === undefined || b === undefined) return Number.NaN
  const ratios: Array<number> = []
  for (const [round, sa] of a.rounds) {
    const sb = b.rounds.get(round)
    if (sb !== undefined) ratios.push(metric(sa) / metric(sb))
  }
  return median(ratios)
}

export const speedRatio = (a: Cell | undefined, b: Cell | undefined) => roundRatio(a, b, evps)
export const cpuRatio = (a: Cell | undefined, b: Cell | undefined) => roundRatio(a, b, cpu1k)

// ------------------------------------------------------------------------------------------------
// Rendering
// ------------------------------------------------------------------------------------------------

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–")
const fix = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "–")
const times = (n: number) => (Number.isFinite(n) ? `${n.toFixed(2)}×` : "–")
const pct = (n: number) => (Number.isFinite(n) ? `${Math.round(n * 100)}%` : "–")
const range = (c: Cell) => (c.n > 1 ? ` [${int(c.evpsMin)}–${int(c.evpsMax)}]` : "")

interface Target {
  readonly name: string
  readonly measured: string
  readonly pass: boolean | undefined
}

const targetsOf = (
  all: ReadonlyArray<Cell>,
  framings: ReadonlyArray<Framing>,
  rss: RssResults | undefined,
  T: Record<Workload, string>
): Array<Target> => {
  const out: Array<Target> = []
  const check = (value: number, ok: (v: number) => boolean) => (Number.isFinite(value) ? ok(value) : undefined)
  const appendFraming = (w: Workload): Framing => all.find((c) => c.workload === w)?.framing ?? "message"
  const speedTargets: Array<[Workload, number]> = [
    ["read-stream", 1.5],
    ["read-all", 1.5],
    ["subscribe-all", 1.5],
    ["persistent", 1.5],
    ["append-1", 1.25],
    ["append-100", 2],
    ["append-concurrent", 1]
  ]
  const variants = readVariants(all)
  /** The framings a consuming workload ran with (persistent: only the first framing's node). */
  const framingsOf = (w: Workload): ReadonlyArray<Framing> => {
    if (!PERSISTENT_WORKLOADS.includes(w)) return framings
    const ran = framings.filter((f) => all.some((c) => c.workload === w && c.framing === f))
    return ran.length > 0 ? ran : framings.slice(0, 1)
  }
  for (const [workload, wanted] of speedTargets) {
    const read = CONSUME_WORKLOADS.includes(workload)
    const fs = read ? framingsOf(workload) : [appendFraming(workload)]
    for (const framing of fs) {
      for (const variant of read ? variants : [undefined]) {
        const r = speedRatio(find(all, "effect", workload, framing, variant), find(all, "official", workload, framing, variant))
        out.push({
          name: `effect-esdb ≥ ${wanted}× official: ${T[workload]}${read ? ` (${framing}, ${variant})` : ""}`,
          measured: times(r),
          pass: check(r, (v) => v >= wanted)
        })
      }
    }
  }
  for (const workload of CONSUME_WORKLOADS) {
    for (const framing of framingsOf(workload)) {
      for (const variant of variants) {
        const r = cpuRatio(find(all, "effect", workload, framing, variant), find(all, "floor", workload, framing, variant))
        // the persistent consumer's own target is tighter (issue 14, point 8)
        const limit = workload === "persistent" ? 1.1 : 1.3
        out.push({
          name: `client CPU per event ≤ ${limit}× the floor: ${T[workload]} (${framing}, ${variant})`,
          measured: times(r),
          pass: check(r, (v) => v <= limit)
        })
      }
    }
  }
  const nodeMax = maxOf(all.map((c) => c.nodeShareMax))
  out.push({
    name: "the embedded node is never the limit (its CPU < 90% of a core in every sample)",
    measured: Number.isFinite(nodeMax) ? `max ${pct(nodeMax)} of a core` : "–",
    pass: Number.isFinite(nodeMax) ? nodeMax < 0.9 : undefined
  })
  for (const s of rss?.samples ?? []) {
    if (s.client !== "effect" || s.rss === undefined) continue
    const growth = s.rss.peakMB - s.rss.beforeMB
    out.push({
      name: `effect-esdb peak RSS grows < 50 MB streaming ${int(s.events)} events: ${WORKLOAD_TITLES[s.workload].replace(/ of [\d,]+ events| over [\d,]+ events| [\d,]+ events/, "")}`,
      measured: `+${fix(growth)} MB`,
      pass: growth < 50
    })
  }
  return out
}

export const renderMarkdown = (results: Results | undefined, rss: RssResults | undefined): string => {
  const lines: Array<string> = []
  const push = (...ls: Array<string>) => lines.push(...ls)
  if (results === undefined) {
    push("_No results yet: run `npm run bench`._")
    return lines.join("\n")
  }
  const { meta } = results
  const all = cells(results.samples)
  const T = workloadTitles(meta.sizes)
  const framings = (["message", "coalesced", "external"] as const).filter((f) =>
    all.some((c) => c.framing === f && CONSUME_WORKLOADS.includes(c.workload))
  )

  push(
    `Run of ${meta.date.slice(0, 16).replace("T", " ")} UTC (${meta.mode}, ${meta.samples} sample${meta.samples === 1 ? "" : "s"} per cell, ${Math.round(meta.durationSeconds / 60)} min), commit \`${meta.commit}\`, against the ${meta.target}.`,
    "",
    `- **Machine:** ${meta.machine.nproc} vCPUs (${meta.machine.cpuModel}), ${meta.machine.memoryGB} GB; client and node share the CPUs.`,
    `- **Node.js:** ${meta.node}.`,
    `- **Packages:** ${Object.entries(meta.packages).map(([k, v]) => `${k} ${v}`).join(", ")}.`,
    `- **Cells:** median of the samples, each in a fresh process after a warm-up on the same workload; events/s shows [min–max] when there are several samples. Ratios are medians of per-round ratios (the clients of one round run back to back).`,
    `- **Noise:** other processes on the machine used a median ${pct(median(results.samples.map(otherShare)))} of one core during the measured windows (max ${pct(maxOf(results.samples.map(otherShare)))}).`,
    `- **Client CPU** is \`process.cpuUsage()\` (all threads, so the official client's Rust threads count) per 1,000 events; **RSS** is the process's peak (\`maxRSS\`); **node CPU** is the embedded node's own \`process.cpuUsage()\` per event, and its share of one core over the measured window.`,
    ""
  )

  // reads
  push(
    "### Reads and subscriptions",
    "",
    "| workload | framing | variant | client | events/s | client CPU ms/1k ev | peak RSS MB | node CPU µs/ev (core share) | × official | × floor | CPU ÷ floor |",
    "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|"
  )
  for (const workload of CONSUME_WORKLOADS) {
    for (const framing of framings) {
      for (const variant of readVariants(all)) {
        const official = find(all, "official", workload, framing, variant)
        const floor = find(all, "floor", workload, framing, variant)
        for (const client of CLIENTS) {
          const c = find(all, client, workload, framing, variant)
          if (c === undefined) continue
          push(
            `| ${T[workload]} | ${framing} | ${CELL_VARIANT_TITLES[variant]} | ${CLIENT_TITLES[client]} | ${int(c.evps)}${range(c)} | ${fix(c.cpu1k)} | ${int(c.rssMB)} | ${fix(c.nodeUs)} (${pct(c.nodeShare)}) | ${times(speedRatio(c, official))} | ${times(speedRatio(c, floor))} | ${times(cpuRatio(c, floor))} |`
          )
        }
      }
    }
  }
  push("")
  if (all.some((c) => PERSISTENT_WORKLOADS.includes(c.workload))) {
    push(
      `Persistent subscription: a fresh group per sample on the seeded read stream (from its start, default settings), one consumer with a buffer of ${PERSISTENT_BUFFER}, every event acked: effect-esdb as its README shows (\`ack(event)\` per event, sent in its default batches of ${PERSISTENT_BUFFER >> 1} ids or 20 ms), the official client as its documentation shows (\`ack(event)\` per event, one Ack message each), the floor in batches of ${PERSISTENT_BUFFER >> 1} ids.`,
      ""
    )
  }
  const mismatches = checksumMismatches(results.samples)
  const checked = results.samples.some((s) => CONSUME_WORKLOADS.includes(s.workload) && s.variant !== undefined)
  if (checked) {
    push(
      mismatches.length === 0
        ? "Work check: in every round, every client's consumer took the same checksum from the same events (type lengths plus, for JSON events, a field of each parsed value, for the others, each data length)."
        : `Work check **failed**: the clients' checksums differ in ${mismatches.length} cell(s): ${mismatches.join("; ")}.`,
      ""
    )
  }

  // appends
  push(
    "### Appends",
    "",
    "| workload | client | ops/s | events/s | p50 / p99 ms | client CPU ms/1k ev | peak RSS MB | node CPU µs/ev (core share) | × official | × floor |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  )
  for (const workload of APPEND_WORKLOADS) {
    const framing = all.find((c) => c.workload === workload)?.framing ?? "message"
    const official = find(all, "official", workload, framing)
    const floor = find(all, "floor", workload, framing)
    for (const client of CLIENTS) {
      const c = find(all, client, workload, framing)
      if (c === undefined) continue
      push(
        `| ${T[workload]} | ${CLIENT_TITLES[client]} | ${int(c.opsps)}${c.n > 1 && c.opsps === c.evps ? range(c) : ""} | ${int(c.evps)} | ${fix(c.p50, 2)} / ${fix(c.p99, 2)} | ${fix(c.cpu1k)} | ${int(c.rssMB)} | ${fix(c.nodeUs)} (${pct(c.nodeShare)}) | ${times(speedRatio(c, official))} | ${times(speedRatio(c, floor))} |`
      )
    }
  }
  push(
    "",
    "The floor appends over one BatchAppend stream (as the official client does when the node advertises it); `floor, Append RPC` is the same floor over one Append call per append. `effect-esdb, tracing: false` is effect-esdb with its `tracing: false` connection option (no spans); every other effect-esdb row uses the defaults.",
    ""
  )

  // targets
  push("### Targets", "", "| target | measured | status |", "|---|---:|---|")
  for (const t of targetsOf(all, framings, rss, T)) {
    push(`| ${t.name} | ${t.measured} | ${t.pass === undefined ? "not measured" : t.pass ? "met" : "**missed**"} |`)
  }
  push("")

  // node
  push(
    "### Is the embedded node the limit?",
    "",
    "Share of one core the node used over each measured window (max over samples), next to the client's:",
    "",
    "| workload | framing (variant) | client | node CPU (max) | client CPU | other processes |",
    "|---|---|---|---:|---:|---:|"
  )
  for (const c of [...all].sort((a, b) => (b.nodeShareMax || 0) - (a.nodeShareMax || 0)).slice(0, 8)) {
    push(`| ${T[c.workload]} | ${CONSUME_WORKLOADS.includes(c.workload) ? `${c.framing}, ${c.variant}` : c.framing} | ${CLIENT_TITLES[c.client]} | ${pct(c.nodeShareMax)} | ${pct(c.clientShare)} | ${pct(c.otherShare)} |`)
  }
  push("", "(the 8 cells where the node worked hardest)", "")

  if (rss !== undefined && rss.samples.length > 0) {
    push(
      "### Memory while streaming 1,000,000 events",
      "",
      `From \`npm run bench -- --rss\` (${rss.meta.date.slice(0, 16).replace("T", " ")} UTC, node framing \`${rss.samples[0]!.framing}\`): RSS just before the stream starts (client open and warmed up), the peak while streaming, and the growth.`,
      "",
      "| client | workload | events/s | RSS before MB | peak RSS MB | growth MB | client CPU ms/1k ev |",
      "|---|---|---:|---:|---:|---:|---:|"
    )
    for (const s of rss.samples) {
      if (s.rss === undefined) continue
      push(
        `| ${CLIENT_TITLES[s.client]} | ${s.workload} | ${int(evps(s))} | ${fix(s.rss.beforeMB)} | ${fix(s.rss.peakMB)} | ${fix(s.rss.peakMB - s.rss.beforeMB)} | ${fix(cpu1k(s))} |`
      )
    }
    push("")
  }

  if (results.failures.length > 0) {
    push("### Failed measurements", "")
    for (const f of results.failures) push(`- ${f.client} / ${f.workload} / ${f.framing}${f.variant === undefined ? "" : ` / ${f.variant}`}: ${f.error.replace(/\n/g, " ")}`)
    push("")
  }
  return lines.join("\n")
}

const BEGIN = "<!-- bench:results:begin (generated by `npm run bench`; edits inside are overwritten) -->"
const END = "<!-- bench:results:end -->"

const SKELETON = `# Benchmarks

\`npm run bench\` measures effect-esdb against the official Node client (\`@kurrent/kurrentdb-client\`)
and a floor (raw \`@grpc/grpc-js\` with the generated codec and no client logic) on the same node,
in one run, so the ratios are comparable. See "How it is measured" below.

## Results

${BEGIN}
${END}
`

/** Replaces the generated section of BENCHMARKS.md (creating the file if needed). */
export const updateBenchmarksMd = (file: string, generated: string) => {
  const current = existsSync(file) ? readFileSync(file, "utf8") : SKELETON
  const start = current.indexOf(BEGIN)
  const end = current.indexOf(END)
  const next = start >= 0 && end > start
    ? `${current.slice(0, start + BEGIN.length)}\n${generated}\n${current.slice(end)}`
    : `${current.trimEnd()}\n\n## Results\n\n${BEGIN}\n${generated}\n${END}\n`
  writeFileSync(file, next)
}
