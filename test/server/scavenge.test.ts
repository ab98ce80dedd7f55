/**
 * A scavenge that drops data (issue 18), over real gRPC with the client's Operations service: with
 * `--db` the log file shrinks and every reachable event keeps its revision, its `$all` position and
 * its bytes, across a restart; appends made during a scavenge survive it; `$all` subscriptions
 * started from a checkpoint before it go on; stopScavenge leaves the log as it was; a SIGKILL in
 * the middle of one loses nothing; `$scavenges-<id>` holds the events a real node writes. In
 * memory, dropped events leave `$all` too.
 */
import * as grpc from "@grpc/grpc-js"
import { afterEach, assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { ChildProcess } from "node:child_process"
import { copyFileSync, existsSync, mkdtempSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { StreamsClient } from "../../src/generated/streams.ts"
import * as EventStoreDB from "../../src/layers/EventStoreDB.ts"
import * as Operations from "../../src/services/Operations.ts"
import { type RunningNode, startEmbeddedNode } from "../../src/server/EmbeddedNode.ts"
import { LOG_FILE } from "../../src/server/storage/FileLog.ts"
import { eventuallyAsync } from "../support/eventually.ts"
import {
  allOption,
  any,
  appendOk,
  deleteStream,
  events,
  type NewEvent,
  readAll,
  readOptions,
  streamOption,
  subscribe,
  tombstoneStream,
  uniqueStream
} from "./helpers.ts"
import { startCliNode } from "../support/cliNode.ts"

const dirs: Array<string> = []
const nodes: Array<RunningNode> = []
const children: Array<ChildProcess> = []
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "effect-esdb-scavenge-"))
  dirs.push(dir)
  return dir
}
afterEach(async () => {
  for (const child of children.splice(0)) child.kill("SIGKILL")
  for (const node of nodes.splice(0)) await node.stop().catch(() => {})
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

const start = async (options: Parameters<typeof startEmbeddedNode>[0]) => {
  const node = await startEmbeddedNode({ insecure: true, ...options })
  nodes.push(node)
  return node
}
const stop = async (node: RunningNode) => {
  nodes.splice(nodes.indexOf(node), 1)
  await node.stop()
}
const streamsOf = (port: number) => new StreamsClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure())

/** Runs `f` with the client's Operations service connected to `connectionString`. */
const withOperations = <A, E>(connectionString: string, f: (operations: Operations.Operations) => Effect.Effect<A, E>) =>
  Effect.runPromise(
    Effect.flatMap(Operations.Operations, f).pipe(Effect.provide(EventStoreDB.layer({ connectionString }).pipe(Layer.orDie)))
  )
const startScavenge = (connectionString: string) => withOperations(connectionString, (o) => o.startScavenge())
const stopScavenge = (connectionString: string, id: string) => withOperations(connectionString, (o) => o.stopScavenge(id))

const json = (value: unknown) => JSON.stringify(value, (_, v) => (typeof v === "bigint" ? v.toString() : Buffer.isBuffer(v) ? v.toString("base64") : v))

type Recorded = NonNullable<ReturnType<typeof events>[number]["event"]>
/** What must not change about an event: id, revision, positions, type, data, metadata. */
const identity = (e: Recorded) =>
  json({
    id: e.id,
    stream: e.streamIdentifier?.streamName.toString(),
    revision: e.streamRevision,
    commit: e.commitPosition,
    prepare: e.preparePosition,
    metadata: e.metadata.filter((m) => m.key !== "created"),
    created: e.metadata.find((m) => m.key === "created")?.value,
    customMetadata: Buffer.from(e.customMetadata),
    data: Buffer.from(e.data)
  })

const readStream = async (streams: StreamsClient, stream: string) => {
  const { error, messages } = await readAll(streams, { options: readOptions({ streamOption: streamOption(stream), countOption: { $case: "count", value: 100_000n } }) })
  if (error !== undefined) throw error
  const notFound = messages.some((m) => m.content?.$case === "streamNotFound")
  return notFound ? "not found" : events(messages).map((e) => identity(e.event!))
}
const readAllLog = async (streams: StreamsClient) => {
  const { error, messages } = await readAll(streams, { options: readOptions({ streamOption: allOption("start"), countOption: { $case: "count", value: 1_000_000n } }) })
  if (error !== undefined) throw error
  return events(messages).map((e) => e.event!)
}

/** Waits for `$scavengeCompleted` in `$scavenges-<id>`; answers the stream's events (type, data). */
const completion = (streams: StreamsClient, id: string, timeoutMs = 60_000) =>
  eventuallyAsync(`$scavengeCompleted in $scavenges-${id}`, async () => {
    const { messages } = await readAll(streams, { options: readOptions({ streamOption: streamOption(`$scavenges-${id}`) }) })
    return events(messages).map((e) => ({
      type: e.event!.metadata.find((m) => m.key === "type")!.value,
      data: JSON.parse(Buffer.from(e.event!.data).toString("utf8"))
    }))
  }, { timeoutMs, intervalMs: 50, until: (logged) => logged.at(-1)?.type === "$scavengeCompleted" })

const body = (k: number, size: number): NewEvent => ({ data: { k, pad: "x".repeat(size) } })
const bodies = (n: number, size: number, from = 0) => Array.from({ length: n }, (_, k) => body(from + k, size))
const setMetadata = (streams: StreamsClient, stream: string, metadata: unknown) =>
  appendOk(streams, `$$${stream}`, any, [{ type: "$metadata", data: metadata }])

/** Streams with all the ways to make events unreachable, and streams kept whole. */
const writeWorkload = async (streams: StreamsClient) => {
  const names = {
    soft: uniqueStream("soft"),
    hard: uniqueStream("hard"),
    count: uniqueStream("count"),
    tb: uniqueStream("tb"),
    age: uniqueStream("age"),
    kept: uniqueStream("kept"),
    big: uniqueStream("big")
  }
  await appendOk(streams, names.kept, any, bodies(30, 300))
  await appendOk(streams, names.soft, any, bodies(10, 500))
  await appendOk(streams, names.big, any, bodies(200, 2000))
  await appendOk(streams, names.hard, any, bodies(10, 500))
  await appendOk(streams, names.count, any, bodies(20, 300))
  await appendOk(streams, names.tb, any, bodies(10, 300))
  await appendOk(streams, names.age, any, bodies(5, 300))
  await appendOk(streams, names.kept, any, bodies(30, 300, 30))
  assert.strictEqual((await deleteStream(streams, names.soft, any)).error, undefined)
  assert.strictEqual((await deleteStream(streams, names.big, any)).error, undefined)
  assert.strictEqual((await tombstoneStream(streams, names.hard, any)).error, undefined)
  await setMetadata(streams, names.count, { $maxCount: 5 })
  await setMetadata(streams, names.count, { $maxCount: 5, note: "rewritten" })
  await setMetadata(streams, names.tb, { $tb: 4 })
  await setMetadata(streams, names.age, { $maxAge: 1 })
  // the events of `age` expire (reads no longer see them) after a second
  await new Promise((resolve) => setTimeout(resolve, 1500))
  await appendOk(streams, names.age, any, bodies(2, 300, 5))
  return names
}

type Names = Awaited<ReturnType<typeof writeWorkload>>

/** Every stream read of the workload, and `$all` read whole. */
const snapshot = async (streams: StreamsClient, names: Names) => {
  const reads: Record<string, unknown> = {}
  for (const [key, name] of Object.entries(names)) {
    // what `$maxAge` shows changes with time: checked through `$all` only
    if (key === "age") continue
    try {
      reads[key] = await readStream(streams, name)
    } catch (e) {
      reads[key] = `error: ${(e as grpc.ServiceError).details}`
    }
  }
  return { reads, all: await readAllLog(streams) }
}

const logSize = (dir: string) => statSync(join(dir, LOG_FILE)).size

describe("scavenge with --db", () => {
  it("shrinks the log, keeps every reachable event (revision, position, bytes) through a restart, and logs $scavenges as a real node", { timeout: 120_000 }, async () => {
    const dir = tempDir()
    const node = await start({ db: dir })
    const streams = streamsOf(node.port)
    const names = await writeWorkload(streams)
    const before = await snapshot(streams, names)
    // what reads see, as a sanity check of the workload
    assert.strictEqual(before.reads.soft, "not found")
    assert.match(String(before.reads.hard), /error/)
    assert.strictEqual((before.reads.count as Array<string>).length, 5)
    assert.strictEqual((before.reads.tb as Array<string>).length, 6)
    assert.strictEqual((before.reads.kept as Array<string>).length, 60)
    // an $all subscription from a checkpoint in the middle of the log, caught up before the scavenge
    const checkpoint = before.all[Math.floor(before.all.length / 3)]!.commitPosition
    const sub = subscribe(streams, { options: readOptions({ streamOption: allOption(checkpoint), countOption: { $case: "subscription", value: {} } }) })
    await sub.waitFor((ms) => ms.some((m) => m.content?.$case === "caughtUp"))
    const sizeBefore = logSize(dir)

    const { scavengeId } = await startScavenge(node.connectionString)
    const logged = await completion(streams, scavengeId)
    const sizeAfter = logSize(dir)
    assert.isBelow(sizeAfter, sizeBefore * 0.5, `the log shrank: ${sizeBefore} → ${sizeAfter}`)
    assert.deepStrictEqual(logged.map((e) => e.type), ["$scavengeStarted", "$scavengeChunksCompleted", "$scavengeCompleted"])
    const chunks = logged[1]!.data
    assert.deepStrictEqual(Object.keys(chunks).sort(), ["chunkEndNumber", "chunkStartNumber", "errorMessage", "nodeEndpoint", "scavengeId", "spaceSaved", "timeTaken", "wasScavenged"])
    assert.strictEqual(chunks.wasScavenged, true)
    const completed = logged[2]!.data
    assert.strictEqual(completed.result, "Success")
    assert.strictEqual(completed.error, null)
    assert.isAbove(completed.spaceSaved, sizeBefore * 0.4)
    assert.strictEqual(chunks.spaceSaved, completed.spaceSaved)

    // every reachable event as it was
    const after = await snapshot(streams, names)
    assert.deepStrictEqual(after.reads, before.reads)
    // $all: the same records in the same order at the same positions, less the dropped ones
    const beforeAll = before.all.map(identity)
    const afterAll = after.all.map(identity)
    const kept = new Set(afterAll)
    assert.deepStrictEqual(beforeAll.filter((e) => kept.has(e)), afterAll.filter((e) => beforeAll.includes(e)))
    const inStream = (all: ReadonlyArray<Recorded>, name: string) => all.filter((e) => e.streamIdentifier!.streamName.toString() === name)
    // the last event of a deleted stream stays (a real node never drops a stream's last event); the tombstone stays
    assert.deepStrictEqual(inStream(after.all, names.soft).map((e) => e.streamRevision), [9n])
    assert.deepStrictEqual(inStream(after.all, names.big).map((e) => e.streamRevision), [199n])
    assert.deepStrictEqual(inStream(after.all, names.hard).map((e) => e.metadata.find((m) => m.key === "type")?.value), ["$streamDeleted"])
    assert.deepStrictEqual(inStream(after.all, names.count).map((e) => e.streamRevision), [15n, 16n, 17n, 18n, 19n])
    assert.deepStrictEqual(inStream(after.all, names.tb).map((e) => e.streamRevision), [4n, 5n, 6n, 7n, 8n, 9n])
    // the expired events go; 5 too if it expired before the scavenge started; the last one stays
    assert.include(["5,6", "6"], inStream(after.all, names.age).map((e) => e.streamRevision).join(","))
    // a metastream keeps its last event
    assert.deepStrictEqual(inStream(after.all, `$$${names.count}`).map((e) => e.streamRevision), [1n])
    assert.strictEqual(inStream(after.all, names.kept).length, 60)

    // the subscription goes on after the scavenge: new events arrive once, in order
    const fresh = uniqueStream("fresh")
    await appendOk(streams, fresh, any, bodies(3, 100))
    await sub.waitFor((ms) => events(ms).filter((e) => e.event!.streamIdentifier!.streamName.toString() === fresh).length === 3)
    const delivered = events(sub.messages).map((e) => e.event!.commitPosition)
    for (let k = 1; k < delivered.length; k++) assert.isTrue(delivered[k]! > delivered[k - 1]!, "positions increase, no duplicate")
    sub.call.cancel()
    // a read from the same checkpoint now skips the dropped records
    const { messages } = await readAll(streams, { options: readOptions({ streamOption: allOption(checkpoint), countOption: { $case: "count", value: 1_000_000n } }) })
    const fromCheckpoint = events(messages).map((e) => identity(e.event!))
    assert.deepStrictEqual(fromCheckpoint.slice(0, -3), afterAll.filter((_, k) => after.all[k]!.commitPosition > checkpoint))

    // a restart reads the scavenged log back: the same streams, the same $all, numbering goes on
    streams.close()
    await stop(node)
    const again = await start({ db: dir })
    const streams2 = streamsOf(again.port)
    const restarted = await snapshot(streams2, names)
    assert.deepStrictEqual(restarted.reads, before.reads)
    const restartedAll = restarted.all.map(identity)
    assert.deepStrictEqual(restartedAll.slice(0, afterAll.length), afterAll)
    const next = await appendOk(streams2, names.count, any, bodies(1, 10))
    assert.strictEqual(next.currentRevisionOption?.value, 20n)
    const recreated = await appendOk(streams2, names.soft, any, bodies(1, 10))
    assert.strictEqual(recreated.currentRevisionOption?.value, 10n)
    assert.strictEqual((await appendOk(streams2, names.tb, any, bodies(1, 10))).currentRevisionOption?.value, 10n)
    assert.match(String((await snapshot(streams2, names)).reads.hard), /error/)
    // a second scavenge on the restarted node: nothing more of the kept data goes
    const second = await startScavenge(again.connectionString)
    await completion(streams2, second.scavengeId)
    const afterSecond = await snapshot(streams2, names)
    assert.deepStrictEqual(afterSecond.reads.kept, before.reads.kept)
    assert.deepStrictEqual(afterSecond.reads.count, [...(before.reads.count as Array<string>).slice(1), ...(afterSecond.reads.count as Array<string>).slice(4)])
    streams2.close()
  })

  it("keeps appends made during the scavenge, and serves reads meanwhile; they survive a restart", { timeout: 120_000 }, async () => {
    const dir = tempDir()
    // a slow scavenge (16 records a slice, 5 ms between slices) on a slow disk (10 ms a flush):
    // the switch finds writes queued and not yet durable, whose offsets it must move
    const node = await start({
      db: dir,
      dbFlushDelayMs: 10,
      scavenge: { storage: { slice: 16, pause: () => new Promise((resolve) => setTimeout(resolve, 5)) } }
    })
    const streams = streamsOf(node.port)
    const names = await writeWorkload(streams)
    const before = await snapshot(streams, names)
    const { scavengeId } = await startScavenge(node.connectionString)
    const during = Array.from({ length: 4 }, () => uniqueStream("during"))
    const appended = [0, 0, 0, 0]
    let done = false
    const completed = completion(streams, scavengeId).finally(() => (done = true))
    // each writer keeps appends in flight without waiting for the previous one's answer: some
    // arrive while a flush runs, and are queued when the switch comes
    const writer = async (w: number) => {
      const inFlight = new Set<Promise<unknown>>()
      while (!done) {
        const p: Promise<unknown> = appendOk(streams, during[w]!, any, bodies(2, 200)).then(() => {
          appended[w]! += 2
          inFlight.delete(p)
        })
        inFlight.add(p)
        await new Promise((resolve) => setTimeout(resolve, 3))
      }
      await Promise.all(inFlight)
    }
    const reader = async () => {
      // reads are served meanwhile
      while (!done) assert.deepStrictEqual(await readStream(streams, names.kept), before.reads.kept)
    }
    await Promise.all([writer(0), writer(1), writer(2), writer(3), reader()])
    const logged = await completed
    assert.strictEqual(logged.at(-1)!.data.result, "Success")
    assert.isAbove(appended[0]!, 4, "appends were made during the scavenge")
    for (let w = 0; w < 4; w++) await appendOk(streams, during[w]!, any, bodies(2, 200))
    const duringEvents = await Promise.all(during.map((name) => readStream(streams, name) as Promise<Array<string>>))
    duringEvents.forEach((read, w) => assert.strictEqual(read.length, appended[w]! + 2))
    assert.deepStrictEqual((await snapshot(streams, names)).reads, before.reads)
    streams.close()
    await stop(node)
    const again = await start({ db: dir })
    const streams2 = streamsOf(again.port)
    assert.deepStrictEqual(await Promise.all(during.map((name) => readStream(streams2, name))), duringEvents)
    assert.deepStrictEqual((await snapshot(streams2, names)).reads, before.reads)
    streams2.close()
  })

  it("stopScavenge stops it: the log stays as it was and $scavengeCompleted says Stopped", { timeout: 120_000 }, async () => {
    const dir = tempDir()
    const node = await start({
      db: dir,
      scavenge: { storage: { slice: 8, pause: () => new Promise((resolve) => setTimeout(resolve, 20)) } }
    })
    const streams = streamsOf(node.port)
    const names = await writeWorkload(streams)
    const before = await snapshot(streams, names)
    const size = logSize(dir)
    const { scavengeId } = await startScavenge(node.connectionString)
    await new Promise((resolve) => setTimeout(resolve, 100))
    const stopped = await stopScavenge(node.connectionString, scavengeId)
    assert.strictEqual(stopped.result, "Stopped")
    const logged = await completion(streams, scavengeId)
    assert.deepStrictEqual(logged.map((e) => e.type), ["$scavengeStarted", "$scavengeCompleted"])
    assert.strictEqual(logged[1]!.data.result, "Stopped")
    assert.strictEqual(logged[1]!.data.spaceSaved, 0)
    assert.isFalse(existsSync(join(dir, `${LOG_FILE}.scavenge`)), "the new file was removed")
    assert.isAtLeast(logSize(dir), size)
    const after = await snapshot(streams, names)
    assert.deepStrictEqual(after.reads, before.reads)
    assert.deepStrictEqual(after.all.slice(0, before.all.length).map(identity), before.all.map(identity))
    streams.close()
  })

  it("a crash once the new file is written, just before it replaces the log, loses nothing", { timeout: 120_000 }, async () => {
    const dir = tempDir()
    const crashed = tempDir()
    // what a crash at that moment leaves: the directory copied while the scavenge waits there
    const node = await start({
      db: dir,
      scavenge: {
        storage: {
          beforeSwitch: async () => {
            for (const name of [LOG_FILE, `${LOG_FILE}.scavenge`]) copyFileSync(join(dir, name), join(crashed, name))
          }
        }
      }
    })
    const streams = streamsOf(node.port)
    const names = await writeWorkload(streams)
    const before = await snapshot(streams, names)
    const { scavengeId } = await startScavenge(node.connectionString)
    await completion(streams, scavengeId)
    assert.isTrue(existsSync(join(crashed, `${LOG_FILE}.scavenge`)), "the copy holds the scavenge's new file")
    streams.close()
    const recovered = await start({ db: crashed })
    assert.isFalse(existsSync(join(crashed, `${LOG_FILE}.scavenge`)), "the start deleted it")
    const streams2 = streamsOf(recovered.port)
    const after = await snapshot(streams2, names)
    assert.deepStrictEqual(after.reads, before.reads)
    // the old log, whole: every record as before the scavenge (nothing dropped)
    assert.deepStrictEqual(after.all.slice(0, before.all.length).map(identity), before.all.map(identity))
    streams2.close()
  })

  it("a SIGKILL during a scavenge loses nothing: the old log opens as it was, and a later scavenge completes", { timeout: 180_000 }, async () => {
    const dir = tempDir()
    const spawnNode = (pauseMs: number) =>
      startCliNode(dir, { env: { EFFECT_ESDB_TEST_SCAVENGE_PAUSE_MS: String(pauseMs) }, track: (child) => children.push(child) })
    const first = await spawnNode(10)
    const streams = streamsOf(first.port)
    const names = await writeWorkload(streams)
    const before = await snapshot(streams, names)
    const size = logSize(dir)
    const { scavengeId } = await startScavenge(`esdb://127.0.0.1:${first.port}?tls=false`)
    const temp = join(dir, `${LOG_FILE}.scavenge`)
    // killed in the middle of its copy
    await eventuallyAsync("the scavenge's new file grows", () => existsSync(temp) && statSync(temp).size > 20_000, { timeoutMs: 60_000 })
    const sizeAtKill = logSize(dir)
    first.child.kill("SIGKILL")
    streams.close()
    await new Promise((resolve) => first.child.once("exit", resolve))
    assert.strictEqual(logSize(dir), sizeAtKill, "the old log was not touched")
    assert.isAtLeast(sizeAtKill, size)

    const second = await spawnNode(0)
    assert.isFalse(existsSync(temp), "the start deleted the unfinished copy")
    const streams2 = streamsOf(second.port)
    const restarted = await snapshot(streams2, names)
    assert.deepStrictEqual(restarted.reads, before.reads)
    assert.deepStrictEqual(restarted.all.slice(0, before.all.length).map(identity), before.all.map(identity))
    // the interrupted scavenge wrote its start only
    const { messages } = await readAll(streams2, { options: readOptions({ streamOption: streamOption(`$scavenges-${scavengeId}`) }) })
    assert.deepStrictEqual(events(messages).map((e) => e.event!.metadata.find((m) => m.key === "type")?.value), ["$scavengeStarted"])
    const again = await startScavenge(`esdb://127.0.0.1:${second.port}?tls=false`)
    await completion(streams2, again.scavengeId)
    assert.isBelow(logSize(dir), size * 0.5)
    assert.isFalse(existsSync(temp))
    assert.deepStrictEqual((await snapshot(streams2, names)).reads, before.reads)
    streams2.close()
  })
})

describe("scavenge in memory", () => {
  it("drops unreachable events: $all no longer shows them, reads are unchanged", { timeout: 60_000 }, async () => {
    const node = await start({})
    const streams = streamsOf(node.port)
    const names = await writeWorkload(streams)
    const before = await snapshot(streams, names)
    const { scavengeId } = await startScavenge(node.connectionString)
    const logged = await completion(streams, scavengeId)
    assert.deepStrictEqual(logged.map((e) => e.type), ["$scavengeStarted", "$scavengeCompleted"])
    assert.strictEqual(logged[1]!.data.result, "Success")
    const after = await snapshot(streams, names)
    assert.deepStrictEqual(after.reads, before.reads)
    const count = (all: ReadonlyArray<Recorded>, name: string) => all.filter((e) => e.streamIdentifier!.streamName.toString() === name).length
    assert.strictEqual(count(before.all, names.big), 200)
    assert.strictEqual(count(after.all, names.big), 1)
    assert.strictEqual(count(after.all, names.count), 5)
    assert.strictEqual(count(after.all, names.kept), 60)
    streams.close()
  })
})
