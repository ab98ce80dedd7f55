/**
 * Scenario 3 — readAll (through the official client's native reader).
 *
 * Real node behaviour (PROTOCOL.md §1 "Read", "Filters"):
 * - `$all` forwards from a position is inclusive, backwards is strictly before it;
 * - filters on stream name or event type, by prefixes (any StartsWith) or an UNANCHORED regex;
 * - only `$epoch-information` and persistent-subscription checkpoint/parked events are hidden
 *   by default, so `$metadata` events (stream `$$x`) are returned unless excluded;
 * - `excludeSystemEvents()` is the client-side regex `^[^$].*` on the event type;
 * - stream `$maxCount`/`$tb` do not hide events from `$all` (only scavenge removes them).
 */
import { beforeAll, describe, expect, it } from "vitest"
import {
  BACKWARDS,
  END,
  START,
  binaryEvent,
  eventTypeFilter,
  excludeSystemEvents,
  jsonEvent,
  streamNameFilter,
  type AllStreamResolvedEvent,
  type AppendResult,
  type KurrentDBClient
} from "@kurrent/kurrentdb-client"
import { collect, useNode, uniqueStream, type RunningNode } from "./_support.ts"

let node: RunningNode
let client: KurrentDBClient

const PREFIX = uniqueStream("ra")
const STREAM_A = `${PREFIX}-alpha`
const STREAM_B = `${PREFIX}-beta`
const TYPE_X = `${PREFIX}X`
const TYPE_Y = `${PREFIX}Y`
const results: Array<AppendResult> = []

useNode({ insecure: true }, (n, c) => {
  node = n
  client = c
})

beforeAll(async () => {
  // interleaved appends: A(x,x) B(y) A(y) B(x,x)
  results.push(await client.appendToStream(STREAM_A, [ev(TYPE_X, 0), ev(TYPE_X, 1)]))
  results.push(await client.appendToStream(STREAM_B, [ev(TYPE_Y, 2)]))
  results.push(await client.appendToStream(STREAM_A, [ev(TYPE_Y, 3)]))
  // a metadata write puts a `$metadata` event in `$$<STREAM_B>`
  results.push(await client.setStreamMetadata(STREAM_B, { maxCount: 50 }))
  results.push(await client.appendToStream(STREAM_B, [ev(TYPE_X, 4), ev(TYPE_X, 5)]))
})

function ev(type: string, n: number) {
  return jsonEvent({ type, data: { n } })
}

/** Only the events this file wrote (user events plus the `$$STREAM_B` metadata event). */
const mine = (events: ReadonlyArray<AllStreamResolvedEvent>) =>
  events.filter((e) => e.event && (e.event.streamId.startsWith(PREFIX) || e.event.streamId === `$$${STREAM_B}`))

const ns = (events: ReadonlyArray<AllStreamResolvedEvent>) =>
  events.map((e) => (e.event!.isJson ? (e.event!.data as { n?: number }).n : undefined))

const positionsOf = (events: ReadonlyArray<AllStreamResolvedEvent>) => events.map((e) => e.event!.position.commit)

