/**
 * The node's Projections service over real gRPC (generated client): projections created through it
 * run asynchronously over `$all`, write their results, partitions, checkpoints, emitted streams and
 * definitions to the streams PROTOCOL.md §5 names, and answer every call with a real node's
 * statuses and texts. Waits poll the node (never a blind sleep), bounded by a deadline.
 */
import * as grpc from "@grpc/grpc-js"
import { afterAll, afterEach, assert, beforeAll, describe, it } from "@effect/vitest"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import {
  type CreateReq,
  type CreateResp,
  type DeleteReq,
  type DeleteResp,
  type DisableReq,
  type DisableResp,
  type EnableReq,
  type EnableResp,
  ProjectionsClient,
  type ResetReq,
  type ResetResp,
  type ResultReq,
  type ResultResp,
  type StateReq,
  type StateResp,
  type StatisticsReq_Options,
  type StatisticsResp_Details,
  type UpdateReq,
  type UpdateResp
} from "../../src/generated/projections.ts"
import type { Empty } from "../../src/generated/shared.ts"
import type { SupportedMethods } from "../../src/generated/serverfeatures.ts"
import type { ReadResp } from "../../src/generated/streams.ts"
import { type RunningNode, startEmbeddedNode } from "../../src/server/EmbeddedNode.ts"
import { eventuallyAsync } from "../support/eventually.ts"
import { uniqueId } from "../support/unique.ts"
import {
  any,
  appendOk,
  basicAuth,
  type Clients,
  connect,
  deleteStream,
  eventTypeOf,
  events,
  readAll,
  readOptions,
  streamOption,
  tombstoneStream,
  unary
} from "./helpers.ts"


const clientFor = (node: RunningNode) => {
  const address = node.insecure ? `${node.host}:${node.port}` : `localhost:${node.port}`
  const creds = node.insecure
    ? grpc.credentials.createInsecure()
    : grpc.credentials.createSsl(readFileSync(node.caFile!))
  return new ProjectionsClient(address, creds)
}

interface Api {
  readonly client: ProjectionsClient
  readonly c: Clients
}

const md = (metadata?: grpc.Metadata) => metadata ?? new grpc.Metadata()

const api = (a: Api, metadata?: grpc.Metadata) => ({
  createContinuous: (name: string, query: string, emitEnabled = false, trackEmittedStreams = false) =>
    unary<CreateReq, CreateResp>((r, m, cb) => a.client.create(r, m, cb), {
      options: { mode: { $case: "continuous", value: { name, emitEnabled, trackEmittedStreams } }, query, engineVersion: 1, properties: [] }
    }, md(metadata)),
  createOneTime: (query: string) =>
    unary<CreateReq, CreateResp>((r, m, cb) => a.client.create(r, m, cb), {
      options: { mode: { $case: "oneTime", value: {} }, query, engineVersion: 1, properties: [] }
    }, md(metadata)),
  createTransient: (name: string, query: string) =>
    unary<CreateReq, CreateResp>((r, m, cb) => a.client.create(r, m, cb), {
      options: { mode: { $case: "transient", value: { name } }, query, engineVersion: 1, properties: [] }
    }, md(metadata)),
  update: (name: string, query: string, emitEnabled?: boolean) =>
    unary<UpdateReq, UpdateResp>((r, m, cb) => a.client.update(r, m, cb), {
      options: {
        name,
        query,
        emitOption: emitEnabled === undefined ? { $case: "noEmitOptions", value: {} } : { $case: "emitEnabled", value: emitEnabled },
        properties: []
      }
    }, md(metadata)),
  delete: (name: string, o: { emitted?: boolean; state?: boolean; checkpoint?: boolean } = {}) =>
    unary<DeleteReq, DeleteResp>((r, m, cb) => a.client.delete(r, m, cb), {
      options: {
        name,
        deleteEmittedStreams: o.emitted ?? false,
        deleteStateStream: o.state ?? false,
        deleteCheckpointStream: o.checkpoint ?? false
      }
    }, md(metadata)),
  enable: (name: string) => unary<EnableReq, EnableResp>((r, m, cb) => a.client.enable(r, m, cb), { options: { name } }, md(metadata)),
  disable: (name: string, writeCheckpoint = true) =>
    unary<DisableReq, DisableResp>((r, m, cb) => a.client.disable(r, m, cb), { options: { name, writeCheckpoint } }, md(metadata)),
  reset: (name: string) => unary<ResetReq, ResetResp>((r, m, cb) => a.client.reset(r, m, cb), { options: { name, writeCheckpoint: false } }, md(metadata)),
  restart: () => unary<Empty, Empty>((r, m, cb) => a.client.restartSubsystem(r, m, cb), {}, md(metadata)),
  state: (name: string, partition = "") =>
    unary<StateReq, StateResp>((r, m, cb) => a.client.state(r, m, cb), { options: { name, partition } }, md(metadata)),
  result: (name: string, partition = "") =>
    unary<ResultReq, ResultResp>((r, m, cb) => a.client.result(r, m, cb), { options: { name, partition } }, md(metadata)),
  statistics: (mode: StatisticsReq_Options["mode"]) =>
    new Promise<{ details: Array<StatisticsResp_Details>; error: grpc.ServiceError | undefined }>((resolve) => {
      const details: Array<StatisticsResp_Details> = []
      const call = a.client.statistics({ options: { mode } }, md(metadata))
      call.on("data", (m: { details?: StatisticsResp_Details }) => m.details && details.push(m.details))
      call.on("error", (error: grpc.ServiceError) => resolve({ details, error }))
      call.on("end", () => resolve({ details, error: undefined }))
    })
})

type Calls = ReturnType<typeof api>

const stats = async (p: Calls, name: string): Promise<StatisticsResp_Details> => {
  const { details, error } = await p.statistics({ $case: "name", value: name })
  if (error !== undefined) throw error
  return details[0]!
}

/** Polls until `check` returns a value other than undefined (a failed check counts as not yet; {@link eventuallyAsync}). */
const until = async <A>(what: string, check: () => Promise<A | undefined>): Promise<A> =>
  (await eventuallyAsync(what, () => check().catch(() => undefined), { until: (v) => v !== undefined, intervalMs: 20 }))!

const readStream = async (c: Clients, stream: string): Promise<Array<{ type: string; data: string; metadata: string }>> => {
  const { messages, error } = await readAll(c.streams, { options: readOptions({ streamOption: streamOption(stream) }) })
  if (error !== undefined) {
    if (error.code === grpc.status.NOT_FOUND) return []
    throw error
  }
  const found = messages.some((m: ReadResp) => m.content?.$case === "streamNotFound")
  if (found) return []
  return events(messages).map((e) => ({
    type: eventTypeOf(e.event) ?? "",
    data: Buffer.from(e.event!.data).toString("utf8"),
    metadata: Buffer.from(e.event!.customMetadata).toString("utf8")
  }))
}

