/**
 * The node's persistent-subscription groups: kept in `$persistentSubscriptionConfig`, so a node
 * started again on the same `--db` has them back as they were (settings, starts, deletions);
 * ServerFeatures lists the methods served (`Read` and `TruncateParked` included), with the features
 * `stream` and `all`; ReplayParked and TruncateParked refuse a negative `stop_at` as a real node does;
 * a `Read` whose first request is not its options gets the real node's UNKNOWN, one that sends
 * nothing ends OK; a `Read` half-closed after its options stays open, as on a real node; a request
 * the real node's pump cannot map ends the reading of acks on that call; message timeouts are
 * checked on the node's one-second tick; a new `$all` group from the end gets its own
 * `$PersistentConfig` event live; groups start with the node; deleted groups leave nothing behind
 * in the node.
 */
import * as grpc from "@grpc/grpc-js"
import { afterEach, assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { PersistentSubscriptionsClient, type ReadReq, ReadReq_Nack_Action, type ReadResp } from "../../src/generated/persistent.ts"
import { ServerFeaturesClient, type SupportedMethods } from "../../src/generated/serverfeatures.ts"
import { EventStoreDB, NewEvent, PersistentSubscriptions, Streams } from "../../src/index.ts"
import { nodeStats, startEmbeddedNode } from "../../src/server/EmbeddedNode.ts"
import { eventuallyAsync } from "../support/eventually.ts"
import { uniqueStream } from "./helpers.ts"

const dirs: Array<string> = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

const withGroups = <A, E>(
  connectionString: string,
  f: (ps: PersistentSubscriptions.PersistentSubscriptions) => Effect.Effect<A, E>
): Promise<A> =>
  Effect.runPromise(
    Effect.flatMap(PersistentSubscriptions.PersistentSubscriptions, f).pipe(
      Effect.provide(EventStoreDB.layer({ connectionString }))
    ) as Effect.Effect<A, unknown>
  )

/** Runs a scoped program with the client services, against a node. */
const withClient = <A, E>(
  connectionString: string,
  program: Effect.Effect<A, E, PersistentSubscriptions.PersistentSubscriptions | Streams.Streams | Scope.Scope>
): Promise<A> =>
  Effect.runPromise(Effect.scoped(program).pipe(Effect.provide(EventStoreDB.layer({ connectionString }))) as Effect.Effect<A, unknown>)

/** Runs `f` against a fresh in-memory node with a raw (generated) client of its service; both closed after. */
const withRawNode = async (
  f: (ps: PersistentSubscriptionsClient, node: Awaited<ReturnType<typeof startEmbeddedNode>>, address: string) => Promise<void>
): Promise<void> => {
  const node = await startEmbeddedNode({ insecure: true })
  const address = node.connectionString.replace(/^esdb:\/\//, "").replace(/\?.*$/, "")
  const ps = new PersistentSubscriptionsClient(address, grpc.credentials.createInsecure())
  try {
    await f(ps, node, address)
  } finally {
    ps.close()
    await node.stop()
  }
}

describe("persistent subscription groups on a kept database", () => {
  it("a group resumes after its last checkpoint when the node starts again", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effect-esdb-ps-"))
    dirs.push(dir)
    const stream = uniqueStream("ps-db-read")
    const first = await startEmbeddedNode({ db: dir, insecure: true })
    try {
      await withClient(first.connectionString, Effect.gen(function*() {
        const ps = yield* PersistentSubscriptions.PersistentSubscriptions
        const streams = yield* Streams.Streams
        yield* streams.append(stream, Array.from({ length: 8 }, (_, i) => new NewEvent({ type: "e", data: JSON.stringify({ i }) })), { currentVersion: "no_stream" })
        yield* ps.createToStream(stream, "g", {
          from: "start",
          settings: { minCheckpointCount: 1, maxCheckpointCount: 3, checkpointAfter: 60_000 }
        })
        const sub = yield* ps.readToStream(stream, "g", { bufferSize: 4, ackDelay: 0 })
        yield* sub.events.pipe(Stream.tap((e) => sub.ack(e)), Stream.take(4), Stream.runDrain)
        const info = yield* ps.getInfoToStream(stream, "g")
        // three acks made a checkpoint (event 2); the fourth waits for two more
        assert.strictEqual(info.lastCheckpointedEventPosition, "2")
      }))
    } finally {
      await first.stop()
    }
    const second = await startEmbeddedNode({ db: dir, insecure: true })
    try {
      const resumed = await withClient(second.connectionString, Effect.gen(function*() {
        const ps = yield* PersistentSubscriptions.PersistentSubscriptions
        const sub = yield* ps.readToStream(stream, "g", { bufferSize: 1 })
        return yield* sub.events.pipe(Stream.tap((e) => sub.ack(e)), Stream.take(1), Stream.runCollect)
      }))
      assert.deepStrictEqual(Array.from(resumed).map((e) => [e.streamPosition, e.retryCount]), [[3n, 0]])
    } finally {
      await second.stop()
    }
  })


  // PersistentSubscriptionService.HandleLoadCompleted (KurrentDB,
  // src/KurrentDB.Core/Services/PersistentSubscription/PersistentSubscriptionService.cs) starts
  // every group of the configuration (TryCreateSubscriptionGroup) when the node starts: a group
  // from the end without a checkpoint starts at the end as of the node's start.
  it("start with the node: a group from the end gets the events appended after the start, before its first consumer", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effect-esdb-ps-"))
    dirs.push(dir)
    const stream = uniqueStream("ps-db-end")
    const first = await startEmbeddedNode({ db: dir, insecure: true })
    try {
      await withClient(first.connectionString, Effect.gen(function*() {
        const streams = yield* Streams.Streams
        const ps = yield* PersistentSubscriptions.PersistentSubscriptions
        yield* streams.append(stream, [new NewEvent({ type: "before", data: "{}" })], { currentVersion: "no_stream" })
        yield* ps.createToStream(stream, "g", { from: "end" })
      }))
    } finally {
      await first.stop()
    }
    const second = await startEmbeddedNode({ db: dir, insecure: true })
    try {
      assert.strictEqual(nodeStats(second).persistentGroups.running, 1)
      const received = await withClient(second.connectionString, Effect.gen(function*() {
        const streams = yield* Streams.Streams
        const ps = yield* PersistentSubscriptions.PersistentSubscriptions
        yield* streams.append(stream, [new NewEvent({ type: "after", data: "{}" }), new NewEvent({ type: "after", data: "{}" })], { currentVersion: 0n })
        const sub = yield* ps.readToStream(stream, "g", { bufferSize: 10 })
        return yield* sub.events.pipe(Stream.take(2), Stream.runCollect, Effect.timeout("5 seconds"))
      }))
      assert.deepStrictEqual(Array.from(received).map((e) => [e.streamPosition, e.type]), [[1n, "after"], [2n, "after"]])
    } finally {
      await second.stop()
    }
  })

  it("survive a restart with their settings; a deleted group stays deleted", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effect-esdb-ps-"))
    dirs.push(dir)
    const stream = uniqueStream("ps-db")
    const first = await startEmbeddedNode({ db: dir, insecure: true })
    try {
      await withGroups(first.connectionString, (ps) =>
        Effect.gen(function*() {
          yield* ps.createToStream(stream, "kept", { from: 4n, settings: { maxRetryCount: 2, consumerStrategy: "Pinned" } })
          yield* ps.createToAll("kept-all", { from: "start", filterInclude: ["Order.*"], settings: { readBatchSize: 3 } })
          yield* ps.createToStream(stream, "gone")
          yield* ps.deleteToStream(stream, "gone")
        }))
    } finally {
      await first.stop()
    }
    const second = await startEmbeddedNode({ db: dir, insecure: true })
    try {
      const [kept, keptAll, gone, listed] = await withGroups(second.connectionString, (ps) =>
        Effect.all([
          ps.getInfoToStream(stream, "kept"),
          ps.getInfoToAll("kept-all"),
          Effect.flip(ps.getInfoToStream(stream, "gone")),
          ps.listToStream(stream)
        ]))
      assert.strictEqual(kept.startFrom, 4n)
      assert.strictEqual(kept.maxRetryCount, 2)
      assert.strictEqual(kept.consumerStrategy, "Pinned")
      assert.strictEqual(keptAll.startFrom, "start")
      assert.strictEqual(keptAll.readBatchSize, 3)
      assert.strictEqual(gone._tag, "SubscriptionNotFound")
      assert.deepStrictEqual(listed.map((i) => i.groupName), ["kept"])
      // the kept `$all` group still has its filter, and an update keeps it
      await withGroups(second.connectionString, (ps) => ps.updateToAll("kept-all", { settings: { readBatchSize: 4 } }))
      const config = await Effect.runPromise(
        Effect.flatMap(Streams.Streams, (streams) => streams.get("$persistentSubscriptionConfig", { backwards: true, limit: 1 })).pipe(
          Effect.provide(EventStoreDB.layer({ connectionString: second.connectionString }))
        )
      )
      const entries = (JSON.parse(new TextDecoder().decode(config[0]!.data)) as {
        Entries: Array<{ Stream: string; Group: string; ReadBatchSize: number; Filter: { Context: string; Data: Array<string> } | null }>
      }).Entries
      const entry = entries.find((e) => e.Stream === "$all" && e.Group === "kept-all")!
      assert.strictEqual(entry.ReadBatchSize, 4)
      assert.strictEqual(entry.Filter?.Context, "EventType")
      assert.match(entry.Filter?.Data[0] ?? "", /Order/)
    } finally {
      await second.stop()
    }
  })
})

