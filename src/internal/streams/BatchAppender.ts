/**
 * Appends over one long-lived `Streams.BatchAppend` call per connection: each append is one
 * request (options, its events, `is_final`), matched to its reply by correlation id. This costs
 * a fraction of a new HTTP/2 stream per append, and concurrent appends share the call instead of
 * each taking one of the connection's ~100 streams.
 *
 * Appends are handed to grpc-js back to back as they come, so those made in the same turn of the
 * event loop leave in the same socket writes. grpc-js buffers what its HTTP/2 stream cannot take
 * yet (the node stopped reading: flow control) and would send it whenever it can, however late:
 * so the appender counts the bytes handed to grpc-js whose write callback has not fired (grpc-js
 * fires it once the HTTP/2 stream took the message) and, while they exceed {@link IN_FLIGHT_BYTES},
 * holds further appends itself. One whose deadline passes while held fails with
 * DeadlineExceeded and is dropped: it is never written later. An append is always handed over
 * when nothing is in flight, however large.
 *
 * Time comes from Effect's `Clock` (the one the appender was made with, so `TestClock` drives the
 * deadlines): a deadline is an instant of that Clock, and while appends with one are pending, a
 * fiber of the session sleeps {@link SWEEP_MS} at a time on it and fails those whose deadline
 * passed. The fiber parks while none is pending: the append path only reads the Clock (as it read
 * `Date.now()` before) and, when the fiber is parked, wakes it (at most once per sweep).
 *
 * @internal
 */
import { randomUUID } from "node:crypto"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import type { StreamState } from "../../domain/StreamState.ts"
import { DeadlineExceeded } from "../../errors/DeadlineExceeded.ts"
import { GrpcError } from "../../errors/GrpcError.ts"
import { ServiceUnavailable } from "../../errors/ServiceUnavailable.ts"
import { Code } from "../../generated/code.ts"
import type { BatchAppendReq_Options, BatchAppendReq_ProposedMessage, BatchAppendResp } from "../../generated/streams.ts"
import { encodeBatchAppendReq } from "../codec/BatchAppendEncoder.ts"
import type { AppendSuccess } from "../codec/BatchAppendReply.ts"
import { empty, streamIdentifier, uuidToString } from "../convert.ts"
import type { CallError } from "../transport/CallError.ts"
import { classifyRpcStatus } from "../transport/classifyError.ts"
import { settle } from "../transport/Retry.ts"
import type { DuplexCall, TransportShape } from "../transport/Transport.ts"
import { BatchAppend } from "./methods.ts"

/** Requests larger than this are split into several chunks of one append. */
const CHUNK_BYTES = 3 * 1024 * 1024

/** While more than this is handed to grpc-js and not yet taken by its HTTP/2 stream, appends wait. */
const IN_FLIGHT_BYTES = 512 * 1024

interface Pending {
  readonly stream: string
  readonly expected: StreamState
  /** The appender's Clock's instant after which the append fails with DeadlineExceeded (Infinity: never). */
  readonly deadline: number
  /** The operation's timeout, for the error message. */
  readonly timeoutMs: number
  readonly resume: (result: Effect.Effect<bigint, CallError>) => void
}

interface Queued {
  readonly id: string
  readonly frames: ReadonlyArray<Buffer>
}

interface Session {
  readonly call: DuplexCall<Buffer>
  readonly scope: Scope.Closeable
  readonly pending: Map<string, Pending>
  /** Appends not yet handed to grpc-js, oldest first. */
  readonly queue: Array<Queued>
  /** Bytes handed to grpc-js whose write callback has not fired yet. */
  inFlight: number
  /** The sizes of those writes, oldest first (grpc-js calls back in order). */
  readonly written: Array<number>
  /** Index of the oldest write in `written` not yet called back. */
  writtenHead: number
  /** The one write callback of the session. */
  readonly onWritten: () => void
  /** Correlation ids are this random UUID prefix plus a counter: unique per session, cheap. */
  readonly idPrefix: string
  nextId: number
  /** Set while an append with a deadline may be pending: the sweeper runs (else it parks). */
  timed: boolean
  /** Set while the sweeper is parked: wakes it. */
  wake: (() => void) | undefined
  closed: boolean
}

