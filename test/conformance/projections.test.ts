/**
 * Projections, managed by the official client against the embedded node (PROTOCOL.md §5):
 * create, getProjectionState, getProjectionResult, getProjectionStatus, listProjections,
 * updateProjection, enable, disable, abort, reset, delete and restartSubsystem.
 *
 * Real node behaviour:
 * - a projection is created enabled and running; it processes `$all` asynchronously, so every
 *   check polls until the projection has caught up (bounded by a deadline);
 * - the status is `Running`, `Stopped` (disable), `Aborted` (abort), `Faulted (Enabled)` with the handler's
 *   message as `stateReason`;
 * - a duplicate name → UNKNOWN "Envelope callback expected Updated, received Conflict instead"
 *   (released versions), an unknown name → NOT_FOUND "Projection 'x' not found", deleting a running
 *   projection → UNKNOWN "... received OperationFailed instead";
 * - `listProjections` lists the continuous projections.
 */
import { describe, expect, it } from "vitest"
import { jsonEvent, type KurrentDBClient, NotFoundError, UnknownError } from "@kurrent/kurrentdb-client"
import { eventuallyAsync, rejectionOf, uniqueStream, useNode } from "./_support.ts"

let client: KurrentDBClient

useNode({ insecure: true }, (_n, c) => {
  client = c
})

const count = (category: string) => `fromCategory('${category}')
  .when({ $init: function() { return { count: 0 } }, Counted: function(s, e) { s.count++; return s } })
  .outputState()`

const appendCounted = (stream: string, n: number) =>
  client.appendToStream(stream, Array.from({ length: n }, () => jsonEvent({ type: "Counted", data: { n: 1 } })))

/** Polls `f` until `ok` holds of its value ({@link eventuallyAsync}). */
const until = <A>(what: string, f: () => Promise<A>, ok: (a: A) => boolean): Promise<A> =>
  eventuallyAsync(what, f, { until: ok, intervalMs: 20 })

const category = () => uniqueStream("c").replace(/-/g, "")

describe("projections with the official client", () => {
  it("create, state, result, status, list", async () => {
    const cat = category()
    const name = `count-${cat}`
    await appendCounted(`${cat}-1`, 3)
    await client.createProjection(name, count(cat))
    await until("count 3", () => client.getProjectionState<{ count: number }>(name), (s) => s?.count === 3)
    await appendCounted(`${cat}-2`, 1)
    await until("count 4", () => client.getProjectionState<{ count: number }>(name), (s) => s?.count === 4)
    expect(await client.getProjectionResult(name)).toEqual({ count: 4 })
    const status = await client.getProjectionStatus(name)
    expect(status.name).toBe(name)
    expect(status.projectionStatus).toBe("Running")
    expect(status.eventsProcessedAfterRestart).toBe(4n)
    const list = await client.listProjections()
    expect(list.map((p) => p.name)).toContain(name)
  })

  it("a duplicate name and unknown names get a real node's errors", async () => {
    const name = `dup-${category()}`
    await client.createProjection(name, count("dup"))
    const dup = await rejectionOf(client.createProjection(name, count("dup")), UnknownError)
    expect(dup.message).toContain("Envelope callback expected Updated, received Conflict instead")
    const missing = `missing-${category()}`
    for (
      const call of [
        () => client.getProjectionState(missing),
        () => client.getProjectionResult(missing),
        () => client.getProjectionStatus(missing),
        () => client.enableProjection(missing),
        () => client.disableProjection(missing),
        () => client.resetProjection(missing),
        () => client.updateProjection(missing, count("x")),
        () => client.deleteProjection(missing)
      ]
    ) {
      const error = await rejectionOf(call, NotFoundError)
      expect(error.message).toContain(`Projection '${missing}' not found`)
    }
  })

  it("update, disable, enable, abort, reset, delete", async () => {
    const cat = category()
    const name = `life-${cat}`
    await appendCounted(`${cat}-1`, 2)
    await client.createProjection(name, count(cat))
    await until("count 2", () => client.getProjectionState<{ count: number }>(name), (s) => s?.count === 2)

    await client.updateProjection(name, count(cat).replace("s.count++", "s.count += 10"))
    await appendCounted(`${cat}-1`, 1)
    await until("count 12", () => client.getProjectionState<{ count: number }>(name), (s) => s?.count === 12)

    await client.disableProjection(name)
    expect((await client.getProjectionStatus(name)).projectionStatus).toBe("Stopped")
    await appendCounted(`${cat}-1`, 1)
    await client.enableProjection(name)
    await until("count 22", () => client.getProjectionState<{ count: number }>(name), (s) => s?.count === 22)

    await client.abortProjection(name)
    // a real node (21.10 and later): "Aborted" (KurrentDB ManagedProjection.cs, AbortingState)
    expect((await client.getProjectionStatus(name)).projectionStatus).toBe("Aborted")
    await client.enableProjection(name)

    // reset: every event again, with the updated query
    await client.resetProjection(name)
    await until("count 40 after reset", () => client.getProjectionState<{ count: number }>(name), (s) => s?.count === 40)

    const running = await rejectionOf(client.deleteProjection(name), UnknownError)
    expect(running.message).toContain("received OperationFailed instead")
    await client.disableProjection(name)
    await client.deleteProjection(name, { deleteCheckpointStream: true, deleteStateStream: true })
    await rejectionOf(client.getProjectionStatus(name), NotFoundError)
  })

  it("a throwing handler faults the projection with its message; restartSubsystem answers", async () => {
    const cat = category()
    const name = `fault-${cat}`
    await client.createProjection(name, `fromCategory('${cat}').when({ Counted: function() { throw new Error("no counting") } })`)
    await appendCounted(`${cat}-1`, 1)
    const status = await until("faulted", () => client.getProjectionStatus(name), (s) => s.projectionStatus.startsWith("Faulted"))
    expect(status.status).toBe("Faulted (Enabled)")
    expect(status.stateReason).toContain("no counting")
    await client.restartSubsystem()
  })

  it("emitEnabled with trackEmittedStreams writes the emitted stream; deleteEmittedStreams removes it", async () => {
    const cat = category()
    const name = `emit-${cat}`
    const out = `out${cat}`
    await appendCounted(`${cat}-1`, 2)
    await client.createProjection(
      name,
      `fromCategory('${cat}').when({ Counted: function(s, e) { emit('${out}', 'Seen', { n: e.sequenceNumber }) } })`,
      { emitEnabled: true, trackEmittedStreams: true }
    )
    const read = async () => {
      const seen: Array<unknown> = []
      try {
        for await (const e of client.readStream(out)) seen.push(e.event?.data)
      } catch {
        return []
      }
      return seen
    }
    expect(await until("2 emitted", read, (s) => s.length === 2)).toEqual([{ n: 0 }, { n: 1 }])
    await client.disableProjection(name)
    await client.deleteProjection(name, { deleteEmittedStreams: true })
    expect(await read()).toEqual([])
  })
})
