/**
 * Typed events: a codec between a Schema union of tagged event classes and the client's
 * `NewEvent` / `RecordedEvent`, with upcasting of older versions, typed reads, subscriptions
 * and appends.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { NewEvent, type RecordedEvent, Streams } from "../index.ts"
import { EventDecodeError } from "./EventDecodeError.ts"
import { EventEncodeError } from "./EventEncodeError.ts"

/**
 * A tagged event class (`Schema.TaggedClass`) or tagged struct: a Schema whose `_tag` field is
 * a literal, which becomes the event type on the wire.
 *
 * @since 0.1.0
 * @category models
 */
export type EventSchema = Schema.Codec<{ readonly _tag: string }, any, never, never> & {
  readonly fields: { readonly _tag: Schema.Top }
}

/**
 * An older version of an event: the Schema its recorded data decodes with, and how it becomes
 * an event of the current union.
 *
 * @since 0.1.0
 * @category models
 */
export interface Upcaster<Event> {
  readonly schema: Schema.Codec<any, any, never, never>
  readonly upcast: (old: any) => Event
}

/**
 * Declares an older version of an event (see {@link make}'s `upcasters`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const upcaster = <S extends Schema.Codec<any, any, never, never>, Event>(
  schema: S,
  upcast: (old: S["Type"]) => Event
): Upcaster<Event> => ({ schema, upcast })

/**
 * A decoded event with the metadata it was recorded with and the recorded event itself (its
 * positions, id and stream).
 *
 * @since 0.1.0
 * @category models
 */
export interface Typed<Event, Meta> {
  readonly event: Event
  /** The decoded metadata; `undefined` when the event has none or the codec has no metadata Schema. */
  readonly metadata: Meta | undefined
  readonly recorded: RecordedEvent
}

/**
 * What to do with a recorded event whose type is not in the union and has no upcaster:
 * `"fail"` (the default) fails with {@link EventDecodeError}, `"skip"` leaves it out.
 *
 * @since 0.1.0
 * @category models
 */
export type UnknownTypes = "fail" | "skip"

/**
 * The options of a typed read or subscription step.
 *
 * @since 0.1.0
 * @category models
 */
export interface DecodeOptions {
  readonly unknownTypes?: UnknownTypes | undefined
}

/**
 * What an append encodes besides the event: its metadata and, for idempotent retries, its id.
 *
 * @since 0.1.0
 * @category models
 */
export interface EncodeOptions<Meta> {
  readonly metadata?: Meta | undefined
  readonly id?: string | undefined
}

/**
 * A codec between the events of a Schema union and the client's events.
 *
 * - The event type on the wire is the class's `_tag`; the data is the event's JSON encoding
 *   (`Schema.toCodecJson`: dates as ISO strings, bigints as strings) without `_tag`.
 * - Metadata goes through the optional metadata Schema the same way; recorded metadata that the
 *   Schema refuses but holds only reserved `$` keys (such as the trace context a traced append
 *   writes) decodes as no metadata.
 * - A recorded event decodes with its type's current Schema; when that fails, or when its type
 *   is only known to `upcasters`, each upcaster declared for its type is tried in order and the
 *   first that decodes is upcast into the current event.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { EventCodec } from "effect-esdb/eventsourcing"
 *
 * class OrderCreated extends Schema.TaggedClass<OrderCreated>()("OrderCreated", { customer: Schema.String }) {}
 * class ItemAdded extends Schema.TaggedClass<ItemAdded>()("ItemAdded", { sku: Schema.String, quantity: Schema.Number }) {}
 *
 * const codec = EventCodec.make([OrderCreated, ItemAdded], {
 *   upcasters: {
 *     // version 1 had no quantity
 *     ItemAdded: [EventCodec.upcaster(Schema.Struct({ sku: Schema.String }), (v1) => new ItemAdded({ ...v1, quantity: 1 }))]
 *   }
 * })
 * const program = codec.append("order-1", [new OrderCreated({ customer: "ada" })], { currentVersion: "no_stream" })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface EventCodec<Event extends { readonly _tag: string }, Meta = never> {
  /** The event types of the union. */
  readonly types: ReadonlyArray<Event["_tag"]>
  /** Encodes one event into a `NewEvent`. */
  readonly encode: (event: Event, options?: EncodeOptions<Meta>) => Effect.Effect<NewEvent, EventEncodeError>
  /** Decodes a recorded event; fails with {@link EventDecodeError}. */
  readonly decode: (recorded: RecordedEvent) => Effect.Effect<Typed<Event, Meta>, EventDecodeError>
  /**
   * Decodes a recorded event, or `undefined` for an unknown type when `unknownTypes` is
   * `"skip"`.
   */
  readonly decodeOption: (
    recorded: RecordedEvent,
    options?: DecodeOptions
  ) => Effect.Effect<Typed<Event, Meta> | undefined, EventDecodeError>
  /**
   * A pipeline step: decodes the recorded events of a read or a subscription (other items, such
   * as checkpoints and caught-up markers, are left out).
   */
  readonly decodeStream: (
    options?: DecodeOptions
  ) => <E, R>(self: Stream.Stream<RecordedEvent | { readonly _tag: string }, E, R>) => Stream.Stream<Typed<Event, Meta>, E | EventDecodeError, R>
  /** Appends events of the union (the client's `append` with typed events). */
  readonly append: (
    stream: string,
    events: Iterable<Event>,
    options: Streams.WriteOptions & { readonly metadata?: Meta | undefined }
  ) => Effect.Effect<bigint, Streams.AppendError | EventEncodeError, Streams.Streams>
  /** Reads a stream as typed events. */
  readonly read: (
    stream: string,
    options?: Streams.ReadStreamOptions & DecodeOptions
  ) => Stream.Stream<Typed<Event, Meta>, Streams.ReadStreamError | EventDecodeError, Streams.Streams>
  /** A catch-up subscription to a stream, as typed events (never ends by itself). */
  readonly subscribeToStream: (
    stream: string,
    options?: Streams.SubscribeToStreamOptions & DecodeOptions
  ) => Stream.Stream<Typed<Event, Meta>, Streams.SubscribeToStreamError | EventDecodeError, Streams.Streams>
  /** A catch-up subscription to `$all` (filters as the client's), as typed events. */
  readonly subscribeToAll: (
    options?: Streams.SubscribeToAllOptions & DecodeOptions
  ) => Stream.Stream<Typed<Event, Meta>, Streams.ReadAllError | EventDecodeError, Streams.Streams>
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

