/**
 * The Streams API: append, read, read `$all`, catch-up subscriptions, stream metadata, delete
 * and tombstone.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import { CaughtUp } from "../domain/CaughtUp.ts"
import { Checkpoint } from "../domain/Checkpoint.ts"
import { type FilterOptions, toServerFilter } from "../domain/Filter.ts"
import { NewEvent } from "../domain/NewEvent.ts"
import type { RecordedEvent } from "../domain/RecordedEvent.ts"
import * as StreamMetadata from "../domain/StreamMetadata.ts"
import type { StreamState } from "../domain/StreamState.ts"
import type { AccessDenied } from "../errors/AccessDenied.ts"
import type { DeadlineExceeded } from "../errors/DeadlineExceeded.ts"
import type { DiscoveryFailed } from "../errors/DiscoveryFailed.ts"
import { GrpcError } from "../errors/GrpcError.ts"
import { InvalidArgument } from "../errors/InvalidArgument.ts"
import type { MaximumAppendSizeExceeded } from "../errors/MaximumAppendSizeExceeded.ts"
import type { NodeIsNotLeader } from "../errors/NodeIsNotLeader.ts"
import { NotFound } from "../errors/NotFound.ts"
import type { ServiceUnavailable } from "../errors/ServiceUnavailable.ts"
import type { StreamDeleted } from "../errors/StreamDeleted.ts"
import type { Unauthenticated } from "../errors/Unauthenticated.ts"
import { WrongCurrentVersion } from "../errors/WrongCurrentVersion.ts"
import type { AppendReq, AppendReq_ProposedMessage, AppendResp, DeleteResp, ReadReq, ReadReq_Options, TombstoneResp } from "../generated/streams.ts"
import * as BatchAppender from "../internal/BatchAppender.ts"
import { type Emit, resumable, serverStream, unary } from "../internal/calls.ts"
import { type CallError, type CallOptions, type Connection, EsdbConnection } from "../internal/Connection.ts"
import { empty, expectedRevision, streamIdentifier, uuidString } from "../internal/convert.ts"
import type { ReadMessage } from "../internal/ReadRespDecoder.ts"

/**
 * Failures any call can meet on its way to the node.
 *
 * @since 0.1.0
 * @category errors
 */
export type TransportError =
  | AccessDenied
  | Unauthenticated
  | DeadlineExceeded
  | ServiceUnavailable
  | NodeIsNotLeader
  | DiscoveryFailed
  | InvalidArgument
  | GrpcError

/**
 * Errors of {@link StreamsService.append} and {@link StreamsService.setStreamMetadata}.
 *
 * @since 0.1.0
 * @category errors
 */
export type AppendError = WrongCurrentVersion | StreamDeleted | MaximumAppendSizeExceeded | TransportError

/**
 * Errors of reading or subscribing to one stream.
 *
 * @since 0.1.0
 * @category errors
 */
export type ReadStreamError = NotFound | StreamDeleted | TransportError

/**
 * Errors of subscribing to one stream (a missing stream is waited for, not an error).
 *
 * @since 0.1.0
 * @category errors
 */
export type SubscribeToStreamError = StreamDeleted | TransportError

/**
 * Errors of reading or subscribing to `$all`.
 *
 * @since 0.1.0
 * @category errors
 */
export type ReadAllError = TransportError

/**
 * Errors of {@link StreamsService.delete} and {@link StreamsService.tombstone}.
 *
 * @since 0.1.0
 * @category errors
 */
export type DeleteError = WrongCurrentVersion | NotFound | StreamDeleted | TransportError

/**
 * Options of {@link StreamsService.read} and {@link StreamsService.get}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReadStreamOptions extends CallOptions {
  /** Inclusive start position; the first (or, backwards, the last) event by default. */
  readonly streamPosition?: bigint | undefined
  readonly backwards?: boolean | undefined
  readonly resolveLinks?: boolean | undefined
  readonly limit?: number | bigint | undefined
}

