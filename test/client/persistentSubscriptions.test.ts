/**
 * Managing persistent-subscription groups against the embedded node: create (stream and `$all`,
 * each start, filters, settings), get info, list, update keeping the settings not given, delete,
 * replay parked, restart; the typed errors of each; bad input refused before any call; access.
 */
import { assert, layer } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { type Credentials, PersistentSubscriptions, PersistentSubscriptionSettings, Streams } from "../../src/index.ts"
import { infoUntil } from "./_persistent.ts"
import { EmbeddedNode, newEvents, nodeLayer, nodeWithClient, uniqueStream, withClient } from "./_support.ts"

const group = (prefix: string) => uniqueStream(prefix)

layer(nodeWithClient(), { excludeTestServices: true, timeout: "30 seconds" })("persistent subscriptions", (it) => {
  it.effect("createToStream with the defaults (the seed's: from the start, DispatchToSingle, read batch 200); getInfo reports every setting and the start", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const stream = uniqueStream("ps-stream")
      const g = group("g")
      yield* ps.createToStream(stream, g)
      const info = yield* ps.getInfoToStream(stream, g)
      const d = new PersistentSubscriptionSettings({})
      assert.strictEqual(info.eventSource, stream)
      assert.strictEqual(info.groupName, g)
      assert.strictEqual(info.startFrom, "start")
      assert.strictEqual(info.status, "Live")
      assert.deepStrictEqual(info.connections, [])
      assert.isTrue(Duration.equals(info.messageTimeout, d.messageTimeout))
      assert.strictEqual(Duration.toMillis(info.messageTimeout), 30_000)
      assert.strictEqual(info.maxRetryCount, 10)
      assert.strictEqual(Duration.toMillis(info.checkpointAfter), 2_000)
      assert.strictEqual(info.minCheckpointCount, 10)
      assert.strictEqual(info.maxCheckpointCount, 1000)
      assert.strictEqual(info.maxSubscriberCount, 0)
      assert.strictEqual(info.liveBufferSize, 500)
      assert.strictEqual(info.readBatchSize, 200)
      assert.strictEqual(info.historyBufferSize, 500)
      assert.strictEqual(info.consumerStrategy, "DispatchToSingle")
      assert.isFalse(info.resolveLinks)
      assert.isFalse(info.extraStatistics)
      assert.strictEqual(info.parkedMessageCount, 0n)
    }))

  it.effect("createToStream from the start, the end or an event number, with settings", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const streams = yield* Streams.Streams
      const stream = uniqueStream("ps-from")
      yield* streams.append(stream, newEvents(3), { currentVersion: "no_stream" })
      const atStart = group("start")
      const atEnd = group("end")
      const atTwo = group("two")
      yield* ps.createToStream(stream, atStart, { from: "start" })
      assert.strictEqual((yield* ps.getInfoToStream(stream, atStart)).startFrom, "start")
      yield* ps.createToStream(stream, atEnd, { from: "end" })
      yield* ps.createToStream(stream, atTwo, {
        from: 2n,
        settings: { maxRetryCount: 3, consumerStrategy: "PinnedByCorrelation", resolveLinks: true, messageTimeout: "1234 millis" }
      })
      const end = yield* ps.getInfoToStream(stream, atEnd)
      assert.strictEqual(end.startFrom, "end")
      assert.strictEqual(end.lastKnownEventPosition, "2")
      const two = yield* ps.getInfoToStream(stream, atTwo)
      assert.strictEqual(two.startFrom, 2n)
      assert.strictEqual(two.maxRetryCount, 3)
      assert.strictEqual(two.consumerStrategy, "PinnedByCorrelation")
      assert.isTrue(two.resolveLinks)
      assert.strictEqual(Duration.toMillis(two.messageTimeout), 1234)
      // the defaults of the settings not given
      assert.strictEqual(two.readBatchSize, 200)
    }))

  it.effect("createToAll from the start, the end, a commit position, with a filter", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const streams = yield* Streams.Streams
      const position = yield* streams.append(uniqueStream("ps-all"), newEvents(1), { currentVersion: "no_stream" })
      const [a, b, c, f] = [group("all-start"), group("all-end"), group("all-pos"), group("all-filter")]
      yield* ps.createToAll(a)
      yield* ps.createToAll(b, { from: "end" })
      yield* ps.createToAll(c, { from: position })
      yield* ps.createToAll(f, { filterInclude: ["Order.*"], filterByStreamName: true, settings: { extraStatistics: true } })
      assert.strictEqual((yield* ps.getInfoToAll(a)).startFrom, "start")
      assert.strictEqual((yield* ps.getInfoToAll(b)).startFrom, "end")
      assert.deepStrictEqual((yield* ps.getInfoToAll(c)).startFrom, { commitPosition: position, preparePosition: position })
      const filtered = yield* ps.getInfoToAll(f)
      assert.strictEqual(filtered.eventSource, "$all")
      assert.isTrue(filtered.extraStatistics)
      assert.match(filtered.lastKnownEventPosition, /^C:\d+\/P:\d+$/)
    }))

  it.effect("createToAll without filter options excludes system events (as readAll does); filterExclude: [] delivers them", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const streams = yield* Streams.Streams
      const stream = uniqueStream("ps-all-default")
      const from = (yield* streams.getCommitPosition({ filterExclude: [] })) + 1n
      // a $metadata system event, then a user event
      yield* streams.setStreamMetadata(stream, { $maxCount: 10 })
      yield* streams.append(stream, newEvents(1), { currentVersion: "no_stream" })
      const untilOurs = (group: string) =>
        Effect.scoped(Effect.flatMap(ps.readToAll(group, { bufferSize: 50 }), (sub) =>
          sub.events.pipe(
            Stream.tap((e) => sub.ack(e)),
            Stream.takeUntil((e) => e.streamName === stream && e.type === "TestEvent"),
            Stream.runCollect
          )))
      const [filtered, unfiltered] = [group("all-default"), group("all-nofilter")]
      yield* ps.createToAll(filtered, { from })
      yield* ps.createToAll(unfiltered, { from, filterExclude: [] })
      const delivered = Array.from(yield* untilOurs(filtered))
      assert.deepStrictEqual(delivered.filter((e) => e.isSystemEvent).map((e) => e.type), [])
      assert.strictEqual(delivered.at(-1)!.streamName, stream)
      const everything = Array.from(yield* untilOurs(unfiltered))
      assert.include(everything.map((e) => `${e.streamName}/${e.type}`), `$$${stream}/$metadata`)
    }))

  it.effect("a connection without ConnectionName names itself with a UUID (one per connection), seen in GetInfo's consumers", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const node = yield* EmbeddedNode
      const stream = uniqueStream("ps-name")
      const g = group("name")
      yield* ps.createToStream(stream, g)
      const nameOf = (groups: PersistentSubscriptions.PersistentSubscriptions) =>
        Effect.scoped(Effect.gen(function*() {
          // the previous consumer has left
          yield* infoUntil(stream, g, (i) => i.connections.length === 0)
          const sub = yield* groups.readToStream(stream, g)
          // the call opens when its Stream runs: run it until the node lists the consumer
          yield* Effect.forkScoped(Stream.runDrain(sub.events))
          const info = yield* infoUntil(stream, g, (i) => i.connections.length === 1)
          return info.connections[0]!.connectionName
        }))
      const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
      const first = yield* nameOf(ps)
      assert.match(first, uuid)
      // another connection from the same connection string gets another name; a given one is used as it is
      const second = yield* withClient(node.connectionString, Effect.flatMap(PersistentSubscriptions.PersistentSubscriptions, nameOf))
      assert.match(second, uuid)
      assert.notStrictEqual(second, first)
      const named = yield* withClient(
        `${node.connectionString}&ConnectionName=billing`,
        Effect.flatMap(PersistentSubscriptions.PersistentSubscriptions, nameOf)
      )
      assert.strictEqual(named, "billing")
    }))

  it.effect("a consumer given a timeout: each run of its events ends with DeadlineExceeded after it", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const streams = yield* Streams.Streams
      const stream = uniqueStream("ps-timeout")
      const g = group("timeout")
      yield* streams.append(stream, newEvents(1), { currentVersion: "no_stream" })
      yield* ps.createToStream(stream, g)
      const error = yield* Effect.flip(Effect.scoped(Effect.gen(function*() {
        const sub = yield* ps.readToStream(stream, g, { timeout: "500 millis" })
        return yield* sub.events.pipe(Stream.tap((e) => sub.ack(e)), Stream.runDrain)
      })))
      assert.strictEqual(error._tag, "DeadlineExceeded")
    }))

  it.effect("a group that exists is SubscriptionAlreadyExists (stream and $all); the same name on another stream is fine", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const stream = uniqueStream("ps-exists")
      const g = group("dup")
      yield* ps.createToStream(stream, g)
      const again = yield* Effect.flip(ps.createToStream(stream, g, { from: "start" }))
      assert.strictEqual(again._tag, "SubscriptionAlreadyExists")
      if (again._tag === "SubscriptionAlreadyExists") {
        assert.strictEqual(again.stream, stream)
        assert.strictEqual(again.group, g)
      }
      yield* ps.createToStream(uniqueStream("ps-other"), g)
      yield* ps.createToAll(g)
      const allAgain = yield* Effect.flip(ps.createToAll(g))
      assert.strictEqual(allAgain._tag, "SubscriptionAlreadyExists")
      if (allAgain._tag === "SubscriptionAlreadyExists") assert.strictEqual(allAgain.stream, "$all")
    }))

  it.effect("a start after the end of $all is refused by the node as InvalidArgument with its reason", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const error = yield* Effect.flip(ps.createToAll(group("far"), { from: 1n << 50n }))
      assert.strictEqual(error._tag, "InvalidArgument")
      if (error._tag === "InvalidArgument") assert.match(error.reason, /commit position must be less than or equal/)
    }))

  it.effect("a read batch not smaller than the history buffer is refused by the node (create and update) as InvalidArgument with its reason", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const stream = uniqueStream("ps-batch")
      const reason = "Specified argument was out of the range of valid values. (Parameter 'ReadBatchSize may not be greater than or equal to BufferSize')"
      const g = group("batch")
      const onCreate = yield* Effect.flip(ps.createToStream(stream, g, { settings: { readBatchSize: 100, historyBufferSize: 100 } }))
      assert.strictEqual(onCreate._tag, "InvalidArgument")
      if (onCreate._tag === "InvalidArgument") assert.strictEqual(onCreate.reason, reason)
      const onAll = yield* Effect.flip(ps.createToAll(g, { settings: { readBatchSize: 600 } }))
      assert.strictEqual(onAll._tag, "InvalidArgument")
      if (onAll._tag === "InvalidArgument") assert.strictEqual(onAll.reason, reason)
      // nothing was created; an update that makes the (kept) read batch too large is refused too
      assert.strictEqual((yield* Effect.flip(ps.getInfoToStream(stream, g)))._tag, "SubscriptionNotFound")
      yield* ps.createToStream(stream, g, { settings: { readBatchSize: 20, historyBufferSize: 21 } })
      const onUpdate = yield* Effect.flip(ps.updateToStream(stream, g, { settings: { historyBufferSize: 20 } }))
      assert.strictEqual(onUpdate._tag, "InvalidArgument")
      if (onUpdate._tag === "InvalidArgument") assert.strictEqual(onUpdate.reason, reason)
      const kept = yield* ps.getInfoToStream(stream, g)
      assert.deepStrictEqual([kept.readBatchSize, kept.historyBufferSize], [20, 21])
    }))

  it.effect("list gives every group; listToStream a stream's or $all's; a stream without groups lists none", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const stream = uniqueStream("ps-list")
      const [g1, g2, ga] = [group("l1"), group("l2"), group("la")]
      yield* ps.createToStream(stream, g1)
      yield* ps.createToStream(stream, g2)
      yield* ps.createToAll(ga)
      const all = yield* ps.list()
      const names = all.map((i) => `${i.eventSource}::${i.groupName}`)
      for (const key of [`${stream}::${g1}`, `${stream}::${g2}`, `$all::${ga}`]) assert.include(names, key)
      const ofStream = yield* ps.listToStream(stream)
      assert.deepStrictEqual(ofStream.map((i) => i.groupName).sort(), [g1, g2].sort())
      const ofAll = yield* ps.listToAll()
      assert.isTrue(ofAll.every((i) => i.eventSource === "$all"))
      assert.include(ofAll.map((i) => i.groupName), ga)
      assert.deepStrictEqual(yield* ps.listToStream(uniqueStream("ps-none")), [])
    }))

  it.effect("updateToStream changes the settings given and keeps the others and the start", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const stream = uniqueStream("ps-update")
      const g = group("u")
      yield* ps.createToStream(stream, g, { from: "end", settings: { maxRetryCount: 4, readBatchSize: 7, consumerStrategy: "Pinned" } })
      yield* ps.updateToStream(stream, g, { settings: { maxRetryCount: 9 } })
      const info = yield* ps.getInfoToStream(stream, g)
      assert.strictEqual(info.maxRetryCount, 9)
      assert.strictEqual(info.readBatchSize, 7)
      assert.strictEqual(info.consumerStrategy, "Pinned")
      assert.strictEqual(info.startFrom, "end")
      yield* ps.updateToStream(stream, g, { from: 5n, settings: new PersistentSubscriptionSettings({ liveBufferSize: 50 }) })
      const replaced = yield* ps.getInfoToStream(stream, g)
      assert.strictEqual(replaced.startFrom, 5n)
      assert.strictEqual(replaced.liveBufferSize, 50)
      // a whole settings instance replaces every setting (its defaults included)
      assert.strictEqual(replaced.maxRetryCount, 10)
    }))

  it.effect("updateToAll changes the start and settings of a $all group", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const g = group("ua")
      yield* ps.createToAll(g, { settings: { checkpointAfter: 500 } })
      yield* ps.updateToAll(g, { from: "end", settings: { maxSubscriberCount: 3 } })
      const info = yield* ps.getInfoToAll(g)
      assert.strictEqual(info.startFrom, "end")
      assert.strictEqual(info.maxSubscriberCount, 3)
      assert.strictEqual(Duration.toMillis(info.checkpointAfter), 500)
      // a position start is kept by an update that does not give one
      const streams = yield* Streams.Streams
      const position = yield* streams.append(uniqueStream("ps-ua"), newEvents(1), { currentVersion: "no_stream" })
      yield* ps.updateToAll(g, { from: position })
      yield* ps.updateToAll(g, { settings: { readBatchSize: 9 } })
      const kept = yield* ps.getInfoToAll(g)
      assert.deepStrictEqual(kept.startFrom, { commitPosition: position, preparePosition: position })
      // the reported start given back as it is
      yield* ps.updateToAll(g, { from: kept.startFrom })
      assert.deepStrictEqual((yield* ps.getInfoToAll(g)).startFrom, kept.startFrom)
      assert.strictEqual(kept.readBatchSize, 9)
      assert.strictEqual(kept.maxSubscriberCount, 3)
    }))

  it.effect("update, delete, getInfo, replayParked of a missing group are SubscriptionNotFound", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const stream = uniqueStream("ps-missing")
      const g = group("missing")
      const errors = [
        yield* Effect.flip(ps.updateToStream(stream, g, { settings: { maxRetryCount: 1 } })),
        yield* Effect.flip(ps.updateToAll(g)),
        yield* Effect.flip(ps.deleteToStream(stream, g)),
        yield* Effect.flip(ps.deleteToAll(g)),
        yield* Effect.flip(ps.getInfoToStream(stream, g)),
        yield* Effect.flip(ps.getInfoToAll(g)),
        yield* Effect.flip(ps.replayParkedToStream(stream, g))
      ]
      assert.deepStrictEqual(errors.map((e) => e._tag), Array(7).fill("SubscriptionNotFound"))
      const first = errors[0]!
      if (first._tag === "SubscriptionNotFound") {
        assert.strictEqual(first.stream, stream)
        assert.strictEqual(first.group, g)
      }
      const onAll = errors[3]!
      if (onAll._tag === "SubscriptionNotFound") assert.strictEqual(onAll.stream, "$all")
    }))

  it.effect("delete removes a group (stream and $all); it can be created again", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const stream = uniqueStream("ps-delete")
      const g = group("d")
      yield* ps.createToStream(stream, g)
      yield* ps.createToAll(g)
      yield* ps.deleteToStream(stream, g)
      assert.strictEqual((yield* Effect.flip(ps.getInfoToStream(stream, g)))._tag, "SubscriptionNotFound")
      assert.strictEqual((yield* ps.getInfoToAll(g)).groupName, g)
      yield* ps.deleteToAll(g)
      assert.notInclude((yield* ps.list()).map((i) => `${i.eventSource}::${i.groupName}`), `$all::${g}`)
      yield* ps.createToStream(stream, g, { from: 3n })
      assert.strictEqual((yield* ps.getInfoToStream(stream, g)).startFrom, 3n)
    }))

  it.effect("replayParked of a group with nothing parked succeeds; restartSubsystem keeps the groups", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const stream = uniqueStream("ps-replay")
      const g = group("r")
      yield* ps.createToStream(stream, g, { settings: { maxRetryCount: 2 } })
      yield* ps.replayParkedToStream(stream, g)
      yield* ps.replayParkedToStream(stream, g, { stopAt: 10 })
      yield* ps.restartSubsystem()
      assert.strictEqual((yield* ps.getInfoToStream(stream, g)).maxRetryCount, 2)
    }))

  it.effect("the configuration is kept as $PersistentConfig events in $persistentSubscriptionConfig", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const streams = yield* Streams.Streams
      const stream = uniqueStream("ps-config")
      const g = group("c")
      yield* ps.createToStream(stream, g, { from: "start", settings: { maxRetryCount: 6 } })
      const events = yield* streams.get("$persistentSubscriptionConfig", { backwards: true, limit: 1 })
      const last = events[0]!
      assert.strictEqual(last.type, "$PersistentConfig")
      const config = JSON.parse(new TextDecoder().decode(last.data)) as {
        Version: string
        Entries: Array<{ Stream: string; Group: string; MaxRetryCount: number; NamedConsumerStrategy: string; StartPosition: string }>
      }
      assert.strictEqual(config.Version, "2")
      const entry = config.Entries.find((e) => e.Stream === stream && e.Group === g)
      assert.isDefined(entry)
      assert.strictEqual(entry!.MaxRetryCount, 6)
      assert.strictEqual(entry!.NamedConsumerStrategy, "DispatchToSingle")
      assert.strictEqual(entry!.StartPosition, "0")
    }))
})

