/**
 * Reading `$all` (seed checklist items 19-25): directions, inclusive/exclusive positions, server
 * side filters (grouped include patterns), resolving links, deadlines and cutting a read short.
 */
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { NewEvent, Streams } from "../../src/index.ts"
import { collect, newEvents, nodeWithClient, uniqueId, uniqueStream } from "./_support.ts"


layer(nodeWithClient(), { excludeTestServices: true, timeout: "30 seconds" })("read $all", (it) => {
  it.effect("forwards and backwards see the same events in opposite orders", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      yield* streams.append(uniqueStream("fwd"), newEvents(3), { currentVersion: "no_stream" })
      yield* streams.append(uniqueStream("fwd"), newEvents(2), { currentVersion: "no_stream" })
      const forwards = yield* collect(streams.readAll())
      const backwards = yield* collect(streams.readAll({ backwards: true }))
      assert.isAtLeast(forwards.length, 5)
      assert.deepStrictEqual(backwards.map((e) => e.id), forwards.map((e) => e.id).reverse())
      for (let i = 1; i < forwards.length; i++) {
        assert.isTrue(forwards[i]!.commitPosition! > forwards[i - 1]!.commitPosition!)
      }
      // the default filter hides system events
      assert.isFalse(forwards.some((e) => e.isSystemEvent))
    }))

  it.effect("from a commit position: inclusive forwards, exclusive backwards", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("from")
      yield* streams.append(stream, newEvents(3), { currentVersion: "no_stream" })
      const [e0, e1, e2] = yield* streams.get(stream)
      const forwards = yield* collect(streams.readAll({ commitPosition: e1!.commitPosition!, limit: 2 }))
      assert.deepStrictEqual(forwards.map((e) => e.id), [e1!.id, e2!.id])
      const backwards = yield* collect(streams.readAll({ commitPosition: e1!.commitPosition!, backwards: true, limit: 1 }))
      assert.deepStrictEqual(backwards.map((e) => e.id), [e0!.id])
    }))

  it.effect("include patterns are grouped: ^(?:A|B)$ matches A and B only, not names starting with A or ending with B", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const s = uniqueId()
      const [a, b] = [`A${s}`, `B${s}`]
      const start = yield* streams.append(uniqueStream("grouped"), new NewEvent({ type: "Marker", data: "{}" }), {
        currentVersion: "no_stream"
      })
      for (const type of [a, `${a}tail`, b, `head${b}`, `C${s}`]) {
        yield* streams.append(uniqueStream("grouped"), new NewEvent({ type, data: "{}" }), { currentVersion: "no_stream" })
      }
      const types = (events: ReadonlyArray<{ readonly type: string }>) => events.map((e) => e.type)
      const included = yield* collect(streams.readAll({ commitPosition: start, filterInclude: [a, b] }))
      assert.deepStrictEqual(types(included), [a, b])
      const single = yield* collect(streams.readAll({ commitPosition: start, filterInclude: `${a}.*` }))
      assert.deepStrictEqual(types(single), [a, `${a}tail`])
      const excluded = yield* collect(streams.readAll({ commitPosition: start, filterExclude: [a, `C${s}`, "Marker"] }))
      assert.deepStrictEqual(types(excluded), [`${a}tail`, b, `head${b}`])
    }))

  it.effect("filters on stream names", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const s = uniqueId()
      const [one, two, other] = [`one-${s}`, `two-${s}`, `other-${s}`]
      const start = yield* streams.append(one, newEvents(1), { currentVersion: "no_stream" })
      yield* streams.append(other, newEvents(1), { currentVersion: "no_stream" })
      yield* streams.append(two, newEvents(2), { currentVersion: "no_stream" })
      const names = (events: ReadonlyArray<{ readonly streamName: string }>) => events.map((e) => e.streamName)
      const included = yield* collect(
        streams.readAll({ commitPosition: start, filterInclude: [one, two], filterByStreamName: true })
      )
      assert.deepStrictEqual(names(included), [one, two, two])
      const excluded = yield* collect(
        streams.readAll({ commitPosition: start, filterExclude: [`other-.*`], filterByStreamName: true })
      )
      assert.deepStrictEqual(names(excluded), [one, two, two])
    }))

  it.effect("include overrides exclude, and filterExclude: [] returns system events too", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("system")
      const start = yield* streams.append(stream, newEvents(1), { currentVersion: "no_stream" })
      yield* streams.setStreamMetadata(stream, { $maxCount: 10 })
      const unfiltered = yield* collect(streams.readAll({ commitPosition: start, filterExclude: [] }))
      assert.deepStrictEqual(unfiltered.map((e) => [e.streamName, e.type]), [[stream, "TestEvent"], [`$$${stream}`, "$metadata"]])
      assert.isTrue(unfiltered[1]!.isSystemEvent)
      const byDefault = yield* collect(streams.readAll({ commitPosition: start }))
      assert.deepStrictEqual(byDefault.map((e) => e.type), ["TestEvent"])
      const includeWins = yield* collect(
        streams.readAll({ commitPosition: start, filterInclude: ["\\$metadata"], filterExclude: ["\\$.*"] })
      )
      assert.deepStrictEqual(includeWins.map((e) => e.type), ["$metadata"])
    }))

  it.effect("resolveLinks returns the event a link points to, carrying the link", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const target = uniqueStream("target")
      const links = uniqueStream("links")
      yield* streams.append(target, newEvents(2, "Original"), { currentVersion: "no_stream" })
      const start = yield* streams.append(
        links,
        new NewEvent({ type: "$>", data: `1@${target}`, contentType: "application/octet-stream" }),
        { currentVersion: "no_stream" }
      )
      const [raw] = yield* collect(streams.readAll({ commitPosition: start, filterExclude: [] }))
      assert.isTrue(raw!.isLinkEvent)
      assert.isFalse(raw!.isResolvedEvent)
      assert.strictEqual(raw!.dataText, `1@${target}`)
      const [resolved] = yield* collect(streams.readAll({ commitPosition: start, filterExclude: [], resolveLinks: true }))
      assert.isTrue(resolved!.isResolvedEvent)
      assert.strictEqual(resolved!.type, "Original")
      assert.strictEqual(resolved!.streamName, target)
      assert.strictEqual(resolved!.streamPosition, 1n)
      assert.strictEqual(resolved!.link!.streamName, links)
      assert.strictEqual(resolved!.ackId, resolved!.link!.id)
      assert.strictEqual(resolved!.commitPosition, start, "the position is the link's")
      // reading the link stream itself resolves the same way
      const [viaStream] = yield* streams.get(links, { resolveLinks: true })
      assert.strictEqual(viaStream!.streamName, target)
      assert.strictEqual(viaStream!.link!.streamPosition, 0n)
    }))

  it.effect("a read that runs out of time fails with DeadlineExceeded", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      yield* streams.append(uniqueStream("deadline"), newEvents(1), { currentVersion: "no_stream" })
      const error = yield* Effect.flip(collect(streams.readAll({ timeout: 0 })))
      assert.strictEqual(error._tag, "DeadlineExceeded")
    }))

  it.effect("taking fewer events than the read would return ends it early", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      yield* streams.append(uniqueStream("take"), newEvents(10), { currentVersion: "no_stream" })
      const firstTwo = yield* collect(Stream.take(streams.readAll(), 2))
      assert.lengthOf(firstTwo, 2)
      const limited = yield* collect(streams.readAll({ limit: 3 }))
      assert.deepStrictEqual(limited.map((e) => e.id), (yield* collect(Stream.take(streams.readAll(), 3))).map((e) => e.id))
    }))

  it.effect("getCommitPosition with a filter that excludes everything is 0", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      yield* streams.append(uniqueStream("zero"), newEvents(1), { currentVersion: "no_stream" })
      assert.strictEqual(yield* streams.getCommitPosition({ filterExclude: [".*"] }), 0n)
      assert.isTrue((yield* streams.getCommitPosition()) > 0n)
    }))
})
