/**
 * The node's hand-written BatchAppendReq decoder gives what the generated codec gives.
 */
import { assert, describe, it } from "@effect/vitest"
import { randomUUID } from "node:crypto"
import { AppendReq, BatchAppendReq } from "../../src/generated/streams.ts"
import { decodeAppendReq, decodeBatchAppendReq } from "../../src/server/codec/BatchAppendDecoding.ts"

const roundTrip = (message: BatchAppendReq) => {
  const bytes = Buffer.from(BatchAppendReq.encode(message).finish())
  assert.deepStrictEqual(decodeBatchAppendReq(bytes), BatchAppendReq.decode(bytes))
}

const event = (i: number) => ({
  id: { value: { $case: "string" as const, value: randomUUID() } },
  metadata: [{ key: "type", value: `Typé-${i}` }, { key: "content-type", value: "application/json" }],
  customMetadata: Buffer.alloc(i % 3, 1),
  data: Buffer.alloc(i * 37, i)
})

describe("decodeBatchAppendReq", () => {
  it("matches the generated codec on every field form", () => {
    const positions = [
      { $case: "streamPosition" as const, value: 0n },
      { $case: "streamPosition" as const, value: 2n ** 64n - 1n },
      { $case: "noStream" as const, value: {} },
      { $case: "any" as const, value: {} },
      { $case: "streamExists" as const, value: {} },
      undefined
    ]
    const deadlines = [
      undefined,
      { $case: "deadline" as const, value: { seconds: 10n, nanos: 5 } },
      { $case: "deadline" as const, value: { seconds: -3n, nanos: -7 } },
      { $case: "deadline21100" as const, value: new Date(1_700_000_000_123) }
    ]
    for (const expectedStreamPosition of positions) {
      for (const deadlineOption of deadlines) {
        roundTrip({
          correlationId: { value: { $case: "string", value: randomUUID() } },
          options: { streamIdentifier: { streamName: Buffer.from("stream-ü") }, expectedStreamPosition, deadlineOption },
          proposedMessages: [event(1), event(2)],
          isFinal: true
        })
      }
    }
    roundTrip({
      correlationId: { value: { $case: "structured", value: { mostSignificantBits: -5n, leastSignificantBits: 2n ** 63n - 1n } } },
      options: undefined,
      proposedMessages: Array.from({ length: 100 }, (_, i) => event(i)),
      isFinal: false
    })
    roundTrip({ correlationId: undefined, options: { streamIdentifier: { streamName: Buffer.alloc(0) }, expectedStreamPosition: undefined, deadlineOption: undefined }, proposedMessages: [{ id: undefined, metadata: [], customMetadata: Buffer.alloc(0), data: Buffer.alloc(0) }], isFinal: false })
  })

  it("skips unknown fields, keeps data as views, and rejects truncated input", () => {
    const known = Buffer.from(BatchAppendReq.encode({ correlationId: { value: { $case: "string", value: "x" } }, options: undefined, proposedMessages: [event(3)], isFinal: true }).finish())
    // unknown fields of every wire type in front: varint 15, fixed64 16, bytes 17, fixed32 18
    const unknown = Buffer.concat([Buffer.from([0x78, 0x96, 0x01, 0x81, 0x01]), Buffer.alloc(8, 1), Buffer.from([0x8a, 0x01, 0x02, 0x61, 0x62, 0x95, 0x01]), Buffer.alloc(4, 2)])
    const bytes = Buffer.concat([unknown, known])
    const decoded = decodeBatchAppendReq(bytes)
    assert.deepStrictEqual(decoded, BatchAppendReq.decode(known))
    assert.strictEqual(decoded.proposedMessages[0]!.data.buffer, bytes.buffer)
    for (let cut = 1; cut < known.length; cut++) {
      const prefix = known.subarray(0, cut)
      let ours: unknown
      let theirs: unknown
      try {
        ours = decodeBatchAppendReq(prefix)
      } catch (e) {
        ours = e instanceof Error ? "error" : e
      }
      try {
        theirs = BatchAppendReq.decode(prefix)
      } catch (e) {
        theirs = e instanceof Error ? "error" : e
      }
      assert.strictEqual(ours === "error", theirs === "error", `cut at ${cut}`)
    }
  })
})

describe("decodeAppendReq", () => {
  const same = (bytes: Buffer) => assert.deepStrictEqual(decodeAppendReq(bytes), AppendReq.decode(bytes))

  it("matches the generated codec on every field form", () => {
    const revisions = [
      { $case: "revision" as const, value: 0n },
      { $case: "revision" as const, value: 2n ** 64n - 1n },
      { $case: "noStream" as const, value: {} },
      { $case: "any" as const, value: {} },
      { $case: "streamExists" as const, value: {} },
      undefined
    ]
    for (const expectedStreamRevision of revisions) {
      for (const streamIdentifier of [undefined, { streamName: Buffer.alloc(0) }, { streamName: Buffer.from("stream-ü") }]) {
        same(Buffer.from(AppendReq.encode({ content: { $case: "options", value: { streamIdentifier, expectedStreamRevision } } }).finish()))
      }
    }
    for (let i = 0; i < 20; i++) {
      same(Buffer.from(AppendReq.encode({ content: { $case: "proposedMessage", value: event(i) } }).finish()))
    }
    same(Buffer.from(AppendReq.encode({
      content: {
        $case: "proposedMessage",
        value: {
          id: { value: { $case: "structured", value: { mostSignificantBits: -5n, leastSignificantBits: 2n ** 63n - 1n } } },
          metadata: [],
          customMetadata: Buffer.alloc(0),
          data: Buffer.alloc(0)
        }
      }
    }).finish()))
    same(Buffer.from(AppendReq.encode({ content: undefined }).finish()))
    // a later oneof member replaces an earlier one, as in the generated codec
    same(Buffer.concat([
      Buffer.from(AppendReq.encode({ content: { $case: "proposedMessage", value: event(4) } }).finish()),
      Buffer.from(AppendReq.encode({ content: { $case: "options", value: { streamIdentifier: undefined, expectedStreamRevision: { $case: "any", value: {} } } } }).finish())
    ]))
  })

  it("skips unknown fields, keeps data as views, and rejects truncated input", () => {
    const known = Buffer.from(AppendReq.encode({ content: { $case: "proposedMessage", value: event(3) } }).finish())
    const unknown = Buffer.concat([Buffer.from([0x78, 0x96, 0x01, 0x81, 0x01]), Buffer.alloc(8, 1), Buffer.from([0x8a, 0x01, 0x02, 0x61, 0x62, 0x95, 0x01]), Buffer.alloc(4, 2)])
    const bytes = Buffer.concat([unknown, known])
    const decoded = decodeAppendReq(bytes)
    assert.deepStrictEqual(decoded, AppendReq.decode(known))
    assert.strictEqual(decoded.content?.$case === "proposedMessage" ? decoded.content.value.data.buffer : undefined, bytes.buffer)
    const options = Buffer.from(AppendReq.encode({ content: { $case: "options", value: { streamIdentifier: { streamName: Buffer.from("s") }, expectedStreamRevision: { $case: "revision", value: 300n } } } }).finish())
    for (const message of [known, options]) {
      for (let cut = 1; cut < message.length; cut++) {
        const prefix = message.subarray(0, cut)
        const outcome = (decode: (b: Buffer) => unknown) => {
          try {
            decode(prefix)
            return "ok"
          } catch {
            return "error"
          }
        }
        assert.strictEqual(outcome(decodeAppendReq), outcome((b) => AppendReq.decode(b)), `cut at ${cut}`)
      }
    }
  })
})
