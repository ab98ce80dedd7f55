/**
 * Scenario 2: a new leader is elected (`electLeader`: the leader steps down; or, with `fault:
 * "kill"`, the leader is killed) during a `$all` catch-up subscription, and again during a read of a stream, each a third
 * of the way through `events` events (the consumer waits for the election, so that the rest comes
 * from a resumed call; the pauses measured leave that wait out); for the subscription `events / 10` more are appended after
 * the election. What each delivered must equal the new leader's log (the subscription: every
 * event of users' streams in `$all`; the read: the stream), no gap, no duplicate.
 * Figures: resumes of each (logged), the longest pause in delivery.
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { NewEvent } from "../../src/domain/NewEvent.ts"
import { Streams } from "../../src/index.ts"
import { firstDifference, userIdsOf, measured, waitFor, warningLog, withClient, withCluster } from "./common.ts"

/** Sizes of the scenario. */
export interface ElectionOptions {
  readonly events: number
  /**
   * How the election comes: `elect` (default), the leader steps down (`electLeader`); `kill`, the
   * leader is killed (its connections always drop, so both resume).
   */
  readonly fault?: "elect" | "kill" | undefined
}

const batch = (n: number, from: number) =>
  Array.from({ length: n }, (_, i) => new NewEvent({ type: "Seeded", data: JSON.stringify({ i: from + i }) }))

/** Runs the scenario. */
export const election = (options: ElectionOptions) =>
  measured("election", withCluster({}, (cluster) =>
    Effect.gen(function*() {
      const violations: Array<string> = []
      const log = warningLog()
      const stream = `election-${Date.now()}`
      const third = Math.floor(options.events / 3)
      // a killed leader comes back as a follower before the next fault, so that a majority is left
      let killed: number | undefined
      const elect = (): Promise<number | undefined> => {
        if (options.fault !== "kill") return cluster.electLeader()
        const leader = cluster.leader()!
        const back = killed === undefined ? Promise.resolve() : cluster.restart(killed)
        killed = leader
        return back.then(() => cluster.kill(leader)).then(() => cluster.leader())
      }
      const after = Math.max(1, Math.floor(options.events / 10))
      const figures = yield* withClient(
        cluster.connectionString,
        log.capture(Effect.gen(function*() {
          const api = yield* Streams.Streams
          for (let i = 0; i < options.events; i += 500) {
            yield* api.append(stream, batch(Math.min(500, options.events - i), i), { currentVersion: "any" })
          }
          // --- $all catch-up subscription: an election a third of the way through
          const delivered: Array<string> = []
          let mine = 0
          let electing: Promise<number | undefined> | undefined
          let last = performance.now()
          let longestSubscriptionPause = 0
          const subscription = yield* Effect.forkChild(
            api.subscribeToAll().pipe(
              Stream.runForEach((item) => {
                if (item._tag !== "RecordedEvent") return Effect.void
                const now = performance.now()
                longestSubscriptionPause = Math.max(longestSubscriptionPause, now - last)
                last = now
                delivered.push(item.id)
                if (item.streamName !== stream || ++mine !== third) return Effect.void
                // the consumer waits for the election (what it has not taken yet comes from the new leader)
                electing = elect()
                return Effect.promise(() => electing!).pipe(Effect.andThen(Effect.sync(() => void (last = performance.now()))))
              })
            )
          )
          if (!(yield* waitFor(() => electing !== undefined, 60_000))) violations.push(`subscription: only ${mine} events delivered`)
          const leaderAfterSubscription = electing === undefined ? undefined : yield* Effect.promise(() => electing!)
          yield* api.append(stream, batch(after, options.events), { currentVersion: "any" })
          const total = options.events + after
          if (!(yield* waitFor(() => mine >= total, 60_000))) violations.push(`subscription: ${mine} of ${total} delivered`)
          // what it delivered is the new leader's $all up to there (the subscription stays live: wait for quiet)
          yield* Effect.sleep(200)
          yield* Fiber.interrupt(subscription)
          const leader = cluster.leader()
          if (leader === undefined) violations.push("no leader after the first election")
          else {
            const logIds = userIdsOf(cluster, leader)
            const d = firstDifference(delivered, logIds)
            if (d !== "") violations.push(`subscription: delivered differs from the new leader's $all ${d}`)
            if (new Set(delivered).size !== delivered.length) violations.push("subscription: duplicate")
          }
          // --- stream read: another election a third of the way through
          const read: Array<string> = []
          let electing2: Promise<number | undefined> | undefined
          last = performance.now()
          let longestReadPause = 0
          const readFailure = yield* api.read(stream).pipe(
            Stream.runForEach((e) => {
              const now = performance.now()
              longestReadPause = Math.max(longestReadPause, now - last)
              last = now
              read.push(e.id)
              if (read.length !== third) return Effect.void
              electing2 = elect()
              return Effect.promise(() => electing2!).pipe(Effect.andThen(Effect.sync(() => void (last = performance.now()))))
            }),
            Effect.flip,
            Effect.map((e) => `${e._tag}: ${e.message}`),
            Effect.catchCause(() => Effect.succeed(undefined))
          )
          if (readFailure !== undefined) violations.push(`read failed: ${readFailure}`)
          const leaderAfterRead = electing2 === undefined ? undefined : yield* Effect.promise(() => electing2!)
          if (electing2 === undefined) violations.push("read: no election during the read")
          const now = cluster.leader()
          if (now !== undefined) {
            const store = cluster.store(now)!
            const expected = store.events(stream).map((e) => e.eventId)
            const d = firstDifference(read, expected)
            if (d !== "") violations.push(`read: delivered differs from the stream on the new leader ${d}`)
          }
          return {
            leaders: [leaderAfterSubscription, leaderAfterRead],
            subscriptionDelivered: delivered.length,
            subscriptionResumes: log.count("resume", "Streams.subscribeToAll"),
            longestSubscriptionPauseMs: Math.round(longestSubscriptionPause),
            readDelivered: read.length,
            readResumes: log.count("retry", "Streams.read") + log.count("resume", "Streams.read"),
            longestReadPauseMs: Math.round(longestReadPause)
          }
        }))
      )
      return { violations, events: options.events, fault: options.fault ?? "elect", ...figures }
    })))
