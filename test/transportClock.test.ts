/**
 * The transport's time is the Clock's: deadlines, retry backoff and the closing of idle
 * connections run on TestClock here, with no node (a grpc-js channel connects only when a call
 * is made, and none is).
 */
import * as grpc from "@grpc/grpc-js"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Exit from "effect/Exit"
import { TestClock } from "effect/testing"
import { GrpcError } from "../src/errors/GrpcError.ts"
import { ServiceUnavailable } from "../src/errors/ServiceUnavailable.ts"
import { parseConnectionString } from "../src/internal/ConnectionString.ts"
import type { CallError } from "../src/internal/transport/CallError.ts"
import type { CallSpec } from "../src/internal/transport/Calls.ts"
import * as ChannelPool from "../src/internal/transport/ChannelPool.ts"
import { make, type Operation } from "../src/internal/transport/Transport.ts"

const unavailable = new ServiceUnavailable({ reason: "The node is not ready" })
// a connection dropped mid-call: the node may have executed the request
const dropped = new ServiceUnavailable({
  reason: "Connection dropped",
  cause: new GrpcError({ code: 14, details: "Connection dropped", metadata: {} })
})

const operation = (kind: "read" | "write", timeout?: Duration.Input): Operation<CallError> => ({
  name: "Test.operation",
  kind,
  options: timeout === undefined ? undefined : { timeout },
  narrow: (error) => error
})

/** An attempt that always fails with `error`, recording when (by the Clock) and with which spec it ran. */
const recorder = (error: CallError) => {
  const attempts: Array<{ readonly at: number; readonly spec: CallSpec }> = []
  const attempt = (spec: CallSpec) =>
    Effect.flatMap(Effect.clockWith((clock) => Effect.succeed(clock.currentTimeMillisUnsafe())), (at) => {
      attempts.push({ at, spec })
      return Effect.fail(error)
    })
  return { attempts, attempt }
}

describe("transport time on TestClock", () => {
  it.effect("backoff: attempts follow the retry Schedule on the Clock", () =>
    Effect.gen(function*() {
      const transport = yield* make({
        connectionString: "esdb://localhost:2113?tls=false",
        retrySchedule: Schedule.exponential("100 millis", 2).pipe(Schedule.upTo({ times: 3 }))
      })
      const { attempts, attempt } = recorder(unavailable)
      const fiber = yield* Effect.forkChild(transport.call(operation("write", "1 hour"), attempt))
      yield* TestClock.adjust("99 millis")
      assert.deepStrictEqual(attempts.map((a) => a.at), [0])
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(attempts.map((a) => a.at), [0, 100])
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(attempts.map((a) => a.at), [0, 100, 300, 700])
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isFailure(exit))
    }))

  it.effect("deadline: computed once when the operation starts, handed to every attempt, and no attempt starts after it", () =>
    Effect.gen(function*() {
      const transport = yield* make({
        connectionString: "esdb://localhost:2113?tls=false",
        retrySchedule: Schedule.spaced("100 millis").pipe(Schedule.upTo({ times: 100 }))
      })
      yield* TestClock.setTime(1_000)
      const { attempts, attempt } = recorder(unavailable)
      const fiber = yield* Effect.forkChild(transport.call(operation("write", "250 millis"), attempt))
      yield* TestClock.adjust("10 seconds")
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.strictEqual(error._tag, "ServiceUnavailable")
      // attempts at 0, 100 and 200 ms; the next one would start at 300 ms, after the deadline
      assert.deepStrictEqual(attempts.map((a) => a.at), [1_000, 1_100, 1_200])
      assert.deepStrictEqual(attempts.map((a) => a.spec.deadline), [1_250, 1_250, 1_250])
    }))

  it.effect("deadline: single-reply operations default to DefaultDeadline, reads and subscriptions to none", () =>
    Effect.gen(function*() {
      const transport = yield* make({
        connectionString: "esdb://localhost:2113?tls=false&defaultDeadline=2000",
        retrySchedule: Schedule.recurs(0)
      })
      yield* TestClock.setTime(5_000)
      assert.strictEqual(yield* transport.deadline(undefined, "reply"), 7_000)
      assert.strictEqual(yield* transport.deadline(undefined, "stream"), Infinity)
      assert.strictEqual(yield* transport.deadline({ timeout: "1 second" }, "stream"), 6_000)
      const { attempts, attempt } = recorder(unavailable)
      yield* Effect.flip(transport.call(operation("read"), attempt))
      assert.strictEqual(attempts[0]!.spec.deadline, 7_000)
    }))

  it.effect("a read is retried after a connection dropped mid-call; a write is not (the node may have executed it)", () =>
    Effect.gen(function*() {
      const transport = yield* make({
        connectionString: "esdb://localhost:2113?tls=false",
        retrySchedule: Schedule.spaced("10 millis").pipe(Schedule.upTo({ times: 2 }))
      })
      const read = recorder(dropped)
      const readFiber = yield* Effect.forkChild(transport.call(operation("read"), read.attempt))
      yield* TestClock.adjust("1 second")
      yield* Fiber.await(readFiber)
      assert.strictEqual(read.attempts.length, 3)
      const write = recorder(dropped)
      yield* Effect.flip(transport.call(operation("write"), write.attempt))
      assert.strictEqual(write.attempts.length, 1)
    }))
})