describe("ServerFeatures", () => {
  it("lists the persistent-subscription methods served (Read too), with stream and all", async () => {
    await withRawNode(async (ps, _node, address) => {
      const features = new ServerFeaturesClient(address, grpc.credentials.createInsecure())
      try {
        const methods = await new Promise<SupportedMethods>((resolve, reject) =>
          features.getSupportedMethods({}, (error, value) => (error ? reject(error) : resolve(value)))
        )
        const listed = methods.methods.filter((m) => m.serviceName === "event_store.client.persistent_subscriptions.persistentsubscriptions")
        assert.deepStrictEqual(
          listed.map((m) => m.methodName).sort(),
          ["create", "delete", "getinfo", "list", "read", "replayparked", "restartsubsystem", "truncateparked", "update"]
        )
        for (const m of listed) assert.deepStrictEqual(m.features, ["stream", "all"])
        const readStatusOf = (send: (call: ReturnType<typeof ps.read>) => void) =>
          new Promise<grpc.StatusObject>((resolve) => {
            const call = ps.read()
            call.on("error", () => {})
            call.on("data", () => {})
            call.on("status", resolve)
            send(call)
          })
        assert.strictEqual((await readStatusOf((call) => call.end())).code, grpc.status.OK)
        const notOptions = await readStatusOf((call) => call.write({ content: { $case: "ack", value: { id: Buffer.alloc(0), ids: [] } } }))
        assert.strictEqual(notOptions.code, grpc.status.UNKNOWN)
        assert.strictEqual(notOptions.details, "Exception was thrown by handler.")
      } finally {
        features.close()
      }
    })
  })
})

