/**
 * The benchmark report's work check: the clients' checksums of one read workload, framing,
 * variant and round must agree, and a disagreement is reported, never hidden.
 */
import { assert, describe, it } from "@effect/vitest"
import type { ClientName, Sample, Variant } from "../bench/lib/common.ts"
import { QUICK_SIZES } from "../bench/lib/common.ts"
import { checksumMismatches, type Results, renderMarkdown } from "../bench/lib/report.ts"

const sample = (client: ClientName, variant: Variant, checksum: number, round = 0): Sample & { round: number } => ({
  client,
  workload: "read-all",
  framing: "message",
  variant,
  events: 1000,
  ops: 1,
  wallMs: 10,
  cpuUserMs: 5,
  cpuSystemMs: 1,
  maxRssMB: 100,
  heapUsedMB: 10,
  nodeCpuMs: 1,
  otherCpuMs: 0,
  latency: null,
  checksum,
  round
})

const results = (samples: ReadonlyArray<Sample & { round: number }>): Results => ({
  meta: {
    date: "2026-12-01T00:00:00.000Z",
    durationSeconds: 60,
    mode: "quick",
    samples: 1,
    target: "embedded node (separate process)",
    machine: { nproc: 2, cpuModel: "test", memoryGB: 1 },
    node: "v24",
    commit: "test",
    packages: {},
    sizes: QUICK_SIZES
  },
  samples,
  failures: []
})

describe("bench report work check", () => {
  it("passes when every client of a variant and round has the same checksum", () => {
    const samples = [
      sample("effect", "json", 42),
      sample("official", "json", 42),
      sample("floor", "json", 42),
      sample("effect", "binary", 7),
      sample("official", "binary", 7),
      sample("floor", "binary", 7)
    ]
    assert.deepStrictEqual(checksumMismatches(samples), [])
    assert.include(renderMarkdown(results(samples), undefined), "Work check: in every round")
  })

  it("reports a client whose consumer did other work", () => {
    const samples = [sample("effect", "json", 42), sample("official", "json", 41), sample("floor", "json", 42)]
    const mismatches = checksumMismatches(samples)
    assert.strictEqual(mismatches.length, 1)
    assert.include(mismatches[0]!, "read-all / message / json / round 0")
    assert.include(mismatches[0]!, "official 41")
    assert.include(renderMarkdown(results(samples), undefined), "Work check **failed**")
  })

  it("shows both variants in the reads table, with ratios within a variant", () => {
    const samples = [sample("effect", "json", 1), sample("official", "json", 1), sample("effect", "binary", 2), sample("official", "binary", 2)]
    const markdown = renderMarkdown(results(samples), undefined)
    assert.include(markdown, "| read 100,000 events from $all | message | json (data parsed) | effect-esdb |")
    assert.include(markdown, "| read 100,000 events from $all | message | binary (bytes) | effect-esdb |")
    assert.include(markdown, "effect-esdb ≥ 1.5× official: read 100,000 events from $all (message, json)")
    assert.include(markdown, "effect-esdb ≥ 1.5× official: read 100,000 events from $all (message, binary)")
  })
})
