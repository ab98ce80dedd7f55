/**
 * Scenario 6 — catch-up subscriptions (subscribeToStream / subscribeToAll) with the official client.
 *
 * Real node behaviour (PROTOCOL.md §1 "Read"):
 * - flow: `confirmation` → historical events → `caught_up` → live events;
 * - subscriptions are EXCLUSIVE of the start revision/position; `end` delivers new events only;
 * - a missing stream: confirmation + caught_up, then live events once written;
 * - filtered `$all` subscriptions send `checkpoint`s (always one at the end of catch-up, then every
 *   checkpointInterval × window considered events), which the client hands to `checkpointReached`;
 * - `$metadata` events are delivered by an unfiltered `$all` subscription.
 */
import { describe, expect, it } from "vitest"
import {
  END,
  START,
  binaryEvent,
  eventTypeFilter,
  excludeSystemEvents,
  jsonEvent,
  streamNameFilter,
  type AllStreamResolvedEvent,
  type CaughtUp,
  type KurrentDBClient,
  type ResolvedEvent,
  StreamDeletedError
} from "@kurrent/kurrentdb-client"
import { collect, eventuallyAsync, makeProbe, sleep, uniqueStream, type Probe, type RunningNode, useNode } from "./_support.ts"

let node: RunningNode
let client: KurrentDBClient

useNode({ insecure: true }, (n, c) => {
  node = n
  client = c
})

const events = (n: number, type = "e", offset = 0) =>
  Array.from({ length: n }, (_, i) => jsonEvent({ type, data: { n: offset + i } }))

const ns = (probe: Probe<ResolvedEvent> | Probe<AllStreamResolvedEvent>) =>
  probe.events().map((e) => (e.event!.data as { n: number }).n)

/** The info of the first caughtUp the probe saw. */
const caughtUpInfo = <E>(probe: Probe<E>): CaughtUp => {
  const item = probe.items.find((i) => i.kind === "caughtUp")
  if (item === undefined || item.kind !== "caughtUp") throw new Error("no caughtUp yet")
  return item.info
}

/** Index of the first item of `kind` in the probe's timeline. */
const indexOf = <E>(probe: Probe<E>, kind: string) => probe.items.findIndex((i) => i.kind === kind)