const withStreams = <A, E>(f: (streams: Streams.Streams) => Stream.Stream<A, E>): Stream.Stream<A, E, Streams.Streams> =>
  Stream.unwrap(Effect.gen(function*() {
    return f(yield* Streams.Streams)
  }))

const onlyReservedKeys = (json: unknown): boolean =>
  typeof json === "object" && json !== null && !Array.isArray(json) && Object.keys(json).every((key) => key.startsWith("$"))

const issueOf = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/**
 * Makes an {@link EventCodec} from the tagged event classes of the union, with an optional
 * metadata Schema and upcasters keyed by the recorded event type (a type of the union whose
 * data changed shape, or an old type name that is no longer in the union).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <
  const Members extends ReadonlyArray<EventSchema>,
  Meta = never
>(
  events: Members,
  options: {
    readonly metadata?: Schema.Codec<Meta, any, never, never> | undefined
    readonly upcasters?: Readonly<Record<string, ReadonlyArray<Upcaster<Members[number]["Type"]>>>> | undefined
  } = {}
): EventCodec<Members[number]["Type"], Meta> => {
  type Event = Members[number]["Type"]
  const types: Array<string> = []
  const byType = new Map<string, Schema.Codec<any, any, never, never>>()
  for (const member of events) {
    const literal = (member.fields._tag.ast as { readonly literal?: unknown }).literal
    if (typeof literal !== "string") throw new Error("EventCodec.make: every event Schema needs a string literal `_tag`")
    if (byType.has(literal)) throw new Error(`EventCodec.make: the event type ${literal} is declared twice`)
    types.push(literal)
    byType.set(literal, Schema.toCodecJson(member as Schema.Codec<any, any, never, never>))
  }
  const upcasters = new Map<string, ReadonlyArray<{ readonly codec: Schema.Codec<any, any, never, never>; readonly upcast: (old: any) => Event }>>()
  for (const [type, list] of Object.entries(options.upcasters ?? {})) {
    upcasters.set(type, list.map((u) => ({ codec: Schema.toCodecJson(u.schema), upcast: u.upcast })))
  }
  const metadataCodec = options.metadata === undefined ? undefined : Schema.toCodecJson(options.metadata)

  const encode = (event: Event, encodeOptions: EncodeOptions<Meta> = {}): Effect.Effect<NewEvent, EventEncodeError> =>
    Effect.gen(function*() {
      const codec = byType.get(event._tag)
      if (codec === undefined) return yield* new EventEncodeError({ type: event._tag, issue: "not an event of the codec's union" })
      const json = yield* Effect.mapError(
        Schema.encodeUnknownEffect(codec)(event),
        (error) => new EventEncodeError({ type: event._tag, issue: error.message })
      )
      const { _tag: _, ...data } = json as Record<string, unknown>
      let metadata: Uint8Array | undefined
      if (encodeOptions.metadata !== undefined && metadataCodec !== undefined) {
        const meta = yield* Effect.mapError(
          Schema.encodeUnknownEffect(metadataCodec)(encodeOptions.metadata),
          (error) => new EventEncodeError({ type: event._tag, issue: `metadata: ${error.message}` })
        )
        metadata = encoder.encode(JSON.stringify(meta))
      }
      return new NewEvent({ type: event._tag, data: encoder.encode(JSON.stringify(data)), metadata, id: encodeOptions.id })
    })

  const failure = (recorded: RecordedEvent, reason: EventDecodeError["reason"], issue: string) =>
    new EventDecodeError({
      stream: recorded.streamName,
      streamPosition: recorded.streamPosition,
      commitPosition: recorded.commitPosition,
      eventId: recorded.id,
      type: recorded.type,
      reason,
      issue
    })

  const parse = (recorded: RecordedEvent, bytes: Uint8Array, reason: "InvalidData" | "InvalidMetadata") =>
    Effect.try({
      try: (): unknown => JSON.parse(decoder.decode(bytes)),
      catch: (error) => failure(recorded, reason, `not JSON: ${issueOf(error)}`)
    })

  const decodeMetadata = (recorded: RecordedEvent): Effect.Effect<Meta | undefined, EventDecodeError> => {
    if (metadataCodec === undefined || recorded.metadata.length === 0) return Effect.succeed(undefined)
    return Effect.flatMap(parse(recorded, recorded.metadata, "InvalidMetadata"), (json) =>
      Schema.decodeUnknownEffect(metadataCodec)(json).pipe(
        Effect.catch((error) =>
          // metadata holding only reserved `$` keys (the trace context `$traceId`/`$spanId` a
          // traced append writes into empty metadata, `$correlationId`, …) is no user metadata
          onlyReservedKeys(json) ? Effect.succeed(undefined) : Effect.fail(failure(recorded, "InvalidMetadata", error.message))
        )
      ))
  }

  const decodeOption = (
    recorded: RecordedEvent,
    decodeOptions: DecodeOptions = {}
  ): Effect.Effect<Typed<Event, Meta> | undefined, EventDecodeError> =>
    Effect.gen(function*() {
      const current = byType.get(recorded.type)
      const older = upcasters.get(recorded.type) ?? []
      if (current === undefined && older.length === 0) {
        if (decodeOptions.unknownTypes === "skip") return undefined
        return yield* failure(recorded, "UnknownType", `${recorded.type} is not one of ${types.join(", ")}`)
      }
      const json = yield* parse(recorded, recorded.data, "InvalidData")
      const object = typeof json === "object" && json !== null && !Array.isArray(json) ? json : undefined
      let event: Event | undefined
      let issue = ""
      if (current !== undefined) {
        const attempt = yield* Effect.result(
          Schema.decodeUnknownEffect(current)(object === undefined ? json : { ...object, _tag: recorded.type })
        )
        if (attempt._tag === "Success") event = attempt.success as Event
        else issue = attempt.failure.message
      }
      for (const version of older) {
        if (event !== undefined) break
        const attempt = yield* Effect.result(Schema.decodeUnknownEffect(version.codec)(json))
        if (attempt._tag === "Success") event = version.upcast(attempt.success)
        else issue = issue === "" ? attempt.failure.message : issue
      }
      if (event === undefined) return yield* failure(recorded, "InvalidData", issue)
      const metadata = yield* decodeMetadata(recorded)
      return { event, metadata, recorded }
    })

  const decode = (recorded: RecordedEvent) =>
    decodeOption(recorded) as Effect.Effect<Typed<Event, Meta>, EventDecodeError>

  const decodeStream = (decodeOptions: DecodeOptions = {}) =>
  <E, R>(self: Stream.Stream<RecordedEvent | { readonly _tag: string }, E, R>) =>
    self.pipe(
      Stream.filter((item): item is RecordedEvent => item._tag === "RecordedEvent"),
      Stream.mapEffect((recorded) => decodeOption(recorded, decodeOptions)),
      Stream.filter((typed): typed is Typed<Event, Meta> => typed !== undefined)
    )

  return {
    types: types as ReadonlyArray<Event["_tag"]>,
    encode,
    decode,
    decodeOption,
    decodeStream,
    append: (stream, list, appendOptions) =>
      Effect.gen(function*() {
        const newEvents: Array<NewEvent> = []
        for (const event of list) newEvents.push(yield* encode(event, { metadata: appendOptions.metadata }))
        const streams = yield* Streams.Streams
        return yield* streams.append(stream, newEvents, appendOptions)
      }),
    read: (stream, readOptions) =>
      withStreams((streams) => streams.read(stream, readOptions)).pipe(
        decodeStream(readOptions)
      ),
    subscribeToStream: (stream, subscribeOptions) =>
      withStreams((streams) => streams.subscribeToStream(stream, subscribeOptions)).pipe(
        decodeStream(subscribeOptions)
      ),
    subscribeToAll: (subscribeOptions) =>
      withStreams((streams) => streams.subscribeToAll(subscribeOptions)).pipe(
        decodeStream(subscribeOptions)
      )
  }
}
