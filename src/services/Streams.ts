/**
 * The Streams API: append, read, read `$all`, catch-up subscriptions, stream metadata, delete
 * and tombstone.
 *
 * This module holds the interface and its service key, and `make` (internal: the layer is
 * `EventStoreDB.layer`); each operation lives in its own module
 * under `src/internal/streams/` with its request building and validation, written against the
 * internal `Transport` (see the README's layout section).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import type { FilterOptions } from "../domain/Filter.ts"
import type { NewEvent } from "../domain/NewEvent.ts"
import type { RecordedEvent } from "../domain/RecordedEvent.ts"
import type * as StreamMetadata from "../domain/StreamMetadata.ts"
import type { StreamDeleted } from "../errors/StreamDeleted.ts"
import * as Append from "../internal/streams/append.ts"
import * as AppendMany from "../internal/streams/appendMany.ts"
import * as AppendRecords from "../internal/streams/appendRecords.ts"
import * as ServerFeatures from "../internal/streams/serverFeatures.ts"
import * as BatchAppender from "../internal/streams/BatchAppender.ts"
import { deleteStream } from "../internal/streams/delete.ts"
import type {
  AppendError,
  AppendManyError,
  AppendRecordsError,
  DeleteError, ReadAllError, ReadStreamError, SubscribeToStreamError, TransportError } from "../internal/streams/errors.ts"
import * as Metadata from "../internal/streams/metadata.ts"
import * as Read from "../internal/streams/read.ts"
import * as ReadAll from "../internal/streams/readAll.ts"
import * as SubscribeToAll from "../internal/streams/subscribeToAll.ts"
import * as SubscribeToStream from "../internal/streams/subscribeToStream.ts"
import type { CallOptions } from "../internal/transport/Options.ts"
import type { TransportShape } from "../internal/transport/Transport.ts"

export type {
  AppendError,
  AppendManyError,
  AppendRecordsError,
  DeleteError,
  ReadAllError,
  ReadStreamError,
  SubscribeToStreamError,
  TransportError
} from "../internal/streams/errors.ts"
export type { WriteOptions } from "../internal/streams/append.ts"
export type { MultiAppendResult, StreamAppend } from "../internal/streams/appendMany.ts"
export type {
  AppendRecordsOptions,
  ExpectedStreamState,
  StreamRecord,
  StreamStateCheck
} from "../internal/streams/appendRecords.ts"
export type { StreamMetadataResult } from "../internal/streams/metadata.ts"
export type { ReadStreamOptions } from "../internal/streams/read.ts"
export type { ReadAllOptions } from "../internal/streams/readAll.ts"
export type { Enabled, SubscribeToAllItem, SubscribeToAllOptions } from "../internal/streams/subscribeToAll.ts"
export type { SubscribeToStreamItem, SubscribeToStreamOptions } from "../internal/streams/subscribeToStream.ts"

/**
 * The Streams API.
 *
 * @since 0.1.0
 * @category models
 */
