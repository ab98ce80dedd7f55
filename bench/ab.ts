/**
 * Interleaved A/B of client CPU per event on one workload, for focused changes (BENCHMARKS.md §11, §13):
 *
 *   node bench/ab.ts <workload> <rounds> <out.json|-> [--variant json|binary] <label>=<client>[,ENV=value...] ...
 *
 * Starts one embedded node (framing `message`), seeds it when the workload reads, then runs every
 * variant once per round, each in a fresh worker process (bench/worker.ts with the variant's
 * environment: BENCH_EFFECT_MODULE, BENCH_EFFECT_METRICS, ...), the order rotated by one each
 * round. Prints each variant's median client CPU µs per event and the median of its per-round
 * ratio to the first variant, with that ratio's quartiles: copies of one client in one run have
 * spread by ±0.07 (BENCHMARKS.md section 20), so a difference inside the quartiles is not one.
 * The load average is recorded before and after. `--variant` (default `json`) seeds the node with
 * that variant of the events (bench/seed.ts) and labels the samples with it. With an out file,
 * the samples go to bench/results/<out.json>.
 */
import { writeFileSync } from "node:fs"
import { loadavg } from "node:os"
import { join } from "node:path"
import { type ClientName, FULL_SIZES, median, RESULT_PREFIX, parseVariantSpec, quartiles, rotation, type Sample, type Variant, VARIANTS, type Workload } from "./lib/common.ts"
import { benchDir, runChild, seedTarget, startNodeProcess } from "./lib/procs.ts"

const [workload, roundsArg, out, ...args] = process.argv.slice(2) as [Workload, string, string, ...Array<string>]
const variantAt = args.indexOf("--variant")
const variant = (variantAt >= 0 ? args.splice(variantAt, 2)[1] : "json") as Variant
if (!VARIANTS.includes(variant)) throw new Error(`unknown variant ${variant}`)
const specs = args
const rounds = Number(roundsArg)
const variants = specs.map((spec) => {
  const { client, env, label } = parseVariantSpec(spec)
  return { label, client: client as ClientName, env }
})

const main = async () => {
  const load0 = loadavg()
  const target = await startNodeProcess("message", undefined)
  if (!workload.startsWith("append")) await seedTarget(target, FULL_SIZES, false, variant)
  const samples: Array<{ label: string; round: number; cpuUsPerEvent: number; eventsPerSec: number; sample: Sample }> = []
  const base = { ...process.env }
  for (let round = 0; round < rounds; round++) {
    // rotated each round (common.ts `rotation`); ratios still divide by the first variant's sample of the same round
    for (const v of rotation(variants.length, round).map((i) => variants[i]!)) {
      for (const key of Object.keys(process.env)) if (!(key in base)) delete process.env[key]
      Object.assign(process.env, base, v.env)
      const stdout = await runChild("worker.ts", [v.client, workload, "message", target.connectionString, target.cpuUrl ?? "", "--variant", variant])
      const line = stdout.split("\n").find((l) => l.startsWith(RESULT_PREFIX))!
      const sample = JSON.parse(line.slice(RESULT_PREFIX.length)) as Sample
      const cpuUsPerEvent = ((sample.cpuUserMs + sample.cpuSystemMs) * 1000) / sample.events
      const eventsPerSec = (sample.events / sample.wallMs) * 1000
      samples.push({ label: v.label, round, cpuUsPerEvent, eventsPerSec, sample })
      process.stderr.write(
        `[${round}] ${v.label.padEnd(24)} ${cpuUsPerEvent.toFixed(2).padStart(8)} µs/ev  ${Math.round(eventsPerSec).toString().padStart(7)} ev/s  load ${loadavg()[0]!.toFixed(2)}\n`
      )
    }
  }
  await target.stop()
  const load1 = loadavg()
  const first = variants[0]!.label
  const summary = variants.map((v) => {
    const mine = samples.filter((s) => s.label === v.label)
    const ratios = mine.map((s) => s.cpuUsPerEvent / samples.find((b) => b.label === first && b.round === s.round)!.cpuUsPerEvent)
    return {
      label: v.label,
      client: v.client,
      env: v.env,
      cpuUsPerEvent: median(mine.map((s) => s.cpuUsPerEvent)),
      eventsPerSec: median(mine.map((s) => s.eventsPerSec)),
      ratioToFirst: median(ratios),
      ratioQuartiles: quartiles(ratios)
    }
  })
  for (const s of summary) {
    process.stdout.write(
      `${s.label.padEnd(24)} ${s.cpuUsPerEvent.toFixed(2).padStart(8)} µs/ev  ${Math.round(s.eventsPerSec).toString().padStart(7)} ev/s  ×${first} ${s.ratioToFirst.toFixed(3)} [${s.ratioQuartiles.map((q) => q.toFixed(3)).join("–")}]\n`
    )
  }
  process.stdout.write(`load average before ${load0.map((l) => l.toFixed(2)).join(" ")}, after ${load1.map((l) => l.toFixed(2)).join(" ")}\n`)
  if (out !== "-") {
    writeFileSync(
      join(benchDir, "results", out),
      JSON.stringify({ workload, variant, rounds, date: new Date().toISOString(), loadavgBefore: load0, loadavgAfter: load1, summary, samples }, null, 2)
    )
  }
  process.exit(0)
}

main().catch((error) => {
  process.stderr.write(`${String(error)}\n`)
  process.exit(1)
})