const COUNT = (category: string) => `fromCategory('${category}')
  .when({ $init: function() { return { count: 0 } }, Counted: function(s, e) { s.count++; return s } })
  .outputState()`

const appendCounted = (c: Clients, stream: string, n: number, type = "Counted") =>
  appendOk(c.streams, stream, any, Array.from({ length: n }, () => ({ type, data: { n: 1 } })))

describe("Projections service", () => {
  let node: RunningNode
  let a: Api
  let p: Calls
  beforeAll(async () => {
    node = await startEmbeddedNode({ insecure: true })
    a = { client: clientFor(node), c: connect(node) }
    p = api(a)
  })
  afterAll(async () => {
    a.client.close()
    a.c.close()
    await node.stop()
  })

  it("a continuous projection counts asynchronously, follows appends and writes its result, definition and registry", async () => {
    const cat = `cnt${uniqueId()}`
    const name = `count-${cat}`
    await appendCounted(a.c, `${cat}-1`, 3)
    assert.isUndefined((await p.createContinuous(name, COUNT(cat))).error)
    await until("count 3", async () => ((await p.state(name)).response?.state?.count === 3 ? true : undefined))
    await appendCounted(a.c, `${cat}-2`, 2)
    await appendCounted(a.c, `other${uniqueId()}-1`, 4)
    await until("count 5", async () => ((await p.state(name)).response?.state?.count === 5 ? true : undefined))
    assert.deepStrictEqual((await p.result(name)).response?.result, { count: 5 })

    const s = await stats(p, name)
    assert.strictEqual(s.status, "Running")
    assert.strictEqual(s.mode, "Continuous")
    assert.strictEqual(s.name, name)
    assert.strictEqual(s.effectiveName, name)
    assert.strictEqual(s.eventsProcessedAfterRestart, 5n)
    assert.match(s.position, /^C:\d+\/P:\d+$/)

    const results = await readStream(a.c, `$projections-${name}-result`)
    assert.isTrue(results.length >= 1)
    assert.isTrue(results.every((r) => r.type === "Result"))
    assert.deepStrictEqual(JSON.parse(results[results.length - 1]!.data), { count: 5 })

    const definition = await readStream(a.c, `$projections-${name}`)
    assert.strictEqual(definition[0]?.type, "$ProjectionUpdated")
    const d = JSON.parse(definition[0]!.data)
    assert.strictEqual(d.query, COUNT(cat))
    assert.strictEqual(d.mode, "Continuous")
    assert.strictEqual(d.enabled, true)

    const registry = await readStream(a.c, "$projections-$all")
    assert.strictEqual(registry[0]?.type, "$ProjectionsInitialized")
    assert.isTrue(registry.some((r) => r.type === "$ProjectionCreated" && r.data === name))

    // caught up: a checkpoint holds the state
    const checkpoints = await until("a checkpoint", async () => {
      const cps = await readStream(a.c, `$projections-${name}-checkpoint`)
      return cps.length > 0 && JSON.parse(cps[cps.length - 1]!.data).count === 5 ? cps : undefined
    })
    assert.strictEqual(checkpoints[0]!.type, "$ProjectionCheckpoint")
    assert.isNumber(JSON.parse(checkpoints[checkpoints.length - 1]!.metadata)["$c"])
  })

  it("duplicate names get the released node's UNKNOWN answer; unknown names NOT_FOUND everywhere", async () => {
    const name = `dup-${uniqueId()}`
    assert.isUndefined((await p.createContinuous(name, COUNT("dup"))).error)
    const dup = (await p.createContinuous(name, COUNT("dup"))).error
    assert.strictEqual(dup?.code, grpc.status.UNKNOWN)
    assert.strictEqual(dup?.details, "Envelope callback expected Updated, received Conflict instead")

    const missing = `missing-${uniqueId()}`
    const notFound = `Projection '${missing}' not found`
    for (
      const call of [
        () => p.update(missing, COUNT("x")),
        () => p.delete(missing),
        () => p.enable(missing),
        () => p.disable(missing),
        () => p.disable(missing, false),
        () => p.reset(missing),
        () => p.state(missing),
        () => p.result(missing)
      ]
    ) {
      const { error } = await call()
      assert.strictEqual(error?.code, grpc.status.NOT_FOUND)
      assert.strictEqual(error?.details, notFound)
    }
    const { error } = await p.statistics({ $case: "name", value: missing })
    assert.strictEqual(error?.code, grpc.status.NOT_FOUND)
    assert.strictEqual(error?.details, notFound)
  })

  it("ANCHORS 69-70: a second delete is NOT_FOUND; a new projection's state is {}; an empty query faults with a real node's text", async () => {
    const cat = `a69${uniqueId()}`
    const name = `a69-${cat}`
    await p.createContinuous(name, COUNT(cat))
    // nothing appended to its category yet: the state starts as {}
    await until("running", async () => ((await stats(p, name)).status === "Running" ? true : undefined))
    assert.deepStrictEqual((await p.state(name)).response?.state, {})
    assert.deepStrictEqual((await p.result(name)).response?.result, {})
    await p.disable(name)
    assert.isUndefined((await p.delete(name)).error)
    const again = (await p.delete(name)).error
    assert.strictEqual(again?.code, grpc.status.NOT_FOUND)
    assert.strictEqual(again?.details, `Projection '${name}' not found`)
    // an empty query (the client refuses it; other clients may send it): created, then Faulted
    // with ReaderStrategy.Create's text; a real node's State call then times out (esdbclient's
    // test), ours answers {}
    const empty = `empty-${cat}`
    assert.isUndefined((await p.createContinuous(empty, "")).error)
    const faulted = await until("empty faulted", async () => {
      const s = await stats(p, empty)
      return s.status.startsWith("Faulted") ? s : undefined
    })
    assert.strictEqual(faulted.stateReason, "None of streams and categories are included")
  })

  it("ANCHORS 71: reset clears the state (a stopped projection: {} until enabled, then counted from the start)", async () => {
    const cat = `a71${uniqueId()}`
    const name = `a71-${cat}`
    await appendCounted(a.c, `${cat}-1`, 2)
    await p.createContinuous(name, COUNT(cat))
    await until("count 2", async () => ((await p.state(name)).response?.state?.count === 2 ? true : undefined))
    await p.disable(name)
    assert.strictEqual((await stats(p, name)).status, "Stopped")
    assert.isUndefined((await p.reset(name)).error)
    assert.strictEqual((await stats(p, name)).status, "Stopped")
    assert.deepStrictEqual((await p.state(name)).response?.state, {})
    const cps = await readStream(a.c, `$projections-${name}-checkpoint`)
    assert.strictEqual(JSON.parse(cps[cps.length - 1]!.metadata)["$c"], -1)
    await appendCounted(a.c, `${cat}-1`, 1)
    await p.enable(name)
    await until("count 3 from the start", async () => ((await p.state(name)).response?.state?.count === 3 ? true : undefined))
  })

  it("track_emitted_streams without emit_enabled, and a create without options, are UNKNOWN", async () => {
    const { error } = await p.createContinuous(`track-${uniqueId()}`, COUNT("x"), false, true)
    assert.strictEqual(error?.code, grpc.status.UNKNOWN)
    const noOptions = await unary<CreateReq, CreateResp>((r, m, cb) => a.client.create(r, m, cb), {}, new grpc.Metadata())
    assert.strictEqual(noOptions.error?.code, grpc.status.UNKNOWN)
  })

  it("delete needs a stopped projection; disable writes a checkpoint; delete removes the streams asked for", async () => {
    const cat = `del${uniqueId()}`
    const name = `del-${cat}`
    await appendCounted(a.c, `${cat}-1`, 2)
    await p.createContinuous(name, COUNT(cat))
    await until("count 2", async () => ((await p.state(name)).response?.state?.count === 2 ? true : undefined))
    const running = (await p.delete(name)).error
    assert.strictEqual(running?.code, grpc.status.UNKNOWN)
    assert.strictEqual(running?.details, "Envelope callback expected Updated, received OperationFailed instead")

    const before = (await readStream(a.c, `$projections-${name}-checkpoint`)).length
    assert.isUndefined((await p.disable(name)).error)
    const s = await stats(p, name)
    assert.strictEqual(s.status, "Stopped")
    assert.notStrictEqual(s.lastCheckpoint, "")
    assert.strictEqual((await readStream(a.c, `$projections-${name}-checkpoint`)).length, before + 1)

    // stopped: appends are not processed; the state is still answered
    await appendCounted(a.c, `${cat}-1`, 1)
    assert.deepStrictEqual((await p.state(name)).response?.state, { count: 2 })

    assert.isUndefined((await p.delete(name, { state: true, checkpoint: true })).error)
    assert.strictEqual((await p.state(name)).error?.code, grpc.status.NOT_FOUND)
    assert.deepStrictEqual(await readStream(a.c, `$projections-${name}-checkpoint`), [])
    // KurrentDB ManagedProjection.DeleteProjectionStreams (src/KurrentDB.Projections.Management/
    // Services/Management/ManagedProjection.cs) deletes the checkpoint, emitted and order streams:
    // `deleteStateStream` deletes nothing there, the result stream stays
    const results = await readStream(a.c, `$projections-${name}-result`)
    assert.deepStrictEqual(JSON.parse(results[results.length - 1]!.data), { count: 2 })
    const registry = await readStream(a.c, "$projections-$all")
    assert.isTrue(registry.some((r) => r.type === "$ProjectionDeleted" && r.data === name))
  })

  it("enable after disable continues from the checkpoint; abort then enable; reset starts over in a new epoch", async () => {
    const cat = `en${uniqueId()}`
    const name = `en-${cat}`
    await appendCounted(a.c, `${cat}-1`, 2)
    await p.createContinuous(name, COUNT(cat))
    await until("count 2", async () => ((await p.state(name)).response?.state?.count === 2 ? true : undefined))
    await p.disable(name)
    await appendCounted(a.c, `${cat}-1`, 3)
    assert.isUndefined((await p.enable(name)).error)
    await until("count 5", async () => ((await p.state(name)).response?.state?.count === 5 ? true : undefined))
    assert.strictEqual((await stats(p, name)).status, "Running")

    // abort: no checkpoint, stopped
    await until("checkpoint at 5", async () => {
      const cps = await readStream(a.c, `$projections-${name}-checkpoint`)
      return cps.length > 0 && JSON.parse(cps[cps.length - 1]!.data).count === 5 ? true : undefined
    })
    const cps = (await readStream(a.c, `$projections-${name}-checkpoint`)).length
    assert.isUndefined((await p.disable(name, false)).error)
    // a real node (21.10 and later) reports an aborted projection as "Aborted" (ManagedProjection.cs:
    // AbortingState → ManagedProjectionState.Aborted)
    assert.strictEqual((await stats(p, name)).status, "Aborted")
    assert.strictEqual((await readStream(a.c, `$projections-${name}-checkpoint`)).length, cps)
    await p.enable(name)
    await until("count 5 again", async () =>
      (await stats(p, name)).status === "Running" && (await p.state(name)).response?.state?.count === 5 ? true : undefined)

    const epochBefore = (await stats(p, name)).epoch
    assert.isUndefined((await p.reset(name)).error)
    await until("count 5 after reset", async () => ((await p.state(name)).response?.state?.count === 5 ? true : undefined))
    const after = await stats(p, name)
    assert.notStrictEqual(after.epoch, epochBefore)
    assert.strictEqual(after.eventsProcessedAfterRestart, 5n)
  })

  it("update changes the query; restart subsystem keeps the projections running", async () => {
    const cat = `up${uniqueId()}`
    const name = `up-${cat}`
    await appendCounted(a.c, `${cat}-1`, 2)
    await p.createContinuous(name, COUNT(cat))
    await until("count 2", async () => ((await p.state(name)).response?.state?.count === 2 ? true : undefined))
    const versionBefore = (await stats(p, name)).version
    const doubled = COUNT(cat).replace("s.count++", "s.count += 2")
    assert.isUndefined((await p.update(name, doubled)).error)
    await appendCounted(a.c, `${cat}-1`, 1)
    await until("count 4", async () => ((await p.state(name)).response?.state?.count === 4 ? true : undefined))
    assert.strictEqual((await stats(p, name)).version, versionBefore + 1n)
    const definition = await readStream(a.c, `$projections-${name}`)
    assert.strictEqual(JSON.parse(definition[definition.length - 1]!.data).query, doubled)

    assert.isUndefined((await p.restart()).error)
    await appendCounted(a.c, `${cat}-1`, 1)
    await until("count 6", async () => ((await p.state(name)).response?.state?.count === 6 ? true : undefined))
  })

  it("a throwing handler faults its projection only, with its message; an endless loop faults by the time limit", async () => {
    const cat = `f${uniqueId()}`
    const bad = `bad-${cat}`
    const loop = `loop-${cat}`
    const good = `good-${cat}`
    await p.createContinuous(bad, `fromCategory('${cat}').when({ Counted: function(s, e) { throw new Error("boom " + e.sequenceNumber) } })`)
    await p.createContinuous(loop, `fromCategory('${cat}').when({ Counted: function(s, e) { for (;;) {} } })`)
    await p.createContinuous(good, COUNT(cat))
    await appendCounted(a.c, `${cat}-1`, 2)
    const faulted = await until("faulted", async () => {
      const s = await stats(p, bad)
      return s.status.startsWith("Faulted") ? s : undefined
    })
    assert.strictEqual(faulted.status, "Faulted (Enabled)")
    assert.include(faulted.stateReason, "boom 0")
    const looped = await until("loop faulted", async () => {
      const s = await stats(p, loop)
      return s.status.startsWith("Faulted") ? s : undefined
    })
    assert.include(looped.stateReason, "took too long")
    await until("good count 2", async () => ((await p.state(good)).response?.state?.count === 2 ? true : undefined))
    assert.strictEqual((await stats(p, good)).status, "Running")
    // a faulted projection can be deleted; a compile error faults too
    await p.disable(bad)
    assert.strictEqual((await stats(p, bad)).status, "Faulted")
    assert.isUndefined((await p.delete(bad)).error)
    const broken = `broken-${cat}`
    await p.createContinuous(broken, "fromCategory(")
    await until("compile fault", async () => ((await stats(p, broken)).status === "Faulted (Enabled)" ? true : undefined))
  })

  it("partitionBy: State and Result by partition, partition result streams and -partitions", async () => {
    const cat = `pt${uniqueId()}`
    const name = `pt-${cat}`
    const query = `fromCategory('${cat}')
      .partitionBy(function(e) { return e.body.who })
      .when({ $init: function() { return { n: 0 } }, Counted: function(s, e) { s.n++; return s } })
      .outputState()`
    await appendOk(a.c.streams, `${cat}-1`, any, [
      { type: "Counted", data: { who: "ann" } },
      { type: "Counted", data: { who: "bob" } },
      { type: "Counted", data: { who: "ann" } }
    ])
    await p.createContinuous(name, query)
    await until("ann 2", async () => ((await p.state(name, "ann")).response?.state?.n === 2 ? true : undefined))
    assert.deepStrictEqual((await p.state(name, "bob")).response?.state, { n: 1 })
    assert.deepStrictEqual((await p.result(name, "ann")).response?.result, { n: 2 })
    assert.deepStrictEqual((await p.state(name, "nobody")).response?.state, {})
    const partitions = await readStream(a.c, `$projections-${name}-partitions`)
    assert.deepStrictEqual(partitions.map((e) => [e.type, e.data]), [["$partition", "ann"], ["$partition", "bob"]])
    const annResults = await readStream(a.c, `$projections-${name}-ann-result`)
    assert.deepStrictEqual(JSON.parse(annResults[annResults.length - 1]!.data), { n: 2 })
  })

  it("$deleted: a foreachStream query is notified of a soft-deleted and a tombstoned stream; its partition state is the handler's", async () => {
    const cat = `del${uniqueId()}`
    const name = `del-${cat}`
    const query = `fromCategory('${cat}').foreachStream().when({
      $init: function() { return { n: 0 } },
      Counted: function(s, e) { s.n++; return s },
      $deleted: function(s, e, partition, soft) { s.deleted = { partition: partition, event: e, soft: soft }; return s }
    })`
    await appendCounted(a.c, `${cat}-1`, 2)
    await appendCounted(a.c, `${cat}-2`, 1)
    await appendCounted(a.c, `${cat}-3`, 1)
    await p.createContinuous(name, query)
    await until("partitions", async () => ((await p.state(name, `${cat}-3`)).response?.state?.n === 1 ? true : undefined))
    // soft delete ($metadata with $tb = long.MaxValue in $$x) and tombstone ($streamDeleted):
    // a real node calls $deleted(state, null, partition, false) for both (JintProjectionStateHandler)
    await deleteStream(a.c.streams, `${cat}-1`, any)
    await tombstoneStream(a.c.streams, `${cat}-2`, any)
    const one = await until("soft", async () => (await p.state(name, `${cat}-1`)).response?.state?.deleted ? (await p.state(name, `${cat}-1`)).response?.state : undefined)
    assert.deepStrictEqual(one, { n: 2, deleted: { partition: `${cat}-1`, event: null, soft: false } })
    const two = await until("hard", async () => (await p.state(name, `${cat}-2`)).response?.state?.deleted ? (await p.state(name, `${cat}-2`)).response?.state : undefined)
    assert.deepStrictEqual(two, { n: 1, deleted: { partition: `${cat}-2`, event: null, soft: false } })
    assert.deepStrictEqual((await p.state(name, `${cat}-3`)).response?.state, { n: 1 })
    // the new partition state is checkpointed like any other
    await until("partition checkpoint", async () => {
      const cps = await readStream(a.c, `$projections-${name}-${cat}-1-checkpoint`)
      return cps.length > 0 && JSON.parse(cps[cps.length - 1]!.data).deleted?.partition === `${cat}-1` ? true : undefined
    })
    // a stream outside the query's sources gets no notification
    await appendCounted(a.c, `other${cat}-1`, 1)
    await deleteStream(a.c.streams, `other${cat}-1`, any)
    await appendCounted(a.c, `${cat}-3`, 1)
    await until("caught up", async () => ((await p.state(name, `${cat}-3`)).response?.state?.n === 2 ? true : undefined))
    assert.deepStrictEqual((await p.state(name, `other${cat}-1`)).response?.state, {})
    assert.strictEqual((await stats(p, name)).status, "Running")
    // without foreachStream a real node refuses the query when it starts (ReaderStrategy.Create)
    const plain = `plain-${cat}`
    assert.isUndefined((await p.createContinuous(plain, `fromCategory('${cat}').when({ Counted: function(s) { return s },
      $deleted: function(s) { return s } })`)).error)
    const faulted = await until("plain faulted", async () => {
      const s = await stats(p, plain)
      return s.status.startsWith("Faulted") ? s : undefined
    })
    assert.strictEqual(faulted.stateReason, "Deleted stream notifications are only supported with foreachStream()")
  })

  it("options reorderEvents/processingLag and sources a real node refuses when the projection starts: Faulted with its text", async () => {
    const cat = `ro${uniqueId()}`
    const cases: ReadonlyArray<readonly [string, string, string | undefined]> = [
      ["all", `options({ reorderEvents: true, processingLag: 100 }); fromAll().when({ $any: function(s) { return s } })`,
        "Event reordering cannot be used with fromAll()"],
      ["one", `options({ reorderEvents: true, processingLag: 100 }); fromStream('${cat}-1').when({ $any: function(s) { return s } })`,
        "Event reordering is only available in fromStreams([]) projections"],
      ["lag", `options({ reorderEvents: true, processingLag: 10 }); fromStreams(['${cat}-1', '${cat}-2']).when({ $any: function(s) { return s } })`,
        "Event reordering requires processing lag at least of 50ms"],
      ["ok", `options({ reorderEvents: true, processingLag: 50 }); fromStreams(['${cat}-1', '${cat}-2'])
        .when({ $init: function() { return { seen: [] } }, $any: function(s, e) { s.seen.push(e.streamId + ':' + e.sequenceNumber); return s } })`,
        undefined]
    ]
    await appendOk(a.c.streams, `${cat}-2`, any, [{ type: "A", data: {} }])
    await appendOk(a.c.streams, `${cat}-1`, any, [{ type: "A", data: {} }])
    await appendOk(a.c.streams, `${cat}-2`, any, [{ type: "A", data: {} }])
    for (const [suffix, query, reason] of cases) {
      const name = `ro-${suffix}-${cat}`
      assert.isUndefined((await p.createContinuous(name, query)).error)
      if (reason === undefined) continue
      const s = await until(`${suffix} faulted`, async () => {
        const st = await stats(p, name)
        return st.status.startsWith("Faulted") ? st : undefined
      })
      assert.strictEqual(s.stateReason, reason)
    }
    // accepted: the events of both streams in commit-position order (the reordering's order)
    const seen = await until("ok", async () => {
      const st = (await p.state(`ro-ok-${cat}`)).response?.state
      return st?.seen?.length === 3 ? st.seen : undefined
    })
    assert.deepStrictEqual(seen, [`${cat}-2:0`, `${cat}-1:0`, `${cat}-2:1`])
    assert.strictEqual((await stats(p, `ro-ok-${cat}`)).status, "Running")
  })

  it("biState: the shared state is partition \"\" (State/Result without a partition) and kept in the checkpoint", async () => {
    const cat = `bi${uniqueId()}`
    const name = `bi-${cat}`
    const query = `fromCategory('${cat}').foreachStream().when({
      $init: function() { return { n: 0 } },
      $initShared: function() { return { total: 0 } },
      Counted: function(s, e) { s[0].n++; s[1].total++; return s }
    })`
    await appendCounted(a.c, `${cat}-1`, 2)
    await appendCounted(a.c, `${cat}-2`, 1)
    await p.createContinuous(name, query)
    await until("shared 3", async () => ((await p.state(name)).response?.state?.total === 3 ? true : undefined))
    assert.deepStrictEqual((await p.state(name, `${cat}-1`)).response?.state, { n: 2 })
    await until("checkpoint", async () => {
      const cps = await readStream(a.c, `$projections-${name}-checkpoint`)
      return cps.length > 0 && JSON.parse(cps[cps.length - 1]!.data).total === 3 ? true : undefined
    })
    // disabled (a checkpoint) then enabled: the shared state comes back from the checkpoint
    await p.disable(name)
    await p.enable(name)
    await appendCounted(a.c, `${cat}-2`, 1)
    await until("shared 4", async () => ((await p.state(name)).response?.state?.total === 4 ? true : undefined))
    assert.deepStrictEqual((await p.state(name, `${cat}-2`)).response?.state, { n: 2 })
  })

  it("emit and linkTo with emitEnabled and trackEmittedStreams; delete removes the emitted streams", async () => {
    const cat = `em${uniqueId()}`
    const name = `em-${cat}`
    const out = `out${uniqueId()}`
    const query = `fromCategory('${cat}').when({ Counted: function(s, e) {
      emit('${out}-copies', 'Copied', { from: e.streamId });
      linkTo('${out}-links', e);
    } })`
    await appendCounted(a.c, `${cat}-1`, 2)
    await p.createContinuous(name, query, true, true)
    const copies = await until("2 copies", async () => {
      const es = await readStream(a.c, `${out}-copies`)
      return es.length === 2 ? es : undefined
    })
    assert.deepStrictEqual(copies.map((e) => [e.type, JSON.parse(e.data).from]), [["Copied", `${cat}-1`], ["Copied", `${cat}-1`]])
    assert.isString(JSON.parse(copies[0]!.metadata)["$causedBy"])
    const links = await until("2 links", async () => {
      const es = await readStream(a.c, `${out}-links`)
      return es.length === 2 ? es : undefined
    })
    assert.deepStrictEqual(links.map((e) => [e.type, e.data]), [["$>", `0@${cat}-1`], ["$>", `1@${cat}-1`]])
    const tracked = await readStream(a.c, `$projections-${name}-emittedstreams`)
    assert.deepStrictEqual(tracked.map((e) => [e.type, e.data]).sort(), [["$StreamTracked", `${out}-copies`], ["$StreamTracked", `${out}-links`]])

    // without emitEnabled, emitting faults the projection with the real message
    const noEmit = `noemit-${cat}`
    await p.createContinuous(noEmit, query)
    const s = await until("emit fault", async () => {
      const st = await stats(p, noEmit)
      return st.status.startsWith("Faulted") ? st : undefined
    })
    assert.strictEqual(s.stateReason, "'emit' is not allowed by the projection/configuration/mode")

    await p.disable(name)
    assert.isUndefined((await p.delete(name, { emitted: true })).error)
    assert.deepStrictEqual(await readStream(a.c, `${out}-copies`), [])
    assert.deepStrictEqual(await readStream(a.c, `${out}-links`), [])
  })

  it("one-time projections get a GUID name and complete; transient ones run; statistics by mode", async () => {
    const cat = `ot${uniqueId()}`
    await appendCounted(a.c, `${cat}-1`, 3)
    assert.isUndefined((await p.createOneTime(COUNT(cat))).error)
    const oneTime = await until("completed", async () => {
      const { details } = await p.statistics({ $case: "oneTime", value: {} })
      return details.find((d) => d.status === "Completed")
    })
    assert.match(oneTime.name, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
    assert.strictEqual(oneTime.mode, "OneTime")
    assert.deepStrictEqual((await p.state(oneTime.name)).response?.state, { count: 3 })
    assert.strictEqual(oneTime.progress, 100)

    const transient = `tr-${cat}`
    assert.isUndefined((await p.createTransient(transient, COUNT(cat))).error)
    await until("transient 3", async () => ((await p.state(transient)).response?.state?.count === 3 ? true : undefined))
    assert.strictEqual((await stats(p, transient)).mode, "Transient")
    assert.deepStrictEqual(await readStream(a.c, `$projections-${transient}`), [])

    const continuous = (await p.statistics({ $case: "continuous", value: {} })).details
    assert.isTrue(continuous.length > 0 && continuous.every((d) => d.mode === "Continuous"))
    const all = (await p.statistics({ $case: "all", value: {} })).details
    assert.isTrue(all.some((d) => d.mode === "Transient") && all.some((d) => d.mode === "OneTime"))
  })

  it("ServerFeatures lists every Projections method, Create with track_emitted_streams", async () => {
    const methods = await new Promise<SupportedMethods>((resolve, reject) =>
      a.c.features.getSupportedMethods({}, (error, value) => (error ? reject(error) : resolve(value)))
    )
    const listed = methods.methods.filter((m) => m.serviceName === "event_store.client.projections.projections")
    assert.deepStrictEqual(
      listed.map((m) => m.methodName).sort(),
      ["create", "delete", "disable", "enable", "reset", "restartsubsystem", "result", "state", "statistics", "update"]
    )
    assert.deepStrictEqual(listed.find((m) => m.methodName === "create")?.features, ["track_emitted_streams"])
  })
})

describe("Projections service, version and access", () => {
  it("a node reporting a version after v26.1 answers ALREADY_EXISTS and refuses transient projections", async () => {
    const node = await startEmbeddedNode({ insecure: true, version: "26.2.0" })
    const a: Api = { client: clientFor(node), c: connect(node) }
    const p = api(a)
    try {
      const name = `dup-${uniqueId()}`
      await p.createContinuous(name, COUNT("x"))
      const dup = (await p.createContinuous(name, COUNT("x"))).error
      assert.strictEqual(dup?.code, grpc.status.ALREADY_EXISTS)
      assert.strictEqual(dup?.details, `Duplicate projection names : ${name}`)
      assert.strictEqual((await p.createTransient(`t-${uniqueId()}`, COUNT("x"))).error?.code, grpc.status.FAILED_PRECONDITION)
    } finally {
      a.client.close()
      a.c.close()
      await node.stop()
    }
  })

  it("a node holds at most maxProjections: one more is RESOURCE_EXHAUSTED, the others keep running", async () => {
    const node = await startEmbeddedNode({ insecure: true, maxProjections: 2 })
    const a: Api = { client: clientFor(node), c: connect(node) }
    const p = api(a)
    try {
      const cat = `max${uniqueId()}`
      assert.isUndefined((await p.createContinuous(`a-${cat}`, COUNT(cat))).error)
      assert.isUndefined((await p.createContinuous(`b-${cat}`, COUNT(cat))).error)
      const third = (await p.createContinuous(`c-${cat}`, COUNT(cat))).error
      assert.strictEqual(third?.code, grpc.status.RESOURCE_EXHAUSTED)
      assert.strictEqual((await p.state(`c-${cat}`)).error?.code, grpc.status.NOT_FOUND)
      await appendCounted(a.c, `${cat}-1`, 1)
      await until("a counts", async () => ((await p.state(`a-${cat}`)).response?.state?.count === 1 ? true : undefined))
    } finally {
      a.client.close()
      a.c.close()
      await node.stop()
    }
  })

  it("a secure node: anonymous callers are denied, bad credentials unauthenticated, admins allowed", async () => {
    const node = await startEmbeddedNode({ insecure: false })
    const a: Api = { client: clientFor(node), c: connect(node) }
    try {
      const anonymous = api(a)
      const denied = (await anonymous.createContinuous(`x-${uniqueId()}`, COUNT("x"))).error
      assert.strictEqual(denied?.code, grpc.status.PERMISSION_DENIED)
      assert.strictEqual((await anonymous.restart()).error?.code, grpc.status.PERMISSION_DENIED)
      assert.strictEqual((await anonymous.statistics({ $case: "all", value: {} })).error?.code, grpc.status.PERMISSION_DENIED)
      const wrong = api(a, basicAuth("admin", "wrong"))
      assert.strictEqual((await wrong.state("x")).error?.code, grpc.status.UNAUTHENTICATED)
      const admin = api(a, basicAuth("admin", "changeit"))
      const name = `sec-${uniqueId()}`
      assert.isUndefined((await admin.createContinuous(name, COUNT("sec"))).error)
      await admin.disable(name)
      assert.isUndefined((await admin.delete(name)).error)
      assert.isUndefined((await admin.restart()).error)
    } finally {
      a.client.close()
      a.c.close()
      await node.stop()
    }
  })
})

describe("Projections on a kept database", () => {
  const dirs: Array<string> = []
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
  })

  it("a continuous projection resumes from its checkpoint after a restart; a disabled one stays disabled", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effect-esdb-proj-"))
    dirs.push(dir)
    const cat = `db${uniqueId()}`
    const name = `db-${cat}`
    const stopped = `stopped-${cat}`
    const first = await startEmbeddedNode({ insecure: true, db: dir })
    let a: Api = { client: clientFor(first), c: connect(first) }
    let p = api(a)
    try {
      await appendCounted(a.c, `${cat}-1`, 3)
      await p.createContinuous(name, COUNT(cat))
      await p.createContinuous(stopped, COUNT(cat))
      await until("count 3", async () => ((await p.state(name)).response?.state?.count === 3 ? true : undefined))
      await until("checkpoint", async () => ((await stats(p, name)).lastCheckpoint !== "" ? true : undefined))
      await until("stopped count 3", async () => ((await p.state(stopped)).response?.state?.count === 3 ? true : undefined))
      await p.disable(stopped)
      // processed just before the stop: the idle checkpoint may still be waiting, the stop writes it
      await appendCounted(a.c, `${cat}-1`, 2)
      await until("count 5", async () => ((await p.state(name)).response?.state?.count === 5 ? true : undefined))
    } finally {
      a.client.close()
      a.c.close()
      await first.stop()
    }
    const second = await startEmbeddedNode({ insecure: true, db: dir })
    a = { client: clientFor(second), c: connect(second) }
    p = api(a)
    try {
      const s = await stats(p, name)
      assert.notStrictEqual(s.lastCheckpoint, "")
      assert.strictEqual((await stats(p, stopped)).status, "Stopped")
      await appendCounted(a.c, `${cat}-1`, 2)
      await until("count 7", async () => ((await p.state(name)).response?.state?.count === 7 ? true : undefined))
      // resumed from the checkpoint: only the new events were processed after the restart
      assert.strictEqual((await stats(p, name)).eventsProcessedAfterRestart, 2n)
      assert.deepStrictEqual((await p.state(stopped)).response?.state, { count: 3 })
    } finally {
      a.client.close()
      a.c.close()
      await second.stop()
    }
  })

  it("a biState projection's shared state comes back from its checkpoint after a restart", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effect-esdb-proj-"))
    dirs.push(dir)
    const cat = `dbbi${uniqueId()}`
    const name = `dbbi-${cat}`
    const query = `fromCategory('${cat}').foreachStream().when({
      $init: function() { return { n: 0 } },
      $initShared: function() { return { total: 0 } },
      Counted: function(s, e) { s[0].n++; s[1].total++; return s }
    })`
    const first = await startEmbeddedNode({ insecure: true, db: dir })
    let a: Api = { client: clientFor(first), c: connect(first) }
    let p = api(a)
    try {
      await appendCounted(a.c, `${cat}-1`, 2)
      await appendCounted(a.c, `${cat}-2`, 1)
      await p.createContinuous(name, query)
      await until("shared 3", async () => ((await p.state(name)).response?.state?.total === 3 ? true : undefined))
    } finally {
      a.client.close()
      a.c.close()
      await first.stop()
    }
    const second = await startEmbeddedNode({ insecure: true, db: dir })
    a = { client: clientFor(second), c: connect(second) }
    p = api(a)
    try {
      assert.deepStrictEqual((await p.state(name)).response?.state, { total: 3 })
      await appendCounted(a.c, `${cat}-1`, 1)
      await until("shared 4", async () => ((await p.state(name)).response?.state?.total === 4 ? true : undefined))
      assert.deepStrictEqual((await p.state(name, `${cat}-1`)).response?.state, { n: 3 })
      assert.strictEqual((await stats(p, name)).eventsProcessedAfterRestart, 1n)
    } finally {
      a.client.close()
      a.c.close()
      await second.stop()
    }
  })
})

