/**
 * Issue 16, "Fidelity → Projections": the answers a real node gives, each against the KurrentDB
 * source file that decides it (kurrent-io/KurrentDB).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { binaryEvent, jsonEvent, KurrentDBClient } from "@kurrent/kurrentdb-client"
import { type RunningNode, startEmbeddedNode } from "../../src/server/EmbeddedNode.ts"
import { eventuallyAsync } from "../support/eventually.ts"
import { uniqueId } from "../support/unique.ts"
import { parseTag } from "../../src/server/projections/CheckpointTag.ts"
import { type Clients, connect, eventTypeOf, events, readAll, readOptions, streamOption } from "./helpers.ts"

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Polls `f` (a failed call counts as not yet) until `ok` holds of its value ({@link eventuallyAsync}). */
const until = async <A>(what: string, f: () => Promise<A>, ok: (a: A) => boolean): Promise<A> =>
  (await eventuallyAsync(what, () => f().catch(() => undefined), { until: (v) => v !== undefined && ok(v), intervalMs: 20 }))!

interface Raw {
  readonly type: string
  readonly revision: number
  readonly id: string
  readonly data: string
  readonly metadata: string
}

/** A stream's events as stored: type, revision, id, data and custom metadata as text. */
const readRaw = async (c: Clients, stream: string): Promise<Array<Raw>> => {
  const { messages, error } = await readAll(c.streams, { options: readOptions({ streamOption: streamOption(stream) }) })
  if (error !== undefined) return []
  return events(messages).map((e) => ({
    type: eventTypeOf(e.event) ?? "",
    revision: Number(e.event!.streamRevision),
    id: e.event!.id?.value?.$case === "string" ? e.event!.id.value.value : "",
    data: Buffer.from(e.event!.data).toString("utf8"),
    metadata: Buffer.from(e.event!.customMetadata).toString("utf8")
  }))
}

const counting = (source: string) =>
  `${source}.when({ $init: function() { return { count: 0 } }, Counted: function(s, e) { s.count++; return s } })`