/** The error a unary call ends with (null when it succeeded). */
const statusOf = (f: (cb: (error: grpc.ServiceError | null) => void) => void) =>
  new Promise<grpc.ServiceError | null>((resolve) => f(resolve))

describe("malformed management requests", () => {
  it("get the real node's answers: UNKNOWN without options, INVALID_ARGUMENT for an unset start, failed for a bad strategy or a read batch that does not fit the history buffer", async () => {
    await withRawNode(async (ps, node) => {
      const noOptions = await statusOf((cb) => ps.create({}, cb))
      assert.strictEqual(noOptions?.code, grpc.status.UNKNOWN)
      assert.strictEqual(noOptions?.details, "Exception was thrown by handler.")
      const stream = uniqueStream("ps-bad")
      const settings = {
        resolveLinks: false, revision: 0n, extraStatistics: false, maxRetryCount: 1, minCheckpointCount: 1,
        maxCheckpointCount: 1, maxSubscriberCount: 0, liveBufferSize: 1, readBatchSize: 1, historyBufferSize: 1,
        namedConsumerStrategy: 0 as const, consumerStrategy: ""
      }
      const noStart = await statusOf((cb) =>
        ps.create({
          options: {
            groupName: "g",
            streamOption: { $case: "stream", value: { streamIdentifier: { streamName: Buffer.from(stream) } } },
            settings
          }
        }, cb)
      )
      assert.strictEqual(noStart?.code, grpc.status.INVALID_ARGUMENT)
      assert.match(noStart?.details ?? "", /'None' is not a valid .*RevisionOptionOneofCase/)
      const badStrategy = await statusOf((cb) =>
        ps.create({
          options: {
            groupName: "g",
            streamOption: {
              $case: "stream",
              value: { streamIdentifier: { streamName: Buffer.from(stream) }, revisionOption: { $case: "start", value: {} } }
            },
            settings: { ...settings, consumerStrategy: "Fastest" }
          }
        }, cb)
      )
      assert.strictEqual(badStrategy?.code, grpc.status.INTERNAL)
      assert.strictEqual(badStrategy?.details, `Subscription group g on stream ${stream} failed: 'Consumer strategy Fastest does not exist.'`)
      assert.strictEqual(badStrategy?.metadata.get("exception")[0], "persistent-subscription-failed")
      assert.strictEqual(badStrategy?.metadata.get("reason")[0], "Consumer strategy Fastest does not exist.")
      const onAll = await statusOf((cb) =>
        ps.create({
          options: {
            groupName: "g",
            streamOption: {
              $case: "stream",
              value: { streamIdentifier: { streamName: Buffer.from("$all") }, revisionOption: { $case: "start", value: {} } }
            },
            settings
          }
        }, cb)
      )
      assert.strictEqual(onAll?.metadata.get("reason")[0], "Persistent subscriptions to $all are only supported over gRPC through gRPC clients")
      // a read batch not smaller than the history buffer: the real group's ArgumentOutOfRangeException
      const tooLarge = "Specified argument was out of the range of valid values. (Parameter 'ReadBatchSize may not be greater than or equal to BufferSize')"
      for (const sizes of [{ readBatchSize: 1, historyBufferSize: 1 }, { readBatchSize: 2, historyBufferSize: 1 }]) {
        const batchTooLarge = await statusOf((cb) =>
          ps.create({
            options: {
              groupName: "g",
              streamOption: {
                $case: "stream",
                value: { streamIdentifier: { streamName: Buffer.from(stream) }, revisionOption: { $case: "start", value: {} } }
              },
              settings: { ...settings, ...sizes, consumerStrategy: "RoundRobin" }
            }
          }, cb)
        )
        assert.strictEqual(batchTooLarge?.code, grpc.status.INTERNAL)
        assert.strictEqual(batchTooLarge?.details, `Subscription group g on stream ${stream} failed: '${tooLarge}'`)
        assert.strictEqual(batchTooLarge?.metadata.get("exception")[0], "persistent-subscription-failed")
        assert.strictEqual(batchTooLarge?.metadata.get("reason")[0], tooLarge)
      }
      const deleteNoOptions = await statusOf((cb) => ps.delete({}, cb))
      assert.strictEqual(deleteNoOptions?.code, grpc.status.UNKNOWN)
      // nothing was created by any of them
      const listed = await new Promise<number>((resolve, reject) =>
        ps.list({ options: { listOption: { $case: "listAllSubscriptions", value: {} } } }, (e, v) => (e ? reject(e) : resolve(v.subscriptions.length)))
      )
      assert.strictEqual(listed, 0)
    })
  })
})

