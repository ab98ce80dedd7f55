/**
 * Consuming persistent-subscription groups against the embedded node: readToStream / readToAll
 * deliver events with their retry count and ack id; ack; nack with each action; message timeouts
 * lead to retries and, past maxRetryCount, to parking; replaying parked events; checkpoints and a
 * restarted group resuming from them; the consumer strategies (round-robin spreads, dispatch-to-
 * single fills one consumer first, pinned keeps a stream, and pinned-by-correlation a correlation
 * id, on one consumer); maxSubscriberCount; drops on update and delete; live GetInfo; bad
 * input refused before any call.
 */
import { assert, layer } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import {
  NewEvent,
  PersistentSubscriptions,
  type PersistentSubscriptionSettings,
  type PersistentSubscriptionSettingsInput,
  type RecordedEvent,
  Streams
} from "../../src/index.ts"
import type { PersistentSubscription } from "../../src/services/PersistentSubscriptions.ts"
import { infoUntil, positions } from "./_persistent.ts"
import { collect, eventually, newEvents, nodeWithClient, uniqueStream } from "./_support.ts"
import { recoveryLog } from "../support/recoveryLog.ts"

/** The first `n` events of a run, each passed to `f` (ack, nack, nothing) as it arrives. */
const take = (
  sub: PersistentSubscription,
  n: number,
  f: (e: RecordedEvent) => Effect.Effect<void, unknown> = () => Effect.void
) => sub.events.pipe(Stream.tap(f), Stream.take(n), collect)

/** Runs the subscription's Stream in the background, keeping what it delivers. */
const background = (sub: PersistentSubscription) =>
  Effect.gen(function*() {
    const events: Array<RecordedEvent> = []
    const fiber = yield* Effect.forkScoped(Stream.runForEach(sub.events, (e) => Effect.sync(() => events.push(e))))
    const received = (n: number) =>
      Effect.gen(function*() {
        while (events.length < n) yield* Effect.sleep(Duration.millis(5))
      }).pipe(Effect.timeout("5 seconds"))
    return { events, fiber, received }
  })

type Settings = Exclude<PersistentSubscriptionSettingsInput, PersistentSubscriptionSettings>

const setup = (events: number, settings: Settings = {}, prefix = "ps-read") =>
  Effect.gen(function*() {
    const ps = yield* PersistentSubscriptions.PersistentSubscriptions
    const streams = yield* Streams.Streams
    const stream = uniqueStream(prefix)
    const group = uniqueStream("g")
    if (events > 0) yield* streams.append(stream, newEvents(events), { currentVersion: "no_stream" })
    yield* ps.createToStream(stream, group, { from: "start", settings: { messageTimeout: 10_000, ...settings } })
    return { ps, streams, stream, group }
  })