describe("readAll", () => {
  it("forwards from start returns every event in log order, including $metadata", async () => {
    const all = await collect(client.readAll())
    expect(all.length).toBeGreaterThan(0)
    const positions = positionsOf(all)
    for (let i = 1; i < positions.length; i++) expect(positions[i]!).toBeGreaterThan(positions[i - 1]!)
    const own = mine(all)
    expect(own.map((e) => [e.event!.streamId, e.event!.type])).toEqual([
      [STREAM_A, TYPE_X],
      [STREAM_A, TYPE_X],
      [STREAM_B, TYPE_Y],
      [STREAM_A, TYPE_Y],
      [`$$${STREAM_B}`, "$metadata"],
      [STREAM_B, TYPE_X],
      [STREAM_B, TYPE_X]
    ])
    // every event read from $all carries its position; commit == prepare for self-committed events
    for (const e of all) expect(e.event!.position.commit).toBe(e.event!.position.prepare)
    // $epoch-information is never returned by $all
    expect(all.some((e) => e.event!.streamId === "$epoch-information")).toBe(false)
  })

  it("the append result position equals the $all position of the last appended event", async () => {
    const own = mine(await collect(client.readAll()))
    expect(own[1]!.event!.position).toEqual(results[0]!.position)
    expect(own[6]!.event!.position).toEqual(results[4]!.position)
    expect(own[4]!.event!.position).toEqual(results[3]!.position)
  })

  it("backwards from end returns the reverse order", async () => {
    const forwards = await collect(client.readAll())
    const backwards = await collect(client.readAll({ direction: BACKWARDS, fromPosition: END }))
    expect(positionsOf(backwards)).toEqual(positionsOf(forwards).reverse())
  })

  it("maxCount limits the number of events", async () => {
    const two = await collect(client.readAll({ maxCount: 2 }))
    expect(two.length).toBe(2)
    const all = await collect(client.readAll())
    expect(positionsOf(two)).toEqual(positionsOf(all).slice(0, 2))
  })

  it("forwards fromPosition is inclusive", async () => {
    const own = mine(await collect(client.readAll()))
    const third = own[2]!
    const [first] = await collect(client.readAll({ fromPosition: third.event!.position, maxCount: 1 }))
    expect(first!.event!.id).toBe(third.event!.id)
    expect(first!.event!.position).toEqual(third.event!.position)
  })

  it("backwards fromPosition is exclusive (strictly before the position)", async () => {
    const all = await collect(client.readAll())
    const own = mine(all)
    const third = own[2]!
    const idx = all.findIndex((e) => e.event!.id === third.event!.id)
    const [before] = await collect(client.readAll({ direction: BACKWARDS, fromPosition: third.event!.position, maxCount: 1 }))
    expect(before!.event!.id).toBe(all[idx - 1]!.event!.id)
  })

  // Not tested: "forwards from END". The official client's native reader always sends direction
  // Backwards for fromPosition END (and Forwards for START), whatever `direction` says, so it cannot
  // express that read against any server.

  it("streamNameFilter with prefixes returns only matching streams", async () => {
    const events = await collect(client.readAll({ filter: streamNameFilter({ prefixes: [STREAM_A] }) }))
    expect(events.every((e) => e.event!.streamId === STREAM_A)).toBe(true)
    expect(ns(events)).toEqual([0, 1, 3])
  })

  it("streamNameFilter with several prefixes matches any of them", async () => {
    const events = await collect(client.readAll({ filter: streamNameFilter({ prefixes: [STREAM_B, STREAM_A] }) }))
    expect(ns(events)).toEqual([0, 1, 2, 3, 4, 5])
  })

  it("streamNameFilter regex is unanchored (matches inside the name)", async () => {
    const events = await collect(client.readAll({ filter: streamNameFilter({ regex: `${PREFIX.slice(3)}-bet` }) }))
    // the metastream `$$<STREAM_B>` contains the pattern too, so its `$metadata` event matches
    expect(events.map((e) => e.event!.streamId)).toEqual([STREAM_B, `$$${STREAM_B}`, STREAM_B, STREAM_B])
    const withMeta = await collect(client.readAll({ filter: streamNameFilter({ regex: `\\$\\$${PREFIX}` }) }))
    expect(withMeta.map((e) => e.event!.type)).toEqual(["$metadata"])
  })

  it("eventTypeFilter with prefixes and with regex", async () => {
    const byPrefix = await collect(client.readAll({ filter: eventTypeFilter({ prefixes: [TYPE_Y] }) }))
    expect(ns(byPrefix)).toEqual([2, 3])
    const byRegex = await collect(client.readAll({ filter: eventTypeFilter({ regex: `^${PREFIX}X$` }) }))
    expect(ns(byRegex)).toEqual([0, 1, 4, 5])
  })

  it("a filtered read honours maxCount (counting matching events) and direction", async () => {
    const firstTwo = await collect(client.readAll({ filter: eventTypeFilter({ prefixes: [TYPE_X] }), maxCount: 2 }))
    expect(ns(firstTwo)).toEqual([0, 1])
    const lastThree = await collect(client.readAll({
      filter: eventTypeFilter({ prefixes: [TYPE_X] }),
      direction: BACKWARDS,
      fromPosition: END,
      maxCount: 3
    }))
    expect(ns(lastThree)).toEqual([5, 4, 1])
  })

  it("a filter that matches nothing returns nothing", async () => {
    const none = await collect(client.readAll({ filter: streamNameFilter({ prefixes: [`${PREFIX}-nothing`] }) }))
    expect(none).toEqual([])
  })

  it("excludeSystemEvents drops $-typed events but keeps user events", async () => {
    const events = await collect(client.readAll({ filter: excludeSystemEvents() }))
    expect(events.some((e) => e.event!.type.startsWith("$"))).toBe(false)
    expect(mine(events).length).toBe(6)
    const unfiltered = await collect(client.readAll({ fromPosition: START }))
    expect(unfiltered.some((e) => e.event!.type === "$metadata")).toBe(true)
  })

  it("resolveLinkTos on $all: a $> event resolves to its target; commitPosition is the link's position", async () => {
    const target = `${PREFIX}-linktarget`
    const links = `${PREFIX}-links`
    await client.appendToStream(target, [ev(TYPE_X, 20), ev(TYPE_X, 21)])
    await client.appendToStream(links, binaryEvent({ type: "$>", data: Buffer.from(`0@${target}`) }))
    const [raw] = await collect(client.readAll({ filter: streamNameFilter({ prefixes: [links] }) }))
    expect(raw!.event!.type).toBe("$>")
    expect(raw!.link).toBeUndefined()
    const [resolved] = await collect(client.readAll({ filter: streamNameFilter({ prefixes: [links] }), resolveLinkTos: true }))
    expect(resolved!.event!.streamId).toBe(target)
    expect(resolved!.event!.revision).toBe(0n)
    expect(resolved!.event!.data).toEqual({ n: 20 })
    expect(resolved!.link!.streamId).toBe(links)
    expect(resolved!.link!.type).toBe("$>")
    expect(resolved!.link!.position).toEqual(raw!.event!.position)
    expect(resolved!.commitPosition).toBe(raw!.event!.position.commit)
  })

  it("stream $maxCount does not hide events from $all", async () => {
    const stream = `${PREFIX}-capped`
    await client.appendToStream(stream, [ev(TYPE_X, 10), ev(TYPE_X, 11), ev(TYPE_X, 12)])
    await client.setStreamMetadata(stream, { maxCount: 1 })
    const fromStream = await collect(client.readStream(stream))
    expect(fromStream.map((e) => e.event!.revision)).toEqual([2n])
    const fromAll = await collect(client.readAll({ filter: streamNameFilter({ prefixes: [stream] }) }))
    expect(fromAll.map((e) => e.event!.revision)).toEqual([0n, 1n, 2n])
  })
})
