/**
 * The A/B scripts' variant specs (bench/ab.ts, bench/inprocess.ts): every setting reaches the
 * variant's environment whole. An earlier parser cut the spec at its second `=`, so every
 * setting was dropped and the "variants" measured the same code.
 */
import { assert, describe, it } from "@effect/vitest"
import { parseAssignment, parseVariantSpec, quartiles, rotation } from "../bench/lib/common.ts"

describe("bench variant specs", () => {
  it("keeps every setting, with values that hold '='", () => {
    assert.deepStrictEqual(parseVariantSpec("old=effect,BENCH_EFFECT_MODULE=/tmp/old/src/index.ts,NODE_OPTIONS=--max-old-space-size=64"), {
      label: "old",
      client: "effect",
      env: { BENCH_EFFECT_MODULE: "/tmp/old/src/index.ts", NODE_OPTIONS: "--max-old-space-size=64" }
    })
  })

  it("takes a client with no settings", () => {
    assert.deepStrictEqual(parseVariantSpec("base=floor"), { label: "base", client: "floor", env: {} })
  })

  it("refuses a setting without '=' and a spec without a client", () => {
    assert.throws(() => parseVariantSpec("x=effect,BENCH_EFFECT_METRICS"), /expected NAME=value/)
    assert.throws(() => parseVariantSpec("x="), /names no client/)
    assert.throws(() => parseVariantSpec("effect"), /expected NAME=value/)
    assert.deepStrictEqual(parseAssignment("A=b=c"), ["A", "b=c"])
  })
})

describe("bench A/B rounds", () => {
  it("rotates the order by one each round, every variant once per round", () => {
    assert.deepStrictEqual(rotation(3, 0), [0, 1, 2])
    assert.deepStrictEqual(rotation(3, 1), [1, 2, 0])
    assert.deepStrictEqual(rotation(3, 5), [2, 0, 1])
    for (let round = 0; round < 7; round++) assert.deepStrictEqual([...rotation(4, round)].sort(), [0, 1, 2, 3])
  })

  it("quotes the quartiles of the per-round ratios", () => {
    assert.deepStrictEqual(quartiles([1.4, 1.1, 1.2, 1.3]), [1.1, 1.3])
    assert.deepStrictEqual(quartiles([1, 2, 3, 4, 5, 6, 7, 8]), [2, 6])
  })
})
