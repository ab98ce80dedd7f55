/**
 * The hand-read BatchAppend success reply agrees with the generated codec, and leaves every
 * other reply to it.
 */
import { assert, describe, it } from "@effect/vitest"
import { randomUUID } from "node:crypto"
import { BatchAppendResp } from "../src/generated/streams.ts"
import { readAppendSuccess } from "../src/internal/codec/BatchAppendReply.ts"

const encode = (m: BatchAppendResp) => Buffer.from(BatchAppendResp.encode(m).finish())
const id = () => ({ value: { $case: "string" as const, value: randomUUID() } })

describe("readAppendSuccess", () => {
  it("reads success replies exactly as the generated codec does", () => {
    for (const commit of [0n, 1n, 127n, 128n, 2n ** 53n + 1n, 2n ** 64n - 1n]) {
      for (const revision of [{ $case: "currentRevision" as const, value: 5n }, { $case: "noStream" as const, value: {} }, undefined]) {
        for (const expected of [undefined, { $case: "streamPosition" as const, value: 3n }, { $case: "any" as const, value: {} }, { $case: "noStream" as const, value: {} }]) {
          const message: BatchAppendResp = {
            correlationId: id(),
            result: { $case: "success", value: { currentRevisionOption: revision, positionOption: { $case: "position", value: { commitPosition: commit, preparePosition: commit } } } },
            streamIdentifier: { streamName: Buffer.from("orders-ü") },
            expectedStreamPosition: expected
          }
          const bytes = encode(message)
          const decoded = BatchAppendResp.decode(bytes)
          const fast = readAppendSuccess(bytes)
          assert.isDefined(fast)
          assert.strictEqual(fast!.correlationId, decoded.correlationId?.value?.$case === "string" ? decoded.correlationId.value.value : "")
          assert.strictEqual(fast!.commitPosition, decoded.result?.$case === "success" && decoded.result.value.positionOption?.$case === "position" ? decoded.result.value.positionOption.value.commitPosition : -1n)
        }
      }
    }
  })

  it("leaves errors, structured ids, replies without a position and truncated bytes to the codec", () => {
    const success = { $case: "success" as const, value: { currentRevisionOption: undefined, positionOption: { $case: "position" as const, value: { commitPosition: 9n, preparePosition: 9n } } } }
    const cases: Array<BatchAppendResp> = [
      { correlationId: id(), result: { $case: "error", value: { code: 9, message: "Wrong expected version", details: undefined } }, streamIdentifier: undefined, expectedStreamPosition: undefined },
      { correlationId: { value: { $case: "structured", value: { mostSignificantBits: 1n, leastSignificantBits: 2n } } }, result: success, streamIdentifier: undefined, expectedStreamPosition: undefined },
      { correlationId: id(), result: { $case: "success", value: { currentRevisionOption: undefined, positionOption: { $case: "noPosition", value: {} } } }, streamIdentifier: undefined, expectedStreamPosition: undefined },
      { correlationId: undefined, result: success, streamIdentifier: undefined, expectedStreamPosition: undefined },
      { correlationId: id(), result: undefined, streamIdentifier: undefined, expectedStreamPosition: undefined }
    ]
    for (const message of cases) assert.isUndefined(readAppendSuccess(encode(message)))
    const whole = encode({ correlationId: id(), result: success, streamIdentifier: undefined, expectedStreamPosition: undefined })
    assert.isDefined(readAppendSuccess(whole))
    for (let cut = 1; cut < whole.length; cut++) {
      const fast = readAppendSuccess(whole.subarray(0, cut))
      // a prefix is either left to the codec, or is itself a complete, valid success reply
      if (fast !== undefined) assert.strictEqual(BatchAppendResp.decode(whole.subarray(0, cut)).result?.$case, "success")
    }
  })
})
