/**
 * The hand-written BatchAppendReq encoder writes exactly what the generated codec writes.
 */
import { assert, describe, it } from "@effect/vitest"
import { randomUUID } from "node:crypto"
import { BatchAppendReq, type BatchAppendReq_Options, type BatchAppendReq_ProposedMessage } from "../src/generated/streams.ts"
import { encodeBatchAppendReq } from "../src/internal/codec/BatchAppendEncoder.ts"

const uuid = (value: string) => ({ value: { $case: "string" as const, value } })
const empty = {}

const event = (data: Uint8Array, meta: Uint8Array, type: string, contentType = "application/json"): BatchAppendReq_ProposedMessage => ({
  id: uuid(randomUUID()),
  metadata: [{ key: "type", value: type }, { key: "content-type", value: contentType }],
  customMetadata: Buffer.from(meta),
  data: Buffer.from(data)
})

const check = (correlation: string, options: BatchAppendReq_Options | undefined, events: Array<BatchAppendReq_ProposedMessage>, isFinal: boolean) => {
  const expected = Buffer.from(BatchAppendReq.encode({ correlationId: uuid(correlation), options, proposedMessages: events, isFinal }).finish())
  const encoded = encodeBatchAppendReq(correlation, options, events, isFinal)
  assert.strictEqual(encoded.length, expected.length)
  assert.strictEqual(encoded.toString("hex"), expected.toString("hex"))
}

const stream = (name: string) => ({ streamName: Buffer.from(name) })

describe("encodeBatchAppendReq", () => {
  it("matches the generated codec for every expected-position and deadline form", () => {
    const positions: Array<BatchAppendReq_Options["expectedStreamPosition"]> = [
      { $case: "any", value: empty },
      { $case: "noStream", value: empty },
      { $case: "streamExists", value: empty },
      { $case: "streamPosition", value: 0n },
      { $case: "streamPosition", value: 127n },
      { $case: "streamPosition", value: 128n },
      { $case: "streamPosition", value: 2n ** 63n - 1n },
      undefined
    ]
    const deadlines: Array<BatchAppendReq_Options["deadlineOption"]> = [
      undefined,
      { $case: "deadline", value: { seconds: 10n, nanos: 0 } },
      { $case: "deadline", value: { seconds: 0n, nanos: 500_000_000 } },
      { $case: "deadline", value: { seconds: 31_536_000n, nanos: 999_999_999 } },
      { $case: "deadline21100", value: new Date(1_700_000_000_123) }
    ]
    for (const expectedStreamPosition of positions) {
      for (const deadlineOption of deadlines) {
        check(randomUUID(), { streamIdentifier: stream("order-1"), expectedStreamPosition, deadlineOption }, [event(Buffer.from("{}"), Buffer.alloc(0), "T")], true)
      }
    }
  })

  it("matches it for empty, unicode, large and many events, continuation chunks and empty names", () => {
    const big = Buffer.alloc(200_000, 9)
    check(randomUUID(), { streamIdentifier: stream("ström-名前"), expectedStreamPosition: { $case: "any", value: empty }, deadlineOption: undefined }, [
      event(Buffer.alloc(0), Buffer.alloc(0), "Ünïcödé-type", "application/octet-stream"),
      event(big, Buffer.from('{"m":1}'), "Big"),
      ...Array.from({ length: 100 }, (_, i) => event(Buffer.alloc(1024, i), Buffer.alloc(i), `T${i}`))
    ], false)
    // a continuation chunk: no options
    check(randomUUID(), undefined, [event(Buffer.from("x"), Buffer.alloc(0), "T")], true)
    // an empty stream name and an empty type
    check(randomUUID(), { streamIdentifier: stream(""), expectedStreamPosition: { $case: "any", value: empty }, deadlineOption: undefined }, [event(Buffer.from("x"), Buffer.alloc(0), "")], true)
    // no events at all
    check(randomUUID(), { streamIdentifier: stream("s"), expectedStreamPosition: { $case: "any", value: empty }, deadlineOption: undefined }, [], true)
  })
})
