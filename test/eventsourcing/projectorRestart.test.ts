/**
 * The projector outlives its node: a node with `--db` in a child process (`src/server/cli.ts`)
 * is killed (SIGKILL) while the projector applies 2,000 events into PostgreSQL, stays down
 * 2 s, and is started again on the same port with the same files. The projector runs through it
 * all without a restart of its own (the client's subscription resumes) and applies every event,
 * those appended after the restart too, exactly once.
 */
import { afterEach, assert, describe, it } from "@effect/vitest"
import type { ChildProcess } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { Streams } from "../../src/index.ts"
import { Projector } from "../../src/eventsourcing/index.ts"
import { freePort, newEvents, uniqueStream, withClient } from "../client/_support.ts"
import { exited, startCliNode } from "../support/cliNode.ts"
import { postgresLayer } from "../support/postgres.ts"
import { readModel } from "./_readModel.ts"


const cleanups: Array<() => void> = []
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup()
})

/** Starts `cli.ts --insecure --port <port> --db <dir>`; resolves once it prints its connection string. */
const spawnNode = (dir: string, port: number): Promise<ChildProcess> =>
  startCliNode(dir, { port, echoStderr: true, startTimeoutMs: 30_000, track: (child) => cleanups.push(() => child.kill("SIGKILL")) })
    .then((node) => node.child)

describe("Projector across a node restart", () => {
  it.live("the node is killed mid-run and restarted: every event applied exactly once", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "effect-esdb-projector-"))
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
      const port = yield* Effect.promise(freePort)
      let node = yield* Effect.promise(() => spawnNode(dir, port))
      const stream = uniqueStream("restart")
      const model = readModel(`r_${stream.replace(/-/g, "_")}`)
      const store = { name: stream }
      yield* withClient(
        `esdb://127.0.0.1:${port}?tls=false`,
        Effect.gen(function*() {
          const streams = yield* Streams.Streams
          yield* model.setup
          for (let k = 0; k < 4; k++) yield* streams.append(stream, newEvents(500), { currentVersion: "any" })
          const projector = yield* Effect.forkChild(
            Projector.run({ subscription: Projector.all({ filterInclude: stream, filterByStreamName: true }), handler: model.handler, store })
          )
          // kill the node once the projector is part way through
          while (((yield* Projector.position(store)) ?? 0n) === 0n || (yield* model.journal).applied < 300) {
            yield* Effect.sleep("5 millis")
          }
          node.kill("SIGKILL")
          yield* Effect.promise(() => exited(node))
          const atKill = (yield* model.journal).applied
          yield* Effect.sleep("2 seconds")
          assert.isUndefined(projector.pollUnsafe(), "the projector ended while the node was down")
          node = yield* Effect.promise(() => spawnNode(dir, port))
          const last = yield* streams.append(stream, newEvents(500), { currentVersion: "any" })
          const deadline = Date.now() + 90_000
          while (((yield* Projector.position(store)) ?? 0n) < last) {
            if (Date.now() > deadline) assert.fail("the projector did not reach the last event after the restart")
            yield* Effect.sleep("20 millis")
          }
          yield* Fiber.interrupt(projector)
          assert.isBelow(atKill, 2_000, "the node was killed before the projector had finished")
          assert.deepStrictEqual(yield* model.journal, { applied: 2_500, distinct: 2_500 })
          const [row] = yield* model.totals
          assert.strictEqual(row!.events, 2_500)
        }).pipe(Effect.provide(postgresLayer()), Effect.orDie)
      )
      node.kill("SIGTERM")
      yield* Effect.promise(() => exited(node))
    }), 180_000)
})
