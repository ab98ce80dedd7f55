/**
 * The projector against a real PostgreSQL (Debian's, started by test/support/postgres.ts in a
 * temporary folder on a loopback port) and the embedded node over real gRPC.
 *
 * The chaos test appends 10,000 events to 20 streams (half before, half while it runs) and
 * interrupts the projector at random moments 300 times (delays of 0–40 ms, one event or a batch
 * of up to 50 per transaction, alternately), restarting it each time; then it lets it finish.
 * The read model must equal the one a second projector builds in one uninterrupted run, and the
 * journal must hold each event exactly once. On the loaded 2-core machine it takes 15–40 s
 * (timeout 180 s).
 */
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as SqlClient from "effect/sql/SqlClient"
import { type RecordedEvent, Streams } from "../../src/index.ts"
import { Projector } from "../../src/eventsourcing/index.ts"
import { newEvents, nodeWithClient, uniqueStream } from "../client/_support.ts"
import { postgresLayer } from "../support/postgres.ts"
import { readModel } from "./_readModel.ts"

const TestLayer = Layer.mergeAll(nodeWithClient(), postgresLayer().pipe(Layer.orDie))

/** A small seeded generator (mulberry32), so that a failing run can be replayed. */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** Waits until the projector's recorded position reaches `target`. */
const reaches = (store: Projector.Store, target: bigint, timeoutMs = 60_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMs
    while (true) {
      const position = yield* Projector.position(store)
      if (position !== undefined && position >= target) return
      if (Date.now() > deadline) return yield* Effect.die(new Error(`the projector stayed at ${position}, expected ${target}`))
      yield* Effect.sleep("20 millis")
    }
  })

