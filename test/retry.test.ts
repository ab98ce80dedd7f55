/**
 * The retry policy: retryable failures (the node was unreachable, or not the leader) are retried
 * under the connection's Schedule, exactly as many times as it allows; other failures are not.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { GrpcError } from "../src/errors/GrpcError.ts"
import { NodeIsNotLeader } from "../src/errors/NodeIsNotLeader.ts"
import { ServiceUnavailable } from "../src/errors/ServiceUnavailable.ts"
import { WrongCurrentVersion } from "../src/errors/WrongCurrentVersion.ts"
import { AccessDenied } from "../src/errors/AccessDenied.ts"
import { DeadlineExceeded } from "../src/errors/DeadlineExceeded.ts"
import { DiscoveryFailed } from "../src/errors/DiscoveryFailed.ts"
import { FollowerNotFound } from "../src/errors/FollowerNotFound.ts"
import { LeaderNotFound } from "../src/errors/LeaderNotFound.ts"
import { NotFound } from "../src/errors/NotFound.ts"
import { StreamDeleted } from "../src/errors/StreamDeleted.ts"
import { canResume, canRetryAppend, followsLeader, isRetryable, isTransient, needsReconnect, settle } from "../src/internal/transport/Retry.ts"
import { make } from "../src/internal/transport/Transport.ts"
import type { CallError } from "../src/internal/transport/CallError.ts"

const failing = (errors: ReadonlyArray<CallError>) => {
  let attempts = 0
  const effect = Effect.suspend(() => {
    const error = errors[attempts]
    attempts++
    return error === undefined ? Effect.succeed(attempts) : Effect.fail(error)
  })
  return { effect, attempts: () => attempts }
}

const unavailable = new ServiceUnavailable({ reason: "No connection established" })

describe("Connection.retry", () => {
  it.effect("retries retryable failures as often as the schedule allows, then fails with the last one", () =>
    Effect.gen(function*() {
      const connection = yield* make({ connectionString: "esdb://localhost:2113?tls=false", retrySchedule: Schedule.recurs(3) })
      const always = failing(Array.from({ length: 10 }, () => unavailable))
      const error = yield* Effect.flip(connection.retry(always.effect))
      assert.strictEqual(error._tag, "ServiceUnavailable")
      assert.strictEqual(always.attempts(), 4, "the first attempt and three retries")
    }))

  it.effect("succeeds on a later attempt, including after NodeIsNotLeader", () =>
    Effect.gen(function*() {
      const connection = yield* make({ connectionString: "esdb://localhost:2113?tls=false", retrySchedule: Schedule.recurs(3) })
      const flaky = failing([unavailable, new NodeIsNotLeader({ leader: { host: "other", port: 2113 } })])
      assert.strictEqual(yield* connection.retry(flaky.effect), 3)
      assert.strictEqual(flaky.attempts(), 3)
    }))

  it.effect("does not retry failures that are not safe to retry", () =>
    Effect.gen(function*() {
      const connection = yield* make({ connectionString: "esdb://localhost:2113?tls=false", retrySchedule: Schedule.recurs(3) })
      for (const error of [
        new WrongCurrentVersion({ stream: "s", expected: 1n, actual: 2n }),
        new GrpcError({ code: 13, details: "Request message serialization failure", metadata: {} })
      ]) {
        const once = failing([error, error])
        assert.strictEqual((yield* Effect.flip(connection.retry(once.effect)))._tag, error._tag)
        assert.strictEqual(once.attempts(), 1)
      }
    }))

  it.effect("Schedule.recurs(0) disables retries", () =>
    Effect.gen(function*() {
      const connection = yield* make({ connectionString: "esdb://localhost:2113?tls=false", retrySchedule: Schedule.recurs(0) })
      const always = failing([unavailable, unavailable])
      yield* Effect.flip(connection.retry(always.effect))
      assert.strictEqual(always.attempts(), 1)
    }))

  it.live("a deadline bounds the retries: no attempt starts after it, and the last failure is the result", () =>
    Effect.gen(function*() {
      const connection = yield* make({
        connectionString: "esdb://localhost:2113?tls=false",
        retrySchedule: Schedule.spaced("100 millis").pipe(Schedule.upTo({ times: 100 }))
      })
      const always = failing(Array.from({ length: 200 }, () => unavailable))
      const startedAt: Array<number> = []
      const started = Date.now()
      const deadline = started + 350
      const error = yield* Effect.flip(connection.retry(Effect.andThen(Effect.sync(() => startedAt.push(Date.now())), always.effect), deadline))
      const elapsed = Date.now() - started
      assert.strictEqual(error._tag, "ServiceUnavailable")
      // the attempts' own start times, not the total: a loaded machine may run the last one late,
      // but none may start after the deadline
      assert.isAtMost(Math.max(...startedAt), deadline, "no attempt starts after the deadline")
      assert.isBelow(elapsed, 350 + 1000, "no retry waits far past the deadline")
      // attempts at 0, 100, 200 and 300 ms; the next one would start at 400 ms, after the deadline
      assert.isAtLeast(always.attempts(), 2)
      assert.isAtMost(always.attempts(), 4)
    }))

  describe("never retried: WrongCurrentVersion, NotFound, AccessDenied", () => {
    const refusals: ReadonlyArray<CallError> = [
      new WrongCurrentVersion({ stream: "s", expected: 1n, actual: 2n }),
      new NotFound({ stream: "s" }),
      new AccessDenied({ reason: "Access denied" }),
      new StreamDeleted({ stream: "s" })
    ]

    it("by every predicate of Retry.ts: calls, appends, reads and subscriptions", () => {
      for (const error of refusals) {
        assert.isFalse(isRetryable(error), error._tag)
        assert.isFalse(canRetryAppend(error), error._tag)
        assert.isFalse(canResume(error), error._tag)
      }
    })

    it.effect("through transport.call, for reads and writes alike: one attempt, the refusal as the result", () =>
      Effect.gen(function*() {
        const connection = yield* make({ connectionString: "esdb://localhost:2113?tls=false", retrySchedule: Schedule.recurs(5) })
        for (const kind of ["read", "write"] as const) {
          for (const error of refusals) {
            let attempts = 0
            const result = yield* Effect.flip(connection.call(
              { name: "Test.op", kind, narrow: (e) => e },
              () =>
                Effect.suspend(() => {
                  attempts++
                  return Effect.fail(error)
                })
            ))
            assert.strictEqual(result, error)
            assert.strictEqual(attempts, 1, `${kind} ${error._tag}`)
          }
        }
      }))
  })

  describe("appends (their event ids fixed) fail over", () => {
    it("after any connection failure, also one where the node may have written them; never after a refusal", () => {
      // a connection dropped mid-call: the node may have executed it
      const dropped = new ServiceUnavailable({
        reason: "Connection dropped",
        cause: new GrpcError({ code: 14, details: "Connection dropped", metadata: {} })
      })
      assert.isFalse(isRetryable(dropped), "another write could not be sent again")
      assert.isTrue(canRetryAppend(dropped), "an append can: a repeat is answered with the original result")
      assert.isTrue(canRetryAppend(unavailable))
      assert.isTrue(canRetryAppend(new NodeIsNotLeader({ leader: { host: "other", port: 2113 } })))
      // the operation's deadline covers its retries; discovery already made its rounds
      assert.isFalse(canRetryAppend(new DeadlineExceeded({ reason: "late" })))
      assert.isFalse(canRetryAppend(new DiscoveryFailed({ reason: "none", attempts: 10 })))
      assert.isFalse(canRetryAppend(new LeaderNotFound({ attempts: 10, members: [] })))
    })

    it("a subscription goes on while the cluster has no member of the preferred kind (an election ends)", () => {
      assert.isTrue(canResume(new LeaderNotFound({ attempts: 10, members: [] })))
      assert.isTrue(canResume(new FollowerNotFound({ attempts: 10, members: [] })))
    })
  })

  describe("NodeIsNotLeader is followed only by a connection that discovers with NodePreference=leader (the seed's rule)", () => {
    it("followsLeader: discovery and the leader preference, nothing else", () => {
      assert.isTrue(followsLeader({ discover: true, nodePreference: "leader" }))
      assert.isFalse(followsLeader({ discover: false, nodePreference: "leader" }), "a single node address")
      for (const nodePreference of ["follower", "readonlyreplica", "random"] as const) {
        assert.isFalse(followsLeader({ discover: true, nodePreference }), nodePreference)
      }
    })

    it("settle marks it final elsewhere: no retry, resume, reconnect nor move; other failures and connections untouched", () => {
      const followed = settle({ discover: true, nodePreference: "leader" }, new NodeIsNotLeader({}))
      assert.isTrue(isRetryable(followed) && canRetryAppend(followed) && canResume(followed) && needsReconnect(followed))
      for (const settings of [{ discover: false, nodePreference: "leader" }, { discover: true, nodePreference: "follower" }] as const) {
        const final = settle(settings, new NodeIsNotLeader({ leader: { host: "leader", port: 2113 } }))
        assert.isFalse(isRetryable(final))
        assert.isFalse(isTransient(final))
        assert.isFalse(canRetryAppend(final))
        assert.isFalse(canResume(final))
        assert.isFalse(needsReconnect(final))
        // only NodeIsNotLeader is concerned
        assert.isTrue(needsReconnect(settle(settings, unavailable)))
      }
    })
  })
})
