/**
 * Scenario 3: a `consume` consumer (persistent subscription, `concurrency` 8) runs through a
 * failover: the leader is killed once a third of `events` events are handled; as many again are
 * appended after it. Every `poisonEvery`th event fails in the handler each time: the policy nacks
 * it `retry` `maxRetries` times, then parks it. Every other event must be handled at least once;
 * every poison event parked (its parked stream on the new leader; one parked on the old leader
 * after the group's last checkpoint there is delivered again by the new leader and parked again,
 * as on a real node: counted, `parkedAgain`); nothing else parked; and once it is done the group on the new leader holds nothing unacknowledged (a second
 * consumer gets nothing). Figures: handled, redeliveries (events handled again after they had
 * succeeded: the group's checkpoint lags its acks, so the new leader's group starts from it),
 * parked, the consumer's logged reconnects, the longest pause.
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { NewEvent } from "../../src/domain/NewEvent.ts"
import type { RecordedEvent } from "../../src/domain/RecordedEvent.ts"
import { PersistentSubscriptions, Streams } from "../../src/index.ts"
import { nodeStats } from "../../src/server/EmbeddedNode.ts"
import { measured, waitFor, warningLog, withClient, withCluster } from "./common.ts"

/** Sizes of the scenario. */
export interface ConsumeFailoverOptions {
  readonly events: number
  /** Every this-many'th event always fails (default 50). */
  readonly poisonEvery?: number | undefined
  /** Nacks `retry` before parking (default 2). */
  readonly maxRetries?: number | undefined
  /** How the leader goes: killed (default), or it steps down for an election (and stays a follower). */
  readonly fault?: "kill" | "elect" | undefined
}

class Poison {
  readonly _tag = "Poison"
  readonly message = "this event always fails"
}

/** Runs the scenario. */
export const consumeFailover = (options: ConsumeFailoverOptions) =>
  measured("consume-failover", withCluster({}, (cluster) =>
    Effect.gen(function*() {
      const violations: Array<string> = []
      const poisonEvery = options.poisonEvery ?? 50
      const maxRetries = options.maxRetries ?? 2
      const log = warningLog()
      const stream = `consume-failover-${Date.now()}`
      const group = "g"
      const half = Math.floor(options.events / 2)
      const third = Math.floor(options.events / 3)
      const events = Array.from({ length: options.events }, (_, i) =>
        new NewEvent({ type: i % poisonEvery === poisonEvery - 1 ? "Poison" : "Ok", data: JSON.stringify({ i }) }))
      const poison = new Set(events.filter((e) => e.type === "Poison").map((e) => e.id))
      const succeeded = new Map<string, number>()
      const failures = new Map<string, number>()
      let killed: Promise<void> | undefined
      let last = performance.now()
      let longestPause = 0
      const handler = (e: RecordedEvent) =>
        Effect.suspend(() => {
          const now = performance.now()
          longestPause = Math.max(longestPause, now - last)
          last = now
          if (poison.has(e.id)) {
            failures.set(e.id, (failures.get(e.id) ?? 0) + 1)
            return Effect.fail(new Poison())
          }
          succeeded.set(e.id, (succeeded.get(e.id) ?? 0) + 1)
          if (succeeded.size === third && killed === undefined) {
            killed = options.fault === "elect" ? cluster.electLeader().then(() => {}) : cluster.kill(cluster.leader()!)
          }
          return Effect.void
        })
      const figures = yield* withClient(
        cluster.connectionString,
        log.capture(Effect.gen(function*() {
          const api = yield* Streams.Streams
          const ps = yield* PersistentSubscriptions.PersistentSubscriptions
          for (let i = 0; i < half; i += 500) {
            yield* api.append(stream, events.slice(i, Math.min(i + 500, half)), { currentVersion: "any" })
          }
          yield* ps.createToStream(stream, group, { from: "start", settings: { maxRetryCount: 100 } })
          const consumer = yield* Effect.forkChild(
            ps.consumeToStream(stream, group, handler, { concurrency: 8, maxRetries, finalAction: "park" })
          )
          if (!(yield* waitFor(() => killed !== undefined, 60_000))) violations.push(`only ${succeeded.size} handled before the kill`)
          else yield* Effect.promise(() => killed!)
          for (let i = half; i < options.events; i += 500) {
            yield* api.append(stream, events.slice(i, Math.min(i + 500, options.events)), { currentVersion: "any" })
          }
          const expected = options.events - poison.size
          const parkedStream = `$persistentsubscription-${stream}::${group}-parked`
          const parkedIds = () =>
            api.read(parkedStream, { resolveLinks: true }).pipe(
              Stream.map((e) => e.id),
              Stream.runCollect,
              Effect.map((c) => Array.from(c)),
              Effect.orElseSucceed((): Array<string> => [])
            )
          let parked: Array<string> = []
          const until = Date.now() + 120_000
          while (Date.now() < until) {
            parked = yield* parkedIds()
            if (succeeded.size >= expected && new Set(parked).size >= poison.size) break
            yield* Effect.sleep(100)
          }
          if (succeeded.size < expected) violations.push(`${expected - succeeded.size} events never handled`)
          const parkedCount = new Map<string, number>()
          for (const id of parked) parkedCount.set(id, (parkedCount.get(id) ?? 0) + 1)
          const notParked = [...poison].filter((id) => parkedCount.get(id) === undefined).length
          const parkedTwice = [...parkedCount.values()].filter((n) => n > 1).length
          const parkedWrongly = [...parkedCount.keys()].filter((id) => !poison.has(id)).length
          if (notParked > 0) violations.push(`${notParked} failing events not parked`)
          if (parkedWrongly > 0) violations.push(`${parkedWrongly} events parked that never failed`)
          const tooFewTries = [...poison].filter((id) => (failures.get(id) ?? 0) < maxRetries + 1).length
          if (tooFewTries > 0) violations.push(`${tooFewTries} failing events parked before ${maxRetries} retries`)
          // the group on the new leader holds nothing unacknowledged: a second consumer gets nothing
          yield* Fiber.interrupt(consumer)
          const leader = cluster.leader()
          const holding = leader === undefined ? undefined : nodeStats(cluster.node(leader)!).persistentGroups
          const late: Array<string> = []
          const second = yield* Effect.forkChild(ps.consumeToStream(stream, group, (e) => Effect.sync(() => void late.push(e.id))))
          yield* Effect.sleep(1000)
          yield* Fiber.interrupt(second)
          if (late.length > 0) violations.push(`${late.length} events redelivered to a second consumer after all were acked`)
          const handled = [...succeeded.values()].reduce((a, b) => a + b, 0)
          return {
            handled,
            redeliveries: handled - succeeded.size,
            failedAttempts: [...failures.values()].reduce((a, b) => a + b, 0),
            parked: parkedCount.size,
            // parked on the old leader after its last checkpoint: the new leader's group delivers them again
            parkedAgain: parked.length - parkedCount.size,
            eventsParkedTwice: parkedTwice,
            poison: poison.size,
            reconnects: log.count("reconnect"),
            groupOnNewLeader: holding,
            longestPauseMs: Math.round(longestPause)
          }
        }))
      )
      return { violations, events: options.events, fault: options.fault ?? "kill", ...figures }
    })))
