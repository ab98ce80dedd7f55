/**
 * The trace context in an event's metadata (`$traceId`, `$spanId`): merged into a JSON object,
 * written into empty metadata, left out of anything else; read back only when valid.
 */
import { assert, describe, it } from "@effect/vitest"
import { inject, traceContextOf } from "../src/internal/transport/TraceContext.ts"

const bytes = (text: string) => new TextEncoder().encode(text)
const text = (b: Uint8Array) => new TextDecoder().decode(b)
const context = { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331" }

describe("TraceContext", () => {
  it("merges into a JSON object (replacing earlier keys), writes into empty metadata, leaves the rest", () => {
    assert.deepStrictEqual(JSON.parse(text(inject(bytes(`{"a":1,"$spanId":"old"}`), context))), {
      a: 1,
      $spanId: context.spanId,
      $traceId: context.traceId
    })
    assert.deepStrictEqual(JSON.parse(text(inject(new Uint8Array(0), context))), { $traceId: context.traceId, $spanId: context.spanId })
    for (const other of ["not json", "[1,2]", "42", "null", `"text"`]) {
      const metadata = bytes(other)
      assert.strictEqual(inject(metadata, context), metadata, other)
    }
  })

  it("edits the object's text instead of re-serializing it", () => {
    const members = `"$traceId":"${context.traceId}","$spanId":"${context.spanId}"`
    const cases: ReadonlyArray<readonly [string, string]> = [
      [`{}`, `{${members}}`],
      [` { \n } `, ` { \n ${members}} `],
      [`{"n":12345678901234567890}`, `{"n":12345678901234567890,${members}}`],
      [`{\n  "a": 1.50,\n  "b": "x\\"}\\u0022"\n}`, `{\n  "a": 1.50,\n  "b": "x\\"}\\u0022",${members}\n}`],
      [`{"a":{"$traceId":"nested"},"b":[{"c":"]}"}],"t":true}`, `{"a":{"$traceId":"nested"},"b":[{"c":"]}"}],"t":true,${members}}`],
      [`{"$traceId":"old","a":1 , "\\u0024spanId" : "old2","b":null}`, `{"a":1,"b":null,${members}}`],
      [`{"$traceId":"old"}`, `{${members}}`],
      [`{"dup":1,"dup":2}`, `{"dup":1,"dup":2,${members}}`]
    ]
    for (const [input, output] of cases) assert.strictEqual(text(inject(bytes(input), context)), output, input)
  })

  it("agrees with a parse-and-merge on random objects, each member's text kept", () => {
    let seed = 7
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed % n
    }
    const space = () => [" ", "", "\n  ", "\t"][next(4)]!
    const str = () => JSON.stringify(["a", "}", "]", "\"", "\\", ",", "{\"x\":1}", "é", "$traceId"][next(9)]!)
    const value = (depth: number): string => {
      switch (depth > 2 ? next(4) : next(6)) {
        case 0:
          return str()
        case 1:
          return ["0", "-1.5e3", "1.50", "true", "false", "null"][next(6)]!
        case 2:
          return "12345678901234567890"
        case 3:
          return `"${next(1000)}"`
        case 4:
          return `[${space()}${Array.from({ length: next(3) }, () => value(depth + 1)).join(`${space()},${space()}`)}${space()}]`
        default:
          return object(depth + 1)
      }
    }
    const object = (depth: number): string => {
      const keys = ["a", "b", "$traceId", "$spanId", "c\\\"d", "}"]
      const n = next(5)
      return `{${space()}${Array.from({ length: n }, () => `${JSON.stringify(keys[next(keys.length)])}${space()}:${space()}${value(depth)}`).join(`${space()},${space()}`)}${space()}}`
    }
    for (let i = 0; i < 2000; i++) {
      const input = object(0)
      const output = text(inject(bytes(input), context))
      const expected: Record<string, unknown> = JSON.parse(input)
      delete expected["$traceId"]
      delete expected["$spanId"]
      assert.deepStrictEqual(JSON.parse(output), { ...expected, $traceId: context.traceId, $spanId: context.spanId }, input)
      if (!/"\$(traceId|spanId)"\s*:/.test(input)) assert.isTrue(output.includes(input.slice(0, input.lastIndexOf("}")).trimEnd()), input)
    }
  })

  it("writes the same bytes into every empty metadata of one context, never changing them", () => {
    const first = inject(new Uint8Array(0), context)
    assert.strictEqual(inject(new Uint8Array(0), context), first)
    const copy = Uint8Array.from(first)
    const other = inject(new Uint8Array(0), { traceId: "1".repeat(32), spanId: "2".repeat(16) })
    assert.notStrictEqual(other, first)
    assert.deepStrictEqual(first, copy)
    assert.deepStrictEqual(JSON.parse(text(other)), { $traceId: "1".repeat(32), $spanId: "2".repeat(16) })
  })

  it("reads a valid context back, and nothing from invalid or absent ids", () => {
    assert.deepStrictEqual(traceContextOf(inject(bytes(`{"x":true}`), context)), context)
    const invalid = [
      "",
      "{}",
      "not json with $traceId",
      `{"$traceId":"${context.traceId}"}`,
      `{"$traceId":"${context.traceId.toUpperCase()}","$spanId":"${context.spanId}"}`,
      `{"$traceId":"00000000000000000000000000000000","$spanId":"${context.spanId}"}`,
      `{"$traceId":"${context.traceId}","$spanId":"0000000000000000"}`,
      `{"$traceId":"${context.traceId}","$spanId":12}`,
      `["$traceId"]`
    ]
    for (const metadata of invalid) assert.isUndefined(traceContextOf(bytes(metadata)), metadata)
    // large metadata is not searched
    const big = `{"pad":"${"x".repeat(70_000)}","$traceId":"${context.traceId}","$spanId":"${context.spanId}"}`
    assert.isUndefined(traceContextOf(bytes(big)))
  })
})