/**
 * Options of {@link StreamsService.readAll}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReadAllOptions extends CallOptions, FilterOptions {
  /** Forwards: inclusive start; backwards: exclusive start. The start (or end) of `$all` by default. */
  readonly commitPosition?: bigint | undefined
  readonly backwards?: boolean | undefined
  readonly resolveLinks?: boolean | undefined
  readonly limit?: number | bigint | undefined
}

/**
 * Options of {@link StreamsService.subscribeToAll}.
 *
 * @since 0.1.0
 * @category models
 */
export interface SubscribeToAllOptions extends CallOptions, FilterOptions {
  /** Exclusive start: the subscription delivers events after this position. */
  readonly commitPosition?: bigint | undefined
  /** Only events recorded after the subscription starts. */
  readonly fromEnd?: boolean | undefined
  readonly resolveLinks?: boolean | undefined
  /** Deliver {@link Checkpoint}s (filtered subscriptions only). */
  readonly includeCheckpoints?: boolean | undefined
  /** Deliver a {@link CaughtUp} when the subscription goes live. */
  readonly includeCaughtUp?: boolean | undefined
  /** The server's search window for filtered subscriptions (default 30). */
  readonly windowSize?: number | undefined
  /** A checkpoint every `windowSize × checkpointIntervalMultiplier` considered events (default 5). */
  readonly checkpointIntervalMultiplier?: number | undefined
}

/**
 * Options of {@link StreamsService.subscribeToStream}.
 *
 * @since 0.1.0
 * @category models
 */
export interface SubscribeToStreamOptions extends CallOptions {
  /** Exclusive start: the subscription delivers events after this stream position. */
  readonly streamPosition?: bigint | undefined
  readonly fromEnd?: boolean | undefined
  readonly resolveLinks?: boolean | undefined
  readonly includeCaughtUp?: boolean | undefined
}

/**
 * Options of writes: the expected state of the stream plus per-call options.
 *
 * @since 0.1.0
 * @category models
 */
export interface WriteOptions extends CallOptions {
  readonly currentVersion: StreamState
}

/**
 * Stream metadata with the revision of the metastream event it was read from.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamMetadataResult {
  readonly metadata: StreamMetadata.StreamMetadata
  readonly version: bigint | "no_stream"
}

/**
 * The Streams API.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamsService {
  /**
   * Appends events atomically and returns the commit position of the last one. Appending events
   * whose ids the stream already holds is idempotent: it returns the original position and
   * writes nothing, so retried appends never duplicate.
   */
  readonly append: (
    stream: string,
    events: NewEvent | Iterable<NewEvent>,
    options: WriteOptions
  ) => Effect.Effect<bigint, AppendError>
  /** Reads a stream lazily, with backpressure; closing the stream cancels the call. */
  readonly read: (stream: string, options?: ReadStreamOptions) => Stream.Stream<RecordedEvent, ReadStreamError>
  /** Reads a stream into an array. */
  readonly get: (
    stream: string,
    options?: ReadStreamOptions
  ) => Effect.Effect<ReadonlyArray<RecordedEvent>, ReadStreamError>
  /** Reads `$all` lazily; by default system events and persistent-subscription configuration are excluded. */
  readonly readAll: (options?: ReadAllOptions) => Stream.Stream<RecordedEvent, ReadAllError>
  /** The stream position of the stream's last event, or `"no_stream"`. */
  readonly getCurrentVersion: (
    stream: string,
    options?: CallOptions
  ) => Effect.Effect<bigint | "no_stream", StreamDeleted | TransportError>
  /** The commit position of the last event in `$all` that passes the filter (0 when none). */
  readonly getCommitPosition: (options?: FilterOptions & CallOptions) => Effect.Effect<bigint, ReadAllError>
  /** Reads the stream's metadata: `{}` and `"no_stream"` when none was ever set. */
  readonly getStreamMetadata: (
    stream: string,
    options?: CallOptions
  ) => Effect.Effect<StreamMetadataResult, StreamDeleted | TransportError>
  /** Writes the stream's metadata (replacing it), expecting the metastream's version (default any). */
  readonly setStreamMetadata: (
    stream: string,
    metadata: StreamMetadata.StreamMetadata,
    options?: Partial<WriteOptions>
  ) => Effect.Effect<void, AppendError>
  /** Soft-deletes a stream: it reads as missing, and appending to it again continues its numbering. */
  readonly delete: (stream: string, options: WriteOptions) => Effect.Effect<void, DeleteError>
  /** Hard-deletes a stream: it can never be read or written again. */
  readonly tombstone: (stream: string, options: WriteOptions) => Effect.Effect<void, DeleteError>
  /** A catch-up subscription to `$all`, resuming after faults with no gap and no duplicate. */
  readonly subscribeToAll: (
    options?: SubscribeToAllOptions
  ) => Stream.Stream<RecordedEvent | Checkpoint | CaughtUp, ReadAllError>
  /** A catch-up subscription to one stream, resuming after faults with no gap and no duplicate. */
  readonly subscribeToStream: (
    stream: string,
    options?: SubscribeToStreamOptions
  ) => Stream.Stream<RecordedEvent | CaughtUp, SubscribeToStreamError>
}

