/**
 * How a {@link NewEvent} becomes a v2 record (PROTOCOL.md §9): its id is the record id, its type
 * the schema name, `application/json` the JSON format (anything else bytes), and its metadata,
 * a JSON object, the record's properties. A v1 read of the record then shows the same type and
 * content type, and as metadata those properties plus `$schema.name` / `$schema.format`.
 *
 * @internal
 */
import type { NewEvent } from "../../domain/NewEvent.ts"
import { InvalidArgument } from "../../errors/InvalidArgument.ts"
import { SchemaFormat } from "../../generated/kurrentdb/protocol/v2/streams/shared.ts"
import type { AppendRecord } from "../../generated/kurrentdb/protocol/v2/streams/streams.ts"
import { invalid } from "./validate.ts"

const decoder = new TextDecoder("utf-8", { fatal: true })

const toBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

const INTEGER = /^-?[0-9]+$/

/**
 * The properties of an event's metadata: empty, or a JSON object. An integer beyond 2^53 in it is
 * refused: a record's properties are protobuf `Value`s, whose numbers are doubles, so such an
 * integer (an id, often) would be stored changed, without a word. `JSON.parse` hands its reviver
 * each number's source text (Node 21+; without it nothing is refused).
 *
 * @internal
 */
export const propertiesOf = (event: NewEvent, where: string): Record<string, unknown> | InvalidArgument => {
  if (event.metadata.length === 0) return {}
  let parsed: unknown
  let unsafe: string | undefined
  try {
    parsed = JSON.parse(decoder.decode(event.metadata), function(
      this: unknown,
      key: string,
      value: unknown,
      context?: { readonly source?: string }
    ) {
      const source = context?.source
      if (
        unsafe === undefined && typeof value === "number" && source !== undefined && !Number.isSafeInteger(value) &&
        INTEGER.test(source)
      ) unsafe = `${JSON.stringify(key)}: ${source}`
      return value
    } as (key: string, value: unknown) => unknown)
  } catch {
    return invalid(`${where}.metadata must be a JSON object to become the record's properties`)
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    return invalid(`${where}.metadata must be a JSON object to become the record's properties`)
  }
  if (unsafe !== undefined) {
    return invalid(
      `${where}.metadata holds an integer beyond 2^53 (${unsafe}): a record's properties keep numbers as doubles, which would change it; write it as a string`
    )
  }
  return parsed as Record<string, unknown>
}

/** An event as a v2 record (for `stream` with AppendRecords). @internal */
export const toRecord = (event: NewEvent, where: string, stream?: string): AppendRecord | InvalidArgument => {
  const properties = propertiesOf(event, where)
  if (properties instanceof InvalidArgument) return properties
  return {
    recordId: event.id,
    properties,
    schema: {
      format: event.contentType === "application/json" ? SchemaFormat.SCHEMA_FORMAT_JSON : SchemaFormat.SCHEMA_FORMAT_BYTES,
      name: event.type
    },
    data: toBuffer(event.data),
    stream
  }
}
