/**
 * Appends over one long-lived `Streams.BatchAppend` call per connection: each append is one
 * request (options, its events, `is_final`), matched to its reply by correlation id. This costs
 * a fraction of a new HTTP/2 stream per append (see PERFORMANCE.md), and concurrent appends share
 * the call instead of each taking one of the connection's ~100 streams.
 *
 * @internal
 */
import { randomUUID } from "node:crypto"
import * as Effect from "effect/Effect"
import { DeadlineExceeded } from "../errors/DeadlineExceeded.ts"
import { GrpcError } from "../errors/GrpcError.ts"
import { ServiceUnavailable } from "../errors/ServiceUnavailable.ts"
import {
  BatchAppendReq,
  type BatchAppendReq_Options,
  type BatchAppendReq_ProposedMessage,
  BatchAppendResp
} from "../generated/streams.ts"
import type { StreamState } from "../domain/StreamState.ts"
import { classifyRpcStatus } from "./classifyError.ts"
import type { CallError, ChannelSlot, Connection } from "./Connection.ts"
import { encodeBatchAppendReq } from "./BatchAppendEncoder.ts"
import { type AppendSuccess, readAppendSuccess } from "./BatchAppendReply.ts"
import { userAgent } from "./ChannelConfig.ts"
import { empty, streamIdentifier, uuidToString } from "./convert.ts"
import { ClientSession } from "./http2/ClientSession.ts"
import { type DuplexCall, duplex } from "./http2/GrpcCall.ts"

/** Requests larger than this are split into several chunks of one append. */
const CHUNK_BYTES = 3 * 1024 * 1024

interface Pending {
  readonly stream: string
  readonly expected: StreamState
  /** Epoch milliseconds after which the append fails with DeadlineExceeded (Infinity: never). */
  readonly deadline: number
  readonly timeoutMs: number
  readonly resume: (result: Effect.Effect<bigint, CallError>) => void
}

interface Session {
  readonly slot: ChannelSlot
  /** The client's own HTTP/2 connection to the slot's node, carrying only this call. */
  readonly http2: ClientSession
  readonly call: DuplexCall<BatchAppendReq>
  readonly pending: Map<string, Pending>
  /** Correlation ids are this random UUID prefix plus a counter: unique per session, cheap. */
  readonly idPrefix: string
  nextId: number
  sweeper: ReturnType<typeof setInterval> | undefined
  closed: boolean
}