layer(nodeLayer({ insecure: true }), { excludeTestServices: true, timeout: "30 seconds" })("bad input", (it) => {
  it.effect("empty names, negative counts, an unknown strategy or setting, bad starts: InvalidArgument before any call", () =>
    Effect.gen(function*() {
      // a client of an address where nothing listens: any call would fail otherwise
      const errors = yield* withClient(
        "esdb://127.0.0.1:1?tls=false",
        Effect.gen(function*() {
          const ps = yield* PersistentSubscriptions.PersistentSubscriptions
          const bad: Array<Effect.Effect<unknown, { readonly _tag: string }>> = [
            ps.createToStream("s", ""),
            ps.createToStream("", "g"),
            ps.createToStream("$all", "g"),
            ps.createToAll(""),
            ps.createToStream("s", "g", { settings: { maxRetryCount: -1 } }),
            ps.createToStream("s", "g", { settings: { liveBufferSize: 1.5 } }),
            ps.createToAll("g", { settings: { consumerStrategy: "Fastest" as "Pinned" } }),
            ps.createToAll("g", { settings: { unknown: 1 } as never }),
            ps.createToStream("s", "g", { from: -1n }),
            ps.createToAll("g", { from: "middle" as "end" }),
            ps.updateToStream("s", "", {}),
            ps.updateToAll("g", { settings: { messageTimeout: -5 } }),
            ps.deleteToStream("s", ""),
            ps.getInfoToStream("", "g"),
            ps.listToStream(""),
            ps.replayParkedToStream("s", "g", { stopAt: -1 }),
            // durations: whole milliseconds, finite, at most 2^31-1 ms
            ps.createToStream("s", "g", { settings: { messageTimeout: "1.5 millis" } }),
            ps.createToStream("s", "g", { settings: { checkpointAfter: "Infinity" } }),
            ps.createToAll("g", { settings: { messageTimeout: "30 days" } }),
            ps.createToAll("g", { settings: new PersistentSubscriptionSettings({ checkpointAfter: Duration.micros(10n) }) }),
            // $all is no stream name: its groups have their own ToAll operations
            ps.updateToStream("$all", "g"),
            ps.deleteToStream("$all", "g"),
            ps.getInfoToStream("$all", "g"),
            ps.listToStream("$all"),
            ps.replayParkedToStream("$all", "g"),
            ps.truncateParkedToStream("$all", "g"),
            Effect.scoped(ps.readToStream("$all", "g")),
            ps.consumeToStream("$all", "g", () => Effect.void)
          ]
          const out = []
          for (const effect of bad) out.push(yield* Effect.flip(effect))
          return out
        })
      )
      for (const error of errors) assert.strictEqual(error._tag, "InvalidArgument", String(error))
    }))
})

