/**
 * Scenario 7: a `--db` cluster runs in a child process (`src/server/cli.ts --cluster 3 --db DIR`,
 * what `npm run server -- --cluster 3 --db DIR` runs); `fibers` fibers append
 * single events (each its own stream) until, `killAfter` acknowledgements in, the whole process is
 * killed with SIGKILL. The cluster then starts again on the same directories: every acknowledged
 * append must be there exactly once, on every member, once they have caught up. Figures: the
 * appends acknowledged, those in flight at the kill (unknown outcome) and how many of them
 * landed, the restart time, the truncations the members made.
 */
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { NewEvent } from "../../src/domain/NewEvent.ts"
import { Streams } from "../../src/index.ts"
import { startEmbeddedCluster } from "../../src/server/cluster/EmbeddedCluster.ts"
import { countIds, firstDifference, idsOf, measured, waitFor, warningLog, withClient } from "./common.ts"

/** Sizes of the scenario. */
export interface WholeClusterKillOptions {
  readonly fibers: number
  /** The process is killed once this many appends are acknowledged. */
  readonly killAfter: number
}

const cli = join(new URL(".", import.meta.url).pathname, "../../src/server/cli.ts")

/** Starts the cluster's process; resolves with it and its connection string once it listens. */
const spawnCluster = (db: string): Promise<{ child: ChildProcess; connectionString: string }> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--experimental-strip-types", "--no-warnings", cli, "--cluster", "3", "--port", "0", "--db", db], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stderr = ""
    child.stderr!.on("data", (b: Buffer) => void (stderr += b.toString()))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`the cluster did not start: ${stderr}`))
    }, 60_000)
    child.once("exit", (code, signal) => reject(new Error(`the cluster exited with ${code ?? signal}: ${stderr}`)))
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (!line.startsWith("esdb://")) return
      clearTimeout(timer)
      resolve({ child, connectionString: line })
    })
  })

const exited = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once("exit", () => resolve())
  })

/** Runs the scenario. */
export const wholeClusterKill = (options: WholeClusterKillOptions) =>
  measured("whole-cluster-kill", Effect.acquireUseRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "effect-esdb-faults-"))),
    (db) =>
      Effect.gen(function*() {
        const violations: Array<string> = []
        const log = warningLog()
        const { child, connectionString } = yield* Effect.promise(() => spawnCluster(db))
        const acked: Array<string> = []
        const inFlight = new Set<string>()
        const failed = new Map<string, number>()
        let killed = false
        yield* withClient(
          `${connectionString}&maxDiscoverAttempts=2`,
          log.capture(Effect.flatMap(Streams.Streams, (api) =>
            Effect.forEach(Array.from({ length: options.fibers }, (_, f) => f), (f) => {
              const stream = `whole-cluster-kill-${f}`
              const loop = (k: number): Effect.Effect<void> =>
                Effect.suspend(() => {
                  if (killed) return Effect.void
                  const event = new NewEvent({ type: "E", data: JSON.stringify({ f, k }) })
                  inFlight.add(event.id)
                  return api.append(stream, event, { currentVersion: "any" }).pipe(
                    Effect.matchEffect({
                      onSuccess: () =>
                        Effect.suspend(() => {
                          inFlight.delete(event.id)
                          acked.push(event.id)
                          if (acked.length === options.killAfter) {
                            killed = true
                            child.kill("SIGKILL")
                          }
                          return loop(k + 1)
                        }),
                      onFailure: (e) =>
                        Effect.sync(() => void failed.set(e._tag, (failed.get(e._tag) ?? 0) + 1))
                    })
                  )
                })
              return loop(0)
            }, { concurrency: "unbounded", discard: true }))),
          { retrySchedule: Schedule.recurs(0) }
        )
        yield* Effect.promise(() => exited(child))
        if (!killed) violations.push(`the process was never killed (${acked.length} acknowledged)`)
        // the cluster again, on the same directories
        const lines: Array<string> = []
        const t0 = performance.now()
        return yield* Effect.acquireUseRelease(
          Effect.promise(() => startEmbeddedCluster({ db, logger: (m) => void lines.push(m) })),
          (cluster) => Effect.gen(function*() {
            const restartMs = performance.now() - t0
            const leader = cluster.leader()
            if (leader === undefined) violations.push("no leader after the restart")
            else {
              const caughtUp = yield* waitFor(() =>
                cluster.members().every((m) =>
                  (m.state === "Leader" || m.state === "Follower") && firstDifference(idsOf(cluster, m.index), idsOf(cluster, leader)) === ""
                ), 60_000)
              if (!caughtUp) violations.push(`the members did not catch up: ${JSON.stringify(cluster.members().map((m) => m.state))}`)
            }
            let landed = 0
            for (const m of cluster.members()) {
              const count = countIds(idsOf(cluster, m.index))
              const missing = acked.filter((id) => count.get(id) === undefined).length
              const twice = acked.filter((id) => (count.get(id) ?? 0) > 1).length
              if (missing > 0) violations.push(`member ${m.index}: ${missing} acknowledged appends missing`)
              if (twice > 0) violations.push(`member ${m.index}: ${twice} acknowledged appends more than once`)
              if (m.index === leader) landed = [...inFlight].filter((id) => count.has(id)).length
            }
            // and a client reads them back: each fiber's stream, in the order acknowledged
            const back = yield* withClient(
              cluster.connectionString,
              Effect.flatMap(Streams.Streams, (api) =>
                Effect.forEach(Array.from({ length: options.fibers }, (_, f) => f), (f) =>
                  Effect.map(Effect.orElseSucceed(api.get(`whole-cluster-kill-${f}`), () => []), (events) => events.map((e) => e.id))))
            )
            const read = new Set(back.flat())
            const unread = acked.filter((id) => !read.has(id)).length
            if (unread > 0) violations.push(`${unread} acknowledged appends not read back through a client`)
            return {
              violations,
              fibers: options.fibers,
              acknowledged: acked.length,
              inFlightAtKill: inFlight.size,
              inFlightThatLanded: landed,
              failed: Object.fromEntries(failed),
              restartMs: Math.round(restartMs),
              clusterLog: lines.filter((l) => l.includes("truncation") || l.includes("leader"))
            }
          }),
          (cluster) => Effect.promise(() => cluster.close())
        )
      }),
    (db) => Effect.sync(() => rmSync(db, { recursive: true, force: true }))
  ))