describe("ReplayParked and TruncateParked requests", () => {
  it("get the real node's answers: UNKNOWN without options or with a oneof unset, failed for a negative stop_at (before the group is looked for), does-not-exist for a missing group", async () => {
    await withRawNode(async (ps, node) => {
      const stream = uniqueStream("ps-parked-raw")
      const streamOption = { $case: "streamIdentifier" as const, value: { streamName: Buffer.from(stream) } }
      for (const call of [ps.truncateParked.bind(ps), ps.replayParked.bind(ps)]) {
        const noOptions = await statusOf((cb) => call({}, cb))
        assert.strictEqual(noOptions?.code, grpc.status.UNKNOWN)
        const noStream = await statusOf((cb) => call({ options: { groupName: "g", stopAtOption: { $case: "noLimit", value: {} } } }, cb))
        assert.strictEqual(noStream?.code, grpc.status.UNKNOWN)
        const noStop = await statusOf((cb) => call({ options: { groupName: "g", streamOption } }, cb))
        assert.strictEqual(noStop?.code, grpc.status.UNKNOWN)
        const missing = await statusOf((cb) => call({ options: { groupName: "g", streamOption, stopAtOption: { $case: "stopAt", value: 3n } } }, cb))
        assert.strictEqual(missing?.code, grpc.status.NOT_FOUND)
        assert.strictEqual(missing?.metadata.get("exception")[0], "persistent-subscription-does-not-exist")
        const onAll = await statusOf((cb) =>
          call({ options: { groupName: "g", streamOption: { $case: "all", value: {} }, stopAtOption: { $case: "noLimit", value: {} } } }, cb)
        )
        assert.strictEqual(onAll?.metadata.get("stream-name")[0], "$all")
      }
      const reasons = [
        [ps.truncateParked.bind(ps), "Cannot truncate parked messages at a negative version."],
        [ps.replayParked.bind(ps), "Cannot stop replaying parked message at a negative version."]
      ] as const
      for (const [call, reason] of reasons) {
        const negative = await statusOf((cb) => call({ options: { groupName: "g", streamOption, stopAtOption: { $case: "stopAt", value: -1n } } }, cb))
        assert.strictEqual(negative?.code, grpc.status.INTERNAL)
        assert.strictEqual(negative?.details, `Subscription group g on stream ${stream} failed: '${reason}'`)
        assert.strictEqual(negative?.metadata.get("exception")[0], "persistent-subscription-failed")
        assert.strictEqual(negative?.metadata.get("reason")[0], reason)
      }
    })
  })
})

