import * as grpc from "@grpc/grpc-js"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import type { ReadReq_Options, ReadResp } from "../../src/generated/streams.ts"
import { nodeStats, type RunningNode, startEmbeddedNode } from "../../src/server/EmbeddedNode.ts"
import {
  allOption,
  any,
  appendOk,
  type Clients,
  connect,
  deleteStream,
  events,
  eventTypeOf,
  readOptions,
  streamOption,
  subscribe,
  tombstoneStream,
  uniqueStream
} from "./helpers.ts"
import { eventuallyAsync } from "../support/eventually.ts"

const sub = (c: Clients, options: Partial<ReadReq_Options>) =>
  subscribe(c.streams, { options: readOptions({ countOption: { $case: "subscription", value: {} }, ...options }) })

const kinds = (ms: ReadonlyArray<ReadResp>) => ms.map((m) => m.content?.$case)
const hasCaughtUp = (ms: ReadonlyArray<ReadResp>) => ms.some((m) => m.content?.$case === "caughtUp")


describe("Subscriptions", () => {
  let node: RunningNode
  let c: Clients
  beforeAll(async () => {
    node = await startEmbeddedNode()
    c = connect(node)
  })
  afterAll(async () => {
    c.close()
    await node.stop()
  })

  it("stream subscription: confirmation, catch-up, caught_up, live", async () => {
    const s = uniqueStream()
    await appendOk(c.streams, s, any, [{ type: "A" }, { type: "B" }])
    const sb = sub(c, { streamOption: streamOption(s, "start") })
    await sb.waitFor(hasCaughtUp)
    assert.deepStrictEqual(kinds(sb.messages), ["confirmation", "event", "event", "caughtUp"])
    const conf = sb.messages[0]!.content?.$case === "confirmation" ? sb.messages[0]!.content.value.subscriptionId : ""
    assert.match(conf, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
    const caught = sb.messages[3]!.content?.$case === "caughtUp" ? sb.messages[3]!.content.value : undefined
    assert.strictEqual(caught!.streamRevision, 1n)
    assert.instanceOf(caught!.timestamp, Date)
    assert.isUndefined(caught!.position)
    await appendOk(c.streams, s, any, [{ type: "C" }])
    await sb.waitFor((ms) => events(ms).length === 3)
    assert.deepStrictEqual(events(sb.messages).map((e) => eventTypeOf(e.event)), ["A", "B", "C"])
    sb.call.cancel()
  })

  it("stream subscription from a revision is exclusive; from end delivers only new events", async () => {
    const s = uniqueStream()
    await appendOk(c.streams, s, any, [{ type: "A" }, { type: "B" }, { type: "C" }])
    const fromRev = sub(c, { streamOption: streamOption(s, 0n) })
    await fromRev.waitFor(hasCaughtUp)
    assert.deepStrictEqual(events(fromRev.messages).map((e) => eventTypeOf(e.event)), ["B", "C"])
    const fromEnd = sub(c, { streamOption: streamOption(s, "end") })
    await fromEnd.waitFor(hasCaughtUp)
    assert.deepStrictEqual(kinds(fromEnd.messages), ["confirmation", "caughtUp"])
    await appendOk(c.streams, s, any, [{ type: "D" }])
    await fromEnd.waitFor((ms) => events(ms).length === 1)
    assert.strictEqual(eventTypeOf(events(fromEnd.messages)[0]!.event), "D")
    fromRev.call.cancel()
    fromEnd.call.cancel()
  })

  it("a subscription to a missing stream confirms, catches up and waits", async () => {
    const s = uniqueStream()
    const sb = sub(c, { streamOption: streamOption(s, "start") })
    await sb.waitFor(hasCaughtUp)
    assert.deepStrictEqual(kinds(sb.messages), ["confirmation", "caughtUp"])
    const caught = sb.messages[1]!.content?.$case === "caughtUp" ? sb.messages[1]!.content.value : undefined
    assert.isUndefined(caught!.streamRevision)
    await appendOk(c.streams, s, any, [{ type: "First" }])
    await sb.waitFor((ms) => events(ms).length === 1)
    sb.call.cancel()
  })

  it("tombstone during a stream subscription delivers $streamDeleted, then stream-deleted", async () => {
    const s = uniqueStream()
    await appendOk(c.streams, s, any, [{}])
    const sb = sub(c, { streamOption: streamOption(s, "start") })
    await sb.waitFor(hasCaughtUp)
    await tombstoneStream(c.streams, s, any)
    await sb.waitEnd()
    const evs = events(sb.messages)
    assert.strictEqual(eventTypeOf(evs[evs.length - 1]!.event), "$streamDeleted")
    assert.strictEqual(sb.error?.code, grpc.status.FAILED_PRECONDITION)
    assert.deepStrictEqual(sb.error?.metadata.get("exception"), ["stream-deleted"])
    assert.deepStrictEqual(sb.error?.metadata.get("stream-name"), [s])
  })

  it("subscribing to a tombstoned stream fails with stream-deleted", async () => {
    const s = uniqueStream()
    await tombstoneStream(c.streams, s, any)
    const sb = sub(c, { streamOption: streamOption(s, "start") })
    await sb.waitEnd()
    assert.strictEqual(sb.error?.code, grpc.status.FAILED_PRECONDITION)
  })

  it("a soft-deleted stream's subscription continues with the new events", async () => {
    const s = uniqueStream()
    await appendOk(c.streams, s, any, [{ type: "Old" }])
    await deleteStream(c.streams, s, any)
    const sb = sub(c, { streamOption: streamOption(s, "start") })
    await sb.waitFor(hasCaughtUp)
    assert.deepStrictEqual(events(sb.messages), [])
    await appendOk(c.streams, s, any, [{ type: "New" }])
    await sb.waitFor((ms) => events(ms).length === 1)
    assert.strictEqual(events(sb.messages)[0]!.event!.streamRevision, 1n)
    sb.call.cancel()
  })

  it("$all subscription: caught_up carries a position, live events follow", async () => {
    const s = uniqueStream()
    const sb = sub(c, { streamOption: allOption("end") })
    await sb.waitFor(hasCaughtUp)
    assert.deepStrictEqual(kinds(sb.messages), ["confirmation", "caughtUp"])
    const caught = sb.messages[1]!.content?.$case === "caughtUp" ? sb.messages[1]!.content.value : undefined
    assert.isDefined(caught!.position)
    assert.isUndefined(caught!.streamRevision)
    const r = await appendOk(c.streams, s, any, [{ type: "Live" }])
    await sb.waitFor((ms) => events(ms).length === 1)
    const ev = events(sb.messages)[0]!
    assert.strictEqual(ev.event!.streamIdentifier!.streamName.toString(), s)
    assert.deepStrictEqual(ev.position, { $case: "commitPosition", value: r.positionOption?.$case === "position" ? r.positionOption.value.commitPosition : 0n })
    // from a position: exclusive
    const from = ev.event!.commitPosition
    await appendOk(c.streams, s, any, [{ type: "Next" }])
    const sb2 = sub(c, { streamOption: allOption(from) })
    await sb2.waitFor(hasCaughtUp)
    assert.deepStrictEqual(events(sb2.messages).map((e) => eventTypeOf(e.event)), ["Next"])
    // from start: $epoch-information is hidden, other system events are there
    const sb3 = sub(c, { streamOption: allOption("start") })
    await sb3.waitFor(hasCaughtUp)
    assert.isFalse(events(sb3.messages).some((e) => e.event!.streamIdentifier!.streamName.toString() === "$epoch-information"))
    sb.call.cancel()
    sb2.call.cancel()
    sb3.call.cancel()
  })

  it("filtered $all subscription sends checkpoints every multiplier × max considered events, and one at catch-up end", async () => {
    const s = uniqueStream("chk")
    const other = uniqueStream("noise")
    const startAt = await appendOk(c.streams, other, any, [{}])
    const from = startAt.positionOption?.$case === "position" ? startAt.positionOption.value.commitPosition : 0n
    await appendOk(c.streams, other, any, Array.from({ length: 9 }, () => ({})))
    await appendOk(c.streams, s, any, [{ type: "Hit" }])
    const sb = sub(c, {
      streamOption: allOption(from),
      filterOption: {
        $case: "filter",
        value: { filter: { $case: "streamIdentifier", value: { regex: "", prefix: [s] } }, window: { $case: "max", value: 2 }, checkpointIntervalMultiplier: 2 }
      }
    })
    await sb.waitFor(hasCaughtUp)
    // 10 records considered (9 noise + 1 hit) with interval 4 → checkpoints after 4 and 8, plus one at the end
    assert.deepStrictEqual(kinds(sb.messages), ["confirmation", "checkpoint", "checkpoint", "event", "checkpoint", "caughtUp"])
    const cps = sb.messages.flatMap((m) => (m.content?.$case === "checkpoint" ? [m.content.value] : []))
    assert.isTrue(cps.every((cp) => cp.commitPosition === cp.preparePosition && cp.timestamp instanceof Date))
    assert.isTrue(cps[0]!.commitPosition < cps[1]!.commitPosition && cps[1]!.commitPosition < cps[2]!.commitPosition)
    // live: more noise produces checkpoints too
    await appendOk(c.streams, other, any, Array.from({ length: 4 }, () => ({})))
    await sb.waitFor((ms) => kinds(ms).filter((k) => k === "checkpoint").length === 4)
    sb.call.cancel()
  })

  it("cancelling a subscription frees it", async () => {
    await eventuallyAsync("the node freed the subscription", () => nodeStats(node).activeReads === 0)
    const base = nodeStats(node)
    assert.strictEqual(base.storeListeners, 0)
    const subs = Array.from({ length: 5 }, (_, i) => sub(c, { streamOption: i % 2 === 0 ? allOption("end") : streamOption(uniqueStream(), "start") }))
    for (const sb of subs) await sb.waitFor(hasCaughtUp)
    assert.strictEqual(nodeStats(node).activeReads, 5)
    assert.strictEqual(nodeStats(node).storeListeners, 5)
    for (const sb of subs) sb.call.cancel()
    await eventuallyAsync("the node freed the subscriptions and their listeners", () => nodeStats(node).activeReads === 0 && nodeStats(node).storeListeners === 0)
  })

  it("a slow subscriber gets every live event in order without the node buffering them", async () => {
    const s = uniqueStream("slow")
    const sb = sub(c, { streamOption: streamOption(s, "start") })
    await sb.waitFor(hasCaughtUp)
    sb.call.pause()
    const payload = "x".repeat(2000)
    for (let i = 0; i < 20; i++) await appendOk(c.streams, s, any, Array.from({ length: 100 }, (_, j) => ({ data: { i: i * 100 + j, payload } })))
    sb.call.resume()
    await sb.waitFor((ms) => events(ms).length === 2000, 15000)
    const revs = events(sb.messages).map((e) => Number(e.event!.streamRevision))
    assert.deepStrictEqual(revs, Array.from({ length: 2000 }, (_, i) => i))
    sb.call.cancel()
  })
})
