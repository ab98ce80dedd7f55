import { assert, describe, it } from "@effect/vitest"
import { ReadResp, type ReadResp_ReadEvent_RecordedEvent } from "../../src/generated/streams.ts"
import { eventResp, resolvedResp } from "../../src/server/codec/ReadEncoding.ts"
import { type EventRecord, Store } from "../../src/server/storage/Store.ts"
import { toStringForm, toStructured } from "../../src/server/codec/Uuid.ts"

const expectedRecorded = (r: EventRecord, mode: 0 | 1): ReadResp_ReadEvent_RecordedEvent => ({
  id: mode === 1 ? toStringForm(r.eventId) : toStructured(r.eventId),
  streamIdentifier: { streamName: r.streamBytes },
  streamRevision: r.isTombstone ? 9223372036854775807n : BigInt(r.eventNumber),
  preparePosition: BigInt(r.position),
  commitPosition: BigInt(r.position),
  metadata: [
    { key: "type", value: r.eventType },
    { key: "created", value: r.created },
    { key: "content-type", value: r.isJson ? "application/json" : "application/octet-stream" }
  ],
  customMetadata: r.customMetadata,
  data: r.data
})

describe("pre-encoded ReadResp", () => {
  const store = new Store()
  const ids = ["00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff", "0123abcd-0000-4000-8000-00000000abcd", "80000000-0000-0000-7fff-ffffffffffff"]
  store.append("enc-ü", { _tag: "Any" }, ids.map((eventId, i) => ({
    eventId,
    eventType: i === 0 ? "Typé" : `T${i}`,
    isJson: i % 2 === 0,
    data: i === 1 ? Buffer.alloc(0) : Buffer.from(JSON.stringify({ i, big: "x".repeat(i * 100) })),
    customMetadata: i === 2 ? Buffer.from("{\"m\":1}") : Buffer.alloc(0)
  })))
  store.append("links", { _tag: "Any" }, [{ eventId: "11111111-2222-3333-4444-555555555555", eventType: "$>", isJson: false, data: Buffer.from("2@enc-ü"), customMetadata: Buffer.alloc(0) }])
  store.tombstone("tomb", { _tag: "Any" })

  it("encodes events exactly like the generated codec", () => {
    const records = [...store.events("enc-ü"), store.tombstoneOf("tomb")!]
    for (const r of records) {
      for (const mode of [0, 1] as const) {
        const expected: ReadResp = { content: { $case: "event", value: { event: expectedRecorded(r, mode), link: undefined, position: { $case: "commitPosition", value: BigInt(r.position) } } } }
        const framed = eventResp(r, mode)
        assert.strictEqual(framed[0], 0)
        assert.strictEqual(framed.readUInt32BE(1), framed.length - 5)
        const bytes = framed.subarray(5)
        assert.deepStrictEqual(ReadResp.decode(bytes), ReadResp.decode(ReadResp.encode(expected).finish()))
        assert.isTrue(Buffer.from(ReadResp.encode(expected).finish()).equals(bytes), `bytes of ${r.eventId} mode ${mode}`)
      }
    }
  })

  it("encodes resolved links and unresolved link-only events", () => {
    const link = store.events("links")[0]!
    const target = store.resolveLink(link)!
    assert.strictEqual(target.eventNumber, 2)
    const expected: ReadResp = { content: { $case: "event", value: { event: expectedRecorded(target, 1), link: expectedRecorded(link, 1), position: { $case: "commitPosition", value: BigInt(link.position) } } } }
    assert.isTrue(Buffer.from(ReadResp.encode(expected).finish()).equals(resolvedResp(target, link, 1).subarray(5)))
    const onlyLink: ReadResp = { content: { $case: "event", value: { event: undefined, link: expectedRecorded(link, 0), position: { $case: "commitPosition", value: BigInt(link.position) } } } }
    assert.isTrue(Buffer.from(ReadResp.encode(onlyLink).finish()).equals(resolvedResp(undefined, link, 0).subarray(5)))
  })
})