layer(nodeWithClient(), { excludeTestServices: true, timeout: "30 seconds" })("persistent subscriptions: consumers", (it) => {
  it.effect("readToStream delivers events with retryCount 0 and their ack id; acked events are not delivered again", () =>
    Effect.gen(function*() {
      const { ps, streams, stream, group } = yield* setup(3)
      yield* Effect.scoped(Effect.gen(function*() {
        const sub = yield* ps.readToStream(stream, group, { bufferSize: 3 })
        const events = yield* take(sub, 3, (e) => sub.ack(e))
        assert.deepStrictEqual(positions(events), [[0n, 0], [1n, 0], [2n, 0]])
        assert.strictEqual(events[0]!.ackId, events[0]!.id)
        assert.strictEqual(events[0]!.streamName, stream)
        assert.deepStrictEqual(JSON.parse(events[1]!.dataText), { i: 1 })
      }))
      yield* streams.append(stream, newEvents(1), { currentVersion: 2n })
      // acked: a new consumer gets the next event, not a retry of the first three
      const next = yield* Effect.scoped(Effect.flatMap(ps.readToStream(stream, group, { bufferSize: 1 }), (sub) =>
        take(sub, 1, (e) => sub.ack(e))))
      assert.deepStrictEqual(positions(next), [[3n, 0]])
      const info = yield* ps.getInfoToStream(stream, group)
      assert.strictEqual(info.totalItems, 4n)
    }))

  it.effect("acks given as ids are sent in batches of ackBatchSize, and what waits is sent when the scope closes", () =>
    Effect.gen(function*() {
      const { ps, stream, group } = yield* setup(6)
      yield* Effect.scoped(Effect.gen(function*() {
        const sub = yield* ps.readToStream(stream, group, { bufferSize: 6, ackBatchSize: 2, ackDelay: "10 seconds" })
        const run = yield* background(sub)
        yield* run.received(6)
        yield* sub.ack(run.events.slice(0, 4).map((e) => e.ackId))
        // two batches of two went at once (the delay is long): four acked, two in flight
        yield* infoUntil(stream, group, (info) => info.totalInFlightMessages === 2)
        yield* sub.ack(run.events[4]!)
        // one id waits for a second one, or the delay
        yield* Effect.sleep(Duration.millis(100))
        assert.strictEqual((yield* ps.getInfoToStream(stream, group)).totalInFlightMessages, 2)
      }))
      // closing sent the waiting ack: the one event never acked goes back for a retry
      const info = yield* infoUntil(stream, group, (i) => i.connections.length === 0)
      assert.strictEqual(info.retryBufferCount, 1)
      const again = yield* Effect.scoped(Effect.flatMap(ps.readToStream(stream, group, { bufferSize: 1 }), (sub) =>
        take(sub, 1, (e) => sub.ack(e))))
      assert.deepStrictEqual(positions(again), [[5n, 1]])
    }))

  it.effect("ack and nack after the scope has closed fail with SubscriptionClosed; nothing is sent", () =>
    Effect.gen(function*() {
      const { ps, stream, group } = yield* setup(2)
      const [sub, events] = yield* Effect.scoped(Effect.gen(function*() {
        const sub = yield* ps.readToStream(stream, group, { bufferSize: 2, ackDelay: 0 })
        // the first acked while the Stream runs (sent as its run ends), the second not
        const events = yield* take(sub, 2, (e) => e.streamPosition === 0n ? sub.ack(e) : Effect.void)
        return [sub, events] as const
      }))
      const acked = yield* Effect.flip(sub.ack(events[1]!))
      assert.strictEqual(acked._tag, "SubscriptionClosed")
      if (acked._tag === "SubscriptionClosed") assert.deepStrictEqual([acked.stream, acked.group], [stream, group])
      for (const late of [sub.ack(events[1]!.ackId), sub.ack([]), sub.nack(events[1]!, "park", "late"), sub.nack([events[1]!], "skip")]) {
        assert.strictEqual((yield* Effect.flip(late))._tag, "SubscriptionClosed")
      }
      // the late ack and nacks went nowhere: the second event comes back for a retry
      const again = yield* Effect.scoped(Effect.flatMap(ps.readToStream(stream, group, { bufferSize: 1 }), (sub) =>
        take(sub, 1, (e) => sub.ack(e))))
      assert.deepStrictEqual(positions(again), [[1n, 1]])
    }))

  it.effect("nack retry and unknown deliver again with retryCount + 1; skip drops; park parks", () =>
    Effect.gen(function*() {
      const { ps, stream, group } = yield* setup(3, { maxRetryCount: 5 })
      const seen: Array<[bigint, number | undefined]> = []
      yield* Effect.scoped(Effect.gen(function*() {
        const sub = yield* ps.readToStream(stream, group, { bufferSize: 1, ackDelay: 0 })
        yield* take(sub, 5, (e) => {
          seen.push([e.streamPosition, e.retryCount])
          if (e.streamPosition === 0n && e.retryCount === 0) return sub.nack(e, "retry", "again")
          if (e.streamPosition === 0n && e.retryCount === 1) return sub.nack(e, "unknown", "again")
          if (e.streamPosition === 0n) return sub.nack(e, "skip", "skip it")
          if (e.streamPosition === 1n) return sub.nack(e, "park", "bad event")
          return sub.ack(e)
        })
      }))
      assert.deepStrictEqual(seen, [[0n, 0], [0n, 1], [0n, 2], [1n, 0], [2n, 0]])
      const info = yield* ps.getInfoToStream(stream, group)
      assert.strictEqual(info.parkedMessageCount, 1n)
      const streams = yield* Streams.Streams
      const parked = yield* streams.get(`$persistentsubscription-${stream}::${group}-parked`)
      assert.strictEqual(parked.length, 1)
      assert.strictEqual(parked[0]!.type, "$>")
      assert.strictEqual(parked[0]!.dataText, `1@${stream}`)
      const meta = JSON.parse(new TextDecoder().decode(parked[0]!.metadata)) as { Reason: string }
      assert.strictEqual(meta.Reason, "Client explicitly NAK'ed message.\nbad event")
    }))

  it.effect("nack stop does what a real node does: the message is no longer outstanding, the consumer stays", () =>
    Effect.gen(function*() {
      const { ps, stream, group } = yield* setup(2)
      const events = yield* Effect.scoped(Effect.gen(function*() {
        const sub = yield* ps.readToStream(stream, group, { bufferSize: 1, ackDelay: 0 })
        return yield* take(sub, 2, (e) => e.streamPosition === 0n ? sub.nack(e, "stop", "halt") : sub.ack(e))
      }))
      assert.deepStrictEqual(positions(events), [[0n, 0], [1n, 0]])
      const info = yield* ps.getInfoToStream(stream, group)
      assert.strictEqual(info.retryBufferCount, 0)
      assert.strictEqual(info.parkedMessageCount, 0n)
    }))

  it.effect("a message timeout delivers again with retryCount + 1; past maxRetryCount it is parked; replayParked delivers it again", () =>
    Effect.gen(function*() {
      const { ps, stream, group } = yield* setup(1, { messageTimeout: 100, maxRetryCount: 2 })
      yield* Effect.scoped(Effect.gen(function*() {
        const sub = yield* ps.readToStream(stream, group, { bufferSize: 1 })
        // never acked, by a consumer that stays connected: delivered with retry counts 0, 1, 2
        // (each after a timeout), then parked by the next timeout. The consumer must stay: one
        // that left would have its message put back for a retry, never parked (a real node's
        // `RemoveClientByCorrelationId` calls `RetryMessage` without the retry-count check that
        // timeouts and nacks make), and a message waiting for a retry has no timeout running.
        const run = yield* background(sub)
        yield* infoUntil(stream, group, (info) => info.parkedMessageCount === 1n)
        assert.deepStrictEqual(positions(run.events), [[0n, 0], [0n, 1], [0n, 2]])
      }))
      yield* Effect.scoped(Effect.gen(function*() {
        const sub = yield* ps.readToStream(stream, group, { bufferSize: 1 })
        const fiber = yield* Effect.forkChild(take(sub, 1, (e) => sub.ack(e)))
        yield* infoUntil(stream, group, (info) => info.connections.length === 1)
        yield* ps.replayParkedToStream(stream, group)
        const replayed = yield* Fiber.join(fiber)
        assert.deepStrictEqual(positions(replayed), [[0n, 0]])
        // as a real node delivers it: the parked event, through its link in the parked stream
        assert.strictEqual(replayed[0]!.streamName, stream)
        assert.strictEqual(replayed[0]!.link?.streamName, `$persistentsubscription-${stream}::${group}-parked`)
        assert.strictEqual(replayed[0]!.ackId, replayed[0]!.link?.id)
      }))
      const info = yield* ps.getInfoToStream(stream, group)
      assert.strictEqual(info.parkedMessageCount, 0n)
    }))

  it.effect("a consumer leaving puts its events in flight back with retryCount + 1 and never parks them, past maxRetryCount too", () =>
    Effect.gen(function*() {
      const { ps, stream, group } = yield* setup(1, { maxRetryCount: 1 })
      const seen: Array<ReadonlyArray<unknown>> = []
      // three consumers in turn take the event and leave without acking it
      for (let i = 0; i < 3; i++) {
        const events = yield* Effect.scoped(Effect.flatMap(ps.readToStream(stream, group, { bufferSize: 1 }), (sub) => take(sub, 1)))
        seen.push(...positions(events))
      }
      // a real node (RemoveClientByCorrelationId → RetryMessage) retries them however often
      assert.deepStrictEqual(seen, [[0n, 0], [0n, 1], [0n, 2]])
      const info = yield* infoUntil(stream, group, (i) => i.connections.length === 0)
      assert.strictEqual(info.parkedMessageCount, 0n)
      assert.strictEqual(info.retryBufferCount, 1)
      // a nack retry past maxRetryCount parks it
      yield* Effect.scoped(Effect.gen(function*() {
        const sub = yield* ps.readToStream(stream, group, { bufferSize: 1, ackDelay: 0 })
        const events = yield* take(sub, 1, (e) => sub.nack(e, "retry", "again"))
        assert.deepStrictEqual(positions(events), [[0n, 3]])
        yield* infoUntil(stream, group, (i) => i.parkedMessageCount === 1n)
      }))
    }))

  it.effect("the retry buffer is kept in event order, whatever order the events came back in", () =>
    Effect.gen(function*() {
      const { ps, stream, group } = yield* setup(4, { consumerStrategy: "DispatchToSingle" })
      yield* Effect.scoped(Effect.gen(function*() {
        const first = yield* ps.readToStream(stream, group, { bufferSize: 2 })
        const a = yield* background(first)
        yield* a.received(2)
        yield* Effect.scoped(Effect.gen(function*() {
          const second = yield* ps.readToStream(stream, group, { bufferSize: 2 })
          const b = yield* background(second)
          yield* b.received(2)
          assert.deepStrictEqual([positions(a.events), positions(b.events)], [[[0n, 0], [1n, 0]], [[2n, 0], [3n, 0]]])
        }))
        // the second consumer left first: 2 and 3 wait for a retry (the first has no room)
        yield* infoUntil(stream, group, (info) => info.retryBufferCount === 2)
      }))
      // then the first: 0 and 1 go before them, as a real node's StreamBuffer.AddRetry puts each
      // retry before the first of a higher position (first in, first out would give 2, 3, 0, 1)
      yield* infoUntil(stream, group, (info) => info.retryBufferCount === 4)
      const again = yield* Effect.scoped(Effect.flatMap(ps.readToStream(stream, group, { bufferSize: 4 }), (sub) =>
        take(sub, 4, (e) => sub.ack(e))))
      assert.deepStrictEqual(positions(again), [[0n, 1], [1n, 1], [2n, 1], [3n, 1]])
    }))

  it.effect("closing the scope sends the acks that wait, the node honours them, and the close does not wait for the node to end the call", () =>
    Effect.gen(function*() {
      const { ps, streams, stream, group } = yield* setup(5)
      const closing = yield* Effect.scoped(Effect.gen(function*() {
        // acks wait for the scope to close: the batch is larger than the events and the delay long
        const sub = yield* ps.readToStream(stream, group, { bufferSize: 5, ackBatchSize: 100, ackDelay: "10 seconds" })
        const run = yield* background(sub)
        yield* run.received(5)
        yield* sub.ack(run.events)
        assert.strictEqual((yield* ps.getInfoToStream(stream, group)).totalInFlightMessages, 5)
        return Date.now()
      }))
      const closeMs = Date.now() - closing
      // the node keeps a half-closed call open, as a real one does: a close that waited for it to
      // end the call would take the whole bound (2 s)
      assert.isBelow(closeMs, 500)
      const info = yield* infoUntil(stream, group, (i) => i.connections.length === 0)
      // acked: nothing went back for a retry, and the next consumer gets the next event
      assert.strictEqual(info.retryBufferCount, 0)
      yield* streams.append(stream, newEvents(1), { currentVersion: 4n })
      const next = yield* Effect.scoped(Effect.flatMap(ps.readToStream(stream, group, { bufferSize: 1 }), (sub) =>
        take(sub, 1, (e) => sub.ack(e))))
      assert.deepStrictEqual(positions(next), [[5n, 0]])
    }))

  it.effect("a run that acked nothing lately is closed at once; acks sent on a run's call at its end are honoured", () =>
    Effect.gen(function*() {
      const { ps, stream, group } = yield* setup(3)
      yield* Effect.scoped(Effect.gen(function*() {
        const sub = yield* ps.readToStream(stream, group, { bufferSize: 3, ackDelay: 0 })
        // a run that acks nothing: its end cancels the call without waiting
        const started = Date.now()
        const firstRun = yield* take(sub, 1)
        assert.deepStrictEqual(positions(firstRun), [[0n, 0]])
        assert.isBelow(Date.now() - started, 500)
        // the next run gets the event again (the first call left), acks the three, and ends
        const second = yield* take(sub, 3, (e) => sub.ack(e))
        assert.deepStrictEqual(positions(second).map((p) => p[0]).sort(), [0n, 1n, 2n])
      }))
      const info = yield* infoUntil(stream, group, (i) => i.connections.length === 0)
      assert.strictEqual(info.retryBufferCount, 0)
      assert.strictEqual(info.totalInFlightMessages, 0)
    }))

  it.effect("replayParked with stopAt replays the parked events before that parked event number", () =>
    Effect.gen(function*() {
      const { ps, stream, group } = yield* setup(3)
      yield* Effect.scoped(Effect.gen(function*() {
        const sub = yield* ps.readToStream(stream, group, { bufferSize: 3, ackDelay: 0 })
        yield* take(sub, 3, (e) => sub.nack(e, "park", "later"))
        yield* infoUntil(stream, group, (info) => info.parkedMessageCount === 3n)
      }))
      yield* ps.replayParkedToStream(stream, group, { stopAt: 2 })
      const replayed = yield* Effect.scoped(Effect.flatMap(ps.readToStream(stream, group, { bufferSize: 2 }), (sub) =>
        take(sub, 2, (e) => sub.ack(e))))
      assert.deepStrictEqual(positions(replayed), [[0n, 0], [1n, 0]])
      assert.strictEqual((yield* ps.getInfoToStream(stream, group)).parkedMessageCount, 1n)
    }))

  it.effect("checkpoints follow maxCheckpointCount; a restarted group resumes after the last one", () =>
    Effect.gen(function*() {
      const { ps, streams, stream, group } = yield* setup(12, { minCheckpointCount: 1, maxCheckpointCount: 5, checkpointAfter: 60_000 })
      yield* Effect.scoped(Effect.gen(function*() {
        const sub = yield* ps.readToStream(stream, group, { bufferSize: 7, ackDelay: 0 })
        yield* take(sub, 7, (e) => sub.ack(e))
        // five acked: the checkpoint is event 4 (the last two acks wait for the next five)
        const info = yield* infoUntil(stream, group, (i) => i.lastCheckpointedEventPosition === "4")
        assert.strictEqual(info.lastCheckpointedEventPosition, "4")
      }))
      const checkpoints = yield* streams.get(`$persistentsubscription-${stream}::${group}-checkpoint`)
      assert.strictEqual(checkpoints.at(-1)!.type, "$SubscriptionCheckpoint")
      assert.strictEqual(JSON.parse(checkpoints.at(-1)!.dataText), "4")
      yield* ps.restartSubsystem()
      const resumed = yield* Effect.scoped(Effect.flatMap(ps.readToStream(stream, group, { bufferSize: 1 }), (sub) =>
        take(sub, 1, (e) => sub.ack(e))))
      assert.deepStrictEqual(positions(resumed), [[5n, 0]])
    }))

  it.effect("checkpointAfter: a checkpoint once that long passed with at least minCheckpointCount processed", () =>
    Effect.gen(function*() {
      const { ps, stream, group } = yield* setup(3, { minCheckpointCount: 3, maxCheckpointCount: 1000, checkpointAfter: 50 })
      yield* Effect.scoped(Effect.gen(function*() {
        const sub = yield* ps.readToStream(stream, group, { bufferSize: 3, ackDelay: 0 })
        const run = yield* background(sub)
        yield* run.received(3)
        yield* sub.ack(run.events.slice(0, 2))
        // two processed: below minCheckpointCount, no checkpoint however long it waits
        yield* Effect.sleep(Duration.millis(150))
        assert.strictEqual((yield* ps.getInfoToStream(stream, group)).lastCheckpointedEventPosition, "")
        yield* sub.ack(run.events[2]!)
        yield* infoUntil(stream, group, (i) => i.lastCheckpointedEventPosition === "2")
      }))
    }))

  it.effect("round-robin over three consumers spreads the events evenly", () =>
    Effect.gen(function*() {
      const { ps, streams, stream, group } = yield* setup(0, { consumerStrategy: "RoundRobin" })
      const got: Array<Array<bigint>> = [[], [], []]
      const fibers = yield* Effect.forEach([0, 1, 2], (i) =>
        Effect.forkChild(Effect.scoped(Effect.flatMap(ps.readToStream(stream, group, { bufferSize: 10 }), (sub) =>
          take(sub, 10, (e) => {
            got[i]!.push(e.streamPosition)
            return sub.ack(e)
          })))))
      yield* infoUntil(stream, group, (info) => info.connections.length === 3)
      yield* streams.append(stream, newEvents(30), { currentVersion: "no_stream" })
      yield* Effect.forEach(fibers, Fiber.join)
      assert.deepStrictEqual(got.map((g) => g.length), [10, 10, 10])
      assert.strictEqual(new Set(got.flat()).size, 30)
    }))

  it.effect("pinned keeps each stream on one consumer ($all group filtered by stream prefix)", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const streams = yield* Streams.Streams
      const prefix = uniqueStream("pin")
      const group = uniqueStream("g")
      yield* ps.createToAll(group, {
        from: "end",
        filterInclude: `${prefix}-.*`,
        filterByStreamName: true,
        settings: { consumerStrategy: "Pinned", messageTimeout: 10_000 }
      })
      const got: Array<Array<string>> = [[], [], []]
      const fibers = yield* Effect.forEach([0, 1, 2], (i) =>
        Effect.forkChild(Effect.scoped(Effect.flatMap(ps.readToAll(group, { bufferSize: 50 }), (sub) =>
          sub.events.pipe(
            Stream.tap((e) => {
              got[i]!.push(e.streamName)
              return sub.ack(e)
            }),
            Stream.runDrain
          )))))
      yield* infoUntil({ all: true }, group, (info) => info.connections.length === 3)
      const names = [0, 1, 2, 3, 4, 5].map((k) => `${prefix}-${k}`)
      for (let round = 0; round < 3; round++) {
        for (const name of names) yield* streams.append(name, newEvents(1), { currentVersion: "any" })
      }
      yield* Effect.gen(function*() {
        while (got.flat().length < 18) yield* Effect.sleep(Duration.millis(10))
      }).pipe(Effect.timeout("5 seconds"))
      yield* Effect.forEach(fibers, Fiber.interrupt)
      assert.strictEqual(got.flat().length, 18)
      for (const name of names) {
        const holders = got.filter((g) => g.includes(name))
        assert.strictEqual(holders.length, 1, `${name} went to ${holders.length} consumers`)
      }
    }))

  it.effect("dispatch-to-single fills one consumer up to its buffer before the next", () =>
    Effect.gen(function*() {
      const { ps, streams, stream, group } = yield* setup(0, { consumerStrategy: "DispatchToSingle" })
      const got: Array<Array<bigint>> = [[], []]
      const fibers = yield* Effect.forEach([0, 1], (i) =>
        Effect.forkChild(Effect.scoped(Effect.flatMap(ps.readToStream(stream, group, { bufferSize: 5 }), (sub) =>
          // never acked: each consumer keeps what it got in flight
          Stream.runForEach(sub.events, (e) => Effect.sync(() => got[i]!.push(e.streamPosition)))))))
      yield* infoUntil(stream, group, (info) => info.connections.length === 2)
      yield* streams.append(stream, newEvents(7), { currentVersion: "no_stream" })
      yield* infoUntil(stream, group, (info) => info.totalInFlightMessages === 7)
      yield* Effect.gen(function*() {
        while (got.flat().length < 7) yield* Effect.sleep(Duration.millis(5))
      }).pipe(Effect.timeout("5 seconds"))
      // what each had before they leave (leaving hands the events in flight to the other)
      const [a, b] = [[...got[0]!], [...got[1]!]]
      yield* Effect.forEach(fibers, Fiber.interrupt)
      const [full, rest] = a.length === 5 ? [a, b] : [b, a]
      assert.deepStrictEqual(full, [0n, 1n, 2n, 3n, 4n])
      assert.deepStrictEqual(rest, [5n, 6n])
    }))

  it.effect("pinned-by-correlation keeps each $correlationId on one consumer", () =>
    Effect.gen(function*() {
      const { ps, streams, stream, group } = yield* setup(0, { consumerStrategy: "PinnedByCorrelation" })
      const got: Array<Array<string>> = [[], [], []]
      const fibers = yield* Effect.forEach([0, 1, 2], (i) =>
        Effect.forkChild(Effect.scoped(Effect.flatMap(ps.readToStream(stream, group, { bufferSize: 50 }), (sub) =>
          sub.events.pipe(
            Stream.tap((e) => {
              got[i]!.push((JSON.parse(new TextDecoder().decode(e.metadata)) as { $correlationId: string }).$correlationId)
              return sub.ack(e)
            }),
            Stream.runDrain
          )))))
      yield* infoUntil(stream, group, (info) => info.connections.length === 3)
      const correlations = ["c0", "c1", "c2", "c3", "c4", "c5"]
      const events = [0, 1, 2].flatMap(() =>
        correlations.map((c) => new NewEvent({ type: "e", data: "{}", metadata: JSON.stringify({ $correlationId: c }) }))
      )
      yield* streams.append(stream, events, { currentVersion: "no_stream" })
      yield* Effect.gen(function*() {
        while (got.flat().length < 18) yield* Effect.sleep(Duration.millis(5))
      }).pipe(Effect.timeout("5 seconds"))
      yield* Effect.forEach(fibers, Fiber.interrupt)
      for (const c of correlations) {
        const holders = got.filter((g) => g.includes(c))
        assert.strictEqual(holders.length, 1, `${c} went to ${holders.length} consumers`)
        assert.strictEqual(holders[0]!.filter((x) => x === c).length, 3)
      }
    }))

  it.effect("readToAll delivers the events of $all (from a position), acked", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      const streams = yield* Streams.Streams
      const stream = uniqueStream("ps-all")
      const position = yield* streams.append(stream, newEvents(2), { currentVersion: "no_stream" })
      const group = uniqueStream("g")
      yield* ps.createToAll(group, { from: position, filterInclude: `${stream}`, filterByStreamName: true })
      const events = yield* Effect.scoped(Effect.flatMap(ps.readToAll(group, { bufferSize: 1 }), (sub) =>
        take(sub, 1, (e) => sub.ack(e))))
      assert.deepStrictEqual(events.map((e) => [e.streamName, e.streamPosition, e.commitPosition]), [[stream, 1n, position]])
    }))

  it.effect("maxSubscriberCount: one consumer too many gets MaximumSubscribersReached", () =>
    Effect.gen(function*() {
      const { ps, stream, group } = yield* setup(0, { maxSubscriberCount: 1 })
      const first = yield* Effect.forkChild(Effect.scoped(Effect.flatMap(ps.readToStream(stream, group), (sub) => Stream.runDrain(sub.events))))
      yield* infoUntil(stream, group, (info) => info.connections.length === 1)
      const error = yield* Effect.scoped(Effect.flatMap(ps.readToStream(stream, group), (sub) => Effect.flip(Stream.runDrain(sub.events))))
      assert.strictEqual(error._tag, "MaximumSubscribersReached")
      yield* Fiber.interrupt(first)
    }))

  it.effect("update, delete and restartSubsystem drop the connected consumers with SubscriptionDropped (with no reconnect allowed); a missing group is SubscriptionNotFound", () =>
    Effect.gen(function*() {
      const { ps, stream, group } = yield* setup(0)
      const run = Effect.scoped(Effect.flatMap(ps.readToStream(stream, group, { resumeSchedule: Schedule.recurs(0) }), (sub) => Effect.flip(Stream.runDrain(sub.events))))
      const updated = yield* Effect.forkChild(run)
      yield* infoUntil(stream, group, (info) => info.connections.length === 1)
      yield* ps.updateToStream(stream, group, { settings: { maxRetryCount: 3 } })
      assert.strictEqual((yield* Fiber.join(updated))._tag, "SubscriptionDropped")
      const deleted = yield* Effect.forkChild(run)
      yield* infoUntil(stream, group, (info) => info.connections.length === 1)
      yield* ps.deleteToStream(stream, group)
      assert.strictEqual((yield* Fiber.join(deleted))._tag, "SubscriptionDropped")
      const missing = yield* run
      assert.strictEqual(missing._tag, "SubscriptionNotFound")
      // restarting the subsystem drops the consumers too
      yield* ps.createToStream(stream, group)
      const restarted = yield* Effect.forkChild(run)
      yield* infoUntil(stream, group, (info) => info.connections.length === 1)
      yield* ps.restartSubsystem()
      assert.strictEqual((yield* Fiber.join(restarted))._tag, "SubscriptionDropped")
    }))

  it.effect("by default a dropped consumer connects again (update, restartSubsystem), logged; a deleted group ends it with SubscriptionNotFound", () =>
    Effect.gen(function*() {
      const { ps, stream, group } = yield* setup(0)
      const log = recoveryLog()
      const streams = yield* Streams.Streams
      const received: Array<RecordedEvent> = []
      const consumer = yield* Effect.forkChild(log.capture(Effect.scoped(Effect.flatMap(ps.readToStream(stream, group), (sub) =>
        sub.events.pipe(
          Stream.tap((e) => Effect.andThen(sub.ack(e), Effect.sync(() => received.push(e)))),
          Stream.runDrain,
          Effect.flip
        )))))
      const connected = (n: number) => infoUntil(stream, group, (info) => info.connections.length === 1 && info.totalItems >= BigInt(n))
      yield* connected(0)
      yield* ps.updateToStream(stream, group, { settings: { maxRetryCount: 3 } })
      yield* Effect.sleep("50 millis")
      yield* connected(0)
      yield* ps.restartSubsystem()
      yield* Effect.sleep("50 millis")
      yield* connected(0)
      yield* streams.append(stream, newEvents(2), { currentVersion: "any" })
      yield* eventually("the events after the reconnects", () => received.length >= 2)
      const reconnects = log.of("PersistentSubscriptions.readToStream", "reconnect")
      assert.isAtLeast(reconnects.length, 2)
      assert.strictEqual(reconnects[0]!.annotations["cause"], "SubscriptionDropped")
      assert.strictEqual(reconnects[0]!.annotations["group"], group)
      yield* ps.deleteToStream(stream, group)
      assert.strictEqual((yield* Fiber.join(consumer))._tag, "SubscriptionNotFound")
    }))

  it.effect("GetInfo shows the connections with their in-flight messages, and the group's counters", () =>
    Effect.gen(function*() {
      const { ps, stream, group } = yield* setup(5)
      yield* Effect.scoped(Effect.gen(function*() {
        const sub = yield* ps.readToStream(stream, group, { bufferSize: 4 })
        const run = yield* background(sub)
        yield* run.received(4)
        const info = yield* infoUntil(stream, group, (i) => i.connections.length === 1)
        assert.strictEqual(info.connections[0]!.inFlightMessages, 4)
        assert.strictEqual(info.connections[0]!.availableSlots, 0)
        assert.strictEqual(info.connections[0]!.totalItems, 4n)
        assert.strictEqual(info.totalInFlightMessages, 4)
        assert.strictEqual(info.totalItems, 4n)
        assert.strictEqual(info.lastKnownEventPosition, "4")
        yield* sub.ack(run.events)
        yield* run.received(5)
        yield* sub.ack(run.events[4]!)
      }))
    }))

  it.effect("bad input is an InvalidArgument before any call", () =>
    Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      yield* Effect.scoped(Effect.gen(function*() {
        for (
          const made of [
            ps.readToStream("s", ""),
            ps.readToStream("", "g"),
            ps.readToStream("$all", "g"),
            ps.readToAll(""),
            ps.readToStream("s", "g", { bufferSize: 0 }),
            ps.readToStream("s", "g", { bufferSize: 1.5 }),
            ps.readToStream("s", "g", { ackBatchSize: 100_000 })
          ]
        ) {
          assert.strictEqual((yield* Effect.flip(made))._tag, "InvalidArgument")
        }
        const sub = yield* ps.readToStream("s", "g")
        assert.strictEqual((yield* Effect.flip(sub.ack("not-a-uuid")))._tag, "InvalidArgument")
        assert.strictEqual(
          (yield* Effect.flip(sub.nack("00000000-0000-0000-0000-000000000000", "explode" as "park")))._tag,
          "InvalidArgument"
        )
      }))
    }))
})