/**
 * The Streams service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { NewEvent, Streams } from "effect-esdb"
 *
 * const program = Effect.gen(function*() {
 *   const streams = yield* Streams
 *   yield* streams.append("order-1", new NewEvent({ type: "OrderCreated", data: "{}" }), { currentVersion: "no_stream" })
 *   return yield* streams.get("order-1")
 * })
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class Streams extends Context.Service<Streams, StreamsService>()("effect-esdb/Streams") {}

const MAX_COUNT = BigInt(Number.MAX_SAFE_INTEGER)
const UINT64_MAX = 18446744073709551615n
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

type Tag = CallError["_tag"]

/** Keeps errors the operation declares; anything else becomes a GrpcError with its text. */
const narrow = <T extends Tag>(tags: ReadonlyArray<T>) => (error: CallError): Extract<CallError, { _tag: T }> | GrpcError =>
  (tags as ReadonlyArray<string>).includes(error._tag)
    ? (error as Extract<CallError, { _tag: T }>)
    : error._tag === "GrpcError"
    ? error
    : new GrpcError({ code: 2, details: error.message, metadata: {} })

const transportTags = [
  "AccessDenied",
  "Unauthenticated",
  "DeadlineExceeded",
  "ServiceUnavailable",
  "NodeIsNotLeader",
  "DiscoveryFailed",
  "InvalidArgument",
  "GrpcError"
] as const satisfies ReadonlyArray<Tag | "DiscoveryFailed">

const toAppendError = narrow([...transportTags, "WrongCurrentVersion", "StreamDeleted", "MaximumAppendSizeExceeded"] as Array<Tag>) as (e: CallError) => AppendError
const toReadStreamError = narrow([...transportTags, "NotFound", "StreamDeleted"] as Array<Tag>) as (e: CallError) => ReadStreamError
const toSubscribeStreamError = narrow([...transportTags, "StreamDeleted"] as Array<Tag>) as (e: CallError) => SubscribeToStreamError
const toReadAllError = narrow([...transportTags] as Array<Tag>) as (e: CallError) => ReadAllError
const toDeleteError = narrow([...transportTags, "WrongCurrentVersion", "NotFound", "StreamDeleted"] as Array<Tag>) as (e: CallError) => DeleteError

const invalid = (reason: string) => new InvalidArgument({ reason })

const invalidOrKeep = (problem: InvalidArgument | string): InvalidArgument =>
  typeof problem === "string" ? invalid(problem) : problem

const validateStreamName = (stream: string): InvalidArgument | undefined =>
  typeof stream !== "string" || stream.length === 0 ? invalid("The stream name must be a non-empty string") : undefined

const toLimit = (limit: number | bigint | undefined): bigint | InvalidArgument => {
  if (limit === undefined) return MAX_COUNT
  if (typeof limit === "number" && (!Number.isSafeInteger(limit) || limit < 0)) {
    return invalid(`limit must be a non-negative integer, got ${limit}`)
  }
  const value = BigInt(limit)
  return value < 0n ? invalid(`limit must be a non-negative integer, got ${limit}`) : value
}

