/**
 * Deadlines: an operation's deadline is computed once, from the Clock, when it starts, and bounds
 * every attempt and every wait of it. Deadlines are instants of the Clock (milliseconds), Infinity
 * for none; grpc-js, whose timers are wall-clock ones, gets what is left of them.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import type { CallOptions } from "./Options.ts"

/**
 * The longest deadline handed to grpc-js (about a year): longer ones overflow its timers.
 *
 * @internal
 */
export const MAX_DEADLINE_MS = 31_536_000_000

/**
 * Whether an operation has a deadline by default: single-reply operations (`"reply"`) take the
 * connection's DefaultDeadline, reads and subscriptions (`"stream"`) none.
 *
 * @internal
 */
export type DeadlineDefault = "reply" | "stream"

/**
 * The timeout of an operation in milliseconds: the caller's `timeout`, else the connection's
 * DefaultDeadline (10 s when absent) for single-reply operations and none (Infinity) for streams.
 *
 * @internal
 */
export const timeoutMillis = (
  defaultDeadline: number | undefined,
  options: CallOptions | undefined,
  kind: DeadlineDefault
): number => {
  if (options?.timeout !== undefined) return Math.max(0, Duration.toMillis(Duration.fromInputUnsafe(options.timeout)))
  return kind === "reply" ? Math.min(defaultDeadline ?? 10_000, MAX_DEADLINE_MS) : Infinity
}

/**
 * The deadline of an operation of `timeout` ms starting at `now` (the Clock's milliseconds).
 *
 * @internal
 */
export const deadlineAt = (now: number, timeout: number): number =>
  timeout === Infinity ? Infinity : now + Math.min(timeout, MAX_DEADLINE_MS)

/**
 * The deadline as grpc-js takes it (wall-clock epoch milliseconds): what is left of `deadline` at
 * `now` (the Clock's time), from the wall clock's now. With the live Clock, `deadline` itself.
 * `Date.now()` here is on purpose: grpc-js runs its deadline timers on the wall clock, so a Clock
 * instant must be translated to it (the operation's own deadline and retries stay on the Clock).
 *
 * @internal
 */
export const toGrpcDeadline = (deadline: number, now: number): number => {
  if (deadline === Infinity) return Infinity
  const wall = Date.now()
  return wall === now ? deadline : wall + Math.max(0, deadline - now)
}
