/**
 * Every Streams capability the README shows, as one program: run by test/examples.test.ts
 * against an embedded node (with standard projections, for `$et-` streams), so the README's
 * examples are known to compile and work.
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as Stream from "effect/Stream"
import { Filter, NewEvent, type RecordedEvent, Streams } from "../src/index.ts"

/** What the tour observed, for the test to check. */
export interface TourResult {
  readonly conflict: string
  readonly idempotentSamePosition: boolean
  readonly missing: ReadonlyArray<RecordedEvent>
  readonly readBackEqual: boolean
  readonly version: bigint | "no_stream"
  readonly headAtLeastLastAppend: boolean
  readonly deletionsHavePositions: boolean
  readonly pageTypes: ReadonlyArray<string>
  readonly linkedTypes: ReadonlyArray<string>
  readonly subscribed: ReadonlyArray<string>
  readonly metadataMaxCount: number | undefined
  readonly afterTombstone: string
}

export const tour = (suffix: string) =>
  Effect.gen(function*() {
    const streams = yield* Streams.Streams
    const order = `order-${suffix}`
    const gone = `order-gone-${suffix}`
    const created = `OrderCreated${suffix.replace(/-/g, "")}`

    // Append, with optimistic concurrency and idempotency
    const event1 = new NewEvent({ type: created, data: '{"order_number":"123456"}' })
    const event2 = NewEvent.json("OrderSubmitted", { at: Date.now() })
    const event3 = NewEvent.binary("Attachment", new Uint8Array([1, 2, 3]))
    const position1 = yield* streams.append(order, [event1, event2], { currentVersion: "no_stream" })
    const position2 = yield* streams.append(order, event3, { currentVersion: 1n })
    yield* streams.append(order, NewEvent.json("Noted", {}), { currentVersion: "any" })
    const again = yield* streams.append(order, [event1, event2], { currentVersion: "no_stream" })

    // a concurrency conflict, handled with a typed handler
    const conflict = yield* streams.append(order, event3, { currentVersion: 0n }).pipe(
      Effect.map(() => "no conflict"),
      Effect.catchTag("WrongCurrentVersion", (e) => Effect.succeed(`stream ${e.stream} is at ${e.actual}, not ${e.expected}`))
    )

    // Read a stream: lazily with backpressure, or into an array
    yield* Stream.runForEach(streams.read(order, { streamPosition: 1n, limit: 10 }), (e) =>
      Console.log(e.streamPosition, e.type, e.contentType))
    // `$et-<type>` is written by a system projection, asynchronously as on a real node: poll it
    const byType = streams.get(`$et-${created}`, { backwards: true, resolveLinks: true }).pipe(
      Effect.catchTag("NotFound", () => Effect.succeed<ReadonlyArray<RecordedEvent>>([]))
    )
    let linked = yield* byType
    for (let i = 0; i < 500 && linked.length === 0; i++) {
      yield* Effect.sleep("10 millis")
      linked = yield* byType
    }

    // a recorded event equals the new event it was appended from (id, type, data, metadata, content type)
    const [recorded1, , recorded3] = yield* streams.get(order, { limit: 3 })
    const readBackEqual = Equal.equals(recorded1, event1) && recorded3!.equals(event3) && !Equal.equals(recorded1, event2)

    // a missing stream fails with NotFound
    const missing = yield* streams.get(`no-such-stream-${suffix}`).pipe(
      Effect.catchTag("NotFound", () => Effect.succeed<ReadonlyArray<RecordedEvent>>([]))
    )

    // current version and commit position
    const version = yield* streams.getCurrentVersion(order)
    const head = yield* streams.getCommitPosition()

    // $all with filters
    const page = yield* Stream.runCollect(streams.readAll({ commitPosition: position1, limit: 2 }))
    yield* Stream.runDrain(streams.readAll({ backwards: true, limit: 10 }))
    yield* Stream.runDrain(streams.readAll({ filterInclude: [created, "OrderCancelled"], limit: 10 }))
    yield* Stream.runDrain(streams.readAll({ filterExclude: ["order-.*"], filterByStreamName: true, limit: 10 }))
    yield* Stream.runDrain(streams.readAll({ filterExclude: [], limit: 10 }))
    // the seed's constants: extend the default exclusion, or select system events only
    yield* Stream.runDrain(streams.readAll({ filterExclude: [...Filter.DEFAULT_EXCLUDE_FILTER, ".*Snapshot"], limit: 10 }))
    yield* Stream.runDrain(streams.readAll({ filterInclude: [Filter.ESDB_SYSTEM_EVENTS_REGEX], limit: 10 }))

    // catch-up subscriptions, until they go live
    const subscribed = yield* streams.subscribeToAll({
      commitPosition: position1,
      filterInclude: ["Order.*", "Attachment", "Noted"],
      includeCheckpoints: true,
      includeCaughtUp: true
    }).pipe(
      Stream.takeUntil((item) => item._tag === "CaughtUp"),
      Stream.filter((item): item is RecordedEvent => item._tag === "RecordedEvent"),
      Stream.filter((event) => event.streamName === order),
      Stream.map((event) => event.type),
      Stream.runCollect
    )
    yield* streams.subscribeToStream(order, { streamPosition: 1n, includeCaughtUp: true }).pipe(
      Stream.takeUntil((item) => item._tag === "CaughtUp"),
      Stream.runDrain
    )

    // stream metadata, with optimistic concurrency on the metastream
    yield* streams.setStreamMetadata(order, { $maxCount: 100, $maxAge: 86400, $acl: { $r: "$all" }, owner: "sales" })
    const { metadata, version: metaVersion } = yield* streams.getStreamMetadata(order)
    yield* streams.setStreamMetadata(order, { ...metadata, $maxCount: 50 }, { currentVersion: metaVersion })
    const updated = yield* streams.getStreamMetadata(order)

    // delete and tombstone
    const deletedAt = yield* streams.delete(order, { currentVersion: 3n })
    yield* streams.append(gone, NewEvent.json("Doomed", {}), { currentVersion: "no_stream" })
    const tombstonedAt = yield* streams.tombstone(gone, { currentVersion: "any" })
    const afterTombstone = yield* streams.get(gone).pipe(
      Effect.map(() => "readable"),
      Effect.catchTags({
        StreamDeleted: () => Effect.succeed("tombstoned"),
        NotFound: () => Effect.succeed("missing")
      })
    )

    return {
      conflict,
      idempotentSamePosition: again === position1,
      missing,
      readBackEqual,
      version,
      headAtLeastLastAppend: head >= position2,
      deletionsHavePositions: deletedAt > position2 && tombstonedAt > deletedAt,
      pageTypes: Array.from(page, (e) => e.type),
      linkedTypes: linked.map((e) => e.type),
      subscribed: Array.from(subscribed),
      metadataMaxCount: updated.metadata.$maxCount,
      afterTombstone
    } satisfies TourResult
  })
