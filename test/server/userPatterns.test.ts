/**
 * User-supplied regular expressions (read and subscription filters, persistent group filters) run
 * on the node's event loop in linear time: `(a+)+$` against 28 a's and a `!` took a backtracking
 * engine 6.5 s, during which the whole node stalled. Patterns the linear engine cannot run are
 * refused with INVALID_ARGUMENT, except the exclusion form `^(?!B)` clients send.
 */
import * as grpc from "@grpc/grpc-js"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { PersistentSubscriptionsClient } from "../../src/generated/persistent.ts"
import type { ReadReq_Options } from "../../src/generated/streams.ts"
import { EventStoreDB, NewEvent, PersistentSubscriptions, Streams } from "../../src/index.ts"
import { type RunningNode, startEmbeddedNode } from "../../src/server/EmbeddedNode.ts"
import { compilePattern, PatternError } from "../../src/server/UserPattern.ts"
import { allOption, any, appendOk, type Clients, connect, events, readAll, readOptions, uniqueStream } from "./helpers.ts"

const EVIL = "(a+)+$"
const victim = () => `${"a".repeat(28)}!`

const streamFilter = (regex: string): ReadReq_Options["filterOption"] => ({
  $case: "filter",
  value: { filter: { $case: "streamIdentifier", value: { regex, prefix: [] } }, window: { $case: "max", value: 100 }, checkpointIntervalMultiplier: 1 }
})

describe("compilePattern", () => {
  it("matches the catastrophic pattern in linear time (under 50 ms), compiled once", () => {
    const test = compilePattern(EVIL)
    assert.isFunction(test)
    const started = performance.now()
    const matched = (test as (s: string) => boolean)(victim())
    const took = performance.now() - started
    assert.isFalse(matched)
    assert.isTrue((test as (s: string) => boolean)("aaaa"))
    assert.isBelow(took, 50, `took ${took.toFixed(1)} ms`)
    // 100,000 characters: still linear
    const long = `${"a".repeat(100_000)}!`
    const t0 = performance.now()
    ;(test as (s: string) => boolean)(long)
    assert.isBelow(performance.now() - t0, 1000)
  })

  it("keeps unanchored search semantics, inline flags and the `^(?!B)` exclusion form", () => {
    const t = (p: string) => compilePattern(p) as (s: string) => boolean
    assert.isTrue(t("der-")("order-1"))
    assert.isTrue(t("(?i)^ORDER")("order-1"))
    const exclude = t("^(?!(?:\\$.+|PersistentConfig\\d+)$)")
    assert.isFalse(exclude("$metadata"))
    assert.isFalse(exclude("PersistentConfig1"))
    assert.isTrue(exclude("OrderPlaced"))
    assert.isTrue(exclude("PersistentConfig1x"))
    assert.isTrue(t("^(?![)]x)")("ab"))
  })

  it("refuses backreferences, other lookaround, oversized and malformed patterns with a reason", () => {
    for (const [pattern, reason] of [
      ["(a)\\1", /backreferences and lookaround/],
      ["a(?=b)", /backreferences and lookaround/],
      ["(?<!a)b", /backreferences and lookaround/],
      ["^(?!a)b", /backreferences and lookaround/],
      ["(", /missing closing \)/],
      ["[a-z]{1000}", /too complex/],
      ["a".repeat(1001), /longer than 1000/]
    ] as const) {
      const compiled = compilePattern(pattern)
      assert.instanceOf(compiled, PatternError, pattern)
      assert.match((compiled as PatternError).message, reason)
      assert.match((compiled as PatternError).message, /^Invalid regular expression '/)
    }
  })
})

describe("filters on the wire", () => {
  let node: RunningNode
  let c: Clients
  beforeAll(async () => {
    node = await startEmbeddedNode({ insecure: true })
    c = connect(node)
    await appendOk(c.streams, victim(), any, [{ type: "Evil" }])
  })
  afterAll(async () => {
    c?.close()
    await node?.stop()
  })

  it("a $all read filtered by (a+)+$ over a 29-character stream name answers at once", async () => {
    const started = performance.now()
    const { messages, error } = await readAll(c.streams, { options: readOptions({ streamOption: allOption("start"), filterOption: streamFilter(EVIL) }) })
    const took = performance.now() - started
    assert.isUndefined(error)
    assert.deepStrictEqual(events(messages).length, 0)
    // generous: a backtracking engine takes 6.5 s on this name
    assert.isBelow(took, 1000, `took ${took.toFixed(0)} ms`)
    const anchored = await readAll(c.streams, { options: readOptions({ streamOption: allOption("start"), filterOption: streamFilter("^a+!$") }) })
    assert.strictEqual(events(anchored.messages).length, 1)
  })

  it("a read filter the linear engine cannot run is INVALID_ARGUMENT", async () => {
    const { error } = await readAll(c.streams, { options: readOptions({ streamOption: allOption("start"), filterOption: streamFilter("(a)\\1") }) })
    assert.strictEqual(error?.code, grpc.status.INVALID_ARGUMENT)
    assert.match(error?.details ?? "", /Invalid regular expression '\(a\)\\1'.*backreferences/)
  })

  it("a persistent $all group filtered by (a+)+$ delivers the next event at once; a backreference is refused at creation", async () => {
    const target = uniqueStream("after")
    const started = performance.now()
    const delivered = await Effect.runPromise(
      Effect.gen(function*() {
        const ps = yield* PersistentSubscriptions.PersistentSubscriptions
        const streams = yield* Streams.Streams
        // the client anchors it: ^(?:(a+)+$|after-...)$
        yield* ps.createToAll("evil", { from: "start", filterByStreamName: true, filterInclude: [EVIL, `${target}`] })
        yield* streams.append(target, [new NewEvent({ type: "After", data: "{}" })], { currentVersion: "no_stream" })
        const sub = yield* ps.readToAll("evil", { bufferSize: 10 })
        return yield* sub.events.pipe(Stream.tap((e) => sub.ack(e)), Stream.take(1), Stream.runCollect)
      }).pipe(Effect.scoped, Effect.provide(EventStoreDB.layer({ connectionString: node.connectionString })))
    )
    const took = performance.now() - started
    assert.deepStrictEqual(Array.from(delivered, (e) => e.streamName), [target])
    assert.isBelow(took, 5000, `took ${took.toFixed(0)} ms`)

    const address = node.connectionString.replace(/^esdb:\/\//, "").replace(/\?.*$/, "")
    const ps = new PersistentSubscriptionsClient(address, grpc.credentials.createInsecure())
    try {
      const error = await new Promise<grpc.ServiceError | null>((resolve) =>
        ps.create({
          options: {
            groupName: "backref",
            streamOption: {
              $case: "all",
              value: {
                allOption: { $case: "start", value: {} },
                filterOption: { $case: "filter", value: { filter: { $case: "eventType", value: { regex: "(a)\\1", prefix: [] } }, window: { $case: "max", value: 10 }, checkpointIntervalMultiplier: 1 } }
              }
            },
            settings: {
              resolveLinks: false, revision: 0n, extraStatistics: false, maxRetryCount: 1, minCheckpointCount: 1, maxCheckpointCount: 1,
              maxSubscriberCount: 0, liveBufferSize: 10, readBatchSize: 1, historyBufferSize: 10, namedConsumerStrategy: 0, consumerStrategy: "RoundRobin"
            }
          }
        }, resolve)
      )
      assert.strictEqual(error?.code, grpc.status.INVALID_ARGUMENT)
      assert.match(error?.details ?? "", /backreferences/)
    } finally {
      ps.close()
    }
  })
})