/** @internal */
export interface BatchAppender {
  /**
   * Appends `events`; `deadline` is an instant of `clock` (the caller's, from which the operation's
   * deadline was computed; Infinity for none), and `timeoutMs` the operation's timeout, for the
   * error message.
   */
  readonly append: (
    stream: string,
    expected: StreamState,
    events: ReadonlyArray<BatchAppendReq_ProposedMessage>,
    deadline: number,
    timeoutMs: number,
    clock: Clock.Clock
  ) => Effect.Effect<bigint, CallError>
}

const expectedPosition = (state: StreamState): BatchAppendReq_Options["expectedStreamPosition"] =>
  typeof state === "bigint"
    ? { $case: "streamPosition", value: state }
    : state === "any"
    ? { $case: "any", value: empty }
    : state === "no_stream"
    ? { $case: "noStream", value: empty }
    : { $case: "streamExists", value: empty }

/** How often expired appends are looked for: the precision of client-side append deadlines. */
const SWEEP_MS = 50
const SWEEP = Duration.millis(SWEEP_MS)
const MAX_DEADLINE = 31_536_000_000

const sizeOf = (m: BatchAppendReq_ProposedMessage) => m.data.length + m.customMetadata.length + 64

const noPosition = () =>
  new GrpcError({ code: Code.UNKNOWN, details: "Append succeeded without a position", metadata: {} })

/**
 * Makes the batch appender of a transport. The session (the call) is opened on first use and
 * replaced when it ends (its connection was replaced, or the node ended it).
 *
 * @internal
 */