describe("System projections", () => {
  const SYSTEM = ["$streams", "$stream_by_category", "$by_category", "$by_event_type", "$by_correlation_id"]

  it("standardProjections: registered and running; $ce-, $et-, $category-, $streams and $bc- written asynchronously", async () => {
    const node = await startEmbeddedNode({ insecure: true, standardProjections: true })
    const a: Api = { client: clientFor(node), c: connect(node) }
    const p = api(a)
    try {
      const registry = await readStream(a.c, "$projections-$all")
      assert.deepStrictEqual(registry.map((e) => e.type), ["$ProjectionsInitialized", ...SYSTEM.map(() => "$ProjectionCreated")])
      assert.deepStrictEqual(registry.slice(1).map((e) => e.data), SYSTEM)
      const definition = JSON.parse((await readStream(a.c, "$projections-$by_category"))[0]!.data)
      assert.strictEqual(definition.query, "first\r\n-")
      assert.match(definition.handlerType, /^native:/)
      const all = (await p.statistics({ $case: "all", value: {} })).details
      assert.deepStrictEqual(all.map((d) => [d.name, d.status, d.mode]), SYSTEM.map((n) => [n, "Running", "Continuous"]))

      const cat = `shop${uniqueId()}`
      const type = `Bought${uniqueId()}`
      await appendOk(a.c.streams, `${cat}-1`, any, [
        { type, data: {}, customMetadata: Buffer.from(JSON.stringify({ $correlationId: `corr-${cat}` })) },
        { type: "Other", data: {} }
      ])
      const wait = (stream: string, n: number) =>
        until(`${stream} has ${n}`, async () => {
          const es = await readStream(a.c, stream)
          return es.length === n ? es : undefined
        })
      assert.deepStrictEqual((await wait(`$ce-${cat}`, 2)).map((e) => [e.type, e.data]), [["$>", `0@${cat}-1`], ["$>", `1@${cat}-1`]])
      assert.deepStrictEqual((await wait(`$et-${type}`, 1)).map((e) => e.data), [`0@${cat}-1`])
      assert.deepStrictEqual((await wait(`$category-${cat}`, 1)).map((e) => [e.type, e.data]), [["$@", `${cat}-1`]])
      assert.deepStrictEqual((await wait(`$bc-corr-${cat}`, 1)).map((e) => e.data), [`0@${cat}-1`])
      const streams = await until("$streams", async () => {
        const es = await readStream(a.c, "$streams")
        return es.some((e) => e.data === `0@${cat}-1`) ? es : undefined
      })
      assert.strictEqual(streams.filter((e) => e.data.endsWith(`@${cat}-1`)).length, 1)

      // disabled, $by_category writes nothing more; enabled again, it catches up from its checkpoint
      assert.isUndefined((await p.disable("$by_category")).error)
      assert.strictEqual((await stats(p, "$by_category")).status, "Stopped")
      await appendOk(a.c.streams, `${cat}-2`, any, [{ type, data: {} }])
      await wait(`$et-${type}`, 2)
      assert.strictEqual((await readStream(a.c, `$ce-${cat}`)).length, 2)
      const running = (await p.delete("$by_category")).error
      assert.strictEqual(running?.code, grpc.status.UNKNOWN)
      assert.strictEqual(running?.details, "Envelope callback expected Updated, received OperationFailed instead")
      await p.enable("$by_category")
      assert.deepStrictEqual((await wait(`$ce-${cat}`, 3)).map((e) => e.data), [`0@${cat}-1`, `1@${cat}-1`, `0@${cat}-2`])
    } finally {
      a.client.close()
      a.c.close()
      await node.stop()
    }
  })

  it("$by_category and $by_event_type write for a known log the links a real node writes: types, data, metadata, order, deletions", async () => {
    const node = await startEmbeddedNode({ insecure: true, standardProjections: true })
    const a: Api = { client: clientFor(node), c: connect(node) }
    try {
      const cat = `known${uniqueId()}`
      const typeA = `A${uniqueId()}`
      const typeB = `B${uniqueId()}`
      await appendOk(a.c.streams, `${cat}-1`, any, [{ type: typeA, data: { i: 0 } }, { type: typeB, data: { i: 1 } }])
      await appendOk(a.c.streams, `${cat}-2`, any, [
        { type: typeA, data: { i: 2 }, customMetadata: Buffer.from(JSON.stringify({ $correlationId: `corr-${cat}` })) }
      ])
      await appendOk(a.c.streams, `${cat}-3`, any, [{ type: typeB, data: { i: 3 } }])
      await appendOk(a.c.streams, `nocategory${cat}`, any, [{ type: typeA, data: { i: 4 } }])
      // stream metadata that does not delete, a soft delete and a tombstone
      await appendOk(a.c.streams, `$$${cat}-1`, any, [{ type: "$metadata", data: { $maxCount: 10 } }])
      await deleteStream(a.c.streams, `${cat}-2`, any)
      await tombstoneStream(a.c.streams, `${cat}-3`, any)

      const sources = new Map<string, { position: bigint; id: string }>()
      for (const stream of [`${cat}-1`, `nocategory${cat}`, `$$${cat}-1`, `$$${cat}-2`]) {
        const { messages } = await readAll(a.c.streams, { options: readOptions({ streamOption: streamOption(stream) }) })
        for (const e of events(messages)) {
          const id = e.event!.id?.value?.$case === "string" ? e.event!.id.value.value : ""
          sources.set(`${e.event!.streamRevision}@${stream}`, { position: e.event!.commitPosition, id })
        }
      }
      type Link = { revision: bigint; type: string; data: string; metadata: Record<string, unknown>; keys: Array<string> }
      const linksOf = (stream: string, n: number) =>
        until(`${stream} has ${n}`, async () => {
          const { messages, error } = await readAll(a.c.streams, { options: readOptions({ streamOption: streamOption(stream) }) })
          if (error !== undefined) return undefined
          const es = events(messages).map((e): Link => {
            const metadata = JSON.parse(Buffer.from(e.event!.customMetadata).toString("utf8")) as Record<string, unknown>
            return {
              revision: e.event!.streamRevision,
              type: eventTypeOf(e.event) ?? "",
              data: Buffer.from(e.event!.data).toString("utf8"),
              metadata,
              keys: Object.keys(metadata)
            }
          })
          return es.length >= n ? es : undefined
        })
      const TOMBSTONE = "9223372036854775807"

      const ce = await linksOf(`$ce-${cat}`, 6)
      assert.deepStrictEqual(ce.map((l) => [l.revision, l.type, l.data]), [
        [0n, "$>", `0@${cat}-1`],
        [1n, "$>", `1@${cat}-1`],
        [2n, "$>", `0@${cat}-2`],
        [3n, "$>", `0@${cat}-3`],
        // the soft delete: the `$metadata` event of `$$x` itself, recategorised to x
        [4n, "$>", `0@$$${cat}-2`],
        [5n, "$>", `${TOMBSTONE}@${cat}-3`]
      ])
      assert.deepStrictEqual(ce.map((l) => l.keys), [
        ["$v", "$c", "$p", "$o", "$causedBy"],
        ["$v", "$c", "$p", "$o", "$causedBy"],
        ["$v", "$c", "$p", "$o", "$causedBy", "$correlationId"],
        ["$v", "$c", "$p", "$o", "$causedBy"],
        ["$v", "$c", "$p", "$o", "$deleted", "$causedBy"],
        ["$v", "$c", "$p", "$o", "$deleted", "$causedBy"]
      ])
      assert.deepStrictEqual(ce.map((l) => l.metadata["$o"]), [`${cat}-1`, `${cat}-1`, `${cat}-2`, `${cat}-3`, `${cat}-2`, `${cat}-3`])
      assert.deepStrictEqual(ce.map((l) => l.metadata["$deleted"]), [undefined, undefined, undefined, undefined, -1, -1])
      assert.strictEqual(ce[2]!.metadata["$correlationId"], `corr-${cat}`)
      // $c/$p: the commit position of the event linked; $causedBy: its id
      for (const [i, key] of [[0, `0@${cat}-1`], [1, `1@${cat}-1`], [4, `0@$$${cat}-2`]] as const) {
        const source = sources.get(key)!
        assert.strictEqual(BigInt(ce[i]!.metadata["$c"] as number), source.position, key)
        assert.strictEqual(ce[i]!.metadata["$p"], ce[i]!.metadata["$c"])
        assert.strictEqual(ce[i]!.metadata["$causedBy"], source.id, key)
      }
      assert.isAbove(ce[5]!.metadata["$c"] as number, ce[4]!.metadata["$c"] as number)

      const etA = await linksOf(`$et-${typeA}`, 3)
      assert.deepStrictEqual(etA.map((l) => [l.type, l.data]), [["$>", `0@${cat}-1`], ["$>", `0@${cat}-2`], ["$>", `0@nocategory${cat}`]])
      // no `$o`: a real node's $by_event_type writes plain data events
      assert.deepStrictEqual(etA.map((l) => l.keys), [
        ["$v", "$c", "$p", "$causedBy"],
        ["$v", "$c", "$p", "$causedBy", "$correlationId"],
        ["$v", "$c", "$p", "$causedBy"]
      ])
      assert.strictEqual(BigInt(etA[2]!.metadata["$c"] as number), sources.get(`0@nocategory${cat}`)!.position)
      const etB = await linksOf(`$et-${typeB}`, 2)
      assert.deepStrictEqual(etB.map((l) => l.data), [`1@${cat}-1`, `0@${cat}-3`])
      const deleted = (await linksOf("$et-$deleted", 2)).filter((l) => l.data.endsWith(`@${cat}-2`) || l.data.endsWith(`@${cat}-3`))
      assert.deepStrictEqual(deleted.map((l) => [l.type, l.data, l.metadata["$deleted"]]), [
        ["$>", `0@${cat}-2`, -1],
        ["$>", `${TOMBSTONE}@${cat}-3`, -1]
      ])
      // the metadata that deletes nothing: `$et-$metadata`, pointing at x (the real node's quirk), never `$ce-`
      const meta = (await linksOf("$et-$metadata", 1)).filter((l) => l.data.endsWith(`@${cat}-1`))
      assert.deepStrictEqual(meta.map((l) => l.data), [`0@${cat}-1`])
      assert.strictEqual((await readStream(a.c, `$ce-${cat}`)).length, 6)
    } finally {
      a.client.close()
      a.c.close()
      await node.stop()
    }
  })

  it("runProjections alone: the system projections exist stopped until enabled; without either, none exist", async () => {
    const node = await startEmbeddedNode({ insecure: true, runProjections: true })
    const a: Api = { client: clientFor(node), c: connect(node) }
    const p = api(a)
    try {
      const all = (await p.statistics({ $case: "all", value: {} })).details
      assert.deepStrictEqual(all.map((d) => [d.name, d.status]), SYSTEM.map((n) => [n, "Stopped"]))
      const cat = `idle${uniqueId()}`
      await appendCounted(a.c, `${cat}-1`, 2)
      // a user projection over the same events shows they have been appended and read
      await p.createContinuous(`count-${cat}`, COUNT(cat))
      await until("count 2", async () => ((await p.state(`count-${cat}`)).response?.state?.count === 2 ? true : undefined))
      assert.deepStrictEqual(await readStream(a.c, `$ce-${cat}`), [])
      await p.enable("$by_category")
      await until("$ce- links", async () => ((await readStream(a.c, `$ce-${cat}`)).length === 2 ? true : undefined))
    } finally {
      a.client.close()
      a.c.close()
      await node.stop()
    }
    const plain = await startEmbeddedNode({ insecure: true })
    const b: Api = { client: clientFor(plain), c: connect(plain) }
    try {
      assert.deepStrictEqual((await api(b).statistics({ $case: "all", value: {} })).details, [])
      assert.deepStrictEqual(await readStream(b.c, "$projections-$all"), [])
    } finally {
      b.client.close()
      b.c.close()
      await plain.stop()
    }
  })
})
