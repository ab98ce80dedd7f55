/**
 * A new event to append to a stream.
 *
 * @since 0.1.0
 */
import * as Equal from "effect/Equal"
import * as Hash from "effect/Hash"
import { randomUUID } from "node:crypto"
import { type EventContent, hashContent, isEventContent, sameContent } from "./EventContent.ts"

const encoder = new TextEncoder()
const empty = new Uint8Array(0)

const toBytes = (value: Uint8Array | string | undefined): Uint8Array =>
  value === undefined ? empty : typeof value === "string" ? encoder.encode(value) : value

/**
 * What {@link NewEvent} is made from. `data` and `metadata` may be given as bytes or as a string
 * (UTF-8 encoded); `contentType` defaults to `application/json`; `id` defaults to a new random
 * UUID, which makes retried appends idempotent.
 *
 * @since 0.1.0
 * @category models
 */
export interface NewEventInput {
  readonly type: string
  readonly data?: Uint8Array | string | undefined
  readonly metadata?: Uint8Array | string | undefined
  readonly contentType?: string | undefined
  readonly id?: string | undefined
}

/**
 * A new event: its type, data, metadata, content type and id. Appending an event whose id the
 * stream already holds is idempotent (the node decides by id alone).
 *
 * `Equal.equals` and `equals` compare content: a new event equals another new event, or the
 * {@link RecordedEvent} appended from it, when their ids, types, content types, data and metadata
 * are equal.
 *
 * @example
 * ```ts
 * import { NewEvent } from "effect-esdb"
 *
 * const created = new NewEvent({ type: "OrderCreated", data: '{"order_number":"123456"}' })
 * const binary = new NewEvent({ type: "Blob", data: new Uint8Array([1, 2, 3]), contentType: "application/octet-stream" })
 * const json = NewEvent.json("OrderCreated", { order_number: "123456" })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export class NewEvent implements Equal.Equal {
  readonly _tag = "NewEvent" as const
  readonly type: string
  readonly data: Uint8Array
  readonly metadata: Uint8Array
  readonly contentType: string
  readonly id: string
  constructor(input: NewEventInput) {
    this.type = input.type
    this.data = toBytes(input.data)
    this.metadata = toBytes(input.metadata)
    this.contentType = input.contentType ?? "application/json"
    this.id = input.id ?? randomUUID()
  }
  /**
   * Whether `that` (a new or a recorded event) has the same id, type, content type, data and
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
  /**
   * Makes a JSON event from a value (serialized with `JSON.stringify`; `metadata` too).
   *
   * @example
   * ```ts
   * import { NewEvent } from "effect-esdb"
   *
   * const created = NewEvent.json("OrderCreated", { order: 1 }, { metadata: { user: "ada" } })
   * ```
   */
  static json(
    type: string,
    value: unknown,
    options?: { readonly metadata?: unknown; readonly id?: string | undefined }
  ): NewEvent {
    return new NewEvent({
      type,
      data: JSON.stringify(value),
      metadata: options?.metadata === undefined ? undefined : JSON.stringify(options.metadata),
      id: options?.id
    })
  }
  /** Makes a binary (`application/octet-stream`) event. */
  static binary(
    type: string,
    data: Uint8Array,
    options?: { readonly metadata?: Uint8Array | string | undefined; readonly id?: string | undefined }
  ): NewEvent {
    return new NewEvent({ type, data, metadata: options?.metadata, id: options?.id, contentType: "application/octet-stream" })
  }
}
