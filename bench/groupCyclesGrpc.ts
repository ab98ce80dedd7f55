/**
 * Issue 16: create, consume and delete persistent-subscription groups through the official client,
 * many times, and print what the node keeps.
 *
 *   node --experimental-strip-types --no-warnings --expose-gc bench/groupCyclesGrpc.ts [cycles]
 */
import { jsonEvent, KurrentDBClient, persistentSubscriptionToStreamSettingsFromDefaults, START } from "@kurrent/kurrentdb-client"
import { nodeStats, startEmbeddedNode } from "../src/server/EmbeddedNode.ts"

const cycles = Number(process.argv[2] ?? 2000)
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {})
const heap = () => {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}
const node = await startEmbeddedNode({ insecure: true })
const client = KurrentDBClient.connectionString(node.connectionString)
await client.appendToStream("s", [jsonEvent({ type: "e", data: { i: 0 } })])
const cycle = async (i: number) => {
  const group = `g-${i}`
  await client.createPersistentSubscriptionToStream("s", group, persistentSubscriptionToStreamSettingsFromDefaults({ startFrom: START, checkPointLowerBound: 1, checkPointUpperBound: 1 }))
  const sub = client.subscribeToPersistentSubscriptionToStream("s", group)
  const acked = new Promise<void>((resolve, reject) => {
    sub.on("data", (e) => void sub.ack(e).then(() => resolve(), reject))
    // deleting the group drops the consumer (the node ends the call): no RST_STREAM from the
    // client, whose cancellations the node's rapid-reset limit allows only 33 a second
    sub.on("error", () => {})
  })
  await acked
  await client.deletePersistentSubscriptionToStream("s", group)
}
for (let i = 0; i < 200; i++) await cycle(i).catch((e) => { console.log("cycle", i); throw e })
const h0 = heap()
const s0 = nodeStats(node)
const t0 = Date.now()
for (let i = 200; i < 200 + cycles; i++) await cycle(i).catch((e) => { console.log("cycle", i); throw e })
await new Promise((r) => setTimeout(r, 200))
const h1 = heap()
const s1 = nodeStats(node)
console.log(JSON.stringify({
  cycles,
  ms: Date.now() - t0,
  heapGrowthMB: +((h1 - h0) / 1e6).toFixed(1),
  bytesPerCycle: Math.round((h1 - h0) / cycles),
  before: s0,
  after: s1
}))
await client.dispose()
await node.stop()