describe("a hostile consumer", () => {
  it("gets INVALID_ARGUMENT for buffer_size 0; a huge buffer_size is capped at 10,000 in flight (sent as the call drains); unknown ack ids are ignored", async () => {
    await withRawNode(async (ps, node) => {
      const stream = uniqueStream("ps-hostile")
      await withClient(node.connectionString, Effect.gen(function*() {
        const streams = yield* Streams.Streams
        const groups = yield* PersistentSubscriptions.PersistentSubscriptions
        const events = Array.from({ length: 10_050 }, () => new NewEvent({ type: "e", data: "{}" }))
        yield* streams.append(stream, events, { currentVersion: "no_stream" })
        yield* groups.createToStream(stream, "g", { from: "start" })
      }))
      const options = (bufferSize: number) => ({
        content: {
          $case: "options" as const,
          value: {
            streamOption: { $case: "streamIdentifier" as const, value: { streamName: Buffer.from(stream) } },
            groupName: "g",
            bufferSize,
            uuidOption: { content: { $case: "string" as const, value: {} } }
          }
        }
      })
      const zero = await new Promise<grpc.StatusObject>((resolve) => {
        const call = ps.read()
        call.on("error", () => {})
        call.on("data", () => {})
        call.on("status", resolve)
        call.write(options(0))
      })
      assert.strictEqual(zero.code, grpc.status.INVALID_ARGUMENT)
      const call = ps.read()
      call.on("error", () => {})
      let received = 0
      call.on("data", (m: { content?: { $case: string } }) => {
        if (m.content?.$case === "event") received++
      })
      call.write(options(2 ** 31 - 1))
      // unknown ids (and a malformed one) change nothing
      call.write({
        content: {
          $case: "ack",
          value: { id: Buffer.alloc(0), ids: [{ value: { $case: "string", value: "00000000-0000-0000-0000-000000000001" } }, { value: { $case: "string", value: "junk" } }] }
        }
      })
      await eventuallyAsync("10,000 events delivered", () => received >= 10_000)
      const info = await withClient(node.connectionString, Effect.flatMap(PersistentSubscriptions.PersistentSubscriptions, (g) => g.getInfoToStream(stream, "g")))
      assert.strictEqual(received, 10_000)
      assert.strictEqual(info.connections[0]?.inFlightMessages, 10_000)
      assert.strictEqual(info.totalInFlightMessages, 10_000)
      call.cancel()
    })
  })
})

describe("a Read the client half-closes", () => {
  it("stays open as on a real node: events appended later still come, the acks sent before count, and a cancel puts the rest back for a retry", async () => {
    await withRawNode(async (ps, node) => {
      const stream = uniqueStream("ps-half")
      const infoOf = () =>
        withClient(node.connectionString, Effect.flatMap(PersistentSubscriptions.PersistentSubscriptions, (g) => g.getInfoToStream(stream, "g")))
      const append = (n: number) =>
        withClient(node.connectionString, Effect.flatMap(Streams.Streams, (s) =>
          s.append(stream, Array.from({ length: n }, () => new NewEvent({ type: "e", data: "{}" })), { currentVersion: "any" })))
      await append(2)
      await withClient(node.connectionString, Effect.flatMap(PersistentSubscriptions.PersistentSubscriptions, (g) =>
        g.createToStream(stream, "g", { from: "start" })))
      const call = ps.read()
      call.on("error", () => {})
      let status: grpc.StatusObject | undefined
      call.on("status", (s) => (status = s))
      const ids: Array<string> = []
      call.on("data", (m: { content?: { $case: string; value: { event?: { id?: { value?: { $case: string; value: unknown } } } } } }) => {
        const id = m.content?.$case === "event" ? m.content.value.event?.id?.value : undefined
        if (id?.$case === "string") ids.push(id.value as string)
      })
      call.write({
        content: {
          $case: "options",
          value: {
            streamOption: { $case: "streamIdentifier", value: { streamName: Buffer.from(stream) } },
            groupName: "g",
            bufferSize: 10,
            uuidOption: { content: { $case: "string", value: {} } }
          }
        }
      })
      await eventuallyAsync("two events delivered", () => ids.length === 2)
      // ack the first, then half-close
      call.write({ content: { $case: "ack", value: { id: Buffer.alloc(0), ids: [{ value: { $case: "string", value: ids[0]! } }] } } })
      call.end()
      await append(1)
      await eventuallyAsync("the third event delivered", () => ids.length === 3)
      assert.strictEqual(status, undefined)
      const open = await infoOf()
      assert.strictEqual(open.connections.length, 1)
      assert.strictEqual(open.totalInFlightMessages, 2)
      call.cancel()
      // cancelled: the consumer left, its two events in flight wait for a retry
      const left = await eventuallyAsync("the consumer left", infoOf, { until: (info) => info.connections.length === 0 })
      assert.strictEqual(left.connections.length, 0)
      assert.strictEqual(left.retryBufferCount, 2)
    })
  })
})

