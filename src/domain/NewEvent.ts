/**
 * A new event to append to a stream.
 *
 * @since 0.1.0
 */
import { randomUUID } from "node:crypto"

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
 * A new event: its type, data, metadata, content type and id. Two new events are the same event
 * when their ids are equal: appending an event whose id the stream already holds is idempotent.
 *
 * @example
 * ```ts
 * import { NewEvent } from "effect-esdb"
 *
 * const created = new NewEvent({ type: "OrderCreated", data: '{"order_number":"123456"}' })
 * const binary = new NewEvent({ type: "Blob", data: new Uint8Array([1, 2, 3]), contentType: "application/octet-stream" })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export class NewEvent {
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
  /** Equality by id, as the server decides idempotency. */
  equals(that: NewEvent): boolean {
    return this.id === that.id
  }
}

/**
 * Makes a JSON event from a value (serialized with `JSON.stringify`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const json = (
  type: string,
  value: unknown,
  options?: { readonly metadata?: unknown; readonly id?: string | undefined }
): NewEvent =>
  new NewEvent({
    type,
    data: JSON.stringify(value),
    metadata: options?.metadata === undefined ? undefined : JSON.stringify(options.metadata),
    id: options?.id
  })

/**
 * Makes a binary (`application/octet-stream`) event.
 *
 * @since 0.1.0
 * @category constructors
 */
export const binary = (
  type: string,
  data: Uint8Array,
  options?: { readonly metadata?: Uint8Array | string | undefined; readonly id?: string | undefined }
): NewEvent =>
  new NewEvent({ type, data, metadata: options?.metadata, id: options?.id, contentType: "application/octet-stream" })
