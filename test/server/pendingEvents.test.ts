import { assert, describe, it } from "@effect/vitest"
import { randomUUID } from "node:crypto"
import { PendingEvents, WholeBatchEvents } from "../../src/server/codec/PendingEvents.ts"
import type { ProposedEvent } from "../../src/server/storage/Store.ts"

describe("PendingEvents", () => {
  it("gives back every event as pushed: ids, types, flags, data and metadata, across chunks and large records", () => {
    const events: Array<ProposedEvent> = []
    for (let i = 0; i < 5000; i++) {
      const size = i % 997 === 0 ? 40_000 + i : i % 13
      events.push({
        eventId: i % 7 === 0 ? `not-a-canonical-id-${i}` : randomUUID(),
        eventType: i % 5 === 0 ? `typé-${i}-€` : "t",
        isJson: i % 2 === 0,
        data: Buffer.alloc(size, i & 0xff),
        customMetadata: i % 3 === 0 ? Buffer.from(`meta-${i}`) : Buffer.alloc(0)
      })
    }
    const pending = new PendingEvents()
    for (const e of events) pending.push(e)
    assert.strictEqual(pending.count, events.length)
    const back = pending.toArray()
    assert.strictEqual(back.length, events.length)
    back.forEach((e, i) => {
      const want = events[i]!
      assert.strictEqual(e.eventId, want.eventId)
      assert.strictEqual(e.eventType, want.eventType)
      assert.strictEqual(e.isJson, want.isJson)
      assert.isTrue(Buffer.from(e.data).equals(want.data))
      assert.isTrue(Buffer.from(e.customMetadata).equals(want.customMetadata))
    })
  })

  it("holds tiny events in a few dozen bytes each", () => {
    const pending = new PendingEvents()
    const id = randomUUID()
    for (let i = 0; i < 100_000; i++) pending.push({ eventId: id, eventType: "t", isJson: false, data: Buffer.from("x"), customMetadata: Buffer.alloc(0) })
    const bytes = pending.toArray().reduce((set, e) => set.add(e.data.buffer), new Set<ArrayBufferLike>())
    let total = 0
    for (const b of bytes) total += b.byteLength
    assert.isBelow(total / 100_000, 48)
  })

  it("WholeBatchEvents gives back every event as pushed, its bytes copied out of the request's buffer", () => {
    // one received message: every event's data and metadata are views of it
    const message = Buffer.alloc(64 * 1024, 7)
    const events: Array<ProposedEvent> = []
    let at = 0
    for (let i = 0; i < 200; i++) {
      const size = i % 17
      const meta = i % 3
      events.push({
        eventId: randomUUID(),
        eventType: `t-${i}`,
        isJson: i % 2 === 0,
        data: message.subarray(at, at + size).fill(i & 0xff),
        customMetadata: message.subarray(at + size, at + size + meta).fill(0xee)
      })
      at += size + meta
    }
    const whole = new WholeBatchEvents()
    for (const e of events) whole.push(e)
    assert.strictEqual(whole.count, events.length)
    const back = whole.toArray()
    message.fill(0)
    back.forEach((e, i) => {
      const want = events[i]!
      assert.strictEqual(e.eventId, want.eventId)
      assert.strictEqual(e.eventType, want.eventType)
      assert.strictEqual(e.isJson, want.isJson)
      assert.strictEqual(e.data.length, i % 17)
      assert.isTrue(e.data.every((b) => b === (i & 0xff)))
      assert.strictEqual(e.customMetadata.length, i % 3)
      assert.isTrue(e.customMetadata.every((b) => b === 0xee))
      assert.notStrictEqual(e.data.buffer, message.buffer)
    })
  })
})