export interface Streams {
  /**
   * Appends events atomically and returns the commit position of the last one. Appending events
   * whose ids the stream already holds is idempotent: it returns the original position and
   * writes nothing, so retried appends never duplicate.
   */
  readonly append: (
    stream: string,
    events: NewEvent | Iterable<NewEvent>,
    options: Append.WriteOptions
  ) => Effect.Effect<bigint, AppendError>
  /**
   * Appends to several streams in one transaction (KurrentDB's AppendSession, 25.1+): each
   * stream's events with the state it must be in; all are written or none. Returns each stream's
   * new revision, in the order given, and the commit position. A stream not in its expected state
   * fails it all with `WrongCurrentVersion` naming that stream; a tombstoned one with
   * `StreamDeleted`; the same stream twice (ignoring case, as the node compares) is refused before
   * anything is sent. Events' metadata, when given, must be a JSON object: it becomes the
   * records' properties. A node that does not list AppendSession in its ServerFeatures gives
   * `UnsupportedFeature`.
   */
  readonly appendMany: (
    appends: ReadonlyArray<AppendMany.StreamAppend>,
    options?: CallOptions
  ) => Effect.Effect<AppendMany.MultiAppendResult, AppendManyError>
  /**
   * Appends records, each to its own stream and in the order given, in one transaction
   * (KurrentDB's AppendRecords, 26.1+), if every consistency check holds: a check may name any
   * stream, written or not (a check on a written stream is its expected state; a stream written
   * without a check may be in any state but tombstoned). When checks fail nothing is written and
   * `ConsistencyViolation` lists every failing one. Returns each written stream's new revision and
   * the commit position. A node that does not list AppendRecords gives `UnsupportedFeature`.
   */
  readonly appendRecords: (
    records: ReadonlyArray<AppendRecords.StreamRecord>,
    options?: AppendRecords.AppendRecordsOptions
  ) => Effect.Effect<AppendMany.MultiAppendResult, AppendRecordsError>
  /**
   * Reads a stream lazily, with backpressure; closing the stream cancels the call. The Stream is
   * a description: each run reads again.
   */
  readonly read: (stream: string, options?: Read.ReadStreamOptions) => Stream.Stream<RecordedEvent, ReadStreamError>
  /** Reads a stream into an array. */
  readonly get: (
    stream: string,
    options?: Read.ReadStreamOptions
  ) => Effect.Effect<ReadonlyArray<RecordedEvent>, ReadStreamError>
  /** Reads `$all` lazily; by default system events and persistent-subscription configuration are excluded. */
  readonly readAll: (options?: ReadAll.ReadAllOptions) => Stream.Stream<RecordedEvent, ReadAllError>
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
  ) => Effect.Effect<Metadata.StreamMetadataResult, StreamDeleted | TransportError>
  /** Writes the stream's metadata (replacing it), expecting the metastream's version (default any). */
  readonly setStreamMetadata: (
    stream: string,
    metadata: StreamMetadata.StreamMetadata,
    options?: Partial<Append.WriteOptions>
  ) => Effect.Effect<void, AppendError>
  /**
   * Soft-deletes a stream and returns the commit position of the deletion: the stream reads as
   * missing, and appending to it again continues its numbering.
   */
  readonly delete: (stream: string, options: Append.WriteOptions) => Effect.Effect<bigint, DeleteError>
  /** Hard-deletes a stream and returns the commit position: it can never be read or written again. */
  readonly tombstone: (stream: string, options: Append.WriteOptions) => Effect.Effect<bigint, DeleteError>
  /**
   * A catch-up subscription to `$all` that never ends by itself: it resumes after faults, node
   * restarts and leader changes (under `resumeSchedule`, default forever, each resume logged) with
   * no gap and no duplicate; its consumer or a failure that cannot be resumed ends it. It
   * yields recorded events, plus {@link Checkpoint}s with `includeCheckpoints: true` and a
   * {@link CaughtUp} with `includeCaughtUp: true` (the element type follows the options).
   */
  readonly subscribeToAll: <const O extends SubscribeToAll.SubscribeToAllOptions = {}>(
    options?: O
  ) => Stream.Stream<SubscribeToAll.SubscribeToAllItem<O>, ReadAllError>
  /**
   * A catch-up subscription to one stream that never ends by itself (as `subscribeToAll`). It
   * yields recorded events, plus a {@link CaughtUp} with `includeCaughtUp: true`.
   */
  readonly subscribeToStream: <const O extends SubscribeToStream.SubscribeToStreamOptions = {}>(
    stream: string,
    options?: O
  ) => Stream.Stream<SubscribeToStream.SubscribeToStreamItem<O>, SubscribeToStreamError>
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
 *   const streams = yield* Streams.Streams
 *   yield* streams.append("order-1", new NewEvent({ type: "OrderCreated", data: "{}" }), { currentVersion: "no_stream" })
 *   return yield* streams.get("order-1")
 * })
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export const Streams: Context.Service<Streams, Streams> = Context.Service<Streams>("effect-esdb/Streams")

/**
 * Builds the Streams service on a transport. The shared BatchAppend call lives in the scope.
 * `EventStoreDB.layer` makes one per connection; the transport is internal.
 *
 * @internal
 */
export const make = (transport: TransportShape) =>
  Effect.map(BatchAppender.make(transport), (batch): Streams => {
    const append = Append.make(transport, batch)
    const features = ServerFeatures.make(transport)
    return Streams.of({
      append,
      appendMany: (appends, options) => AppendMany.appendMany(transport, features, appends, options),
      appendRecords: (records, options) => AppendRecords.appendRecords(transport, features, records, options),
      read: (stream, options) => Read.read(transport, stream, options),
      get: (stream, options) => Read.get(transport, stream, options),
      readAll: (options) => ReadAll.readAll(transport, options),
      getCurrentVersion: (stream, options) => Read.getCurrentVersion(transport, stream, options),
      getCommitPosition: (options) => ReadAll.getCommitPosition(transport, options),
      getStreamMetadata: (stream, options) => Metadata.getStreamMetadata(transport, stream, options),
      setStreamMetadata: (stream, metadata, options) =>
        Metadata.setStreamMetadata(transport, append, stream, metadata, options),
      delete: (stream, options) => deleteStream("delete")(transport, stream, options),
      tombstone: (stream, options) => deleteStream("tombstone")(transport, stream, options),
      subscribeToAll: (options) => SubscribeToAll.subscribeToAll(transport, options),
      subscribeToStream: (stream, options) => SubscribeToStream.subscribeToStream(transport, stream, options)
    })
  })
