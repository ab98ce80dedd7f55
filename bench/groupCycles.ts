/**
 * Issue 16: what the node keeps after persistent-subscription groups are created, consumed and
 * deleted many times (in process, no gRPC): heap growth per cycle, set against the records the
 * cycles wrote (the log is the in-memory database: its records stay), and the node's counters.
 *
 *   node --experimental-strip-types --no-warnings --expose-gc bench/groupCycles.ts [cycles]
 */
import { Store } from "../src/server/storage/Store.ts"
import { Consumer } from "../src/server/persistent/Consumer.ts"
import { PersistentGroups } from "../src/server/persistent/PersistentGroups.ts"

const cycles = Number(process.argv[2] ?? 20000)
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {})
const heap = () => {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}
const store = new Store()
const groups = new PersistentGroups(store)
const settings = {
  resolveLinkTos: false, extraStatistics: true, messageTimeoutMs: 30000, maxRetryCount: 10, liveBufferSize: 500,
  historyBufferSize: 500, readBatchSize: 20, checkPointAfterMs: 2000, minCheckPointCount: 1, maxCheckPointCount: 5,
  maxSubscriberCount: 0, consumerStrategy: "RoundRobin"
}
const event = (i: number) => ({ eventId: crypto.randomUUID(), eventType: "e", isJson: true, data: Buffer.from(JSON.stringify({ i })), customMetadata: Buffer.alloc(0) })
for (let s = 0; s < 10; s++) store.append(`s-${s}`, { _tag: "Any" }, Array.from({ length: 20 }, (_, i) => event(i)))

const run = (from: number, n: number) => {
  for (let i = from; i < from + n; i++) {
    const stream = i % 2 === 0 ? "$all" : `s-${i % 10}`
    const group = `g-${i}`
    groups.put({ stream, group, startFrom: stream === "$all" ? { _tag: "All", commit: 0n, prepare: 0n } : { _tag: "Stream", eventNumber: 0n }, filter: undefined, settings }, "admin")
    const running = groups.start(stream, group)!
    const received: Array<string> = []
    const sink = { send: (m: { record: { eventId: string } }) => (received.push(m.record.eventId), true), drop: () => {} }
    const a = new Consumer(8, "a", "admin", "", sink)
    const b = new Consumer(8, "b", "admin", "", sink)
    running.add(a)
    running.add(b)
    running.ack(received.slice(0, 10))
    running.nack(received.slice(10, 11), "park", "bench")
    running.remove(b)
    groups.remove(stream, group, "admin")
  }
}
run(0, 1000)
const h0 = heap()
const r0 = store.log.length
const t0 = Date.now()
run(1000, cycles)
const h1 = heap()
const records = store.log.length - r0
// the heap a record of that kind takes: as many again, appended to a fresh store
const probe = new Store()
const p0 = heap()
for (let i = r0; i < store.log.length; i++) {
  const r = store.log.record(i)
  probe.append(r.stream, { _tag: "Any" }, [{ eventId: crypto.randomUUID(), eventType: r.eventType, isJson: r.isJson, data: Buffer.from(r.data), customMetadata: Buffer.from(r.customMetadata) }])
}
const p1 = heap()
if (probe.log.length === 0) throw new Error("nothing appended")
console.log(JSON.stringify({
  cycles,
  ms: Date.now() - t0,
  heapGrowthMB: +((h1 - h0) / 1e6).toFixed(1),
  bytesPerCycle: Math.round((h1 - h0) / cycles),
  recordsPerCycle: +(records / cycles).toFixed(2),
  recordsAloneBytesPerCycle: Math.round((p1 - p0) / cycles),
  listeners: store.listenerCount
}))
groups.close()
