/**
 * The client Projections service against the embedded node: every operation (create continuous,
 * one-time, transient; update; delete; enable; disable; abort; reset; restart the subsystem;
 * state, result, statistics, list), its typed errors, bad input refused before any call, and
 * `awaitIdle` (counting, faulted, timed out). Waits use `awaitIdle` or the node's statistics,
 * never a blind sleep.
 */
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { classifyError } from "../../src/internal/transport/classifyError.ts"
import { NewEvent, ProjectionDetails, Projections, Streams } from "../../src/index.ts"
import { toCreateError, toDeleteError, toProjectionError, toRestartError } from "../../src/internal/projections/errors.ts"
import { Code } from "../../src/generated/code.ts"
import { isRecorded, nodeWithClient, uniqueStream } from "./_support.ts"

const COUNT = (category: string) =>
  `fromCategory('${category}')
  .when({ $init: function() { return { count: 0 } }, Counted: function(s, e) { s.count++; return s } })
  .outputState()`

const counted = (n: number, type = "Counted") =>
  Array.from({ length: n }, (_, i) => new NewEvent({ type, data: JSON.stringify({ i }) }))

const appendTo = (stream: string, n: number, type = "Counted") =>
  Effect.gen(function*() {
    const streams = yield* Streams.Streams
    return yield* streams.append(stream, counted(n, type), { currentVersion: "any" })
  })

const Count = Schema.Struct({ count: Schema.Number })

const category = () => uniqueStream("pc").replace(/-/g, "")

/** A few fast polls: for waits that must time out. */
const brief = Schedule.spaced("20 millis").pipe(Schedule.upTo({ times: 5 }))