describe("a Read request the real node's pump cannot map", () => {
  it("(a nack action it does not know, a second options message) ends the reading of acks: later acks do nothing, events keep coming", async () => {
    await withRawNode(async (ps, node) => {
      const options = (stream: string) => ({
        content: {
          $case: "options" as const,
          value: {
            streamOption: { $case: "streamIdentifier" as const, value: { streamName: Buffer.from(stream) } },
            groupName: "g",
            bufferSize: 10,
            uuidOption: { content: { $case: "string" as const, value: {} } }
          }
        }
      })
      const uuid = (id: string) => ({ value: { $case: "string" as const, value: id } })
      const breakers = [
        { content: { $case: "nack" as const, value: { id: Buffer.alloc(0), ids: [], action: 9 as ReadReq_Nack_Action, reason: "" } } },
        (stream: string) => options(stream)
      ]
      for (const breaker of breakers) {
        const stream = uniqueStream("ps-pump")
        const infoOf = () =>
          withClient(node.connectionString, Effect.flatMap(PersistentSubscriptions.PersistentSubscriptions, (g) => g.getInfoToStream(stream, "g")))
        const append = (n: number) =>
          withClient(node.connectionString, Effect.flatMap(Streams.Streams, (s) =>
            s.append(stream, Array.from({ length: n }, () => new NewEvent({ type: "e", data: "{}" })), { currentVersion: "any" })))
        await append(2)
        await withClient(node.connectionString, Effect.flatMap(PersistentSubscriptions.PersistentSubscriptions, (g) =>
          g.createToStream(stream, "g", { from: "start" })))
        const call = ps.read()
        call.on("error", () => {})
        const ids: Array<string> = []
        call.on("data", (m: { content?: { $case: string; value: { event?: { id?: { value?: { $case: string; value: unknown } } } } } }) => {
          const id = m.content?.$case === "event" ? m.content.value.event?.id?.value : undefined
          if (id?.$case === "string") ids.push(id.value as string)
        })
        call.write(options(stream))
        await eventuallyAsync("two events delivered", () => ids.length === 2)
        // the first ack counts; after the breaker, the second does not
        call.write({ content: { $case: "ack", value: { id: Buffer.alloc(0), ids: [uuid(ids[0]!)] } } })
        call.write(typeof breaker === "function" ? breaker(stream) : breaker)
        call.write({ content: { $case: "ack", value: { id: Buffer.alloc(0), ids: [uuid(ids[1]!)] } } })
        await append(1)
        await eventuallyAsync("the third event delivered", () => ids.length === 3)
        await new Promise((r) => setTimeout(r, 50))
        const info = await infoOf()
        assert.strictEqual(info.connections.length, 1)
        assert.strictEqual(info.totalInFlightMessages, 2)
        call.cancel()
      }
    })
  })
})

/** Options of a raw `Read` on a group of `stream` (or of `$all`). */
const readOptions = (stream: string | "$all", group: string, bufferSize: number): ReadReq => ({
  content: {
    $case: "options",
    value: {
      streamOption: stream === "$all"
        ? { $case: "all", value: {} }
        : { $case: "streamIdentifier", value: { streamName: Buffer.from(stream) } },
      groupName: group,
      bufferSize,
      uuidOption: { content: { $case: "string", value: {} } }
    }
  }
})

const uuidOf = (id: string) => ({ value: { $case: "string" as const, value: id } })

interface Delivered {
  readonly id: string
  readonly stream: string
  readonly type: string
  readonly retryCount: number
  readonly at: number
}

