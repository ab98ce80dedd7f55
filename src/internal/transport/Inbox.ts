/**
 * What a call's callbacks hand to the one fiber pulling a Stream: values pushed from grpc-js
 * callbacks wait in an array; `pull` takes all that waits, or suspends until something comes.
 *
 * A waiting puller is resumed by the value that arrives, in the callback that pushed it: its own
 * `resume` re-enters its fiber there, without the scheduler's `setImmediate` hop (and the
 * event-loop turn it costs) that an Effect `Queue` takes to wake its taker, so the consumer
 * handles an event, and acks it, in the turn that delivered it. grpc-js hands over one message
 * per `process.nextTick` (it pauses the HTTP/2 stream after each and pushes the next through its
 * async filters), so no later point in the same turn would find more than one waiting either: an
 * earlier version resumed once per microtask checkpoint and counted 1.00 values per chunk
 * (BENCHMARKS.md section 11); values that arrive while the puller runs wait for its next pull. An
 * end (`fail`, `done`) resumes it from a microtask, outside the call's callbacks. This suits
 * calls bound by round trips (a persistent subscription has at most its buffer size of events in
 * flight, and the node sends more only after acks). Reads are not: there the `setImmediate` hop
 * lets several socket reads pile up into one chunk, and waking per socket read measured 1.4-1.7x
 * the client CPU per event (`ServerStream.ts` keeps its Queue).
 *
 * Memory is bounded by `high`: when that many values wait, `pause` is called (the call stops
 * reading, and HTTP/2 flow control holds the peer back); `resume` once the puller has taken them.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Pull from "effect/Pull"
import type * as Arr from "effect/Array"

/** @internal */
export interface InboxOptions<A = unknown> {
  /** How many values may wait before `pause`. */
  readonly high: number
  readonly pause: () => void
  readonly resume: () => void
  /** Called with each chunk as the puller takes it (before its fiber resumes): counting, metrics. */
  readonly onTake?: ((items: Arr.NonEmptyReadonlyArray<A>) => void) | undefined
}

/** @internal */
export class Inbox<A, E> {
  private items: Array<A> = []
  private end: Effect.Effect<never, E | Cause.Done> | undefined = undefined
  private waiter: ((effect: Effect.Effect<Arr.NonEmptyReadonlyArray<A>, E | Cause.Done>) => void) | undefined = undefined
  private scheduled = false
  private paused = false
  private readonly options: InboxOptions<A>

  constructor(options: InboxOptions<A>) {
    this.options = options
  }

  /** Adds a value (ignored once the inbox has ended). */
  push(item: A): void {
    if (this.end !== undefined) return
    this.items.push(item)
    if (!this.paused && this.items.length >= this.options.high) {
      this.paused = true
      this.options.pause()
    }
    if (this.waiter !== undefined && !this.scheduled) this.deliver()
  }

  /** Ends the inbox with a failure, after what waits has been taken. */
  fail(error: E): void {
    if (this.end !== undefined) return
    this.end = Effect.fail(error)
    this.wake()
  }

  /** Ends the inbox, after what waits has been taken. */
  done(): void {
    if (this.end !== undefined) return
    this.end = Cause.done()
    this.wake()
  }

  private wake(): void {
    if (this.waiter === undefined || this.scheduled) return
    this.scheduled = true
    queueMicrotask(this.deliver)
  }

  private readonly deliver = (): void => {
    this.scheduled = false
    const waiter = this.waiter
    if (waiter === undefined) return
    const next = this.take()
    if (next === undefined) return
    this.waiter = undefined
    waiter(next)
  }

  private take(): Effect.Effect<Arr.NonEmptyReadonlyArray<A>, E | Cause.Done> | undefined {
    if (this.items.length > 0) {
      const out = this.items as unknown as Arr.NonEmptyReadonlyArray<A>
      this.items = []
      if (this.paused) {
        this.paused = false
        this.options.resume()
      }
      this.options.onTake?.(out)
      return Effect.succeed(out)
    }
    return this.end
  }

  private readonly cancelWait: Effect.Effect<void> = Effect.sync(() => {
    this.waiter = undefined
  })

  // made once: the puller waits after nearly every event of a persistent subscription
  private readonly wait: Effect.Effect<Arr.NonEmptyReadonlyArray<A>, E | Cause.Done> = Effect.callback((resume) => {
    this.waiter = resume
    return this.cancelWait
  })

  /** Takes everything waiting, or waits for something; fails with `Cause.Done` at the end. */
  readonly pull: Pull.Pull<Arr.NonEmptyReadonlyArray<A>, E> = Effect.suspend(() => this.take() ?? this.wait)
}
