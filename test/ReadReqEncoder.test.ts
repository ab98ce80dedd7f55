/**
 * The hand-written persistent ReadReq encoder writes exactly what the generated codec writes, for
 * every message a consumer sends (acks, nacks, the options that open the call) and for the shapes
 * it hands back to the generated codec (structured ids, non-ASCII text, unknown actions).
 */
import { assert, describe, it } from "@effect/vitest"
import { randomUUID } from "node:crypto"
import { ReadReq, ReadReq_Nack_Action } from "../src/generated/persistent.ts"
import type { UUID } from "../src/generated/shared.ts"
import { encodePersistentReadReq } from "../src/internal/codec/ReadReqEncoder.ts"

const text = (value: string): UUID => ({ value: { $case: "string", value } })
const structured = (msb: bigint, lsb: bigint): UUID => ({
  value: { $case: "structured", value: { mostSignificantBits: msb, leastSignificantBits: lsb } }
})
const NO_ID = Buffer.alloc(0)

const check = (message: ReadReq) => {
  const expected = Buffer.from(ReadReq.encode(message).finish()).toString("hex")
  assert.strictEqual(encodePersistentReadReq(message).toString("hex"), expected)
}

const ack = (ids: Array<UUID>, id: Buffer = NO_ID): ReadReq => ({ content: { $case: "ack", value: { id, ids } } })
const nack = (ids: Array<UUID>, action: number, reason: string, id: Buffer = NO_ID): ReadReq => ({
  content: { $case: "nack", value: { id, ids, action: action as ReadReq_Nack_Action, reason } }
})

describe("encodePersistentReadReq", () => {
  it("writes acks as the generated codec does", () => {
    check(ack([]))
    check(ack([text(randomUUID())]))
    check(ack(Array.from({ length: 5 }, () => text(randomUUID()))))
    // enough ids for a two-byte length, and then a three-byte one
    check(ack(Array.from({ length: 4 }, () => text(randomUUID()))))
    check(ack(Array.from({ length: 100 }, () => text(randomUUID()))))
    check(ack(Array.from({ length: 10_000 }, () => text(randomUUID()))))
    // an empty id text, a long one (two-byte lengths inside the UUID), a subscription id
    check(ack([text(""), text("x".repeat(200)), text(randomUUID())]))
    check(ack([text(randomUUID())], Buffer.from("subscription-id")))
    check(ack([text(randomUUID())], Buffer.from([9])))
    check(ack([], Buffer.alloc(300, 1)))
  })

  it("writes nacks with every action and reason as the generated codec does", () => {
    const ids = [text(randomUUID()), text(randomUUID())]
    for (const action of [0, 1, 2, 3, 4, 127]) {
      for (const reason of ["", "failed", "r".repeat(127), "r".repeat(128), "r".repeat(4096)]) {
        check(nack(ids, action, reason))
      }
    }
    check(nack([], ReadReq_Nack_Action.Park, "no ids"))
    check(nack(ids, ReadReq_Nack_Action.Retry, "with an id", Buffer.from([1, 2, 3])))
    check(nack(ids, ReadReq_Nack_Action.Retry, "", Buffer.from([1])))
  })

  it("leaves other shapes to the generated codec, with the same bytes", () => {
    // structured ids, non-ASCII ids and reasons, actions beyond one varint byte or negative
    check(ack([text(randomUUID()), structured(1n, 2n)]))
    check(ack([text("événement"), text(randomUUID())]))
    check(ack([{ value: undefined }]))
    check(nack([text(randomUUID())], ReadReq_Nack_Action.Park, "raison: échec ✓"))
    check(nack([text("日本")], ReadReq_Nack_Action.Skip, ""))
    check(nack([text(randomUUID())], 300, "big action"))
    check(nack([text(randomUUID())], -1, "negative action"))
    // the options that open the call, and an empty message
    check({
      content: {
        $case: "options",
        value: {
          streamOption: { $case: "streamIdentifier", value: { streamName: Buffer.from("orders") } },
          groupName: "g",
          bufferSize: 10,
          uuidOption: { content: { $case: "string", value: {} } }
        }
      }
    })
    check({ content: undefined })
  })

  it("agrees with the generated codec on random acks and nacks", () => {
    let seed = 7
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed % n
    }
    const alphabet = ["a", "-", "0", "Z", "é", "✓", "😀", "\u007f", "\u0080"]
    const word = (max: number) => Array.from({ length: next(max) }, () => alphabet[next(next(4) === 0 ? 9 : 4)]).join("")
    const id = (): UUID =>
      next(10) === 0 ? structured(BigInt(next(1000)), -BigInt(next(1000))) : text(next(2) === 0 ? randomUUID() : word(150))
    for (let i = 0; i < 3000; i++) {
      const ids = Array.from({ length: next(12) }, id)
      const subscription = next(5) === 0 ? Buffer.from(word(20)) : NO_ID
      check(next(2) === 0 ? ack(ids, subscription) : nack(ids, next(6), next(3) === 0 ? "" : word(300), subscription))
    }
  })
})