describe("subscribeToStream", () => {
  it("from start: confirmation, historical events, caughtUp, then live events in order", async () => {
    const stream = uniqueStream("sub-start")
    await client.appendToStream(stream, events(3))
    const probe = makeProbe<ResolvedEvent>()
    const subscription = client.subscribeToStream(stream, { fromRevision: START })
    probe.attach(subscription)
    try {
      await probe.waitFor("caughtUp", (p) => p.has("caughtUp"))
      expect(ns(probe)).toEqual([0, 1, 2])
      expect(subscription.id).toBeTypeOf("string")
      expect(indexOf(probe, "confirmation")).toBe(0)
      // every historical event arrives before caughtUp
      expect(indexOf(probe, "caughtUp")).toBe(4)
      // caught_up carries a timestamp and the revision of the last event sent
      const info = caughtUpInfo(probe)
      expect(info.date).toBeInstanceOf(Date)
      expect(Math.abs(info.date!.getTime() - Date.now())).toBeLessThan(60_000)
      expect(info.revision).toBe(2n)
      expect(info.position).toBeUndefined()
      // created (100-ns ticks on the wire) arrives with millisecond precision through this path
      for (const e of probe.events()) expect(Math.abs(e.event!.created.getTime() - Date.now())).toBeLessThan(60_000)

      await client.appendToStream(stream, events(2, "e", 3))
      await probe.waitFor("5 events", (p) => p.events().length >= 5)
      expect(ns(probe)).toEqual([0, 1, 2, 3, 4])
      expect(probe.events().map((e) => e.event!.revision)).toEqual([0n, 1n, 2n, 3n, 4n])
      expect(probe.events().every((e) => e.event!.streamId === stream)).toBe(true)
      expect(probe.count("caughtUp")).toBe(1)
      expect(probe.count("confirmation")).toBe(1)
    } finally {
      await subscription.unsubscribe()
    }
  })

  it("from a revision is exclusive", async () => {
    const stream = uniqueStream("sub-rev")
    await client.appendToStream(stream, events(4))
    const probe = makeProbe<ResolvedEvent>()
    const subscription = client.subscribeToStream(stream, { fromRevision: 1n })
    probe.attach(subscription)
    try {
      await probe.waitFor("caughtUp", (p) => p.has("caughtUp"))
      expect(probe.events().map((e) => e.event!.revision)).toEqual([2n, 3n])
      expect(caughtUpInfo(probe).revision).toBe(3n)
      await client.appendToStream(stream, events(1, "e", 4))
      await probe.waitFor("3 events", (p) => p.events().length >= 3)
      expect(probe.events().map((e) => e.event!.revision)).toEqual([2n, 3n, 4n])
    } finally {
      await subscription.unsubscribe()
    }
  })

  it("from end delivers only new events", async () => {
    const stream = uniqueStream("sub-end")
    await client.appendToStream(stream, events(3))
    const probe = makeProbe<ResolvedEvent>()
    const subscription = client.subscribeToStream(stream, { fromRevision: END })
    probe.attach(subscription)
    try {
      await probe.waitFor("caughtUp", (p) => p.has("caughtUp"))
      expect(probe.events()).toEqual([])
      expect(caughtUpInfo(probe).revision).toBe(2n)
      await client.appendToStream(stream, events(2, "e", 3))
      await probe.waitFor("2 events", (p) => p.events().length >= 2)
      expect(ns(probe)).toEqual([3, 4])
    } finally {
      await subscription.unsubscribe()
    }
  })

  it("to a missing stream: confirmation + caughtUp, then the events once the stream is written", async () => {
    const stream = uniqueStream("sub-missing")
    const probe = makeProbe<ResolvedEvent>()
    const subscription = client.subscribeToStream(stream)
    probe.attach(subscription)
    try {
      await probe.waitFor("caughtUp", (p) => p.has("caughtUp"))
      expect(probe.has("confirmation")).toBe(true)
      expect(probe.events()).toEqual([])
      // no event sent yet: caught_up has a timestamp but no revision
      expect(caughtUpInfo(probe).revision).toBeUndefined()
      await client.appendToStream(stream, events(2))
      await probe.waitFor("2 events", (p) => p.events().length >= 2)
      expect(probe.events().map((e) => e.event!.revision)).toEqual([0n, 1n])
    } finally {
      await subscription.unsubscribe()
    }
  })

  it("tombstoning the stream delivers $streamDeleted, then the subscription fails with StreamDeletedError", async () => {
    const stream = uniqueStream("sub-tombstone")
    await client.appendToStream(stream, events(1))
    const probe = makeProbe<ResolvedEvent>()
    const subscription = client.subscribeToStream(stream)
    probe.attach(subscription)
    try {
      await probe.waitFor("caughtUp", (p) => p.has("caughtUp"))
      await client.tombstoneStream(stream)
      await eventuallyAsync("an error", () => probe.has("error"))
      expect(probe.events().map((e) => e.event!.type)).toEqual(["e", "$streamDeleted"])
      const failure = probe.items.find((i) => i.kind === "error")
      expect(failure?.kind === "error" ? failure.error : undefined).toBeInstanceOf(StreamDeletedError)
      expect(((failure as { error: StreamDeletedError }).error).streamName).toBe(stream)
    } finally {
      await subscription.unsubscribe()
    }
  })

  it("subscribing to an already tombstoned stream fails with StreamDeletedError", async () => {
    const stream = uniqueStream("sub-tombstoned")
    await client.appendToStream(stream, events(1))
    await client.tombstoneStream(stream)
    const probe = makeProbe<ResolvedEvent>()
    const subscription = client.subscribeToStream(stream)
    probe.attach(subscription)
    try {
      await eventuallyAsync("an error", () => probe.has("error"))
      const failure = probe.items.find((i) => i.kind === "error")
      expect(failure?.kind === "error" ? failure.error : undefined).toBeInstanceOf(StreamDeletedError)
      expect(probe.events().filter((e) => e.event!.type !== "$streamDeleted")).toEqual([])
    } finally {
      await subscription.unsubscribe()
    }
  })

  it("works as an async iterator with many live events, in order", async () => {
    const stream = uniqueStream("sub-iter")
    const subscription = client.subscribeToStream(stream)
    const appended = client.appendToStream(stream, events(200))
    const seen: Array<bigint> = []
    for await (const resolved of subscription) {
      seen.push(resolved.event!.revision)
      if (seen.length === 200) break
    }
    await appended
    expect(seen).toEqual(Array.from({ length: 200 }, (_, i) => BigInt(i)))
  })

  it("unsubscribe ends the subscription and no further events arrive", async () => {
    const stream = uniqueStream("sub-unsub")
    await client.appendToStream(stream, events(1))
    const probe = makeProbe<ResolvedEvent>()
    const subscription = client.subscribeToStream(stream)
    probe.attach(subscription)
    await probe.waitFor("caughtUp", (p) => p.has("caughtUp"))
    await subscription.unsubscribe()
    await probe.waitFor("end or close", (p) => p.has("end") || p.has("close"))
    expect(probe.has("error")).toBe(false)
    await client.appendToStream(stream, events(3, "e", 1))
    await sleep(300)
    expect(ns(probe)).toEqual([0])
  })

  it("resolveLinkTos resolves $> events to their targets", async () => {
    const target = uniqueStream("sub-link-target")
    const links = uniqueStream("sub-link-source")
    await client.appendToStream(target, events(2))
    await client.appendToStream(links, binaryEvent({ type: "$>", data: Buffer.from(`1@${target}`) }))
    const probe = makeProbe<ResolvedEvent>()
    const subscription = client.subscribeToStream(links, { resolveLinkTos: true })
    probe.attach(subscription)
    try {
      await probe.waitFor("1 event", (p) => p.events().length >= 1)
      const [resolved] = probe.events()
      expect(resolved!.event!.streamId).toBe(target)
      expect(resolved!.event!.revision).toBe(1n)
      expect(resolved!.link!.type).toBe("$>")
      expect(resolved!.link!.streamId).toBe(links)
    } finally {
      await subscription.unsubscribe()
    }
  })
})

