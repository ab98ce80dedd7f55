import * as grpc from "@grpc/grpc-js"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import type { ReadReq_Options, ReadResp } from "../../src/generated/streams.ts"
import { type RunningNode, startEmbeddedNode } from "../../src/server/EmbeddedNode.ts"
import {
  allOption,
  any,
  appendOk,
  type Clients,
  connect,
  deleteStream,
  events,
  eventTypeOf,
  readAll,
  readOptions,
  streamOption,
  uniqueStream
} from "./helpers.ts"

const read = (c: Clients, options: Partial<ReadReq_Options>) => readAll(c.streams, { options: readOptions(options) })

const revisions = (ms: ReadonlyArray<ReadResp>) => events(ms).map((e) => Number(e.event!.streamRevision))

describe("Read", () => {
  let node: RunningNode
  let c: Clients
  let stream: string
  let positions: Array<bigint>
  beforeAll(async () => {
    node = await startEmbeddedNode()
    c = connect(node)
    stream = uniqueStream("read")
    positions = []
    for (let i = 0; i < 10; i++) {
      const r = await appendOk(c.streams, stream, any, [{ type: `E${i}`, data: { i } }])
      positions.push(r.positionOption?.$case === "position" ? r.positionOption.value.commitPosition : -1n)
    }
  })
  afterAll(async () => {
    c.close()
    await node.stop()
  })

  it("reads a stream forwards from a revision, inclusive, with a count", async () => {
    assert.deepStrictEqual(revisions((await read(c, { streamOption: streamOption(stream) })).messages), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    assert.deepStrictEqual(revisions((await read(c, { streamOption: streamOption(stream, 4n), countOption: { $case: "count", value: 3n } })).messages), [4, 5, 6])
    assert.deepStrictEqual(revisions((await read(c, { streamOption: streamOption(stream, "end") })).messages), [])
  })

  it("reads a stream backwards, inclusive and descending", async () => {
    assert.deepStrictEqual(revisions((await read(c, { readDirection: 1, streamOption: streamOption(stream, "end") })).messages), [9, 8, 7, 6, 5, 4, 3, 2, 1, 0])
    assert.deepStrictEqual(
      revisions((await read(c, { readDirection: 1, streamOption: streamOption(stream, 5n), countOption: { $case: "count", value: 2n } })).messages),
      [5, 4]
    )
    assert.deepStrictEqual(revisions((await read(c, { readDirection: 1, streamOption: streamOption(stream, "start") })).messages), [0])
  })

  it("sends first/last stream positions when compatibility >= 1", async () => {
    const fwd = await read(c, { streamOption: streamOption(stream, 8n), controlOption: { compatibility: 1 } })
    assert.deepStrictEqual(fwd.messages.map((m) => m.content?.$case), ["event", "event", "lastStreamPosition"])
    assert.deepStrictEqual(fwd.messages[2]!.content, { $case: "lastStreamPosition", value: 9n })
    const beyond = await read(c, { streamOption: streamOption(stream, 20n), controlOption: { compatibility: 1 } })
    assert.deepStrictEqual(beyond.messages.map((m) => m.content), [
      { $case: "firstStreamPosition", value: 10n },
      { $case: "lastStreamPosition", value: 9n }
    ])
    const back = await read(c, { readDirection: 1, streamOption: streamOption(stream, "end"), countOption: { $case: "count", value: 1n }, controlOption: { compatibility: 1 } })
    assert.deepStrictEqual(back.messages.map((m) => m.content?.$case), ["event", "lastStreamPosition"])
    // without compatibility: none of them
    const plain = await read(c, { streamOption: streamOption(stream, 20n) })
    assert.deepStrictEqual(plain.messages, [])
  })

  it("answers stream_not_found for a missing stream, then ends OK", async () => {
    const missing = uniqueStream("missing")
    const { messages, error } = await read(c, { streamOption: streamOption(missing) })
    assert.isUndefined(error)
    assert.strictEqual(messages.length, 1)
    assert.strictEqual(messages[0]!.content?.$case, "streamNotFound")
    const nf = messages[0]!.content?.$case === "streamNotFound" ? messages[0]!.content.value : undefined
    assert.strictEqual(nf!.streamIdentifier?.streamName.toString(), missing)
  })

  it("answers stream_not_found for a soft-deleted stream", async () => {
    const s = uniqueStream()
    await appendOk(c.streams, s, any, [{}])
    await deleteStream(c.streams, s, any)
    const { messages } = await read(c, { streamOption: streamOption(s) })
    assert.deepStrictEqual(messages.map((m) => m.content?.$case), ["streamNotFound"])
  })

  it("reads $all forwards from a position inclusive and backwards strictly before it", async () => {
    const p5 = positions[5]!
    const fwd = events((await read(c, { streamOption: allOption(p5), countOption: { $case: "count", value: 2n } })).messages)
    assert.deepStrictEqual(fwd.map((e) => e.event!.commitPosition), [positions[5], positions[6]])
    const back = events((await read(c, { readDirection: 1, streamOption: allOption(p5), countOption: { $case: "count", value: 2n } })).messages)
    assert.deepStrictEqual(back.map((e) => e.event!.commitPosition), [positions[4], positions[3]])
    // the whole log: positions increase, start above 0, and $epoch-information is hidden
    const all = events((await read(c, { streamOption: allOption("start") })).messages)
    const ps = all.map((e) => e.event!.commitPosition)
    assert.isAbove(Number(ps[0]), 0)
    for (let i = 1; i < ps.length; i++) assert.isTrue(ps[i]! > ps[i - 1]!)
    assert.isFalse(all.some((e) => e.event!.streamIdentifier!.streamName.toString() === "$epoch-information"))
    const fromEnd = events((await read(c, { readDirection: 1, streamOption: allOption("end"), countOption: { $case: "count", value: 1n } })).messages)
    assert.deepStrictEqual(fromEnd.map((e) => e.event!.commitPosition), [ps[ps.length - 1]])
    assert.deepStrictEqual(events((await read(c, { streamOption: allOption("end") })).messages), [])
  })

  it("filters $all by stream prefix, stream regex and event type", async () => {
    const base = uniqueStream("flt")
    await appendOk(c.streams, `${base}-a`, any, [{ type: "Alpha" }, { type: "Beta" }])
    await appendOk(c.streams, `${base}-b`, any, [{ type: "Alpha" }])
    const filter = (f: NonNullable<ReadReq_Options["filterOption"]>) =>
      read(c, { streamOption: allOption("start"), filterOption: f }).then((r) => events(r.messages))
    const byPrefix = await filter({ $case: "filter", value: { filter: { $case: "streamIdentifier", value: { regex: "", prefix: [`${base}-a`] } }, window: { $case: "max", value: 10 }, checkpointIntervalMultiplier: 1 } })
    assert.deepStrictEqual(byPrefix.map((e) => eventTypeOf(e.event)), ["Alpha", "Beta"])
    const byRegex = await filter({ $case: "filter", value: { filter: { $case: "streamIdentifier", value: { regex: `${base}-(a|b)$`, prefix: [] } }, window: { $case: "count", value: {} }, checkpointIntervalMultiplier: 1 } })
    assert.strictEqual(byRegex.length, 3)
    const byType = await filter({ $case: "filter", value: { filter: { $case: "eventType", value: { regex: "", prefix: ["Bet"] } }, window: { $case: "max", value: 10 }, checkpointIntervalMultiplier: 1 } })
    assert.deepStrictEqual(byType.map((e) => e.event!.streamIdentifier!.streamName.toString()), [`${base}-a`])
    // regex wins over prefixes
    const regexWins = await filter({ $case: "filter", value: { filter: { $case: "eventType", value: { regex: "^Beta$", prefix: ["Alpha"] } }, window: { $case: "max", value: 10 }, checkpointIntervalMultiplier: 1 } })
    assert.isTrue(regexWins.every((e) => eventTypeOf(e.event) === "Beta"))
    // filtered reads never send checkpoints
    const raw = await read(c, { streamOption: allOption("start"), filterOption: { $case: "filter", value: { filter: { $case: "eventType", value: { regex: "^none$", prefix: [] } }, window: { $case: "max", value: 1 }, checkpointIntervalMultiplier: 1 } } })
    assert.deepStrictEqual(raw.messages, [])
    // system events other than $epoch-information are returned by $all reads
    const metaStream = uniqueStream("meta")
    await appendOk(c.streams, "$$" + metaStream, any, [{ type: "$metadata", data: { $maxCount: 5 } }])
    const sys = await filter({ $case: "filter", value: { filter: { $case: "eventType", value: { regex: "", prefix: ["$metadata"] } }, window: { $case: "max", value: 10 }, checkpointIntervalMultiplier: 1 } })
    assert.isTrue(sys.some((e) => e.event!.streamIdentifier!.streamName.toString() === "$$" + metaStream))
  })

  it("resolves $> links when asked", async () => {
    const links = uniqueStream("links")
    await appendOk(c.streams, links, any, [
      { metadata: [{ key: "type", value: "$>" }, { key: "content-type", value: "application/octet-stream" }], rawData: Buffer.from(`3@${stream}`) },
      { metadata: [{ key: "type", value: "$>" }, { key: "content-type", value: "application/octet-stream" }], rawData: Buffer.from(`0@${uniqueStream("gone")}`) }
    ])
    const unresolved = events((await read(c, { streamOption: streamOption(links) })).messages)
    assert.deepStrictEqual(unresolved.map((e) => [eventTypeOf(e.event), e.link === undefined]), [["$>", true], ["$>", true]])
    const resolved = events((await read(c, { streamOption: streamOption(links), resolveLinks: true })).messages)
    assert.strictEqual(eventTypeOf(resolved[0]!.event), "E3")
    assert.strictEqual(resolved[0]!.event!.streamRevision, 3n)
    assert.strictEqual(eventTypeOf(resolved[0]!.link), "$>")
    assert.deepStrictEqual(resolved[0]!.position, { $case: "commitPosition", value: resolved[0]!.link!.commitPosition })
    assert.isUndefined(resolved[1]!.event)
    assert.strictEqual(eventTypeOf(resolved[1]!.link), "$>")
  })

  it("honours $maxCount and $tb, and metastreams keep only their last event", async () => {
    const s = uniqueStream("trunc")
    await appendOk(c.streams, s, any, Array.from({ length: 6 }, () => ({})))
    await appendOk(c.streams, "$$" + s, any, [{ type: "$metadata", data: { $maxCount: 2 } }])
    assert.deepStrictEqual(revisions((await read(c, { streamOption: streamOption(s) })).messages), [4, 5])
    const compat = await read(c, { streamOption: streamOption(s), countOption: { $case: "count", value: 1n }, controlOption: { compatibility: 1 } })
    // the first page (one event from 0) is below the truncation point: the reader says where the stream starts
    assert.deepStrictEqual(compat.messages.map((m) => m.content?.$case), ["firstStreamPosition", "event", "lastStreamPosition"])
    assert.deepStrictEqual(compat.messages[0]!.content, { $case: "firstStreamPosition", value: 4n })
    await appendOk(c.streams, "$$" + s, any, [{ type: "$metadata", data: { $tb: 3 } }])
    assert.deepStrictEqual(revisions((await read(c, { streamOption: streamOption(s) })).messages), [3, 4, 5])
    assert.deepStrictEqual(revisions((await read(c, { streamOption: streamOption("$$" + s) })).messages), [1])
    // $all keeps the truncated events
    const all = events((await read(c, { streamOption: allOption("start"), filterOption: { $case: "filter", value: { filter: { $case: "streamIdentifier", value: { regex: `^${s}$`, prefix: [] } }, window: { $case: "max", value: 10 }, checkpointIntervalMultiplier: 1 } } })).messages)
    assert.strictEqual(all.length, 6)
  })

  it("honours $maxAge", async () => {
    const s = uniqueStream("age")
    await appendOk(c.streams, s, any, [{}, {}])
    await appendOk(c.streams, "$$" + s, any, [{ type: "$metadata", data: { $maxAge: 1 } }])
    assert.deepStrictEqual(revisions((await read(c, { streamOption: streamOption(s) })).messages), [0, 1])
    await new Promise((r) => setTimeout(r, 1100))
    await appendOk(c.streams, s, any, [{}])
    assert.deepStrictEqual(revisions((await read(c, { streamOption: streamOption(s) })).messages), [2])
  })

  it("returns structured uuids unless string is asked", async () => {
    const structured = events((await read(c, { streamOption: streamOption(stream), uuidOption: { content: { $case: "structured", value: {} } }, countOption: { $case: "count", value: 1n } })).messages)
    assert.strictEqual(structured[0]!.event!.id?.value?.$case, "structured")
    const str = events((await read(c, { streamOption: streamOption(stream), countOption: { $case: "count", value: 1n } })).messages)
    const text = str[0]!.event!.id?.value?.$case === "string" ? str[0]!.event!.id.value.value : ""
    const s = structured[0]!.event!.id?.value?.$case === "structured" ? structured[0]!.event!.id.value.value : undefined
    const hex = BigInt.asUintN(64, s!.mostSignificantBits).toString(16).padStart(16, "0") + BigInt.asUintN(64, s!.leastSignificantBits).toString(16).padStart(16, "0")
    assert.strictEqual(text.replace(/-/g, ""), hex)
  })

  it("validates the combination of options", async () => {
    const streamOpts = [streamOption(stream), allOption("start"), undefined] as const
    const counts = [{ $case: "count" as const, value: 1n }, { $case: "subscription" as const, value: {} }, undefined] as const
    const filters: Array<ReadReq_Options["filterOption"]> = [
      { $case: "noFilter", value: {} },
      { $case: "filter", value: { filter: { $case: "eventType", value: { regex: "x", prefix: [] } }, window: { $case: "max", value: 1 }, checkpointIntervalMultiplier: 1 } },
      undefined
    ]
    const valid = new Set([
      "Stream,Count,Forwards,NoFilter", "Stream,Count,Backwards,NoFilter",
      "All,Count,Forwards,NoFilter", "All,Count,Forwards,Filter", "All,Count,Backwards,NoFilter", "All,Count,Backwards,Filter",
      "Stream,Subscription,Forwards,NoFilter", "All,Subscription,Forwards,NoFilter", "All,Subscription,Forwards,Filter"
    ])
    for (const so of streamOpts) for (const co of counts) for (const dir of [0, 1] as const) for (const fo of filters) {
      const key = [so === undefined ? "None" : so.$case === "stream" ? "Stream" : "All", co === undefined ? "None" : co.$case === "count" ? "Count" : "Subscription", dir === 0 ? "Forwards" : "Backwards", fo === undefined ? "None" : fo.$case === "filter" ? "Filter" : "NoFilter"].join(",")
      const options: ReadReq_Options = { ...readOptions({}), streamOption: so, countOption: co, readDirection: dir, filterOption: fo }
      const call = c.streams.read({ options })
      const first = await new Promise<{ ok: boolean; error?: grpc.ServiceError }>((resolve) => {
        call.on("data", () => resolve({ ok: true }))
        call.on("end", () => resolve({ ok: true }))
        call.on("error", (e: grpc.ServiceError) => resolve({ ok: false, error: e }))
      })
      call.cancel()
      if (so === undefined) {
        assert.strictEqual(first.error?.code, grpc.status.INVALID_ARGUMENT, key)
        continue
      }
      if (valid.has(key)) {
        assert.isTrue(first.ok, `${key} should be accepted: ${first.error?.details}`)
      } else {
        assert.strictEqual(first.error?.code, grpc.status.INVALID_ARGUMENT, key)
        assert.strictEqual(first.error?.details, `The combination of (${key.split(",").join(", ")}) is invalid.`)
      }
    }
  })

  it("requires uuid_option and other mandatory parts", async () => {
    const { error } = await readAll(c.streams, { options: { ...readOptions({ streamOption: streamOption(stream) }), uuidOption: undefined } })
    assert.strictEqual(error?.code, grpc.status.INVALID_ARGUMENT)
    assert.include(error!.details, "uuidOption")
    // no options at all: a real node dereferences them first (Streams.Read.cs), UNKNOWN
    const noOptions = await readAll(c.streams, {})
    assert.strictEqual(noOptions.error?.code, grpc.status.UNKNOWN)
    assert.strictEqual(noOptions.error?.details, "Exception was thrown by handler.")
    const noRevision = await read(c, { streamOption: { $case: "stream", value: { streamIdentifier: { streamName: Buffer.from(stream) } } } })
    assert.strictEqual(noRevision.error?.code, grpc.status.INVALID_ARGUMENT)
    const noWindow = await read(c, { streamOption: allOption("start"), filterOption: { $case: "filter", value: { filter: { $case: "eventType", value: { regex: "x", prefix: [] } }, checkpointIntervalMultiplier: 1 } } })
    assert.strictEqual(noWindow.error?.code, grpc.status.INVALID_ARGUMENT)
    const badRegex = await read(c, { streamOption: allOption("start"), filterOption: { $case: "filter", value: { filter: { $case: "eventType", value: { regex: "(", prefix: [] } }, window: { $case: "max", value: 1 }, checkpointIntervalMultiplier: 1 } } })
    assert.strictEqual(badRegex.error?.code, grpc.status.INVALID_ARGUMENT)
    const zeroMultiplier = await read(c, { streamOption: allOption("start"), countOption: { $case: "subscription", value: {} }, filterOption: { $case: "filter", value: { filter: { $case: "eventType", value: { regex: "x", prefix: [] } }, window: { $case: "max", value: 1 }, checkpointIntervalMultiplier: 0 } } })
    // ArgumentOutOfRangeException in the enumerator (Enumerator.AllSubscriptionFiltered.cs): UNKNOWN
    assert.strictEqual(zeroMultiplier.error?.code, grpc.status.UNKNOWN)
    // the node is still fine
    assert.strictEqual(revisions((await read(c, { streamOption: streamOption(stream), countOption: { $case: "count", value: 1n } })).messages).length, 1)
  })

  it("reports stream-deleted for tombstoned streams", async () => {
    const s = uniqueStream()
    await appendOk(c.streams, s, any, [{}])
    await new Promise<void>((resolve) => c.streams.tombstone({ options: { streamIdentifier: { streamName: Buffer.from(s) }, expectedStreamRevision: any } }, () => resolve()))
    const { error } = await read(c, { streamOption: streamOption(s) })
    assert.strictEqual(error?.code, grpc.status.FAILED_PRECONDITION)
    assert.deepStrictEqual(error?.metadata.get("exception"), ["stream-deleted"])
    const meta = await read(c, { streamOption: streamOption("$$" + s) })
    assert.strictEqual(meta.error?.code, grpc.status.FAILED_PRECONDITION)
  })
})