/** A raw `Read`: what it delivered (with the time it came) and its end. */
const rawRead = (ps: PersistentSubscriptionsClient, options: ReadReq) => {
  const call = ps.read()
  const delivered: Array<Delivered> = []
  let status: grpc.StatusObject | undefined
  call.on("error", () => {})
  call.on("status", (s) => (status = s))
  call.on("data", (m: ReadResp) => {
    if (m.content?.$case !== "event") return
    const e = m.content.value
    const recorded = e.link ?? e.event
    const id = recorded?.id?.value
    delivered.push({
      id: id?.$case === "string" ? id.value : "",
      stream: e.event?.streamIdentifier?.streamName.toString("utf8") ?? "",
      type: e.event?.metadata.find((kv) => kv.key === "type")?.value ?? "",
      retryCount: e.count?.$case === "retryCount" ? e.count.value : -1,
      at: performance.now()
    })
  })
  call.write(options)
  return { call, delivered, status: () => status }
}

const until = (done: () => boolean, what: string) => eventuallyAsync(what, done)

const rawSettings = (messageTimeoutMs: number, maxRetryCount: number) => ({
  resolveLinks: false,
  revision: 0n,
  extraStatistics: true,
  maxRetryCount,
  minCheckpointCount: 1,
  maxCheckpointCount: 1,
  maxSubscriberCount: 0,
  liveBufferSize: 500,
  readBatchSize: 20,
  historyBufferSize: 500,
  namedConsumerStrategy: 0 as const,
  messageTimeout: { $case: "messageTimeoutMs" as const, value: messageTimeoutMs },
  checkpointAfter: { $case: "checkpointAfterMs" as const, value: 1000 },
  consumerStrategy: "RoundRobin"
})

const unary = (f: (cb: (error: grpc.ServiceError | null) => void) => void) =>
  new Promise<void>((resolve, reject) => f((error) => (error === null ? resolve() : reject(error))))

describe("message timeouts on the node's one-second tick", () => {
  // PersistentSubscriptionService.cs (KurrentDB, src/KurrentDB.Core/Services/PersistentSubscription/)
  // schedules a PersistentSubscriptionTimerTick 1000 ms after each one; only then does
  // PersistentSubscription.NotifyClockTick retry the messages whose deadline passed (PROTOCOL.md §4).
  it("an unacked message with a 100 ms timeout is retried once a tick (about a second apart), not every 100 ms", async () => {
    await withRawNode(async (ps, node) => {
      const stream = uniqueStream("ps-tick")
      await withClient(node.connectionString, Effect.flatMap(Streams.Streams, (s) =>
        s.append(stream, [new NewEvent({ type: "e", data: "{}" })], { currentVersion: "no_stream" })))
      await unary((cb) =>
        ps.create({
          options: {
            groupName: "g",
            streamOption: { $case: "stream", value: { streamIdentifier: { streamName: Buffer.from(stream) }, revisionOption: { $case: "start", value: {} } } },
            settings: rawSettings(100, 100)
          }
        }, cb)
      )
      const read = rawRead(ps, readOptions(stream, "g", 10))
      try {
        await until(() => read.delivered.length >= 1, "the event came")
        // 2.6 s: at most three ticks after its first deadline (the old 25 ms check gave ~20 retries)
        await new Promise((r) => setTimeout(r, 2600))
        const retries = read.delivered.slice(1)
        assert.isAtLeast(retries.length, 1)
        assert.isAtMost(retries.length, 3)
        assert.deepStrictEqual(read.delivered.map((d) => d.retryCount), read.delivered.map((_, i) => i))
        for (let i = 1; i < retries.length; i++) assert.isAtLeast(retries[i]!.at - retries[i - 1]!.at, 500)
      } finally {
        read.call.cancel()
      }
    })
  })
})