describe("subscribeToAll", () => {
  it("from start (unfiltered): historical events incl. $metadata, caughtUp, then live events", async () => {
    const prefix = uniqueStream("suball-start")
    await client.appendToStream(`${prefix}-a`, events(2))
    await client.setStreamMetadata(`${prefix}-a`, { custom: 1 })
    const probe = makeProbe<AllStreamResolvedEvent>()
    const subscription = client.subscribeToAll({ fromPosition: START })
    probe.attach(subscription)
    try {
      await probe.waitFor("caughtUp", (p) => p.has("caughtUp"))
      const historical = probe.events()
      // caught_up of a $all subscription carries a position (at or after the last event sent)
      const info = caughtUpInfo(probe)
      expect(info.date).toBeInstanceOf(Date)
      expect(info.revision).toBeUndefined()
      expect(info.position).toBeDefined()
      expect(info.position!.commit).toBeGreaterThanOrEqual(historical.at(-1)!.event!.position.commit)
      expect(historical.filter((e) => e.event!.streamId === `${prefix}-a`).length).toBe(2)
      expect(historical.some((e) => e.event!.streamId === `$$${prefix}-a` && e.event!.type === "$metadata")).toBe(true)
      expect(historical.some((e) => e.event!.streamId === "$epoch-information")).toBe(false)
      // historical events arrive in log order
      const positions = historical.map((e) => e.event!.position.commit)
      for (let i = 1; i < positions.length; i++) expect(positions[i]!).toBeGreaterThan(positions[i - 1]!)

      await client.appendToStream(`${prefix}-b`, events(2, "e", 10))
      await probe.waitFor("live events", (p) => p.events().filter((e) => e.event!.streamId === `${prefix}-b`).length >= 2)
      const live = probe.events().filter((e) => e.event!.streamId === `${prefix}-b`)
      expect(live.map((e) => (e.event!.data as { n: number }).n)).toEqual([10, 11])
      // caughtUp came before the live events
      const caughtUpAt = indexOf(probe, "caughtUp")
      const firstLive = probe.items.findIndex((i) => i.kind === "event" && i.event.event!.streamId === `${prefix}-b`)
      expect(firstLive).toBeGreaterThan(caughtUpAt)
      expect(probe.count("caughtUp")).toBe(1)
    } finally {
      await subscription.unsubscribe()
    }
  })

  it("from a position is exclusive", async () => {
    const prefix = uniqueStream("suball-pos")
    const first = await client.appendToStream(`${prefix}-a`, events(1, "e", 0))
    await client.appendToStream(`${prefix}-a`, events(2, "e", 1))
    const probe = makeProbe<AllStreamResolvedEvent>()
    const subscription = client.subscribeToAll({
      fromPosition: first.position!,
      filter: streamNameFilter({ prefixes: [prefix] })
    })
    probe.attach(subscription)
    try {
      await probe.waitFor("caughtUp", (p) => p.has("caughtUp"))
      expect(ns(probe)).toEqual([1, 2])
      await client.appendToStream(`${prefix}-a`, events(1, "e", 3))
      await probe.waitFor("3 events", (p) => p.events().length >= 3)
      expect(ns(probe)).toEqual([1, 2, 3])
    } finally {
      await subscription.unsubscribe()
    }
  })

  it("from end delivers only new events", async () => {
    const prefix = uniqueStream("suball-end")
    await client.appendToStream(`${prefix}-a`, events(2))
    const probe = makeProbe<AllStreamResolvedEvent>()
    const subscription = client.subscribeToAll({ fromPosition: END, filter: streamNameFilter({ prefixes: [prefix] }) })
    probe.attach(subscription)
    try {
      await probe.waitFor("caughtUp", (p) => p.has("caughtUp"))
      expect(probe.events()).toEqual([])
      await client.appendToStream(`${prefix}-a`, events(2, "e", 5))
      await probe.waitFor("2 events", (p) => p.events().length >= 2)
      expect(ns(probe)).toEqual([5, 6])
    } finally {
      await subscription.unsubscribe()
    }
  })

  it("a stream-name filter delivers only matching events and reaches checkpointReached", async () => {
    const prefix = uniqueStream("suball-filter")
    await client.appendToStream(`${prefix}-a`, events(3))
    await client.appendToStream(uniqueStream("other"), events(5))
    const probe = makeProbe<AllStreamResolvedEvent>()
    const subscription = client.subscribeToAll({
      fromPosition: START,
      filter: streamNameFilter({ prefixes: [prefix], checkpointReached: probe.onCheckpoint })
    })
    probe.attach(subscription)
    try {
      await probe.waitFor("caughtUp", (p) => p.has("caughtUp"))
      expect(ns(probe)).toEqual([0, 1, 2])
      // A real node sends checkpoints during catch-up (every checkpointInterval × 32 considered
      // events) and always one right before caught_up, at or after the last event it sent.
      const caughtUpAt = indexOf(probe, "caughtUp")
      const checkpoints = probe.items.slice(0, caughtUpAt).flatMap((i) => (i.kind === "checkpoint" ? [i.position] : []))
      expect(checkpoints.length).toBeGreaterThan(0)
      const last = checkpoints.at(-1)!
      expect(typeof last.commit).toBe("bigint")
      expect(typeof last.prepare).toBe("bigint")
      const lastHistorical = probe.events().at(-1)!.event!.position
      expect(last.commit).toBeGreaterThanOrEqual(lastHistorical.commit)
      for (let i = 1; i < checkpoints.length; i++) expect(checkpoints[i]!.commit).toBeGreaterThanOrEqual(checkpoints[i - 1]!.commit)

      await client.appendToStream(uniqueStream("other"), events(2))
      await client.appendToStream(`${prefix}-b`, events(1, "e", 3))
      await probe.waitFor("4 events", (p) => p.events().length >= 4)
      expect(ns(probe)).toEqual([0, 1, 2, 3])
      expect(probe.events().every((e) => e.event!.streamId.startsWith(prefix))).toBe(true)
    } finally {
      await subscription.unsubscribe()
    }
  })

  it("an event-type filter sends live checkpoints while skipping non-matching events", async () => {
    const type = uniqueStream("wanted")
    const probe = makeProbe<AllStreamResolvedEvent>()
    const subscription = client.subscribeToAll({
      fromPosition: END,
      filter: eventTypeFilter({
        prefixes: [type],
        checkpointInterval: 1,
        maxSearchWindow: 1,
        checkpointReached: probe.onCheckpoint
      })
    })
    probe.attach(subscription)
    try {
      await probe.waitFor("caughtUp", (p) => p.has("caughtUp"))
      const before = probe.count("checkpoint")
      await client.appendToStream(uniqueStream("noise"), events(5, "noise"))
      await probe.waitFor("live checkpoints", (p) => p.count("checkpoint") > before)
      expect(probe.events()).toEqual([])
      await client.appendToStream(uniqueStream("signal"), events(1, type, 7))
      await probe.waitFor("1 event", (p) => p.events().length >= 1)
      expect(ns(probe)).toEqual([7])
      // checkpoint positions never go backwards
      const positions = probe.items.flatMap((i) => (i.kind === "checkpoint" ? [i.position.commit] : []))
      for (let i = 1; i < positions.length; i++) expect(positions[i]!).toBeGreaterThanOrEqual(positions[i - 1]!)
    } finally {
      await subscription.unsubscribe()
    }
  })

  it("excludeSystemEvents delivers no $-typed events", async () => {
    const prefix = uniqueStream("suball-nosys")
    await client.setStreamMetadata(`${prefix}-a`, { custom: 1 })
    await client.appendToStream(`${prefix}-a`, events(2))
    const probe = makeProbe<AllStreamResolvedEvent>()
    const subscription = client.subscribeToAll({ fromPosition: START, filter: excludeSystemEvents() })
    probe.attach(subscription)
    try {
      await probe.waitFor("caughtUp", (p) => p.has("caughtUp"))
      expect(probe.events().some((e) => e.event!.type.startsWith("$"))).toBe(false)
      expect(probe.events().filter((e) => e.event!.streamId === `${prefix}-a`).length).toBe(2)
    } finally {
      await subscription.unsubscribe()
    }
  })

  it("historical events match readAll with the same filter", async () => {
    const prefix = uniqueStream("suball-same")
    await client.appendToStream(`${prefix}-a`, events(3))
    await client.appendToStream(`${prefix}-b`, events(2, "e", 3))
    const filter = streamNameFilter({ prefixes: [prefix] })
    const read = await collect(client.readAll({ filter }))
    const probe = makeProbe<AllStreamResolvedEvent>()
    const subscription = client.subscribeToAll({ filter: streamNameFilter({ prefixes: [prefix] }) })
    probe.attach(subscription)
    try {
      await probe.waitFor("caughtUp", (p) => p.has("caughtUp"))
      expect(probe.events().map((e) => [e.event!.id, e.event!.position])).toEqual(
        read.map((e) => [e.event!.id, e.event!.position])
      )
    } finally {
      await subscription.unsubscribe()
    }
  })

  it("unsubscribe ends the subscription", async () => {
    const probe = makeProbe<AllStreamResolvedEvent>()
    const prefix = uniqueStream("suball-unsub")
    const subscription = client.subscribeToAll({ fromPosition: END, filter: streamNameFilter({ prefixes: [prefix] }) })
    probe.attach(subscription)
    await probe.waitFor("caughtUp", (p) => p.has("caughtUp"))
    await subscription.unsubscribe()
    await probe.waitFor("end or close", (p) => p.has("end") || p.has("close"))
    await client.appendToStream(`${prefix}-a`, events(2))
    await sleep(300)
    expect(probe.events()).toEqual([])
    expect(probe.has("error")).toBe(false)
  })
})
