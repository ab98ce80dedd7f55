/**
 * An event read from the database.
 *
 * @since 0.1.0
 */

import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as Hash from "effect/Hash"
import * as Schema from "effect/Schema"
import { EventDataInvalid } from "../errors/EventDataInvalid.ts"
import { type EventContent, hashContent, isEventContent, sameContent } from "./EventContent.ts"

const decoder = new TextDecoder()

/**
 * What a {@link RecordedEvent} is made of (all fields of the seed client's recorded event).
 *
 * @since 0.1.0
 * @category models
 */
export interface RecordedEventFields {
  readonly type: string
  readonly data: Uint8Array
  readonly metadata: Uint8Array
  readonly contentType: string
  readonly id: string
  readonly streamName: string
  readonly streamPosition: bigint
  readonly commitPosition: bigint | undefined
  readonly preparePosition: bigint | undefined
  /**
   * 100-nanosecond ticks since the Unix epoch, as the server records them (also accepted as the
   * decimal string the server sends, parsed when first read).
   */
  readonly createdTicks: bigint | string | undefined
  readonly link: RecordedEvent | undefined
  readonly retryCount: number | undefined
}

/**
 * An event recorded in a stream. When read with `resolveLinks`, a link event (`$>`) is replaced by
 * the event it points to and the link itself is kept in `link`; `commitPosition` is then the
 * link's position in `$all`.
 *
 * A recorded event equals the {@link NewEvent} it was appended from, in both directions, with
 * `Equal.equals` or `equals`: same id, type, content type, data and metadata (where it was
 * recorded is not compared). Two reads of the same event are equal too.
 *
 * The data is bytes (`data`), text (`dataText`), or JSON decoded in the error channel with
 * {@link RecordedEvent.decodeJson}, through a Schema when one is given.
 *
 * @example
 * ```ts
 * import { Effect, Equal, Schema } from "effect"
 * import { NewEvent, Streams } from "effect-esdb"
 *
 * const Order = Schema.Struct({ order: Schema.Number })
 *
 * const program = Effect.gen(function*() {
 *   const streams = yield* Streams.Streams
 *   const created = NewEvent.json("OrderCreated", { order: 1 })
 *   yield* streams.append("order-1", created, { currentVersion: "no_stream" })
 *   const [recorded] = yield* streams.get("order-1")
 *   Equal.equals(recorded, created) // true
 *   created.equals(recorded!) // true
 *   const order = yield* recorded!.decodeJson(Order) // { order: 1 }, or an EventDataInvalid
 *   return order.order
 * })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export class RecordedEvent implements Equal.Equal {
  readonly _tag = "RecordedEvent" as const
  readonly type: string
  readonly data: Uint8Array
  readonly metadata: Uint8Array
  readonly contentType: string
  readonly id: string
  readonly streamName: string
  readonly streamPosition: bigint
  readonly commitPosition: bigint | undefined
  readonly preparePosition: bigint | undefined
  readonly link: RecordedEvent | undefined
  readonly retryCount: number | undefined
  #created: bigint | string | undefined
  constructor(fields: RecordedEventFields) {
    this.type = fields.type
    this.data = fields.data
    this.metadata = fields.metadata
    this.contentType = fields.contentType
    this.id = fields.id
    this.streamName = fields.streamName
    this.streamPosition = fields.streamPosition
    this.commitPosition = fields.commitPosition
    this.preparePosition = fields.preparePosition
    this.#created = fields.createdTicks
    this.link = fields.link
    this.retryCount = fields.retryCount
  }
  /** 100-nanosecond ticks since the Unix epoch when the event was recorded, if the server said. */
  get createdTicks(): bigint | undefined {
    const created = this.#created
    if (typeof created !== "string") return created
    let ticks: bigint | undefined
    try {
      ticks = BigInt(created)
    } catch {
      ticks = undefined
    }
    this.#created = ticks
    return ticks
  }
  /** When the event was recorded (millisecond precision), if the server said. */
  get recordedAt(): Date | undefined {
    const millis = RecordedEvent.recordedMillis(this)
    return millis === undefined ? undefined : new Date(millis)
  }
  /**
   * When `event` was recorded, in epoch milliseconds, without a `Date` (and, from the decimal string
   * the server sends, without parsing a bigint: a subscription's lag metric reads it per chunk).
   *
   * @internal
   */
  static recordedMillis(event: RecordedEvent): number | undefined {
    const created = event.#created
    if (typeof created === "string") {
      // ticks are 100 ns: dropping the last four digits divides by 10,000 (ms), exactly, for the
      // non-negative integers the server sends; anything else goes through the bigint parse
      if (created.length > 4 && created.length < 20 && /^[0-9]+$/.test(created)) return Number(created.slice(0, -4))
    }
    const ticks = event.createdTicks
    return ticks === undefined ? undefined : Number(ticks / 10_000n)
  }
  /** The id to acknowledge in a persistent subscription: the link's id when a link was resolved. */
  get ackId(): string {
    return this.link === undefined ? this.id : this.link.id
  }
  /** Events whose type starts with `$` are written by the system. */
  get isSystemEvent(): boolean {
    return this.type.startsWith("$")
  }
  /** A link event (`$>`) that was not resolved. */
  get isLinkEvent(): boolean {
    return this.type === "$>"
  }
  /** An event reached through a resolved link. */
  get isResolvedEvent(): boolean {
    return this.link !== undefined
  }
  /** Always false: checkpoints are {@link Checkpoint} values. */
  get isCheckpoint(): false {
    return false
  }
  /** Always false: caught-up markers are {@link CaughtUp} values. */
  get isCaughtUp(): false {
    return false
  }
  /** The data decoded as UTF-8 text. */
  get dataText(): string {
    return decoder.decode(this.data)
  }
  /**
   * The data parsed as JSON, then decoded with `schema` when one is given. Data that is not JSON,
   * or that the Schema refuses, fails with {@link EventDataInvalid} (naming the event and why).
   */
  decodeJson(): Effect.Effect<unknown, EventDataInvalid>
  decodeJson<A>(schema: Schema.ConstraintDecoder<A>): Effect.Effect<A, EventDataInvalid>
  decodeJson<A>(schema?: Schema.ConstraintDecoder<A>): Effect.Effect<unknown, EventDataInvalid> {
    const invalid = (reason: string) =>
      new EventDataInvalid({ stream: this.streamName, streamPosition: this.streamPosition, id: this.id, type: this.type, reason })
    const parsed = Effect.try({
      try: (): unknown => JSON.parse(decoder.decode(this.data)),
      catch: (error) => invalid(`not JSON: ${error instanceof Error ? error.message : String(error)}`)
    })
    return schema === undefined
      ? parsed
      : Effect.flatMap(parsed, (value) =>
        Effect.mapError(Schema.decodeUnknownEffect(schema)(value), (error) => invalid(error.message)))
  }
  /**
   * Whether `that` (a recorded or a new event) has the same id, type, content type, data and
   * metadata.
   */
  equals(that: EventContent): boolean {
    return sameContent(this, that)
  }
  /** `Equal.equals` support: {@link equals} against new and recorded events, false otherwise. */
  [Equal.symbol](that: unknown): boolean {
    return isEventContent(that) && sameContent(this, that)
  }
  /** Hash consistent with {@link equals}. */
  [Hash.symbol](): number {
    return hashContent(this)
  }
  toJSON(): unknown {
    return {
      _tag: this._tag,
      type: this.type,
      id: this.id,
      streamName: this.streamName,
      streamPosition: this.streamPosition.toString(),
      commitPosition: this.commitPosition?.toString(),
      contentType: this.contentType,
      dataBytes: this.data.length,
      recordedAt: this.recordedAt?.toISOString(),
      link: this.link?.toJSON(),
      retryCount: this.retryCount
    }
  }
}