describe("connection pool on TestClock", () => {
  const settings = Result.getOrThrow(parseConnectionString("esdb://localhost:2113?tls=false"))
  const pool = (options: { readonly maxConnections: number; readonly streamsPerChannel: number }) =>
    ChannelPool.make({
      settings,
      credentials: grpc.credentials.createInsecure(),
      channelOptions: {},
      idleTimeout: Duration.seconds(30),
      ...options
    })

  it.effect("long-lived calls spread over connections up to the cap, then wait for a place", () =>
    Effect.gen(function*() {
      const channels = yield* pool({ maxConnections: 2, streamsPerChannel: 3 })
      const scopes = yield* Effect.forEach(Array.from({ length: 6 }), () => Scope.make())
      for (const scope of scopes) yield* Scope.provide(channels.acquireLong, scope)
      assert.strictEqual(channels.size(), 2)
      // the seventh waits: no connection has room and there may be no third
      const seventh = yield* Scope.make()
      const waiting = yield* Effect.forkChild(Scope.provide(channels.acquireLong, seventh))
      yield* TestClock.adjust("1 minute")
      assert.isUndefined(waiting.pollUnsafe())
      assert.strictEqual(channels.size(), 2)
      // it gets the place of a call that ends
      yield* Scope.close(scopes[0]!, Exit.void)
      yield* Fiber.join(waiting)
      assert.strictEqual(channels.size(), 2)
    }))

  it.effect("an extra connection left without calls is closed after the idle timeout; the primary stays", () =>
    Effect.gen(function*() {
      const channels = yield* pool({ maxConnections: 4, streamsPerChannel: 2 })
      const scopes = yield* Effect.forEach(Array.from({ length: 6 }), () => Scope.make())
      for (const scope of scopes) yield* Scope.provide(channels.acquireLong, scope)
      assert.strictEqual(channels.size(), 3)
      for (const scope of scopes) yield* Scope.close(scope, Exit.void)
      yield* TestClock.adjust("29 seconds")
      assert.strictEqual(channels.size(), 3, "not before the idle timeout")
      yield* TestClock.adjust("1 second")
      assert.strictEqual(channels.size(), 1, "the extra connections are closed")
      // a connection used again before its timeout stays
      const again = yield* Effect.forEach(Array.from({ length: 3 }), () => Scope.make())
      for (const scope of again) yield* Scope.provide(channels.acquireLong, scope)
      assert.strictEqual(channels.size(), 2)
      yield* Scope.close(again[2]!, Exit.void)
      yield* TestClock.adjust("10 seconds")
      const kept = yield* Scope.make()
      yield* Scope.provide(channels.acquireLong, kept)
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(channels.size(), 2)
      // left idle, used and left again: only the last idle period counts
      yield* Scope.close(kept, Exit.void)
      yield* TestClock.adjust("20 seconds")
      const brief = yield* Scope.make()
      yield* Scope.provide(channels.acquireLong, brief)
      yield* Scope.close(brief, Exit.void)
      yield* TestClock.adjust("15 seconds")
      assert.strictEqual(channels.size(), 2, "idle for 15 s only")
      yield* TestClock.adjust("15 seconds")
      assert.strictEqual(channels.size(), 1)
    }))
})
