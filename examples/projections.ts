/**
 * The README's projection examples, as one program: run by test/examples.test.ts against an
 * embedded node, so they are known to compile and work.
 */
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { NewEvent, Projections, Streams } from "../src/index.ts"

const OrderCount = Schema.Struct({ count: Schema.Number, total: Schema.Number })

export const projectionsTour = (suffix: string) =>
  Effect.gen(function*() {
    const projections = yield* Projections.Projections
    const streams = yield* Streams.Streams
    const category = `order${suffix.replace(/-/g, "")}`
    const name = `order-totals-${suffix}`
    const placed = (total: number) => new NewEvent({ type: "OrderPlaced", data: JSON.stringify({ total }) })
    yield* streams.append(`${category}-1`, [placed(10), placed(5)], { currentVersion: "any" })

    // create a continuous projection (created running), then wait until it has processed the end of $all
    const query = `fromCategory('${category}')
      .when({
        $init: function() { return { count: 0, total: 0 } },
        OrderPlaced: function(s, e) { s.count++; s.total += e.body.total; return s }
      })
      .outputState()`
    yield* projections.create(name, query, { emitEnabled: false })
    yield* projections.awaitIdle(name)

    // its state as JSON, or decoded with a Schema (ProjectionStateInvalid when it does not fit)
    const json = yield* projections.getState(name)
    const totals = yield* projections.getResult(name, { schema: OrderCount })

    // a duplicate name is ProjectionAlreadyExists
    const again = yield* projections.create(name, query).pipe(
      Effect.as("created"),
      Effect.catchTag("ProjectionAlreadyExists", () => Effect.succeed("exists"))
    )

    // statistics of one (status parsed), and every projection or those of one mode
    const details = yield* projections.getStatistics(name)
    const continuous = yield* projections.list({ mode: "continuous" })

    // a pipeline over the projection's result stream: the totals as they change
    const resultStream = `$projections-${name}-result`
    const latest = yield* streams.read(resultStream, { backwards: true, limit: 1n }).pipe(
      Stream.mapEffect((event) => event.decodeJson(OrderCount)),
      Stream.runHead
    )

    // disable (writes a checkpoint), enable (continues from it), abort (no checkpoint), reset (start over)
    yield* projections.disable(name)
    const stopped = (yield* projections.getStatistics(name)).state
    yield* streams.append(`${category}-2`, [placed(7)], { currentVersion: "any" })
    yield* projections.enable(name)
    yield* projections.awaitIdle(name, { schedule: Schedule.spaced("20 millis").pipe(Schedule.upTo({ duration: "10 seconds" })) })
    yield* projections.abort(name)
    yield* projections.enable(name)
    yield* projections.reset(name)
    const afterReset = yield* projections.awaitIdle(name)
    const resetTotals = yield* projections.getState(name, { schema: OrderCount })

    // update the query (emitEnabled unchanged unless given), restart the subsystem
    yield* projections.update(name, query.replace("s.count++;", "s.count += 2;"))
    yield* projections.reset(name)
    yield* projections.awaitIdle(name)
    const updated = yield* projections.getState(name, { schema: OrderCount })
    yield* projections.restartSubsystem()

    // a one-time projection (the node names it) and a transient one
    yield* projections.createOneTime(`fromAll().when({ $init: function() { return { n: 0 } }, OrderPlaced: function(s) { s.n++; return s } })`)
    yield* projections.createTransient(`peek-${suffix}`, query)

    // a faulted projection fails awaitIdle with its reason
    const faulty = `faulty-${suffix}`
    yield* projections.create(faulty, `fromCategory('${category}').when({ OrderPlaced: function() { throw new Error("no totals") } })`)
    const fault = yield* projections.awaitIdle(faulty).pipe(
      Effect.as("idle"),
      Effect.catchTag("ProjectionFaulted", (e) => Effect.succeed(e.reason))
    )

    // delete: only when stopped or faulted (ProjectionWrongState while running), with its streams
    const whileRunning = yield* projections.delete(name).pipe(
      Effect.as("deleted"),
      Effect.catchTag("ProjectionWrongState", () => Effect.succeed("running"))
    )
    yield* projections.disable(name)
    yield* projections.delete(name, { deleteStateStream: true, deleteCheckpointStream: true, deleteEmittedStreams: true })
    const afterDelete = yield* projections.getStatistics(name).pipe(
      Effect.as("exists"),
      Effect.catchTag("ProjectionNotFound", () => Effect.succeed("deleted"))
    )

    return {
      json,
      totals,
      again,
      state: details.state,
      enabled: details.enabled,
      listed: continuous.some((d) => d.name === name),
      latest: latest._tag === "Some" ? latest.value : undefined,
      stopped,
      resetTotals,
      resetEpochAdvanced: afterReset.epoch > details.epoch,
      updated,
      fault,
      whileRunning,
      afterDelete
    }
  })