layer(nodeWithClient(), { excludeTestServices: true, timeout: "60 seconds" })("Projections", (it) => {
  it.effect("create counts asynchronously; awaitIdle waits until it has processed the end of $all; state and result as JSON or decoded", () =>
    Effect.gen(function*() {
      const projections = yield* Projections.Projections
      const cat = category()
      const name = `count-${cat}`
      yield* appendTo(`${cat}-1`, 3)
      yield* projections.create(name, COUNT(cat))
      const idle = yield* projections.awaitIdle(name)
      assert.instanceOf(idle, ProjectionDetails)
      assert.strictEqual(idle.state, "Running")
      assert.deepStrictEqual(yield* projections.getState(name), { count: 3 })
      assert.deepStrictEqual(yield* projections.getResult(name), { count: 3 })

      // more events: awaitIdle waits for them (the default target is the end of $all now)
      yield* appendTo(`${cat}-2`, 2)
      yield* appendTo(`other${cat}-1`, 4)
      yield* projections.awaitIdle(name)
      const state = yield* projections.getState(name, { schema: Count })
      assert.strictEqual(state.count, 5)
      const result = yield* projections.getResult(name, { schema: Count })
      assert.strictEqual(result.count, 5)

      // a Schema the state does not fit: a typed error naming the projection
      const invalid = yield* Effect.flip(projections.getState(name, { schema: Schema.Struct({ total: Schema.String }) }))
      assert.strictEqual(invalid._tag, "ProjectionStateInvalid")
      assert.strictEqual(invalid._tag === "ProjectionStateInvalid" && invalid.name, name)
      const invalidResult = yield* Effect.flip(projections.getResult(name, { schema: Schema.Array(Schema.Number) }))
      assert.strictEqual(invalidResult._tag, "ProjectionStateInvalid")
    }))

  it.effect("getStatistics: every field of the reply, the status parsed", () =>
    Effect.gen(function*() {
      const projections = yield* Projections.Projections
      const streams = yield* Streams.Streams
      const cat = category()
      const name = `stats-${cat}`
      yield* appendTo(`${cat}-1`, 2)
      yield* projections.create(name, COUNT(cat))
      yield* projections.awaitIdle(name)
      const d = yield* projections.getStatistics(name)
      assert.strictEqual(d.name, name)
      assert.strictEqual(d.effectiveName, name)
      assert.strictEqual(d.mode, "Continuous")
      assert.strictEqual(d.status, "Running")
      assert.strictEqual(d.state, "Running")
      assert.isTrue(d.enabled)
      assert.isUndefined(d.faultReason)
      assert.strictEqual(d.stateReason, "")
      assert.strictEqual(d.eventsProcessedAfterRestart, 2n)
      assert.strictEqual(d.progress, 100)
      assert.match(d.position, /^C:\d+\/P:\d+$/)
      const end = yield* streams.getCommitPosition()
      assert.isTrue(BigInt(/^C:(\d+)/.exec(d.position)![1]!) >= end)
      assert.isTrue(d.version >= 0n)
      assert.strictEqual(typeof d.epoch, "bigint")
      assert.strictEqual(typeof d.coreProcessingTime, "bigint")
      assert.strictEqual(typeof d.bufferedEvents, "bigint")
      for (const field of ["writesInProgress", "readsInProgress", "partitionsCached", "writePendingEventsBeforeCheckpoint", "writePendingEventsAfterCheckpoint"] as const) {
        assert.strictEqual(typeof d[field], "number")
      }
      assert.strictEqual(typeof d.checkpointStatus, "string")
      assert.strictEqual(typeof d.lastCheckpoint, "string")
    }))

  it.effect("disable writes a checkpoint and stops; enable continues from it; abort stops; delete needs a stopped projection", () =>
    Effect.gen(function*() {
      const projections = yield* Projections.Projections
      const streams = yield* Streams.Streams
      const cat = category()
      const name = `life-${cat}`
      yield* appendTo(`${cat}-1`, 2)
      yield* projections.create(name, COUNT(cat))
      yield* projections.awaitIdle(name)

      // delete while running: the node's OperationFailed
      const running = yield* Effect.flip(projections.delete(name))
      assert.strictEqual(running._tag, "ProjectionWrongState")

      yield* projections.disable(name)
      const stopped = yield* projections.getStatistics(name)
      assert.strictEqual(stopped.state, "Stopped")
      assert.isFalse(stopped.enabled)
      const checkpoints = yield* streams.get(`$projections-${name}-checkpoint`, { backwards: true, limit: 1n })
      assert.strictEqual(checkpoints[0]?.type, "$ProjectionCheckpoint")
      assert.deepStrictEqual(JSON.parse(checkpoints[0]!.dataText), { count: 2 })

      // stopped: events after it are not counted, awaitIdle gives up when its schedule ends
      yield* appendTo(`${cat}-1`, 3)
      const timeout = yield* Effect.flip(projections.awaitIdle(name, { schedule: brief }))
      assert.strictEqual(timeout._tag, "ProjectionIdleTimeout")
      if (timeout._tag === "ProjectionIdleTimeout") assert.strictEqual(timeout.status, "Stopped")
      assert.deepStrictEqual(yield* projections.getState(name), { count: 2 })

      yield* projections.enable(name)
      yield* projections.awaitIdle(name)
      assert.deepStrictEqual(yield* projections.getState(name, { schema: Count }), { count: 5 })

      // abort: stops without a checkpoint; enabled again it resumes from the last one
      yield* projections.abort(name)
      assert.strictEqual((yield* projections.getStatistics(name)).state, "Aborted")
      yield* appendTo(`${cat}-2`, 1)
      yield* projections.enable(name)
      yield* projections.awaitIdle(name)
      assert.deepStrictEqual(yield* projections.getState(name), { count: 6 })

      // delete once stopped, with its streams
      yield* projections.disable(name)
      yield* projections.delete(name, { deleteCheckpointStream: true, deleteStateStream: true })
      const gone = yield* Effect.flip(projections.getStatistics(name))
      assert.strictEqual(gone._tag, "ProjectionNotFound")
      const checkpointStream = yield* Effect.flip(streams.get(`$projections-${name}-checkpoint`))
      assert.include(["NotFound", "StreamDeleted"], checkpointStream._tag)
      // the result stream stays: a real node's DeleteProjectionStreams does not delete it
      // (KurrentDB ManagedProjection.cs; `deleteStateStream` is only recorded)
      assert.isAbove((yield* streams.get(`$projections-${name}-result`)).length, 0)
      assert.isFalse((yield* projections.list()).some((d) => d.name === name))
    }))

  it.effect("reset starts over in a new epoch; update changes the query (and emitEnabled) in a new version", () =>
    Effect.gen(function*() {
      const projections = yield* Projections.Projections
      const cat = category()
      const name = `reset-${cat}`
      yield* appendTo(`${cat}-1`, 2)
      yield* appendTo(`${cat}-1`, 3, "Other")
      yield* projections.create(name, COUNT(cat))
      const before = yield* projections.awaitIdle(name)
      yield* projections.reset(name)
      const after = yield* projections.awaitIdle(name)
      assert.isTrue(after.epoch > before.epoch)
      assert.deepStrictEqual(yield* projections.getState(name), { count: 2 })

      const countOther = COUNT(cat).replace("Counted:", "Other:")
      yield* projections.update(name, countOther)
      yield* projections.reset(name)
      const updated = yield* projections.awaitIdle(name)
      assert.isTrue(updated.version > after.version)
      assert.deepStrictEqual(yield* projections.getState(name), { count: 3 })

      // emitEnabled through update: the query may now emit
      const out = uniqueStream("pout")
      yield* projections.update(name, `fromCategory('${cat}').when({ Other: function(s, e) { emit('${out}', 'Copied', { n: e.sequenceNumber }) } })`, {
        emitEnabled: true
      })
      yield* projections.reset(name)
      yield* projections.awaitIdle(name)
      const copies = yield* (yield* Streams.Streams).get(out)
      assert.deepStrictEqual(copies.map((e) => e.type), ["Copied", "Copied", "Copied"])
    }))

  it.effect("restartSubsystem: running projections checkpoint, restart and keep counting", () =>
    Effect.gen(function*() {
      const projections = yield* Projections.Projections
      const cat = category()
      const name = `restart-${cat}`
      yield* appendTo(`${cat}-1`, 2)
      yield* projections.create(name, COUNT(cat))
      yield* projections.awaitIdle(name)
      yield* projections.restartSubsystem()
      yield* appendTo(`${cat}-1`, 1)
      const idle = yield* projections.awaitIdle(name)
      assert.strictEqual(idle.state, "Running")
      assert.deepStrictEqual(yield* projections.getState(name), { count: 3 })
    }))

  it.effect("a faulted projection: awaitIdle fails with its fault reason; statistics parse it", () =>
    Effect.gen(function*() {
      const projections = yield* Projections.Projections
      const cat = category()
      const name = `fault-${cat}`
      yield* appendTo(`${cat}-1`, 1)
      yield* projections.create(name, `fromCategory('${cat}').when({ Counted: function(s, e) { throw new Error("boom " + e.sequenceNumber) } })`)
      const faulted = yield* Effect.flip(projections.awaitIdle(name))
      assert.strictEqual(faulted._tag, "ProjectionFaulted")
      if (faulted._tag === "ProjectionFaulted") assert.include(faulted.reason, "boom 0")
      const d = yield* projections.getStatistics(name)
      assert.strictEqual(d.status, "Faulted (Enabled)")
      assert.strictEqual(d.state, "Faulted")
      assert.isTrue(d.enabled)
      assert.include(d.faultReason ?? "", "boom 0")
      // a faulted projection may be deleted
      yield* projections.disable(name)
      const disabled = yield* projections.getStatistics(name)
      assert.strictEqual(disabled.status, "Faulted")
      assert.isFalse(disabled.enabled)
      yield* projections.delete(name)
    }))

  it.effect("awaitIdle up to a given commit position; beyond the end it times out with a typed error", () =>
    Effect.gen(function*() {
      const projections = yield* Projections.Projections
      const streams = yield* Streams.Streams
      const cat = category()
      const name = `target-${cat}`
      yield* appendTo(`${cat}-1`, 1)
      const at = yield* streams.getCommitPosition()
      yield* projections.create(name, COUNT(cat))
      const idle = yield* projections.awaitIdle(name, { commitPosition: at })
      assert.isTrue(BigInt(/^C:(\d+)/.exec(idle.position)![1]!) >= at)
      const far = at + 1_000_000_000n
      const timedOut = yield* Effect.flip(projections.awaitIdle(name, { commitPosition: far, schedule: brief }))
      assert.strictEqual(timedOut._tag, "ProjectionIdleTimeout")
      if (timedOut._tag === "ProjectionIdleTimeout") {
        assert.strictEqual(timedOut.target, far)
        assert.isTrue(timedOut.position >= at)
      }
    }))

  it.effect("partitions: getState and getResult of one partition", () =>
    Effect.gen(function*() {
      const projections = yield* Projections.Projections
      const streams = yield* Streams.Streams
      const cat = category()
      const name = `part-${cat}`
      const who = (w: string) => new NewEvent({ type: "Counted", data: JSON.stringify({ who: w }) })
      yield* streams.append(`${cat}-1`, [who("ann"), who("bob"), who("ann")], { currentVersion: "any" })
      yield* projections.create(
        name,
        `fromCategory('${cat}').partitionBy(function(e) { return e.body.who })
          .when({ $init: function() { return { n: 0 } }, Counted: function(s, e) { s.n++; return s } }).outputState()`
      )
      yield* projections.awaitIdle(name)
      const N = Schema.Struct({ n: Schema.Number })
      assert.deepStrictEqual(yield* projections.getState(name, { partition: "ann", schema: N }), { n: 2 })
      assert.deepStrictEqual(yield* projections.getResult(name, { partition: "bob" }), { n: 1 })
      assert.deepStrictEqual(yield* projections.getState(name, { partition: "nobody" }), {})
      const invalid = yield* Effect.flip(projections.getState(name, { partition: "bob", schema: Count }))
      assert.strictEqual(invalid._tag === "ProjectionStateInvalid" && invalid.partition, "bob")
    }))

  it.effect("emit with trackEmittedStreams; delete with deleteEmittedStreams removes what it emitted", () =>
    Effect.gen(function*() {
      const projections = yield* Projections.Projections
      const streams = yield* Streams.Streams
      const cat = category()
      const name = `emit-${cat}`
      const out = uniqueStream("emitted")
      yield* appendTo(`${cat}-1`, 2)
      yield* projections.create(name, `fromCategory('${cat}').when({ Counted: function(s, e) { emit('${out}', 'Copied', { i: e.body.i }) } })`, {
        emitEnabled: true,
        trackEmittedStreams: true
      })
      yield* projections.awaitIdle(name)
      assert.deepStrictEqual((yield* streams.get(out)).map((e) => JSON.parse(e.dataText)), [{ i: 0 }, { i: 1 }])
      yield* projections.disable(name)
      yield* projections.delete(name, { deleteEmittedStreams: true })
      const deleted = yield* Effect.flip(streams.get(out))
      assert.include(["NotFound", "StreamDeleted"], deleted._tag)

      // emitting without emitEnabled faults the projection
      const noEmit = `noemit-${cat}`
      yield* projections.create(noEmit, `fromCategory('${cat}').when({ Counted: function(s, e) { emit('${out}-x', 'Copied', {}) } })`)
      const faulted = yield* Effect.flip(projections.awaitIdle(noEmit))
      assert.strictEqual(faulted._tag, "ProjectionFaulted")
      if (faulted._tag === "ProjectionFaulted") assert.include(faulted.reason, "'emit' is not allowed")
    }))

  it.effect("createOneTime completes; createTransient runs; list all and by mode", () =>
    Effect.gen(function*() {
      const projections = yield* Projections.Projections
      const cat = category()
      yield* appendTo(`${cat}-1`, 2)
      const query = COUNT(cat).replace("fromCategory", `options({ resultStreamName: 'one-${cat}' }); fromCategory`)
      yield* projections.createOneTime(query)
      const transient = `transient-${cat}`
      yield* projections.createTransient(transient, COUNT(cat))
      const continuous = `cont-${cat}`
      yield* projections.create(continuous, COUNT(cat))

      const oneTimes = yield* projections.list({ mode: "oneTime" })
      assert.isTrue(oneTimes.length >= 1)
      assert.isTrue(oneTimes.every((d) => d.mode === "OneTime"))
      // the node names a one-time projection with a GUID: find ours by its query's result
      const mine = yield* Effect.filter(oneTimes, (d) =>
        Effect.map(Effect.orDie(projections.awaitIdle(d.name).pipe(Effect.andThen(projections.getState(d.name)))), (s) =>
          (s as { count?: number }).count === 2))
      assert.strictEqual(mine.length, 1)
      const done = yield* projections.awaitIdle(mine[0]!.name)
      assert.strictEqual(done.state, "Completed")
      assert.match(done.name, /^[0-9a-f-]{36}$/)

      yield* projections.awaitIdle(transient)
      assert.deepStrictEqual(yield* projections.getState(transient), { count: 2 })
      const transients = yield* projections.list({ mode: "transient" })
      assert.isTrue(transients.some((d) => d.name === transient && d.mode === "Transient"))
      const continuousOnes = yield* projections.list({ mode: "continuous" })
      assert.isTrue(continuousOnes.some((d) => d.name === continuous))
      assert.isFalse(continuousOnes.some((d) => d.name === transient))
      const all = yield* projections.list()
      for (const n of [transient, continuous, mine[0]!.name]) assert.isTrue(all.some((d) => d.name === n))
    }))

  it.effect("a duplicate name: ProjectionAlreadyExists (the released node's UNKNOWN form)", () =>
    Effect.gen(function*() {
      const projections = yield* Projections.Projections
      const name = `dup-${category()}`
      yield* projections.create(name, COUNT("dup"))
      const again = yield* Effect.flip(projections.create(name, COUNT("dup")))
      assert.strictEqual(again._tag, "ProjectionAlreadyExists")
      assert.strictEqual(again._tag === "ProjectionAlreadyExists" && again.name, name)
      const transient = yield* Effect.flip(projections.createTransient(name, COUNT("dup")))
      assert.strictEqual(transient._tag, "ProjectionAlreadyExists")
    }))

  it.effect("an unknown name: ProjectionNotFound from every operation naming one", () =>
    Effect.gen(function*() {
      const projections = yield* Projections.Projections
      const name = `missing-${category()}`
      const failures = yield* Effect.all([
        Effect.flip(projections.update(name, COUNT("x"))),
        Effect.flip(projections.delete(name)),
        Effect.flip(projections.enable(name)),
        Effect.flip(projections.disable(name)),
        Effect.flip(projections.abort(name)),
        Effect.flip(projections.reset(name)),
        Effect.flip(projections.getState(name)),
        Effect.flip(projections.getResult(name, { schema: Count })),
        Effect.flip(projections.getStatistics(name)),
        Effect.flip(projections.awaitIdle(name))
      ])
      for (const failure of failures) {
        assert.strictEqual(failure._tag, "ProjectionNotFound")
        assert.strictEqual((failure as { name: string }).name, name)
      }
    }))

  it.effect("bad input is refused with InvalidArgument before any call, and creates nothing", () =>
    Effect.gen(function*() {
      const projections = yield* Projections.Projections
      const name = `bad-${category()}`
      const failures = yield* Effect.all([
        Effect.flip(projections.create("", COUNT("x"))),
        Effect.flip(projections.create(" ", COUNT("x"))),
        Effect.flip(projections.create(name, "")),
        Effect.flip(projections.create(name, COUNT("x"), { trackEmittedStreams: true })),
        Effect.flip(projections.createOneTime("  ")),
        Effect.flip(projections.createTransient("", COUNT("x"))),
        Effect.flip(projections.createTransient(name, "")),
        Effect.flip(projections.update("", COUNT("x"))),
        Effect.flip(projections.update(name, "")),
        Effect.flip(projections.delete("")),
        Effect.flip(projections.enable("")),
        Effect.flip(projections.disable("")),
        Effect.flip(projections.abort("")),
        Effect.flip(projections.reset("")),
        Effect.flip(projections.getState("")),
        Effect.flip(projections.getResult("", { schema: Count })),
        Effect.flip(projections.getStatistics("")),
        Effect.flip(projections.awaitIdle("")),
        Effect.flip(projections.awaitIdle(name, { commitPosition: -1n })),
        Effect.flip(projections.list({ mode: "sometimes" as "all" }))
      ])
      for (const failure of failures) assert.strictEqual(failure._tag, "InvalidArgument")
      assert.include((failures[3] as { reason: string }).reason, "EmitEnabled must be set")
      assert.isFalse((yield* projections.list()).some((d) => d.name === name || d.name === ""))
    }))

  it.effect("a pipeline over a projection's result stream: Streams.read and subscribeToStream", () =>
    Effect.gen(function*() {
      const projections = yield* Projections.Projections
      const streams = yield* Streams.Streams
      const cat = category()
      const name = `pipe-${cat}`
      yield* appendTo(`${cat}-1`, 3)
      yield* projections.create(name, COUNT(cat))
      yield* projections.awaitIdle(name)
      // the results so far, decoded, read backwards: the latest first
      const latest = yield* streams.read(`$projections-${name}-result`, { backwards: true, limit: 1n }).pipe(
        Stream.mapEffect((event) => event.decodeJson(Count)),
        Stream.runHead
      )
      assert.strictEqual(latest._tag === "Some" && latest.value.count, 3)

      // following the result stream live until the count reaches 5
      const follow = streams.subscribeToStream(`$projections-${name}-result`).pipe(
        Stream.filter(isRecorded),
        Stream.filter((event) => event.type === "Result"),
        Stream.mapEffect((event) => event.decodeJson(Count)),
        Stream.map((result) => result.count),
        Stream.takeUntil((count) => count === 5),
        Stream.runCollect
      )
      const fiber = yield* Effect.forkChild(follow)
      yield* appendTo(`${cat}-2`, 2)
      const counts = Array.from(yield* Fiber.join(fiber))
      assert.strictEqual(counts[counts.length - 1], 5)
      assert.deepStrictEqual(counts, [...counts].sort((a, b) => a - b))
    }))

  it.effect("the node's other failure forms map to the same typed errors (the classifier, then the narrowing)", () =>
    Effect.sync(() => {
      // a failed call as grpc-js hands it over, through the one classifier
      const grpc = (code: number, details: string) => classifyError({ code, details, metadata: {} })
      assert.strictEqual(toCreateError("p")(grpc(Code.ALREADY_EXISTS, "Duplicate projection names : p"))._tag, "ProjectionAlreadyExists")
      assert.strictEqual(
        toCreateError("p")(grpc(Code.UNKNOWN, "Envelope callback expected Updated, received Conflict instead"))._tag,
        "ProjectionAlreadyExists"
      )
      assert.strictEqual(
        toDeleteError("p")(grpc(Code.UNKNOWN, "Envelope callback expected Updated, received OperationFailed instead"))._tag,
        "ProjectionWrongState"
      )
      const wrong = toRestartError(grpc(Code.FAILED_PRECONDITION, "Projection Subsystem cannot be restarted as it is in the wrong state: Starting"))
      assert.strictEqual(wrong._tag, "ProjectionWrongState")
      assert.include(wrong.message, "Starting")
      assert.strictEqual(toProjectionError("p")(grpc(Code.NOT_FOUND, "Projection 'p' not found"))._tag, "ProjectionNotFound")
      // other UNKNOWN answers stay the transport's GrpcError
      assert.strictEqual(toCreateError("p")(grpc(Code.UNKNOWN, "EmitEnabled must be set"))._tag, "GrpcError")
      assert.strictEqual(toProjectionError("p")(grpc(Code.NOT_FOUND, "Event stream 'x' was not created."))._tag, "GrpcError")
    }))
})

layer(nodeWithClient({ insecure: true, version: "26.2.0" }), { excludeTestServices: true, timeout: "30 seconds" })(
  "Projections on a node after v26.1",
  (it) => {
    it.effect("a duplicate name: ProjectionAlreadyExists (ALREADY_EXISTS); transient creates refused", () =>
      Effect.gen(function*() {
        const projections = yield* Projections.Projections
        const name = `dup-${category()}`
        yield* projections.create(name, COUNT("dup"))
        const again = yield* Effect.flip(projections.create(name, COUNT("dup")))
        assert.strictEqual(again._tag, "ProjectionAlreadyExists")
        const transient = yield* Effect.flip(projections.createTransient(`t-${name}`, COUNT("dup")))
        assert.strictEqual(transient._tag, "GrpcError")
        assert.strictEqual(transient._tag === "GrpcError" && transient.code, Code.FAILED_PRECONDITION)
      }))
  }
)

