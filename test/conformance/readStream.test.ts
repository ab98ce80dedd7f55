/**
 * Scenario 2 — readStream (through the official client's native reader, @kurrent/bridge).
 *
 * Real node behaviour (PROTOCOL.md §1 "Read"): `revision` is inclusive in both directions,
 * `end` backwards starts at the last event, a missing stream yields `stream_not_found`
 * (→ StreamNotFoundError), `$>` events are resolved on request (event = target, link = link).
 */
import { randomUUID } from "node:crypto"
import { beforeAll, describe, expect, it } from "vitest"
import {
  BACKWARDS,
  END,
  FORWARDS,
  START,
  binaryEvent,
  jsonEvent,
  type AppendResult,
  type KurrentDBClient,
  StreamNotFoundError
} from "@kurrent/kurrentdb-client"
import { collect, useNode, rejectionOf, uniqueStream, type RunningNode } from "./_support.ts"

let node: RunningNode
let client: KurrentDBClient
const STREAM = uniqueStream("read-stream")
const ids = Array.from({ length: 10 }, () => randomUUID())
let appended: AppendResult
let appendedAt: number

useNode({ insecure: true }, (n, c) => {
  node = n
  client = c
})

beforeAll(async () => {
  appendedAt = Date.now()
  appended = await client.appendToStream(
    STREAM,
    ids.map((id, i) => jsonEvent({ id, type: `type-${i}`, data: { i }, metadata: { m: i } })),
    { streamState: "no_stream" }
  )
})

const revisions = (events: ReadonlyArray<{ readonly event?: { readonly revision: bigint } | undefined }>) =>
  events.map((e) => e.event?.revision)

const range = (from: number, to: number, step = 1) => {
  const out: Array<bigint> = []
  for (let i = from; step > 0 ? i <= to : i >= to; i += step) out.push(BigInt(i))
  return out
}

describe("readStream", () => {
  it("reads forwards from the start, in order", async () => {
    const events = await collect(client.readStream(STREAM))
    expect(revisions(events)).toEqual(range(0, 9))
  })

  it("reads backwards from the end", async () => {
    const events = await collect(client.readStream(STREAM, { direction: BACKWARDS, fromRevision: END }))
    expect(revisions(events)).toEqual(range(9, 0, -1))
  })

  it("fromRevision is inclusive forwards and maxCount limits", async () => {
    const events = await collect(client.readStream(STREAM, { fromRevision: 3n, maxCount: 4 }))
    expect(revisions(events)).toEqual(range(3, 6))
  })

  it("fromRevision is inclusive backwards", async () => {
    const events = await collect(client.readStream(STREAM, { direction: BACKWARDS, fromRevision: 5n, maxCount: 3 }))
    expect(revisions(events)).toEqual(range(5, 3, -1))
  })

  it("maxCount 1 from start returns only the first event", async () => {
    const events = await collect(client.readStream(STREAM, { direction: FORWARDS, fromRevision: START, maxCount: 1 }))
    expect(revisions(events)).toEqual([0n])
  })

  it("forwards from a revision past the end returns nothing (no error)", async () => {
    const events = await collect(client.readStream(STREAM, { fromRevision: 100n }))
    expect(events).toEqual([])
  })

  it("backwards from a revision past the end starts at the last event", async () => {
    const events = await collect(client.readStream(STREAM, { direction: BACKWARDS, fromRevision: 100n, maxCount: 2 }))
    expect(revisions(events)).toEqual([9n, 8n])
  })

  it("a missing stream → StreamNotFoundError naming the stream (forwards and backwards)", async () => {
    const missing = uniqueStream("missing")
    const forwards = await rejectionOf(collect(client.readStream(missing)), StreamNotFoundError)
    expect(forwards.streamName).toBe(missing)
    const backwards = await rejectionOf(
      collect(client.readStream(missing, { direction: BACKWARDS, fromRevision: END })),
      StreamNotFoundError
    )
    expect(backwards.streamName).toBe(missing)
  })

  it("recorded event fields: id, type, JSON data, metadata, revision, streamId, created, position", async () => {
    const events = await collect(client.readStream(STREAM))
    events.forEach((resolved, i) => {
      const e = resolved.event!
      expect(resolved.link).toBeUndefined()
      expect(e.id).toBe(ids[i])
      expect(e.type).toBe(`type-${i}`)
      expect(e.isJson).toBe(true)
      expect(e.data).toEqual({ i })
      expect(e.metadata).toEqual({ m: i })
      expect(e.revision).toBe(BigInt(i))
      expect(e.streamId).toBe(STREAM)
      expect(e.created).toBeInstanceOf(Date)
      // `created` is 100-ns ticks since the Unix epoch on the wire; the client turns it into a Date.
      expect(Math.abs(e.created.getTime() - appendedAt)).toBeLessThan(60_000)
      expect(e.position).toBeDefined()
      expect(e.position!.commit).toBe(e.position!.prepare)
    })
    const positions = events.map((e) => e.event!.position!.commit)
    for (let i = 1; i < positions.length; i++) expect(positions[i]!).toBeGreaterThan(positions[i - 1]!)
    // the append result's position is the position of its last event
    expect(events[9]!.event!.position).toEqual(appended.position)
  })

  it("resolveLinkTos: a $> event resolves to its target (event = target, link = link record)", async () => {
    const target = uniqueStream("link-target")
    const links = uniqueStream("link-source")
    await client.appendToStream(target, [
      jsonEvent({ type: "t0", data: { n: 0 } }),
      jsonEvent({ type: "t1", data: { n: 1 } })
    ])
    await client.appendToStream(links, binaryEvent({ type: "$>", data: Buffer.from(`1@${target}`) }))

    const [raw] = await collect(client.readStream(links))
    expect(raw!.event!.type).toBe("$>")
    expect(raw!.event!.streamId).toBe(links)
    expect(raw!.link).toBeUndefined()

    const [resolved] = await collect(client.readStream(links, { resolveLinkTos: true }))
    expect(resolved!.event!.type).toBe("t1")
    expect(resolved!.event!.streamId).toBe(target)
    expect(resolved!.event!.revision).toBe(1n)
    expect(resolved!.event!.data).toEqual({ n: 1 })
    expect(resolved!.link).toBeDefined()
    expect(resolved!.link!.type).toBe("$>")
    expect(resolved!.link!.streamId).toBe(links)
    expect(resolved!.link!.revision).toBe(0n)
  })

  it("resolveLinkTos: a link whose target does not exist comes back as the link only", async () => {
    const links = uniqueStream("dangling-link")
    await client.appendToStream(links, binaryEvent({ type: "$>", data: Buffer.from(`5@${uniqueStream("nowhere")}`) }))
    const [resolved] = await collect(client.readStream(links, { resolveLinkTos: true }))
    expect(resolved).toBeDefined()
    expect(resolved!.event).toBeUndefined()
    expect(resolved!.link!.type).toBe("$>")
    expect(resolved!.link!.streamId).toBe(links)
  })
})