export const make = (transport: TransportShape): Effect.Effect<BatchAppender, never, Scope.Scope> =>
  Effect.gen(function*() {
    // sessions live in scopes forked from the owner's: they end with it at the latest
    const parent = yield* Effect.scope
    // deadlines and the sweeper's sleeps on the Clock of whoever made the appender (the layer)
    const clock = yield* Clock.Clock
    const opening = yield* Semaphore.make(1)
    let session: Session | undefined

    const failAll = (s: Session, error: CallError) => {
      if (s.closed) return
      s.closed = true
      if (session === s) session = undefined
      const waiting = Array.from(s.pending.values())
      s.pending.clear()
      s.queue.length = 0
      for (const p of waiting) p.resume(Effect.fail(error))
    }

    // Fails the pending appends whose deadline passed; true while any is left.
    const sweep = (s: Session): boolean => {
      if (s.pending.size === 0) return false
      const now = clock.currentTimeMillisUnsafe()
      let expired = false
      for (const [id, p] of s.pending) {
        if (p.deadline <= now) {
          s.pending.delete(id)
          expired = true
          p.resume(Effect.fail(new DeadlineExceeded({ reason: `Append to '${p.stream}' did not complete within ${p.timeoutMs} ms` })))
        }
      }
      // held appends that expired are dropped now rather than when the stream moves again
      if (expired && s.queue.length > 0) {
        const kept = s.queue.filter((q) => s.pending.has(q.id))
        s.queue.length = 0
        s.queue.push(...kept)
      }
      return s.pending.size > 0
    }

    // Parks the sweeper until an append with a deadline is made.
    const park = (s: Session): Effect.Effect<void> =>
      Effect.callback<void>((resume) => {
        s.wake = () => {
          s.wake = undefined
          resume(Effect.void)
        }
        return Effect.sync(() => {
          s.wake = undefined
        })
      })

    // One fiber per session (instead of a timer per append) sweeps expired appends every
    // SWEEP_MS of the Clock while any may be pending, and parks otherwise; it ends with the session.
    const sweeper = (s: Session): Effect.Effect<never> =>
      Effect.forever(Effect.suspend(() => {
        if (!s.timed) return park(s)
        return Effect.map(clock.sleep(SWEEP), () => {
          if (!sweep(s)) s.timed = false
        })
      }))

    const onResponse = (s: Session, response: BatchAppendResp | AppendSuccess) => {
      if ("_tag" in response) {
        const p = s.pending.get(response.correlationId)
        if (p === undefined) return
        s.pending.delete(response.correlationId)
        p.resume(Effect.succeed(response.commitPosition))
        return
      }
      const id = uuidToString(response.correlationId)
      const p = s.pending.get(id)
      if (p === undefined) return
      s.pending.delete(id)
      const result = response.result
      if (result?.$case === "success") {
        const position = result.value.positionOption
        p.resume(
          position?.$case === "position" ? Effect.succeed(position.value.commitPosition) : Effect.fail(noPosition())
        )
      } else if (result?.$case === "error") {
        p.resume(Effect.fail(settle(transport.settings, classifyRpcStatus(result.value, { stream: p.stream, expected: p.expected }))))
      } else p.resume(Effect.fail(new ServiceUnavailable({ reason: "BatchAppend reply without a result" })))
    }

    const write = (s: Session, frames: ReadonlyArray<Buffer>) => {
      for (const frame of frames) {
        s.inFlight += frame.length
        s.written.push(frame.length)
        s.call.write(frame, s.onWritten)
      }
    }

    // Hands queued appends to grpc-js while little is in flight; an append dropped from
    // `pending` (expired, or its caller was interrupted) is skipped, never written. Called again
    // by each write callback while appends wait.
    const flush = (s: Session) => {
      while (s.queue.length > 0 && (s.inFlight === 0 || s.inFlight < IN_FLIGHT_BYTES)) {
        const next = s.queue.shift()!
        if (s.pending.has(next.id)) write(s, next.frames)
      }
    }

    const written = (s: Session) => {
      const size = s.written[s.writtenHead]
      if (size === undefined) return
      s.written[s.writtenHead++] = 0
      s.inFlight -= size
      if (s.writtenHead === s.written.length) {
        s.written.length = 0
        s.writtenHead = 0
      } else if (s.writtenHead > 1024 && s.writtenHead * 2 > s.written.length) {
        s.written.splice(0, s.writtenHead)
        s.writtenHead = 0
      }
      if (s.queue.length > 0 && !s.closed) flush(s)
    }

    const open: Effect.Effect<Session, CallError> = Effect.gen(function*() {
      const scope = yield* Scope.fork(parent)
      const runFork = Effect.runForkWith(yield* Effect.context<never>())
      let s: Session | undefined
      const call = yield* transport.duplex(BatchAppend, {
        onMessage: (response) => onResponse(s!, response),
        onEnd: (error) => {
          if (s === undefined) return
          failAll(s, error)
          runFork(Scope.close(scope, Exit.void))
        }
      }).pipe(Scope.provide(scope), Effect.onError(() => Scope.close(scope, Exit.void)))
      s = {
        call,
        scope,
        pending: new Map(),
        queue: [],
        inFlight: 0,
        written: [],
        writtenHead: 0,
        onWritten: () => written(s!),
        idPrefix: randomUUID().slice(0, 24),
        nextId: 0,
        timed: false,
        wake: undefined,
        closed: false
      }
      yield* Effect.forkIn(sweeper(s), scope)
      session = s
      return s
    })

    // One open at a time. Appends that waited while an open failed fail with its failure rather
    // than each opening (connecting, discovering) again in turn: one discovery for all of them.
    // (`opened` counts the opens that ended: one that ended after an append arrived is its own)
    let opened = 0
    let lastOpenFailure: CallError | undefined
    const current: Effect.Effect<Session, CallError> = Effect.suspend(() => {
      const seen = opened
      return opening.withPermits(1)(Effect.suspend(() => {
        if (session !== undefined && !session.closed) return Effect.succeed(session)
        if (opened !== seen && lastOpenFailure !== undefined) return Effect.fail(lastOpenFailure)
        lastOpenFailure = undefined
        return open.pipe(
          Effect.tapError((error) =>
            Effect.sync(() => {
              lastOpenFailure = error
            })
          ),
          Effect.onExit(() =>
            Effect.sync(() => {
              opened++
            })
          )
        )
      }))
    })

    const send = (
      s: Session,
      stream: string,
      expected: StreamState,
      events: ReadonlyArray<BatchAppendReq_ProposedMessage>,
      callerDeadline: number,
      timeoutMs: number,
      callerClock: Clock.Clock
    ): Effect.Effect<bigint, CallError> =>
      Effect.callback<bigint, CallError>((resume) => {
        if (s.closed) return resume(Effect.fail(new ServiceUnavailable({ reason: "The BatchAppend call has ended" })))
        // what is left of the operation's deadline (a retry gets less than the first attempt), and
        // the deadline on the appender's Clock (the same instant when the caller's is that Clock)
        let remaining = Infinity
        let deadline = Infinity
        if (callerDeadline !== Infinity) {
          remaining = callerDeadline - callerClock.currentTimeMillisUnsafe()
          deadline = callerClock === clock ? callerDeadline : clock.currentTimeMillisUnsafe() + remaining
        }
        if (remaining <= 0) {
          return resume(Effect.fail(new DeadlineExceeded({ reason: `Append to '${stream}' did not complete within ${timeoutMs} ms` })))
        }
        const id = s.idPrefix + (s.nextId++).toString(16).padStart(12, "0")
        s.pending.set(id, { stream, expected, deadline, timeoutMs, resume })
        if (deadline !== Infinity && !s.timed) {
          s.timed = true
          s.wake?.()
        }
        const ms = Math.min(remaining, MAX_DEADLINE)
        const options: BatchAppendReq_Options = {
          streamIdentifier: streamIdentifier(stream),
          expectedStreamPosition: expectedPosition(expected),
          deadlineOption: {
            $case: "deadline",
            value: { seconds: BigInt(Math.floor(ms / 1000)), nanos: Math.floor((ms % 1000) * 1_000_000) }
          }
        }
        const frames: Array<Buffer> = []
        let chunk: Array<BatchAppendReq_ProposedMessage> = []
        let bytes = 0
        for (const event of events) {
          const size = sizeOf(event)
          if (chunk.length > 0 && bytes + size > CHUNK_BYTES) {
            frames.push(encodeBatchAppendReq(id, frames.length === 0 ? options : undefined, chunk, false))
            chunk = []
            bytes = 0
          }
          chunk.push(event)
          bytes += size
        }
        frames.push(encodeBatchAppendReq(id, frames.length === 0 ? options : undefined, chunk, true))
        // the common case: little is in flight and nothing waits, grpc-js takes it now
        if (s.queue.length === 0 && (s.inFlight === 0 || s.inFlight < IN_FLIGHT_BYTES)) write(s, frames)
        else s.queue.push({ id, frames })
        return Effect.sync(() => {
          s.pending.delete(id)
        })
      })

    const append: BatchAppender["append"] = (stream, expected, events, deadline, timeoutMs, callerClock) =>
      Effect.suspend(() => {
        // the common case, an open session, goes straight to the call
        const s = session
        if (s !== undefined && !s.closed) return send(s, stream, expected, events, deadline, timeoutMs, callerClock)
        // opening may wait for a connection (a discovery): until the append's deadline at most
        const opened = deadline === Infinity ? current : current.pipe(Effect.timeoutOrElse({
          duration: Duration.millis(Math.max(0, deadline - callerClock.currentTimeMillisUnsafe())),
          orElse: () =>
            Effect.fail(
              new DeadlineExceeded({
                reason: `Append to '${stream}' did not complete within ${timeoutMs} ms: no connection to a node yet (discovery)`
              })
            )
        }))
        return Effect.flatMap(opened, (s) => send(s, stream, expected, events, deadline, timeoutMs, callerClock))
      })

    return { append }
  })