const isU64 = (value: bigint) => value >= 0n && value <= 18446744073709551615n

const validatePosition = (name: string, value: bigint | undefined): InvalidArgument | undefined =>
  value === undefined || (typeof value === "bigint" && isU64(value))
    ? undefined
    : invalid(`${name} must be a bigint in 0..2^64-1, got ${String(value)}`)

const validateState = (state: StreamState): InvalidArgument | undefined =>
  typeof state === "bigint"
    ? isU64(state) ? undefined : invalid(`currentVersion must be a stream position in 0..2^64-1, got ${state}`)
    : state === "any" || state === "no_stream" || state === "exists"
    ? undefined
    : invalid(`currentVersion must be "any", "no_stream", "exists" or a bigint stream position, got ${String(state)}`)

const uuidOption: ReadReq_Options["uuidOption"] = { content: { $case: "string", value: empty } }

/**
 * Builds the Streams service on a connection.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (connection: Connection): StreamsService => {
  // spans are built without stack capture (a library span always starts on the same line), and
  // not at all when tracing is disabled in the connection options: they sit on every call
  const spanOptions = (attributes?: Record<string, unknown>) => ({
    kind: "client" as const,
    captureStackTrace: false,
    attributes: { ...connection.spanAttributes, ...attributes }
  })
  // with only the native tracer installed nobody can observe a span, so none is made (about a
  // tenth of the client CPU of a single-event append)
  const traceEffect = (name: string, attributes?: Record<string, unknown>) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    connection.tracing
      ? Effect.flatMap(
        Effect.tracer,
        (tracer) => tracer === Tracer.nativeTracer ? effect : Effect.withSpan(effect, name, spanOptions(attributes))
      )
      : effect
  const traceStream = (name: string, attributes?: Record<string, unknown>) =>
  <A, E, R>(stream: Stream.Stream<A, E, R>): Stream.Stream<A, E, R> =>
    connection.tracing ? Stream.withSpan(stream, name, spanOptions(attributes)) : stream

  const readCall = <A>(
    request: ReadReq,
    options: CallOptions | undefined,
    context: { readonly stream?: string | undefined },
    handle: (message: ReadMessage, emit: Emit<A>) => void
  ) =>
    serverStream<ReadMessage, A>(
      connection,
      options,
      context,
      (slot, metadata, callOptions) => slot.streams.read(request, metadata, callOptions),
      handle
    )

  const appendOnce = (
    stream: string,
    messages: ReadonlyArray<AppendReq>,
    options: WriteOptions
  ): Effect.Effect<AppendResp, CallError> =>
    unary<AppendResp>(connection, options, "write", { stream }, (slot, metadata, callOptions, callback) => {
      const call = slot.streams.append(metadata, callOptions, callback)
      call.on("error", () => {})
      for (const message of messages) call.write(message)
      call.end()
      return call
    })

  const batch = BatchAppender.make(connection)
  let batchUnsupported = false

  const fromAppendResponse = (stream: string, expected: StreamState) => (response: AppendResp): Effect.Effect<bigint, CallError> => {
    const result = response.result
    if (result?.$case === "success") {
      const position = result.value.positionOption
      if (position?.$case === "position") return Effect.succeed(position.value.commitPosition)
      return Effect.fail(new GrpcError({ code: 2, details: "Append succeeded without a position", metadata: {} }))
    }
    if (result?.$case === "wrongExpectedVersion") {
      const w = result.value
      const actual = w.currentRevisionOption?.$case === "currentRevision"
        ? w.currentRevisionOption.value
        : w.currentRevisionOption?.$case === "currentNoStream"
        ? "no_stream" as const
        : w.currentRevisionOption2060?.$case === "currentRevision2060"
        ? w.currentRevisionOption2060.value
        : "no_stream" as const
      return Effect.fail(new WrongCurrentVersion({ stream, expected, actual }))
    }
    return Effect.fail(new GrpcError({ code: 2, details: "Empty append response", metadata: {} }))
  }

  const append: StreamsService["append"] = (stream, events, options) =>
    Effect.suspend(() => {
      const list: ReadonlyArray<NewEvent> = isIterable(events) ? Array.from(events) : [events]
      const problem = validateStreamName(stream) ?? validateState(options.currentVersion) ?? validateEvents(list)
      if (problem) return Effect.fail(problem)
      const proposed: Array<AppendReq_ProposedMessage> = list.map((event) => ({
        id: uuidString(event.id),
        metadata: [{ key: "type", value: event.type }, { key: "content-type", value: event.contentType }],
        customMetadata: toBuffer(event.metadata),
        data: toBuffer(event.data)
      }))
      const viaAppend = Effect.suspend(() => {
        const messages: Array<AppendReq> = [{
          content: {
            $case: "options",
            value: { streamIdentifier: streamIdentifier(stream), expectedStreamRevision: expectedRevision(options.currentVersion) }
          }
        }]
        for (const value of proposed) messages.push({ content: { $case: "proposedMessage", value } })
        return Effect.flatMap(appendOnce(stream, messages, options), fromAppendResponse(stream, options.currentVersion))
      })
      // One long-lived BatchAppend call serves every append without per-call credentials (its
      // headers are fixed when it opens); a node without BatchAppend gets plain Append calls.
      const attempt: Effect.Effect<bigint, CallError> = options.credentials !== undefined || batchUnsupported
        ? viaAppend
        : batch.append(stream, options.currentVersion, proposed, connection.timeoutMillis(options, "write")).pipe(
          Effect.catchIf(
            (error) => error._tag === "GrpcError" && error.code === 12,
            () => {
              batchUnsupported = true
              return viaAppend
            }
          )
        )
      return connection.retry(attempt).pipe(
        Effect.mapError(toAppendError),
        traceEffect("Streams.append", { "db.collection.name": stream, "db.operation.name": "append" })
      )
    })

  const readStreamRequest = (
    stream: string,
    from: bigint | "start" | "end",
    backwards: boolean,
    resolveLinks: boolean,
    count: bigint | "subscription"
  ): ReadReq => ({
    options: {
      streamOption: {
        $case: "stream",
        value: {
          streamIdentifier: streamIdentifier(stream),
          revisionOption: typeof from === "bigint"
            ? { $case: "revision", value: from }
            : { $case: from, value: empty }
        }
      },
      readDirection: backwards ? 1 : 0,
      resolveLinks,
      countOption: count === "subscription" ? { $case: "subscription", value: {} } : { $case: "count", value: count },
      filterOption: { $case: "noFilter", value: empty },
      uuidOption,
      controlOption: undefined
    }
  })

  const read: StreamsService["read"] = (stream, options) => {
    const problem = validateStreamName(stream) ?? validatePosition("streamPosition", options?.streamPosition)
    const limit = toLimit(options?.limit)
    if (problem) return Stream.fail(problem)
    if (limit instanceof InvalidArgument) return Stream.fail(limit)
    const backwards = options?.backwards === true
    let next: bigint | "start" | "end" = options?.streamPosition ?? (backwards ? "end" : "start")
    let remaining = limit
    let exhausted = false
    return resumable(connection, () => {
      if (remaining === 0n || exhausted) return Stream.empty
      return readCall<RecordedEvent>(
        readStreamRequest(stream, next, backwards, options?.resolveLinks === true, remaining),
        options,
        { stream },
        (message, emit) => {
          if (message._tag === "event") {
            const event = message.event
            if (event === undefined) return
            const position = event.link?.streamName === stream ? event.link.streamPosition : event.streamPosition
            if (backwards) {
              if (position === 0n) exhausted = true
              else next = position - 1n
            } else next = position + 1n
            remaining--
            emit.push(event)
          } else if (message._tag === "streamNotFound") {
            emit.fail(new NotFound({ stream }))
          }
        }
      ).pipe(Stream.mapError(toReadStreamError))
    }).pipe(traceStream("Streams.read", { "db.collection.name": stream }))
  }

  const get: StreamsService["get"] = (stream, options) =>
    Stream.runCollect(read(stream, options)).pipe(
      Effect.map((chunk) => Array.from(chunk)),
      traceEffect("Streams.get", { "db.collection.name": stream })
    )

  const filterOption = (options: FilterOptions | undefined, windowSize?: number, multiplier?: number): ReadReq_Options["filterOption"] => {
    const filter = toServerFilter(options)
    if (filter === undefined) return { $case: "noFilter", value: empty }
    const expression = { regex: filter.regex, prefix: [] }
    return {
      $case: "filter",
      value: {
        filter: filter.on === "streamName"
          ? { $case: "streamIdentifier", value: expression }
          : { $case: "eventType", value: expression },
        window: { $case: "max", value: windowSize ?? 30 },
        checkpointIntervalMultiplier: multiplier ?? 5
      }
    }
  }

  const allRequest = (
    from: bigint | "start" | "end",
    backwards: boolean,
    resolveLinks: boolean,
    count: bigint | "subscription",
    filter: ReadReq_Options["filterOption"]
  ): ReadReq => ({
    options: {
      streamOption: {
        $case: "all",
        value: {
          allOption: typeof from === "bigint"
            ? { $case: "position", value: { commitPosition: from, preparePosition: from } }
            : { $case: from, value: empty }
        }
      },
      readDirection: backwards ? 1 : 0,
      resolveLinks,
      countOption: count === "subscription" ? { $case: "subscription", value: {} } : { $case: "count", value: count },
      filterOption: filter,
      uuidOption,
      controlOption: undefined
    }
  })

  const readAll: StreamsService["readAll"] = (options) => {
    const limit = toLimit(options?.limit)
    if (limit instanceof InvalidArgument) return Stream.fail(limit)
    const badPosition = validatePosition("commitPosition", options?.commitPosition)
    if (badPosition) return Stream.fail(badPosition)
    const backwards = options?.backwards === true
    const filter = filterOption(options)
    let next: bigint | "start" | "end" = options?.commitPosition ?? (backwards ? "end" : "start")
    let skipAt: bigint | undefined
    let remaining = limit
    return resumable(connection, () => {
      if (remaining === 0n) return Stream.empty
      return readCall<RecordedEvent>(
        allRequest(next, backwards, options?.resolveLinks === true, remaining + (skipAt === undefined ? 0n : 1n), filter),
        options,
        {},
        (message, emit) => {
          if (message._tag !== "event") return
          const event = message.event
          if (event === undefined) return
          const position = event.commitPosition
          if (skipAt !== undefined && position === skipAt) {
            skipAt = undefined
            return
          }
          skipAt = undefined
          if (position !== undefined) {
            next = position
            if (!backwards) skipAt = position
          }
          if (remaining === 0n) return emit.end()
          remaining--
          emit.push(event)
          if (remaining === 0n) emit.end()
        }
      ).pipe(Stream.mapError(toReadAllError))
    }).pipe(traceStream("Streams.readAll", { "db.collection.name": "$all" }))
  }

  const getCurrentVersion: StreamsService["getCurrentVersion"] = (stream, options) =>
    Stream.runHead(read(stream, { ...options, backwards: true, limit: 1 })).pipe(
      Effect.map((head) => (head._tag === "Some" ? head.value.streamPosition : "no_stream" as const)),
      Effect.catchTag("NotFound", () => Effect.succeed("no_stream" as const)),
      traceEffect("Streams.getCurrentVersion", { "db.collection.name": stream })
    )

  const getCommitPosition: StreamsService["getCommitPosition"] = (options) =>
    Stream.runHead(readAll({ ...options, backwards: true, limit: 1 })).pipe(
      Effect.map((head) => (head._tag === "Some" ? head.value.commitPosition ?? 0n : 0n)),
      traceEffect("Streams.getCommitPosition")
    )

  const getStreamMetadata: StreamsService["getStreamMetadata"] = (stream, options) =>
    Stream.runHead(read(`$$${stream}`, { ...options, backwards: true, limit: 1 })).pipe(
      Effect.map((head): StreamMetadataResult =>
        head._tag === "Some"
          ? { metadata: StreamMetadata.parse(head.value.data) ?? {}, version: head.value.streamPosition }
          : { metadata: {}, version: "no_stream" }
      ),
      Effect.catchTag("NotFound", () => Effect.succeed<StreamMetadataResult>({ metadata: {}, version: "no_stream" })),
      traceEffect("Streams.getStreamMetadata", { "db.collection.name": stream })
    )

  const setStreamMetadata: StreamsService["setStreamMetadata"] = (stream, metadata, options) =>
    Effect.suspend(() => {
      const problem = validateStreamName(stream) ?? StreamMetadata.validate(metadata)
      if (problem) return Effect.fail(invalidOrKeep(problem))
      let json: string
      try {
        json = StreamMetadata.stringify(metadata)
      } catch (cause) {
        return Effect.fail(invalid(`Stream metadata is not serializable as JSON: ${String(cause)}`))
      }
      return Effect.asVoid(
        append(`$$${stream}`, new NewEvent({ type: "$metadata", data: json }), {
          ...options,
          currentVersion: options?.currentVersion ?? "any"
        })
      )
    }).pipe(traceEffect("Streams.setStreamMetadata", { "db.collection.name": stream }))

  const deleteLike = (kind: "delete" | "tombstone") => (stream: string, options: WriteOptions) =>
    Effect.suspend(() => {
      const problem = validateStreamName(stream) ?? validateState(options.currentVersion)
      if (problem) return Effect.fail(problem)
      const request = {
        options: { streamIdentifier: streamIdentifier(stream), expectedStreamRevision: expectedRevision(options.currentVersion) }
      }
      const call = unary<DeleteResp | TombstoneResp>(connection, options, "write", { stream }, (slot, metadata, callOptions, callback) =>
        kind === "delete"
          ? slot.streams.delete(request, metadata, callOptions, callback)
          : slot.streams.tombstone(request, metadata, callOptions, callback))
      return connection.retry(call).pipe(
        Effect.asVoid,
        Effect.mapError((error): CallError =>
          error._tag === "WrongCurrentVersion" && error.actual === "no_stream" && options.currentVersion !== "no_stream"
            ? new NotFound({ stream })
            : error
        ),
        Effect.mapError(toDeleteError)
      )
    }).pipe(traceEffect(`Streams.${kind}`, { "db.collection.name": stream }))

  const subscribeToAll: StreamsService["subscribeToAll"] = (options) => {
    const badPosition = validatePosition("commitPosition", options?.commitPosition)
    if (badPosition) return Stream.fail(badPosition)
    if (options?.checkpointIntervalMultiplier !== undefined && !(options.checkpointIntervalMultiplier >= 1)) {
      return Stream.fail(invalid("checkpointIntervalMultiplier must be at least 1"))
    }
    if (options?.windowSize !== undefined && !(options.windowSize >= 1)) {
      return Stream.fail(invalid("windowSize must be at least 1"))
    }
    const filter = filterOption(options, options?.windowSize, options?.checkpointIntervalMultiplier)
    let from: bigint | "start" | "end" = options?.commitPosition ?? (options?.fromEnd === true ? "end" : "start")
    return resumable(connection, () =>
      readCall<RecordedEvent | Checkpoint | CaughtUp>(
        allRequest(from, false, options?.resolveLinks === true, "subscription", filter),
        options,
        {},
        (message, emit) => {
          switch (message._tag) {
            case "event": {
              const event = message.event
              if (event === undefined) return
              if (event.commitPosition !== undefined) from = event.commitPosition
              emit.push(event)
              return
            }
            case "checkpoint": {
              if (typeof from === "bigint" && message.commitPosition < from) return
              from = message.commitPosition
              if (options?.includeCheckpoints === true) {
                emit.push(new Checkpoint(message.commitPosition, message.preparePosition))
              }
              return
            }
            case "caughtUp": {
              // the server went live after this position: resuming from it neither repeats nor
              // skips anything (this matters most for `fromEnd`, whose "end" would move on)
              const position = message.position
              if (position !== undefined && position !== UINT64_MAX && (typeof from !== "bigint" || position > from)) {
                from = position
              }
              if (options?.includeCaughtUp === true) {
                emit.push(new CaughtUp({ commitPosition: message.position, timestamp: message.timestamp }))
              }
              return
            }
          }
        }
      ).pipe(Stream.mapError(toReadAllError))
    ).pipe(traceStream("Streams.subscribeToAll", { "db.collection.name": "$all" }))
  }

  const subscribeToStream: StreamsService["subscribeToStream"] = (stream, options) => {
    const problem = validateStreamName(stream) ?? validatePosition("streamPosition", options?.streamPosition)
    if (problem) return Stream.fail(problem)
    let from: bigint | "start" | "end" = options?.streamPosition ?? (options?.fromEnd === true ? "end" : "start")
    return resumable(connection, () =>
      readCall<RecordedEvent | CaughtUp>(
        readStreamRequest(stream, from, false, options?.resolveLinks === true, "subscription"),
        options,
        { stream },
        (message, emit) => {
          if (message._tag === "event") {
            const event = message.event
            if (event === undefined) return
            from = event.link?.streamName === stream ? event.link.streamPosition : event.streamPosition
            emit.push(event)
          } else if (message._tag === "caughtUp") {
            // resume from where the server went live: its last revision then, or, when the stream
            // did not exist yet (a caught-up with a timestamp but no revision, as servers since
            // 2025 send), its start; otherwise "end" would skip what was written during a fault
            const revision = message.streamRevision
            if (revision !== undefined && (typeof from !== "bigint" || revision > from)) from = revision
            else if (revision === undefined && from === "end" && message.timestamp !== undefined) from = "start"
            if (options?.includeCaughtUp === true) {
              emit.push(new CaughtUp({ streamPosition: message.streamRevision, timestamp: message.timestamp }))
            }
          }
        }
      ).pipe(Stream.mapError(toSubscribeStreamError))
    ).pipe(traceStream("Streams.subscribeToStream", { "db.collection.name": stream }))
  }

  return {
    append,
    read,
    get,
    readAll,
    getCurrentVersion,
    getCommitPosition,
    getStreamMetadata,
    setStreamMetadata,
    delete: deleteLike("delete"),
    tombstone: deleteLike("tombstone"),
    subscribeToAll,
    subscribeToStream
  }
}

/**
 * The Streams service on the connection in context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Streams, never, EsdbConnection> = Layer.effect(
  Streams,
  Effect.map(EsdbConnection, make)
)


const isIterable = (value: unknown): value is Iterable<NewEvent> =>
  typeof value === "object" && value !== null && Symbol.iterator in value

const toBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

const validateEvents = (events: ReadonlyArray<NewEvent>): InvalidArgument | undefined => {
  if (events.length === 0) return invalid("append needs at least one event")
  for (let i = 0; i < events.length; i++) {
    const event = events[i]
    if (event === null || typeof event !== "object") return invalid(`events[${i}] is not a NewEvent`)
    if (typeof event.type !== "string" || event.type.length === 0) return invalid(`events[${i}] has an empty type`)
    if (typeof event.id !== "string" || !UUID_RE.test(event.id)) return invalid(`events[${i}] has an invalid id '${String(event.id)}': a UUID is required`)
    if (!(event.data instanceof Uint8Array)) return invalid(`events[${i}].data must be bytes`)
    if (!(event.metadata instanceof Uint8Array)) return invalid(`events[${i}].metadata must be bytes`)
    if (typeof event.contentType !== "string" || event.contentType.length === 0) return invalid(`events[${i}] has an empty contentType`)
  }
  return undefined
}
