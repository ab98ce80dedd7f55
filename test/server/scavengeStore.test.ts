/**
 * The store's side of a scavenge (storage/Scavenge.ts), in memory: a stream view held across a
 * scavenge answers undefined for the events dropped since (its readers skip them), `$all` passes
 * over the dropped records, numbering goes on, and a stopped scavenge changes nothing.
 */
import { assert, describe, it } from "@effect/vitest"
import { scavenge } from "../../src/server/storage/Scavenge.ts"
import { type ProposedEvent, Store } from "../../src/server/storage/Store.ts"

const event = (eventType: string, data: unknown): ProposedEvent => ({
  eventId: crypto.randomUUID(),
  eventType,
  isJson: true,
  data: Buffer.from(JSON.stringify(data)),
  customMetadata: Buffer.alloc(0)
})
const any = { _tag: "Any" } as const

const allOf = (store: Store, stream: string) => {
  const cursor = store.log.cursor(0)
  const numbers: Array<number> = []
  for (let r = cursor.next(); r !== undefined; r = cursor.next()) if (r.stream === stream) numbers.push(r.eventNumber)
  return numbers
}

describe("scavenge in the store", () => {
  it("a view held across it answers undefined for dropped events; $all passes over them; numbering goes on", async () => {
    const store = new Store()
    store.append("s", any, Array.from({ length: 10 }, (_, k) => event("E", { k })))
    const held = store.view("s")
    assert.strictEqual(held._tag, "Ok")
    if (held._tag !== "Ok") return
    store.append("$$s", any, [event("$metadata", { $maxCount: 2 })])
    const result = await scavenge(store.scavengeTarget(), { now: Date.now(), stopped: () => false })
    assert.isFalse(result.stopped)
    // 8 events of s, and no event of $$s (one event: its last)
    assert.strictEqual(result.recordsDropped, 8)
    assert.isUndefined(held.event(0))
    assert.isUndefined(held.event(7))
    assert.deepStrictEqual(JSON.parse(held.event(8)!.data.toString()), { k: 8 })
    const view = store.view("s")
    assert.strictEqual(view._tag === "Ok" ? view.first : -1, 8)
    assert.isUndefined(store.event("s", 3))
    assert.deepStrictEqual(allOf(store, "s"), [8, 9])
    // a wider window later shows what is left
    store.append("$$s", any, [event("$metadata", { $maxCount: 100 })])
    const wider = store.view("s")
    assert.strictEqual(wider._tag === "Ok" ? wider.first : -1, 8)
    const next = store.append("s", any, [event("E", { k: 10 })])
    assert.strictEqual(next._tag === "Success" ? next.currentRevision : -1, 10)
    assert.deepStrictEqual(allOf(store, "s"), [8, 9, 10])
  })

  it("stopped before it ends, it changes nothing", async () => {
    const store = new Store()
    store.append("t", any, Array.from({ length: 5 }, (_, k) => event("E", { k })))
    store.softDelete("t", any)
    const result = await scavenge(store.scavengeTarget(), { now: Date.now(), stopped: () => true })
    assert.isTrue(result.stopped)
    assert.deepStrictEqual(allOf(store, "t"), [0, 1, 2, 3, 4])
  })
})