describe("projections answer as a real node does", () => {
  let node: RunningNode
  let client: KurrentDBClient
  let c: Clients
  beforeAll(async () => {
    node = await startEmbeddedNode({ insecure: true, standardProjections: true })
    client = KurrentDBClient.connectionString(node.connectionString)
    c = connect(node)
  })
  afterAll(async () => {
    c.close()
    await client.dispose()
    await node.stop()
  })

  it("a state that is not JSON is kept as it is (EventProcessingProjectionProcessingPhase.InitOrLoadHandlerState)", async () => {
    // KurrentDB loads a partition's state into the handler only when the partition changes
    // (src/KurrentDB.Projections.V1/Services/Processing/Phases/EventProcessingProjectionProcessingPhase.cs),
    // so a query without handlers, whose state becomes each event's raw body, keeps a text state
    const s = `raw${uniqueId()}-1`
    const name = `raw-${uniqueId()}`
    await client.createProjection(name, `fromStream('${s}').when({ $init: function() { return { n: 0 } } }).outputState()`)
    await client.appendToStream(s, [binaryEvent({ type: "Text", data: Buffer.from("hello") }), binaryEvent({ type: "Text", data: Buffer.from("world") })])
    const status = await until("2 processed", () => client.getProjectionStatus(name), (st) => st.eventsProcessedAfterRestart >= 2)
    expect(status.projectionStatus).toBe("Running")
    expect(status.stateReason).toBe("")
    const results = await until("results", () => readRaw(c, `$projections-${name}-result`), (r) => r.length === 2)
    expect(results.map((r) => r.data)).toEqual(["hello", "world"])
  })

  it("fromCategory reads $ce-<category> with links resolved: events that reach a category only through links are processed, partitioned by the link's $o (ReaderStrategy.cs, ByStreamStatePartitionSelector)", async () => {
    // ReaderStrategy.CreatePausedEventReader (src/KurrentDB.Projections.V1/Services/Processing/
    // Strategies/ReaderStrategy.cs): one category → a StreamEventReader on `$ce-<category>` with
    // resolveLinkTos: true; one stream → a StreamEventReader on it, resolveLinkTos: true
    const id = uniqueId()
    const src = `src${id}-1`
    const lk = `lk${id}`
    await client.appendToStream(src, Array.from({ length: 3 }, () => jsonEvent({ type: "Counted", data: {} })))
    await client.appendToStream(`${lk}-1`, [0, 1, 2].map((n) => binaryEvent({ type: "$>", data: Buffer.from(`${n}@${src}`) })))
    await until("$ce- links", () => readRaw(c, `$ce-${lk}`), (r) => r.length === 3)

    await client.createProjection(`cat-${id}`, counting(`fromCategory('${lk}')`))
    await client.createProjection(`each-${id}`, counting(`fromCategory('${lk}').foreachStream()`))
    await client.createProjection(`stream-${id}`, counting(`fromStream('${lk}-1')`))
    await until("category count 3", () => client.getProjectionState<{ count: number }>(`cat-${id}`), (st) => st?.count === 3)
    await until("partition count 3", () => client.getProjectionState<{ count: number }>(`each-${id}`, { partition: `${lk}-1` }), (st) => st?.count === 3)
    await until("stream count 3", () => client.getProjectionState<{ count: number }>(`stream-${id}`), (st) => st?.count === 3)
    // and they go on live
    await client.appendToStream(`${lk}-1`, binaryEvent({ type: "$>", data: Buffer.from(`0@${src}`) }))
    await until("category count 4", () => client.getProjectionState<{ count: number }>(`cat-${id}`), (st) => st?.count === 4)
    // its position is a stream tag, as CheckpointTag.ToString shows one (`stream: n`); caught up, 100 %
    const status = await until("caught up", () => client.getProjectionStatus(`cat-${id}`), (st) => st.position === `$ce-${lk}: 3`)
    expect(status.progress).toBe(100)
  })

  it("result events carry $causedBy and $correlationId (ResultWriter.WriteRunningResult, CoreProjectionCheckpointManager.EventsEmitted)", async () => {
    // src/KurrentDB.Projections.V1/Services/Processing/Strategies/ResultWriter.cs passes the event's
    // id and correlation id to EventsEmitted, which stamps each result write; EmittedStream.cs
    // writes them after the checkpoint tag
    const s = `res${uniqueId()}-1`
    const name = `res-${uniqueId()}`
    await client.createProjection(name, `${counting(`fromStream('${s}')`)}.outputState()`)
    await client.appendToStream(s, jsonEvent({ type: "Counted", data: {}, metadata: { "$correlationId": "corr-16" } }))
    const source = await until("source", () => readRaw(c, s), (r) => r.length === 1)
    const results = await until("result", () => readRaw(c, `$projections-${name}-result`), (r) => r.length === 1)
    const metadata = JSON.parse(results[0]!.metadata) as Record<string, unknown>
    expect(Object.keys(metadata)).toEqual(["$v", "$c", "$p", "$causedBy", "$correlationId"])
    expect(metadata["$causedBy"]).toBe(source[0]!.id)
    expect(metadata["$correlationId"]).toBe("corr-16")
  })

  it("the checkpoint tag's $v is projectionId:epoch:version:subsystemVersion (CheckpointTag.WriteTo)", async () => {
    // src/KurrentDB.Projections.Shared/Services/Processing/Checkpointing/CheckpointTag.cs; the id
    // is the event number of the projection's $ProjectionCreated (ProjectionManager.cs)
    const s = `ver${uniqueId()}-1`
    const name = `ver-${uniqueId()}`
    await client.createProjection(name, counting(`fromStream('${s}')`))
    await client.appendToStream(s, jsonEvent({ type: "Counted", data: {} }))
    await until("count 1", () => client.getProjectionState<{ count: number }>(name), (st) => st?.count === 1)
    await client.disableProjection(name)
    const registry = await readRaw(c, "$projections-$all")
    const created = registry.find((r) => r.type === "$ProjectionCreated" && r.data === name)!
    const checkpoints = await readRaw(c, `$projections-${name}-checkpoint`)
    const tag = JSON.parse(checkpoints[checkpoints.length - 1]!.metadata) as Record<string, unknown>
    expect(tag["$v"]).toBe(`${created.revision}:0:1:4`)
  })

  it("reads both forms of $v (CheckpointTag.FromJson)", () => {
    const current = { id: 7, epoch: 2, version: 5 }
    const bytes = (o: unknown) => Buffer.from(JSON.stringify(o))
    expect(parseTag(bytes({ "$v": "3:1:4:4", "$c": 10, "$p": 10 }), current)).toEqual({ id: 3, epoch: 1, version: 4, position: 10 })
    expect(parseTag(bytes({ "$v": "3:1:4", "$c": 10, "$p": 10 }), current)).toEqual({ id: 3, epoch: 1, version: 4, position: 10 })
    // the older two-part form: its first part is ignored, the id is the current one, epoch 0
    expect(parseTag(bytes({ "$v": "1:4", "$c": 12, "$p": 12 }), current)).toEqual({ id: 7, epoch: 0, version: 4, position: 12 })
    expect(parseTag(bytes({ "$c": 3 }), current)).toEqual({ id: 7, epoch: 0, version: 0, position: 3 })
  })

  it("reset of a stopped projection zeroes eventsProcessedAfterRestart (CoreProjectionCheckpointManager.Initialize)", async () => {
    // src/KurrentDB.Projections.V1/Services/Processing/Checkpointing/CoreProjectionCheckpointManager.cs
    const s = `rst${uniqueId()}-1`
    const name = `rst-${uniqueId()}`
    await client.appendToStream(s, [jsonEvent({ type: "Counted", data: {} }), jsonEvent({ type: "Counted", data: {} })])
    await client.createProjection(name, counting(`fromStream('${s}')`))
    await until("count 2", () => client.getProjectionState<{ count: number }>(name), (st) => st?.count === 2)
    await client.disableProjection(name)
    expect((await client.getProjectionStatus(name)).eventsProcessedAfterRestart).toBe(2n)
    await client.resetProjection(name)
    const status = await client.getProjectionStatus(name)
    expect(status.projectionStatus).toBe("Stopped")
    expect(status.eventsProcessedAfterRestart).toBe(0n)
  })

  it("an abort does not duplicate emitted events; a reset writes them again in the new epoch (EmittedStream.cs recovery)", async () => {
    // src/KurrentDB.Projections.V1/Services/Processing/Emitting/EmittedStream.cs: events stamped by
    // this projection's epoch after the checkpoint are already written (passed over); after a reset
    // (ManagedProjection.Reset: the epoch becomes the new version) the stream is a new logical one
    const s = `emt${uniqueId()}-1`
    const out = `emtout${uniqueId()}`
    const name = `emt-${uniqueId()}`
    await client.appendToStream(s, [1, 2, 3].map((n) => jsonEvent({ type: "E", data: { n } })))
    await client.createProjection(name, `fromStream('${s}').when({ E: function(st, e) { emit('${out}', 'Seen', { n: e.data.n }); return st } })`, {
      emitEnabled: true
    })
    await until("3 emitted", () => readRaw(c, out), (r) => r.length === 3)
    await client.disableProjection(name)
    // no checkpoint taken by abort: the run after it meets its own writes again
    await client.enableProjection(name)
    await client.appendToStream(s, jsonEvent({ type: "E", data: { n: 4 } }))
    await until("4 emitted", () => readRaw(c, out), (r) => r.length >= 4)
    await client.abortProjection(name)
    await client.enableProjection(name)
    await client.appendToStream(s, jsonEvent({ type: "E", data: { n: 5 } }))
    await until("5 emitted", () => readRaw(c, out), (r) => r.length >= 5)
    await sleep(200)
    expect((await readRaw(c, out)).map((r) => JSON.parse(r.data).n)).toEqual([1, 2, 3, 4, 5])
    await client.resetProjection(name)
    await until("written again", () => readRaw(c, out), (r) => r.length === 10)
    const tags = (await readRaw(c, out)).map((r) => String(JSON.parse(r.metadata)["$v"]).split(":")[1])
    expect(new Set(tags.slice(5)).size).toBe(1)
    expect(tags[9]).not.toBe(tags[0])
  })

  it("/info reports the projections feature while user projections run (ClusterVNode: RunProjections != None)", async () => {
    const res = await fetch(`http://${node.host}:${node.port}/info`)
    const info = await res.json() as { features: { projections: boolean } }
    expect(info.features.projections).toBe(true)
  })
})
