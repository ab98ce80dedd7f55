/**
 * A v2 record's properties as a v1 read shows them (KurrentDB `EventRecord`: the properties are
 * stored as a protobuf Struct and a v1 read gets them as `custom_metadata` JSON, rendered by
 * Google.Protobuf's `JsonFormatter`, with `$schema.name` = the event type and `$schema.format` =
 * "Json" for JSON records), and the preparation of a record's properties before it is stored
 * (`AppendRecordExtensions.PreProcessRecord`: `$schema.format` for non-JSON records,
 * `$schema.id` when given).
 *
 * @since 0.1.0
 */

/**
 * A property value: what `google.protobuf.Value` holds, unwrapped.
 *
 * @since 0.1.0
 * @category models
 */
export type PropertyValue = null | boolean | number | string | ReadonlyArray<PropertyValue> | { readonly [key: string]: PropertyValue }

/**
 * The names `SchemaFormat` values have in .NET (`ToString()` of the generated enum), by number.
 *
 * @since 0.1.0
 * @category constants
 */
export const schemaFormatNames: Readonly<Record<number, string>> = { 0: "Unspecified", 1: "Json", 2: "Protobuf", 3: "Avro", 4: "Bytes" }

const hex = "0123456789abcdef"
const unit = (c: number): string => "\\u" + hex[(c >> 12) & 15] + hex[(c >> 8) & 15] + hex[(c >> 4) & 15] + hex[c & 15]

const escaped = (c: number): string | undefined => {
  switch (c) {
    case 0x22:
      return "\\\""
    case 0x5c:
      return "\\\\"
    case 0x08:
      return "\\b"
    case 0x09:
      return "\\t"
    case 0x0a:
      return "\\n"
    case 0x0c:
      return "\\f"
    case 0x0d:
      return "\\r"
    case 0x3c:
    case 0x3e:
      return unit(c)
  }
  if (c < 0x20 || (c >= 0x7f && c < 0xa0)) return unit(c)
  if (
    c === 0xad || c === 0x6dd || c === 0x70f || c === 0x17b4 || c === 0x17b5 || c === 0xfeff ||
    (c >= 0xfff9 && c <= 0xfffb) || (c >= 0x600 && c <= 0x603) || (c >= 0x200b && c <= 0x200f) ||
    (c >= 0x2028 && c <= 0x202e) || (c >= 0x2060 && c <= 0x2064) || (c >= 0x206a && c <= 0x206f) ||
    (c >= 0xd800 && c <= 0xdfff)
  ) return unit(c)
  return undefined
}

/** A JSON string as JsonFormatter writes it (its escapes: `<`, `>`, controls, invisible characters, surrogates as \u). */
const jsonString = (text: string): string => {
  let out = "\""
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    out += escaped(c) ?? text[i]
  }
  return out + "\""
}

/** A double as .NET's `ToString("r")` writes it (shortest round trip; E notation from 1E+15 and below 1E-05). */
const jsonNumber = (n: number): string => {
  if (Number.isNaN(n)) return "\"NaN\""
  if (n === Infinity) return "\"Infinity\""
  if (n === -Infinity) return "\"-Infinity\""
  if (n === 0) return Object.is(n, -0) ? "-0" : "0"
  const abs = Math.abs(n)
  if (abs >= 1e15 || abs < 1e-5) {
    const [mantissa, exponent] = n.toExponential().split("e") as [string, string]
    const e = Number(exponent)
    return `${mantissa}E${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`
  }
  return String(n)
}

const jsonValue = (value: PropertyValue): string => {
  if (value === null) return "null"
  if (typeof value === "boolean") return value ? "true" : "false"
  if (typeof value === "number") return jsonNumber(value)
  if (typeof value === "string") return jsonString(value)
  if (Array.isArray(value)) return value.length === 0 ? "[ ]" : `[ ${value.map(jsonValue).join(", ")} ]`
  return jsonObject(value as { readonly [key: string]: PropertyValue })
}

const jsonObject = (fields: { readonly [key: string]: PropertyValue }): string => {
  const keys = Object.keys(fields)
  return keys.length === 0 ? "{ }" : `{ ${keys.map((k) => `${jsonString(k)}: ${jsonValue(fields[k]!)}`).join(", ")} }`
}

/**
 * The `custom_metadata` a v1 read of a v2 record carries: the stored properties, then
 * `$schema.name` (the event type) and, for JSON records, `$schema.format` = "Json" (replacing
 * keys of those names in place), as JSON.
 *
 * @since 0.1.0
 * @category encoding
 */
export const v1Metadata = (stored: { readonly [key: string]: PropertyValue }, eventType: string, isJson: boolean): Buffer => {
  const fields: Record<string, PropertyValue> = { ...stored }
  fields["$schema.name"] = eventType
  if (isJson) fields["$schema.format"] = "Json"
  return Buffer.from(jsonObject(fields), "utf8")
}

/**
 * Whether every value (nested ones too) is set: the node refuses a property whose value has no
 * kind ("Property values must have a type set.").
 *
 * @since 0.1.0
 * @category validation
 */
export const hasKind = (value: unknown): boolean => {
  if (value === undefined) return false
  if (value === null || typeof value !== "object") return true
  if (Array.isArray(value)) return value.every(hasKind)
  return Object.values(value).every(hasKind)
}
