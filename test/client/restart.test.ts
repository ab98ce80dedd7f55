/**
 * A node with `--db` (in a child process, `src/server/cli.ts`) is stopped, stays down, and is
 * started again on the same port with the same files. Four consumers run through it all and go
 * on by themselves: a `$all` subscription, a stream subscription, a `consume` consumer of a
 * stream group and a `readToAll` consumer of a `$all` group. Each delivers the log exactly: no
 * gap, no duplicate. Every resume and reconnect was logged.
 *
 * The stop is graceful (SIGTERM: the node ends its open calls) or a SIGKILL (the connections
 * just drop). The down time is `EFFECT_ESDB_RESTART_DOWN_MS` (default 10 s;
 * `npm run test:restart-long` runs it with 60 s).
 */
import { afterEach, assert, describe, it } from "@effect/vitest"
import type { ChildProcess } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { PersistentSubscriptions, type RecordedEvent, Streams } from "../../src/index.ts"
import { exited, startCliNode } from "../support/cliNode.ts"
import { recoveryLog } from "../support/recoveryLog.ts"
import { eventually, freePort, newEvents, uniqueStream, withClient } from "./_support.ts"

const DOWN_MS = Number(process.env["EFFECT_ESDB_RESTART_DOWN_MS"] ?? 10_000)

const cleanups: Array<() => void> = []
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup()
})

/** Starts `cli.ts --insecure --port <port> --db <dir>`; resolves once it prints its connection string. */
const spawnNode = (dir: string, port: number): Promise<ChildProcess> =>
  startCliNode(dir, { port, echoStderr: true, startTimeoutMs: 20_000, track: (child) => cleanups.push(() => child.kill("SIGKILL")) })
    .then((node) => node.child)

const positions = (events: ReadonlyArray<RecordedEvent>) => events.map((e) => Number(e.streamPosition))
const range = (n: number) => Array.from({ length: n }, (_, i) => i)

const survives = (signal: "SIGTERM" | "SIGKILL") =>
  Effect.gen(function*() {
    const dir = mkdtempSync(join(tmpdir(), "effect-esdb-restart-"))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const port = yield* Effect.promise(freePort)
    let node = yield* Effect.promise(() => spawnNode(dir, port))
    const log = recoveryLog()
    yield* withClient(
      `esdb://127.0.0.1:${port}?tls=false`,
      log.capture(Effect.gen(function*() {
        const streams = yield* Streams.Streams
        const ps = yield* PersistentSubscriptions.PersistentSubscriptions
        const stream = uniqueStream("restart")
        const streamGroup = uniqueStream("g")
        const allGroup = uniqueStream("g-all")
        // checkpoints soon after the acks: a restarted node starts the groups from them
        const settings = { checkpointAfter: 100, minCheckpointCount: 1 }
        yield* ps.createToStream(stream, streamGroup, { from: "start", settings })
        yield* ps.createToAll(allGroup, { from: "start", filterInclude: stream, filterByStreamName: true, settings })

        const fromAll: Array<RecordedEvent> = []
        const fromStream: Array<RecordedEvent> = []
        const consumed: Array<RecordedEvent> = []
        const fromAllGroup: Array<RecordedEvent> = []
        const collectInto = (into: Array<RecordedEvent>) => (event: { readonly _tag: string }) =>
          Effect.sync(() => {
            if (event._tag === "RecordedEvent") into.push(event as RecordedEvent)
          })
        const fibers = yield* Effect.all([
          streams.subscribeToAll({ filterInclude: stream, filterByStreamName: true }).pipe(Stream.runForEach(collectInto(fromAll))),
          streams.subscribeToStream(stream).pipe(Stream.runForEach(collectInto(fromStream))),
          ps.consumeToStream(stream, streamGroup, collectInto(consumed)),
          Effect.scoped(Effect.flatMap(ps.readToAll(allGroup), (sub) =>
            sub.events.pipe(Stream.runForEach((event) => Effect.andThen(sub.ack(event), collectInto(fromAllGroup)(event))))))
        ].map((effect) => Effect.forkChild(effect)))
        const all = [fromAll, fromStream, consumed, fromAllGroup]
        const delivered = (n: number) => () => all.every((events) => events.length >= n)

        const firstPosition = yield* streams.append(stream, newEvents(10), { currentVersion: "no_stream" })
        const lastPosition = yield* streams.append(stream, newEvents(10), { currentVersion: 9n })
        yield* eventually("20 events delivered to the four consumers", delivered(20))
        assert.isTrue(lastPosition > firstPosition)
        // both groups checkpointed their last event
        yield* eventually(
          "the groups checkpointed",
          Effect.gen(function*() {
            const onStream = (yield* ps.getInfoToStream(stream, streamGroup)).lastCheckpointedEventPosition === "19"
            const onAll = (yield* ps.getInfoToAll(allGroup)).lastCheckpointedEventPosition.startsWith(`C:${lastPosition}/`)
            return onStream && onAll
          }).pipe(Effect.orDie),
          { intervalMs: 50 }
        )

        node.kill(signal)
        yield* Effect.promise(() => exited(node))
        yield* Effect.sleep(DOWN_MS)
        for (const fiber of fibers) assert.isUndefined(fiber.pollUnsafe(), "a consumer ended while the node was down")
        node = yield* Effect.promise(() => spawnNode(dir, port))

        // the writer's own retries cover the first moments after the restart
        yield* streams.append(stream, newEvents(20), { currentVersion: 19n })
        yield* eventually("40 events delivered to the four consumers", delivered(40), { timeoutMs: 30_000 })
        // nothing more comes (a duplicate would arrive with the others)
        yield* streams.append(uniqueStream("restart-other"), newEvents(1), { currentVersion: "no_stream" })
        yield* Effect.sleep("300 millis")
        for (const fiber of fibers) assert.isUndefined(fiber.pollUnsafe(), "a consumer ended")
        yield* Fiber.interruptAll(fibers)

        assert.deepStrictEqual(positions(fromAll), range(40), "$all subscription")
        assert.deepStrictEqual(positions(fromStream), range(40), "stream subscription")
        assert.deepStrictEqual(positions(consumed), range(40), "consume")
        assert.deepStrictEqual(positions(fromAllGroup), range(40), "readToAll")
        for (const [operation, action] of [
          ["Streams.subscribeToAll", "resume"],
          ["Streams.subscribeToStream", "resume"],
          ["PersistentSubscriptions.readToStream", "reconnect"],
          ["PersistentSubscriptions.readToAll", "reconnect"]
        ] as const) {
          const warnings = log.of(operation, action)
          assert.isAtLeast(warnings.length, 1, `${operation} logged its ${action}s`)
          // the node was down for DOWN_MS: the backoff reached its cap of 5 s (×1.2 at most)
          for (const w of warnings) assert.isAtMost(w.annotations["delayMillis"] as number, 6000)
        }
      }))
    )
    node.kill("SIGTERM")
    yield* Effect.promise(() => exited(node))
  })

describe("a restarted --db node", () => {
  it.live(`graceful stop (SIGTERM), ${DOWN_MS / 1000} s down, restart on the same port: every consumer goes on, no gap, no duplicate`, () =>
    survives("SIGTERM"), { timeout: DOWN_MS + 90_000 })

  it.live(`SIGKILL, ${DOWN_MS / 1000} s down, restart on the same port: every consumer goes on, no gap, no duplicate`, () =>
    survives("SIGKILL"), { timeout: DOWN_MS + 90_000 })
})
