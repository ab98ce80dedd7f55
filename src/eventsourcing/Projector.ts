/**
 * Projections into SQL, exactly once: a catch-up subscription whose events are applied by a
 * handler running SQL in one transaction that also records the position in a checkpoint table
 * under uniqueness constraints, as the seed's exactly-once how-to describes.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import * as Stream from "effect/Stream"
import type { RecordedEvent } from "../index.ts"
import { Streams } from "../index.ts"
import type { DecodeOptions, EventCodec, Typed } from "./EventCodec.ts"
import type { EventDecodeError } from "./EventDecodeError.ts"

/**
 * What a projector subscribes to: `$all` (with the client's filters) or one stream.
 *
 * @since 0.1.0
 * @category models
 */
export type Subscription =
  | { readonly _tag: "All"; readonly options: Omit<Streams.SubscribeToAllOptions, "commitPosition" | "fromEnd"> }
  | { readonly _tag: "Stream"; readonly stream: string; readonly options: Omit<Streams.SubscribeToStreamOptions, "streamPosition" | "fromEnd"> }

/**
 * A subscription to `$all`; the position recorded is the commit position.
 *
 * @since 0.1.0
 * @category constructors
 */
export const all = (options: Omit<Streams.SubscribeToAllOptions, "commitPosition" | "fromEnd"> = {}): Subscription => ({
  _tag: "All",
  options
})

/**
 * A subscription to one stream; the position recorded is the stream position.
 *
 * @since 0.1.0
 * @category constructors
 */
export const stream = (
  name: string,
  options: Omit<Streams.SubscribeToStreamOptions, "streamPosition" | "fromEnd"> = {}
): Subscription => ({ _tag: "Stream", stream: name, options })

/**
 * Where a projector records its positions: its name, and the checkpoint table (default
 * `effect_esdb_checkpoints`, created when missing).
 *
 * Each transaction inserts one row `(projection, position, previous)`: the primary key
 * `(projection, position)` refuses an event applied twice, and the unique `(projection,
 * previous)` refuses a second transaction continuing from the same checkpoint (two projector
 * instances started at once), so either transaction rolls back and nothing is applied twice.
 *
 * @since 0.1.0
 * @category models
 */
export interface Store {
  readonly name: string
  readonly table?: string | undefined
}

/**
 * Batching: up to `size` events per transaction, waiting at most `delay` for a batch to fill.
 *
 * @since 0.1.0
 * @category models
 */
export interface Batch {
  readonly size: number
  readonly delay: Duration.Input
}

/**
 * The options of {@link run}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<E, R> {
  readonly subscription: Subscription
  /** Applies one event; its SQL runs in the projector's transaction. */
  readonly handler: (event: RecordedEvent) => Effect.Effect<void, E, R>
  readonly store: Store
  /** Several events per transaction (default: one event per transaction). */
  readonly batch?: Batch | undefined
}

const tableName = (store: Store): string => {
  const table = store.table ?? "effect_esdb_checkpoints"
  if (!/^[a-z_][a-z0-9_]*$/i.test(table)) throw new Error(`Projector: invalid checkpoint table name ${table}`)
  return table
}

/**
 * Creates the checkpoint table when missing ({@link run} and {@link position} do it first).
 * Two sessions creating it at once may collide in PostgreSQL's catalog; the loser tries again.
 *
 * @since 0.1.0
 * @category checkpoints
 */
export const setup = (store: Store): Effect.Effect<void, SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const table = tableName(store)
    yield* sql.unsafe(
      `CREATE TABLE IF NOT EXISTS ${table} (
        projection text NOT NULL,
        position numeric(20, 0) NOT NULL,
        previous numeric(20, 0) NOT NULL,
        PRIMARY KEY (projection, position),
        UNIQUE (projection, previous)
      )`
    ).pipe(Effect.retry({ times: 3 }))
  })

/**
 * The last position a projector recorded, or `undefined` when it has applied nothing yet
 * (the checkpoint table is created when missing).
 *
 * @since 0.1.0
 * @category checkpoints
 */
