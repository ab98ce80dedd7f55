/**
 * The fault scenarios of issue 17 on an embedded cluster, at full size (`npm test` runs short
 * versions: test/faults/*.test.ts). Each scenario is a module of bench/faults/; this runs them one
 * after the other, prints each one's figures and broken guarantees, and writes them all to
 * bench/results/faults.json (BENCHMARKS.md §18 quotes them).
 *
 *   npm run faults -- [--only leader-kill,election,...] [--rounds 3] [--out bench/results/faults.json]
 *
 * Each scenario runs `--rounds` times (default 3; each round on a fresh cluster), one after the
 * other, so that a figure's spread shows.
 *
 * Exit code 1 when a scenario broke a guarantee.
 */
import * as Effect from "effect/Effect"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { allDown } from "./faults/allDown.ts"
import type { Figures } from "./faults/common.ts"
import { consumeFailover } from "./faults/consumeFailover.ts"
import { cutOff } from "./faults/cutOff.ts"
import { election } from "./faults/election.ts"
import { interrupted } from "./faults/interrupted.ts"
import { leaderKill } from "./faults/leaderKill.ts"
import { wholeClusterKill } from "./faults/wholeClusterKill.ts"

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? process.argv[i + 1] : undefined
}
const here = new URL(".", import.meta.url).pathname
const out = arg("--out") ?? join(here, "results/faults.json")
const only = arg("--only")?.split(",")
const rounds = Number(arg("--rounds") ?? 3)

const scenarios: ReadonlyArray<readonly [string, () => Effect.Effect<Figures, unknown>]> = [
  ["leader-kill", () => leaderKill({ appends: 10_000, fibers: 32 })],
  ["leader-kill-expected-revision", () => leaderKill({ appends: 10_000, fibers: 32, currentVersion: "exact" })],
  ["leader-kill-via-follower", () => leaderKill({ appends: 10_000, fibers: 32, nodePreference: "follower" })],
  ["election", () => election({ events: 20_000 })],
  ["election-kill", () => election({ events: 20_000, fault: "kill" })],
  ["consume-failover", () => consumeFailover({ events: 2_000 })],
  ["consume-election", () => consumeFailover({ events: 2_000, fault: "elect" })],
  ["all-down", () => allDown({ maxDiscoverAttempts: 10, discoveryInterval: 100, gossipTimeout: 1, downMs: 3000 })],
  ["cut-off", () => cutOff({ events: 5_000 })],
  ["interrupted", () => interrupted({ subscriptions: 1_000 })],
  ["whole-cluster-kill", () => wholeClusterKill({ fibers: 16, killAfter: 2_000 })]
]

const results: Array<Figures> = []
let broken = 0
for (const [name, scenario] of scenarios) {
  if (only !== undefined && !only.includes(name)) continue
  for (let round = 1; round <= rounds; round++) {
    process.stdout.write(`${name} (round ${round}) …\n`)
    const figures = { ...(await Effect.runPromise(scenario())), scenario: name, round }
    results.push(figures)
    if (figures.violations.length > 0) broken++
    const { violations, ...rest } = figures
    process.stdout.write(`${JSON.stringify(rest)}\n`)
    for (const v of violations) process.stdout.write(`  BROKEN: ${v}\n`)
  }
}
writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), node: process.version, results }, null, 2) + "\n")
process.stdout.write(`written to ${out}\n`)
process.exit(broken > 0 ? 1 : 0)