describe("a new group on $all from the end", () => {
  // PersistentSubscriptionService.CreatePersistentSubscription (KurrentDB,
  // src/KurrentDB.Core/Services/PersistentSubscription/PersistentSubscriptionService.cs) starts the
  // group (TryCreateSubscriptionGroup) before SaveConfiguration writes the $PersistentConfig event;
  // the started group takes it live (PersistentSubscription.NotifyLiveSubscriptionMessage). The
  // first save writes the stream's metadata `$maxCount: 2` before it (IODispatcher.cs,
  // ConfigureStreamAndWriteEvents).
  it("gets its own $PersistentConfig event live (after the config stream's metadata, on the node's first create)", async () => {
    await withRawNode(async (ps, node) => {
      const group = uniqueStream("g-end")
      // no filter (as the official client creates it): system events are delivered too
      await unary((cb) =>
        ps.create({
          options: {
            groupName: group,
            streamOption: { $case: "all", value: { allOption: { $case: "end", value: {} }, filterOption: { $case: "noFilter", value: {} } } },
            settings: rawSettings(30_000, 10)
          }
        }, cb)
      )
      const read = rawRead(ps, readOptions("$all", group, 10))
      try {
        await until(() => read.delivered.length >= 2, "the config event came")
        assert.deepStrictEqual(
          read.delivered.map((d) => [d.stream, d.type, d.retryCount]),
          [["$$$persistentSubscriptionConfig", "$metadata", 0], ["$persistentSubscriptionConfig", "$PersistentConfig", 0]]
        )
        // a second group: the stream has its metadata, only the configuration is written
        const second = uniqueStream("g-end")
        await unary((cb) =>
          ps.create({
            options: {
              groupName: second,
              streamOption: { $case: "all", value: { allOption: { $case: "end", value: {} }, filterOption: { $case: "noFilter", value: {} } } },
              settings: rawSettings(30_000, 10)
            }
          }, cb)
        )
        const next = rawRead(ps, readOptions("$all", second, 10))
        try {
          await until(() => next.delivered.length >= 1, "the second config event came")
          await new Promise((r) => setTimeout(r, 50))
          assert.deepStrictEqual(next.delivered.map((d) => [d.stream, d.type]), [["$persistentSubscriptionConfig", "$PersistentConfig"]])
        } finally {
          next.call.cancel()
        }
      } finally {
        read.call.cancel()
      }
    })
  })
})

describe("deleted groups leave nothing behind", () => {
  it("after 120 create / consume (ack, park, one left in flight) / leave or drop / delete cycles on streams and $all, the node holds no group, consumer, message or listener", async () => {
    await withRawNode(async (ps, node) => {
      const stream = uniqueStream("ps-cycles")
      await withClient(node.connectionString, Effect.flatMap(Streams.Streams, (s) =>
        s.append(stream, Array.from({ length: 3 }, () => new NewEvent({ type: "e", data: "{}" })), { currentVersion: "no_stream" })))
      const before = nodeStats(node)
      for (let i = 0; i < 120; i++) {
        const group = `g-${i}`
        const onAll = i % 2 === 1
        const streamOption = onAll
          ? {
            $case: "all" as const,
            value: {
              allOption: { $case: "start" as const, value: {} },
              filterOption: {
                $case: "filter" as const,
                value: {
                  filter: { $case: "streamIdentifier" as const, value: { regex: "", prefix: [stream] } },
                  window: { $case: "count" as const, value: {} },
                  checkpointIntervalMultiplier: 1
                }
              }
            }
          }
          : { $case: "stream" as const, value: { streamIdentifier: { streamName: Buffer.from(stream) }, revisionOption: { $case: "start" as const, value: {} } } }
        await unary((cb) => ps.create({ options: { groupName: group, streamOption, settings: rawSettings(30_000, 10) } }, cb))
        const read = rawRead(ps, readOptions(onAll ? "$all" : stream, group, 10))
        await until(() => read.delivered.length === 3, `cycle ${i}: three events`)
        read.call.write({ content: { $case: "ack", value: { id: Buffer.alloc(0), ids: [uuidOf(read.delivered[0]!.id)] } } })
        read.call.write({
          content: { $case: "nack", value: { id: Buffer.alloc(0), ids: [uuidOf(read.delivered[1]!.id)], action: ReadReq_Nack_Action.Park, reason: "cycle" } }
        })
        // half leave (cancel, the third event goes back for a retry), half are dropped by the delete
        if (i % 4 < 2) {
          read.call.cancel()
          await until(() => nodeStats(node).persistentGroups.consumers === 0, `cycle ${i}: the consumer left`)
        }
        const deleteOption = onAll
          ? { $case: "all" as const, value: {} }
          : { $case: "streamIdentifier" as const, value: { streamName: Buffer.from(stream) } }
        await unary((cb) => ps.delete({ options: { groupName: group, streamOption: deleteOption } }, cb))
        if (i % 4 >= 2) await until(() => read.status() !== undefined, `cycle ${i}: the consumer was dropped`)
      }
      const after = nodeStats(node)
      assert.deepStrictEqual(after.persistentGroups, { groups: 0, running: 0, consumers: 0, inFlight: 0, retries: 0 })
      assert.strictEqual(after.storeListeners, before.storeListeners)
    })
  })
})