/** @internal */
export interface BatchAppender {
  readonly append: (
    stream: string,
    expected: StreamState,
    events: ReadonlyArray<BatchAppendReq_ProposedMessage>,
    timeoutMs: number
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
const MAX_DEADLINE = 31_536_000_000

const sizeOf = (m: BatchAppendReq_ProposedMessage) => m.data.length + m.customMetadata.length + 64

/**
 * Makes the batch appender of a connection. Sessions are opened lazily on the connection's
 * primary channel and replaced when their call fails or the channel is replaced.
 *
 * @internal
 */
export const make = (connection: Connection): BatchAppender => {
  let session: Session | undefined

  const failAll = (s: Session, error: CallError) => {
    s.closed = true
    stopSweeper(s)
    if (session === s) session = undefined
    const waiting = Array.from(s.pending.values())
    s.pending.clear()
    for (const p of waiting) p.resume(Effect.fail(error))
  }

  // One timer per session sweeps expired appends (instead of a timer per append); it runs only
  // while appends are pending and never keeps the process alive.
  const stopSweeper = (s: Session) => {
    if (s.sweeper !== undefined) {
      clearInterval(s.sweeper)
      s.sweeper = undefined
    }
  }
  const sweep = (s: Session) => {
    if (s.pending.size === 0) return stopSweeper(s)
    const now = Date.now()
    for (const [id, p] of s.pending) {
      if (p.deadline <= now) {
        s.pending.delete(id)
        p.resume(Effect.fail(new DeadlineExceeded({ reason: `Append to '${p.stream}' did not complete within ${p.timeoutMs} ms` })))
      }
    }
  }
  const startSweeper = (s: Session, timeoutMs: number) => {
    if (s.sweeper !== undefined || !Number.isFinite(timeoutMs)) return
    s.sweeper = setInterval(() => sweep(s), SWEEP_MS)
    s.sweeper.unref()
  }

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
        position?.$case === "position"
          ? Effect.succeed(position.value.commitPosition)
          : Effect.fail(new GrpcError({ code: 2, details: "Append succeeded without a position", metadata: {} }))
      )
    } else if (result?.$case === "error") {
      p.resume(Effect.fail(classifyRpcStatus(result.value, { stream: p.stream, expected: p.expected })))
    } else p.resume(Effect.fail(new ServiceUnavailable({ reason: "BatchAppend reply without a result" })))
  }

  // The call runs on a connection of its own, not on the slot's grpc-js channel: per message,
  // grpc-js and Node's http2 cost more CPU than the rest of an append (see BENCHMARKS.md).
  const open = (slot: ChannelSlot): Session => {
    const { tls, keepAliveMs, keepAliveTimeoutMs } = connection.transport
    const http2 = new ClientSession({ host: slot.endpoint.host, port: slot.endpoint.port, tls, keepAliveMs, keepAliveTimeoutMs })
    const headers: Array<readonly [string, string]> = []
    for (const [name, value] of Object.entries(connection.metadata(undefined).toHttp2Headers())) {
      if (Array.isArray(value)) for (const v of value) headers.push([name, String(v)])
      else if (value !== undefined) headers.push([name, String(value)])
    }
    let s: Session | undefined
    const call = duplex<BatchAppendReq, BatchAppendResp | AppendSuccess>(http2, {
      path: "/event_store.client.streams.Streams/BatchAppend",
      headers,
      userAgent,
      encode: (message) => BatchAppendReq.encode(message).finish(),
      // the common reply (success, string correlation id) is read by hand; the codec does the rest
      decode: (bytes) => readAppendSuccess(bytes) ?? BatchAppendResp.decode(bytes)
    }, {
      onMessage: (response) => onResponse(s!, response),
      onStatus: (status) => {
        http2.close()
        // a session this appender closed itself has already failed its appends
        if (s!.closed) return
        failAll(
          s!,
          status.code === 0
            ? new ServiceUnavailable({ reason: "The BatchAppend call was ended by the server" })
            : connection.fail(slot, status, {})
        )
      }
    })
    s = {
      slot,
      http2,
      call,
      pending: new Map(),
      idPrefix: randomUUID().slice(0, 24),
      nextId: 0,
      sweeper: undefined,
      closed: false
    }
    const session = s
    // The call is owned by the connection: it ends when the connection is closed. Deferred, so
    // that when the call's own failure closed the connection, its handler fails the pending
    // appends with that failure first.
    slot.onClose.add(() =>
      queueMicrotask(() => {
        if (!session.closed) failAll(session, new ServiceUnavailable({ reason: "The connection was closed" }))
        call.cancel()
        http2.close()
      })
    )
    return session
  }

  const current: Effect.Effect<Session, CallError> = Effect.map(connection.acquire, (slot) => {
    if (session !== undefined && !session.closed && session.slot === slot && !slot.closed) return session
    if (session !== undefined && !session.closed) {
      const old = session
      failAll(old, new ServiceUnavailable({ reason: "The connection was replaced" }))
      old.call.end()
      old.http2.close()
    }
    session = open(slot)
    return session
  })

  const send = (
    s: Session,
    stream: string,
    expected: StreamState,
    events: ReadonlyArray<BatchAppendReq_ProposedMessage>,
    timeoutMs: number
  ): Effect.Effect<bigint, CallError> =>
    Effect.callback<bigint, CallError>((resume) => {
      const id = s.idPrefix + (s.nextId++).toString(16).padStart(12, "0")
      s.pending.set(id, {
        stream,
        expected,
        deadline: Date.now() + timeoutMs,
        timeoutMs,
        resume
      })
      startSweeper(s, timeoutMs)
      const seconds = Math.floor(Math.min(timeoutMs, MAX_DEADLINE) / 1000)
      const options: BatchAppendReq_Options = {
        streamIdentifier: streamIdentifier(stream),
        expectedStreamPosition: expectedPosition(expected),
        deadlineOption: {
          $case: "deadline",
          value: { seconds: BigInt(seconds), nanos: Number.isFinite(timeoutMs) ? Math.floor((timeoutMs % 1000) * 1_000_000) : 0 }
        }
      }
      let chunk: Array<BatchAppendReq_ProposedMessage> = []
      let bytes = 0
      let first = true
      for (const event of events) {
        const size = sizeOf(event)
        if (chunk.length > 0 && bytes + size > CHUNK_BYTES) {
          s.call.writeFramed(encodeBatchAppendReq(id, first ? options : undefined, chunk, false))
          first = false
          chunk = []
          bytes = 0
        }
        chunk.push(event)
        bytes += size
      }
      s.call.writeFramed(encodeBatchAppendReq(id, first ? options : undefined, chunk, true))
      return Effect.sync(() => {
        s.pending.delete(id)
      })
    })

  const append: BatchAppender["append"] = (stream, expected, events, timeoutMs) =>
    Effect.suspend(() => {
      // the common case, an open session on a live connection, goes straight to the call
      const s = session
      if (s !== undefined && !s.closed && !s.slot.closed) return send(s, stream, expected, events, timeoutMs)
      return Effect.flatMap(current, (s) => send(s, stream, expected, events, timeoutMs))
    })

  return { append }
}