export const position = (store: Store): Effect.Effect<bigint | undefined, SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* setup(store)
    const rows = yield* sql.unsafe<{ readonly position: string | null }>(
      `SELECT max(position)::text AS position FROM ${tableName(store)} WHERE projection = $1`,
      [store.name]
    )
    const value = rows[0]?.position
    return value === null || value === undefined ? undefined : BigInt(value)
  })

/**
 * A handler of typed events for {@link run}: each recorded event is decoded with the codec
 * (an event that does not decode fails the projector with {@link EventDecodeError}; unknown
 * types are skipped with `unknownTypes: "skip"`) and handed to `handler`.
 *
 * @since 0.1.0
 * @category handlers
 */
export const typed = <Event extends { readonly _tag: string }, Meta, E, R>(
  codec: EventCodec<Event, Meta>,
  handler: (event: Typed<Event, Meta>) => Effect.Effect<void, E, R>,
  options?: DecodeOptions
) =>
(recorded: RecordedEvent): Effect.Effect<void, E | EventDecodeError, R> =>
  Effect.flatMap(codec.decodeOption(recorded, options), (decoded) => (decoded === undefined ? Effect.void : handler(decoded)))

const NONE = -1n

const positionOf = (subscription: Subscription, event: RecordedEvent): bigint =>
  subscription._tag === "All" ? (event.commitPosition ?? 0n) : event.streamPosition

/**
 * Runs a projector for ever: resumes from the last recorded position and applies each event
 * (or each batch) in one SQL transaction with its checkpoint row, so an interrupted or crashed
 * projector restarted any number of times applies each event exactly once. The subscription
 * never ends by itself (it resumes after node restarts and leader changes under its
 * `resumeSchedule`); the projector ends with the handler's error, a SQL error, or the
 * subscription's unrecoverable failure.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SqlClient } from "effect/sql"
 * import { Projector } from "effect-esdb/eventsourcing"
 *
 * const program = Effect.gen(function*() {
 *   const sql = yield* SqlClient.SqlClient
 *   yield* Projector.run({
 *     subscription: Projector.all({ filterInclude: "order-", filterByStreamName: true }),
 *     store: { name: "orders" },
 *     batch: { size: 100, delay: "50 millis" },
 *     handler: (event) => sql`INSERT INTO orders_seen (id) VALUES (${event.id})`.pipe(Effect.asVoid)
 *   })
 * })
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const run = <E, R>(
  options: Options<E, R>
): Effect.Effect<never, E | SqlError | Streams.ReadAllError | Streams.SubscribeToStreamError, R | SqlClient.SqlClient | Streams.Streams> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const streams = yield* Streams.Streams
    const { store, subscription } = options
    const table = tableName(store)
    const start = yield* position(store)
    let previous = start ?? NONE
    const items: Stream.Stream<{ readonly _tag: string }, Streams.ReadAllError | Streams.SubscribeToStreamError> =
      subscription._tag === "All"
        ? streams.subscribeToAll(start === undefined ? subscription.options : { ...subscription.options, commitPosition: start })
        : streams.subscribeToStream(
          subscription.stream,
          start === undefined ? subscription.options : { ...subscription.options, streamPosition: start }
        )
    const events = Stream.filter(items, (item): item is RecordedEvent => item._tag === "RecordedEvent")

    const apply = (batch: ReadonlyArray<RecordedEvent>) =>
      Effect.gen(function*() {
        for (const event of batch) yield* options.handler(event)
        const last = positionOf(subscription, batch[batch.length - 1]!)
        yield* sql.unsafe(
          `INSERT INTO ${table} (projection, position, previous) VALUES ($1, $2, $3)`,
          [store.name, last.toString(), previous.toString()]
        )
        return last
      }).pipe(
        sql.withTransaction,
        // the next batch continues from this one only once it committed
        Effect.tap((last) => Effect.sync(() => (previous = last)))
      )

    const batched = options.batch === undefined
      ? Stream.map(events, (event) => [event] as ReadonlyArray<RecordedEvent>)
      : Stream.groupedWithin(events, options.batch.size, options.batch.delay) as Stream.Stream<
        ReadonlyArray<RecordedEvent>,
        Streams.ReadAllError | Streams.SubscribeToStreamError
      >
    yield* Stream.runForEach(batched, (batch) => (batch.length === 0 ? Effect.void : apply(batch)))
    return yield* Effect.never
  })