layer(TestLayer, { excludeTestServices: true, timeout: 240_000 })("Projector into PostgreSQL", (it) => {
  it.effect("projects a stream, records its position, resumes after it; a second application of a position rolls back", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const sql = yield* SqlClient.SqlClient
      const stream = uniqueStream("proj")
      const model = readModel(`m_${stream.replace(/-/g, "_")}`)
      yield* model.setup
      yield* streams.append(stream, newEvents(100), { currentVersion: "no_stream" })
      const store = { name: stream }
      const run = Projector.run({ subscription: Projector.stream(stream), handler: model.handler, store })
      let fiber = yield* Effect.forkChild(run)
      yield* reaches(store, 99n)
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(yield* model.journal, { applied: 100, distinct: 100 })
      // resumes after position 99
      yield* streams.append(stream, newEvents(10), { currentVersion: 99n })
      fiber = yield* Effect.forkChild(run)
      yield* reaches(store, 109n)
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(yield* model.journal, { applied: 110, distinct: 110 })
      const [row] = yield* model.totals
      assert.deepStrictEqual(row, { stream, events: 110, total: String(((99 * 100) / 2) + ((9 * 10) / 2)) })
      // one row per transaction, chained by `previous`
      const [count] = yield* sql.unsafe<{ n: string }>(`SELECT count(*)::text AS n FROM effect_esdb_checkpoints WHERE projection = $1`, [stream])
      assert.strictEqual(count!.n, "110")
      // the same position again, or a second successor of one checkpoint, is refused
      const again = yield* Effect.flip(
        sql.unsafe(`INSERT INTO effect_esdb_checkpoints (projection, position, previous) VALUES ($1, 109, 108)`, [stream])
      )
      assert.strictEqual(again._tag, "SqlError")
      const fork = yield* Effect.flip(
        sql.unsafe(`INSERT INTO effect_esdb_checkpoints (projection, position, previous) VALUES ($1, 200, 108)`, [stream])
      )
      assert.strictEqual(fork._tag, "SqlError")
    }), 60_000)

  it.effect("a handler that fails ends the projector with its typed error; the failed transaction left nothing; a restart goes on from there", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("fail")
      const model = readModel(`m_${stream.replace(/-/g, "_")}`)
      yield* model.setup
      yield* streams.append(stream, newEvents(100), { currentVersion: "no_stream" })
      const store = { name: stream }
      class Refused extends Error {
        readonly _tag = "Refused"
      }
      let failOn: number | undefined = 50
      const handler = (event: RecordedEvent) =>
        Effect.andThen(model.handler(event), () =>
          event.streamPosition === BigInt(failOn ?? -1) ? Effect.fail(new Refused()) : Effect.void)
      const error = yield* Effect.flip(
        Projector.run({ subscription: Projector.stream(stream), handler, store, batch: { size: 7, delay: "1 millis" } })
      )
      assert.instanceOf(error, Refused)
      const stopped = (yield* Projector.position(store)) ?? -1n
      assert.isBelow(Number(stopped), 50)
      assert.deepStrictEqual(yield* model.journal, { applied: Number(stopped) + 1, distinct: Number(stopped) + 1 })
      failOn = undefined
      const fiber = yield* Effect.forkChild(Projector.run({ subscription: Projector.stream(stream), handler, store }))
      yield* reaches(store, 99n)
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(yield* model.journal, { applied: 100, distinct: 100 })
    }), 60_000)

  it.effect("two instances of one projector started at once: one wins, each event is applied once", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const stream = uniqueStream("twin")
      const model = readModel(`m_${stream.replace(/-/g, "_")}`)
      yield* model.setup
      yield* streams.append(stream, newEvents(300), { currentVersion: "no_stream" })
      const store = { name: stream }
      const run = Projector.run({ subscription: Projector.stream(stream), handler: model.handler, store })
      const a = yield* Effect.forkChild(Effect.exit(run))
      const b = yield* Effect.forkChild(Effect.exit(run))
      yield* reaches(store, 299n)
      const ended = [a.pollUnsafe(), b.pollUnsafe()].filter((exit) => exit !== undefined)
      yield* Fiber.interrupt(a)
      yield* Fiber.interrupt(b)
      assert.isAtMost(ended.length, 1)
      assert.deepStrictEqual(yield* model.journal, { applied: 300, distinct: 300 })
    }), 60_000)

  it.effect("interrupted at random points 300 times during 10,000 events: the read model equals a one-run build, each event applied once", () =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const prefix = uniqueStream("chaos")
      const name = prefix.replace(/-/g, "_")
      const seed = Date.now() % 100_000
      const next = random(seed)
      const STREAMS = 20
      const append = (from: number, to: number) =>
        Effect.gen(function*() {
          let last = 0n
          for (let k = from; k < to; k++) {
            // 250 events per stream per call, written in 5 appends
            for (let j = 0; j < 5; j++) {
              last = yield* streams.append(`${prefix}-${k % STREAMS}`, newEvents(50), { currentVersion: "any" })
            }
          }
          return last
        })
      yield* append(0, 20) // 5,000 events
      const chaos = readModel(`c_${name}`)
      yield* chaos.setup
      const subscription = Projector.all({ filterInclude: `${prefix}-.*`, filterByStreamName: true })
      const store = { name: `chaos-${prefix}` }
      const writer = yield* Effect.forkChild(append(20, 40)) // 5,000 more while the projector is interrupted
      for (let n = 0; n < 300; n++) {
        const fiber = yield* Effect.forkChild(
          Projector.run({ subscription, handler: chaos.handler, store, batch: n % 2 === 0 ? undefined : { size: 50, delay: "5 millis" } })
        )
        yield* Effect.sleep(Math.floor(next() * 40))
        assert.isUndefined(fiber.pollUnsafe(), `the projector ended (seed ${seed})`)
        yield* Fiber.interrupt(fiber)
      }
      const last = yield* Fiber.join(writer)
      const final = yield* Effect.forkChild(Projector.run({ subscription, handler: chaos.handler, store }))
      yield* reaches(store, last)
      yield* Fiber.interrupt(final)

      // the same read model built in one run
      const once = readModel(`o_${name}`)
      yield* once.setup
      const onceStore = { name: `once-${prefix}` }
      const single = yield* Effect.forkChild(
        Projector.run({ subscription, handler: once.handler, store: onceStore, batch: { size: 200, delay: "10 millis" } })
      )
      yield* reaches(onceStore, last)
      yield* Fiber.interrupt(single)

      assert.deepStrictEqual(yield* chaos.journal, { applied: 10_000, distinct: 10_000 }, `seed ${seed}`)
      const built = yield* once.totals
      assert.strictEqual(built.length, STREAMS)
      assert.deepStrictEqual(yield* chaos.totals, built, `seed ${seed}`)
      assert.strictEqual(built.reduce((sum, row) => sum + row.events, 0), 10_000)
    }), 180_000)
})
