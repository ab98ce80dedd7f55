/**
 * How fast the Projector (effect-esdb/eventsourcing) applies events into SQL: events per second
 * from a catch-up subscription to `$all` (filtered to the benchmark's streams) into a read model
 * (an upsert and an insert per event) with the checkpoint row in the same transaction, one event
 * per transaction and batched.
 *
 *   npm run bench:projector [-- --events 5000 --samples 3]
 *
 * Targets: Debian's PostgreSQL started in a temporary folder with its default, durable settings
 * (fsync on, synchronous_commit on); the same with fsync and synchronous_commit off (the
 * projector's and the driver's own cost, without the disk's flush latency); and PGlite in memory behind its socket server (the
 * examples' embedded default). The node is the embedded node, in-process. Prints a Markdown
 * table (median of the samples, [min–max]).
 */
import { randomUUID } from "node:crypto"
import { cpus, totalmem } from "node:os"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import type * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import { pglite } from "../examples/eventsourcing/database.ts"
import { Projector } from "../src/eventsourcing/index.ts"
import { EventStoreDB, NewEvent, Streams } from "../src/index.ts"
import { EmbeddedNode } from "../src/server/EmbeddedNode.ts"
import { readModel } from "../test/eventsourcing/_readModel.ts"
import { pgLayer, startPostgres } from "../test/support/postgres.ts"

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const EVENTS = arg("events", 5_000)
const SAMPLES = arg("samples", 3)

const modes: ReadonlyArray<{ readonly label: string; readonly batch: Projector.Batch | undefined }> = [
  { label: "1 event per transaction", batch: undefined },
  { label: "batched (≤ 100 events, 10 ms)", batch: { size: 100, delay: "10 millis" } }
]

const sample = (prefix: string, last: bigint, batch: Projector.Batch | undefined) =>
  Effect.gen(function*() {
    const name = `b_${randomUUID().replace(/-/g, "").slice(0, 12)}`
    const model = readModel(name)
    yield* model.setup
    const store = { name }
    yield* Projector.setup(store)
    const started = performance.now()
    const fiber = yield* Effect.forkChild(
      Projector.run({
        subscription: Projector.all({ filterInclude: `${prefix}.*`, filterByStreamName: true }),
        handler: model.handler,
        store,
        batch
      })
    )
    while (((yield* Projector.position(store)) ?? -1n) < last) yield* Effect.sleep("5 millis")
    const seconds = (performance.now() - started) / 1000
    yield* Fiber.interrupt(fiber)
    const journal = yield* model.journal
    if (journal.applied !== EVENTS || journal.distinct !== EVENTS) return yield* Effect.die(new Error(`applied ${journal.applied}`))
    return EVENTS / seconds
  })

const target = (label: string, database: Layer.Layer<SqlClient.SqlClient, SqlError>) =>
  Effect.gen(function*() {
    const streams = yield* Streams.Streams
    const prefix = `bench${randomUUID().slice(0, 8)}-`
    let last = 0n
    for (let i = 0; i < EVENTS; i += 500) {
      const n = Math.min(500, EVENTS - i)
      last = yield* streams.append(
        `${prefix}${(i / 500) % 10}`,
        Array.from({ length: n }, (_, k) => NewEvent.json("Benchmarked", { i: i + k })),
        { currentVersion: "any" }
      )
    }
    const rows: Array<string> = []
    for (const mode of modes) {
      const rates: Array<number> = []
      yield* sample(prefix, last, mode.batch).pipe(Effect.provide(database)) // warm-up
      for (let s = 0; s < SAMPLES; s++) rates.push(yield* sample(prefix, last, mode.batch).pipe(Effect.provide(database)))
      rates.sort((a, b) => a - b)
      const median = rates[Math.floor(rates.length / 2)]!
      const fmt = (n: number) => Math.round(n).toLocaleString("en-US")
      rows.push(`| ${label} | ${mode.label} | ${fmt(median)} [${fmt(rates[0]!)}–${fmt(rates[rates.length - 1]!)}] |`)
      console.error(rows[rows.length - 1])
    }
    return rows
  })

const main = Effect.gen(function*() {
  const server = yield* Effect.acquireRelease(Effect.promise(() => startPostgres({ durable: true })), (s) => Effect.sync(() => s.stop()))
  const pg = Layer.fresh(pgLayer(server))
  const fast = yield* Effect.acquireRelease(Effect.promise(() => startPostgres({ durable: false })), (s) => Effect.sync(() => s.stop()))
  const rows = [
    ...(yield* target("PostgreSQL 15 (Debian, durable defaults)", pg)),
    ...(yield* target("PostgreSQL 15 (fsync and synchronous_commit off)", Layer.fresh(pgLayer(fast)))),
    ...(yield* target("PGlite 0.5 in memory, socket server", Layer.fresh(pglite)))
  ]
  console.log(`${EVENTS.toLocaleString("en-US")} events, median of ${SAMPLES} samples after a warm-up; ${cpus().length} vCPUs (${cpus()[0]?.model.trim()}), ${Math.round(totalmem() / 2 ** 30)} GB, Node ${process.version}; node in-process.\n`)
  console.log("| database | transactions | events/s |")
  console.log("|---|---|---:|")
  for (const row of rows) console.log(row)
})

const NodeLayer = EmbeddedNode.layer({ insecure: true })
const ClientLayer = Layer.unwrap(Effect.map(EmbeddedNode, (node) => EventStoreDB.layer({ connectionString: node.connectionString })))

Effect.runPromise(Effect.scoped(main).pipe(Effect.provide(ClientLayer.pipe(Layer.provideMerge(NodeLayer))))).then(
  () => process.exit(0),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
