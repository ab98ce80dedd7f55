import { randomUUID } from "node:crypto"
import { eventResp } from "../../../src/server/codec/ReadEncoding.ts"
import { Store } from "../../../src/server/storage/Store.ts"
const store = new Store()
const data = Buffer.from(JSON.stringify({ payload: "x".repeat(170) }))
for (let i = 0; i < 200; i++) store.append("s", { _tag: "Any" }, Array.from({ length: 1000 }, () => ({ eventId: randomUUID(), eventType: "Bench", isJson: true, data, customMetadata: Buffer.alloc(0) })))
const events = store.events("s")
let t = performance.now()
for (const e of events) eventResp(e, 1)
console.log("encode µs/event", ((performance.now() - t) * 1000 / events.length).toFixed(2))
for (const e of events) e.cache = undefined
t = performance.now()
for (const e of events) eventResp(e, 1)
console.log("encode again µs/event", ((performance.now() - t) * 1000 / events.length).toFixed(2))
t = performance.now()
for (const e of events) eventResp(e, 0)
console.log("encode structured µs/event", ((performance.now() - t) * 1000 / events.length).toFixed(2))
