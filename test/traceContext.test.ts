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