const user = (username: string, password: string): Credentials => ({ username, password: Redacted.make(password) })

layer(nodeLayer({ insecure: false }), { excludeTestServices: true, timeout: "30 seconds" })("access", (it) => {
  it.effect("ops manage groups; a plain user may list but not create; anonymous may not list", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      const anonymous = node.connectionString.replace(/\/\/[^@/]*@/, "//")
      const stream = uniqueStream("ps-acl")
      const g = group("acl")
      yield* withClient(
        anonymous,
        Effect.gen(function*() {
          const ps = yield* PersistentSubscriptions.PersistentSubscriptions
          const denied = yield* Effect.flip(ps.createToStream(stream, g))
          assert.strictEqual(denied._tag, "AccessDenied")
          assert.strictEqual((yield* Effect.flip(ps.list()))._tag, "AccessDenied")
          yield* ps.createToStream(stream, g, { credentials: user("ops", "changeit") })
          assert.strictEqual((yield* ps.getInfoToStream(stream, g, { credentials: user("ops", "changeit") })).groupName, g)
          const wrong = yield* Effect.flip(ps.list({ credentials: user("admin", "nope") }))
          assert.strictEqual(wrong._tag, "Unauthenticated")
          // a consumer with its own credentials, on a connection that has none
          const streams = yield* Streams.Streams
          yield* streams.append(stream, newEvents(1), { currentVersion: "no_stream", credentials: user("ops", "changeit") })
          const delivered = yield* Effect.scoped(Effect.gen(function*() {
            const sub = yield* ps.readToStream(stream, g, { credentials: user("ops", "changeit") })
            return yield* Stream.runHead(sub.events)
          }))
          assert.isTrue(delivered._tag === "Some" && delivered.value.streamName === stream)
          const refused = yield* Effect.flip(Effect.scoped(Effect.gen(function*() {
            const sub = yield* ps.readToStream(stream, g)
            return yield* Stream.runHead(sub.events)
          })))
          assert.strictEqual(refused._tag, "AccessDenied")
          yield* ps.deleteToStream(stream, g, { credentials: user("admin", "changeit") })
        })
      )
    }))
})
