/**
 * HPACK (RFC 7541): a decoder with the static and dynamic tables and Huffman strings, and an
 * encoder that writes literal fields without indexing (always valid, and enough for the few
 * request headers a gRPC call sends).
 *
 * @internal
 */
import * as Huffman from "./Huffman.ts"

/** A decoded header field list: names are lower-case, values are latin1 strings. */
export type HeaderList = Array<readonly [name: string, value: string]>

// dprint-ignore
const STATIC: ReadonlyArray<readonly [string, string]> = [
  [":authority", ""], [":method", "GET"], [":method", "POST"], [":path", "/"], [":path", "/index.html"],
  [":scheme", "http"], [":scheme", "https"], [":status", "200"], [":status", "204"], [":status", "206"],
  [":status", "304"], [":status", "400"], [":status", "404"], [":status", "500"], ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"], ["accept-language", ""], ["accept-ranges", ""], ["accept", ""],
  ["access-control-allow-origin", ""], ["age", ""], ["allow", ""], ["authorization", ""], ["cache-control", ""],
  ["content-disposition", ""], ["content-encoding", ""], ["content-language", ""], ["content-length", ""],
  ["content-location", ""], ["content-range", ""], ["content-type", ""], ["cookie", ""], ["date", ""], ["etag", ""],
  ["expect", ""], ["expires", ""], ["from", ""], ["host", ""], ["if-match", ""], ["if-modified-since", ""],
  ["if-none-match", ""], ["if-range", ""], ["if-unmodified-since", ""], ["last-modified", ""], ["link", ""],
  ["location", ""], ["max-forwards", ""], ["proxy-authenticate", ""], ["proxy-authorization", ""], ["range", ""],
  ["referer", ""], ["refresh", ""], ["retry-after", ""], ["server", ""], ["set-cookie", ""],
  ["strict-transport-security", ""], ["transfer-encoding", ""], ["user-agent", ""], ["vary", ""], ["via", ""],
  ["www-authenticate", ""]
]

/** Raised for a malformed header block: a COMPRESSION_ERROR of the connection (RFC 9113 §4.3). */
export class HpackError extends Error {}

/**
 * Decoder state of one connection direction (the dynamic table is shared by all its blocks).
 *
 * @internal
 */
export class Decoder {
  /** Newest entry first. */
  private table: Array<readonly [string, string]> = []
  private size = 0
  /** The largest size the peer may choose (our SETTINGS_HEADER_TABLE_SIZE). */
  private readonly limit: number
  private maxSize: number

  constructor(limit = 4096) {
    this.limit = limit
    this.maxSize = limit
  }

  /** Decodes one complete header block (HEADERS plus its CONTINUATIONs). */
  decode(block: Uint8Array): HeaderList {
    const out: HeaderList = []
    let pos = 0
    const end = block.length
    const integer = (prefixBits: number): number => {
      const mask = (1 << prefixBits) - 1
      let value = block[pos++]! & mask
      if (value < mask) return value
      let shift = 0
      for (;;) {
        if (pos >= end) throw new HpackError("truncated integer")
        const byte = block[pos++]!
        value += (byte & 0x7f) * 2 ** shift
        shift += 7
        if ((byte & 0x80) === 0) return value
        if (shift > 28) throw new HpackError("integer overflow")
      }
    }
    const string = (): string => {
      if (pos >= end) throw new HpackError("truncated string")
      const huffman = (block[pos]! & 0x80) !== 0
      const length = integer(7)
      if (pos + length > end) throw new HpackError("truncated string")
      const start = pos
      pos += length
      if (!huffman) return Buffer.from(block.buffer, block.byteOffset + start, length).toString("latin1")
      const text = Huffman.decode(block, start, start + length)
      if (text === undefined) throw new HpackError("invalid Huffman string")
      return text
    }
    const entry = (index: number): readonly [string, string] => {
      if (index === 0) throw new HpackError("index 0")
      if (index <= STATIC.length) return STATIC[index - 1]!
      const found = this.table[index - STATIC.length - 1]
      if (found === undefined) throw new HpackError(`index ${index} out of range`)
      return found
    }
    let fieldSeen = false
    while (pos < end) {
      const byte = block[pos]!
      if (byte & 0x80) {
        // indexed field
        out.push(entry(integer(7)))
        fieldSeen = true
      } else if (byte & 0x40) {
        // literal with incremental indexing
        const index = integer(6)
        const name = index === 0 ? string() : entry(index)[0]
        const value = string()
        out.push([name, value])
        this.add(name, value)
        fieldSeen = true
      } else if (byte & 0x20) {
        // dynamic table size update: only at the start of a block
        if (fieldSeen) throw new HpackError("table size update after a field")
        const size = integer(5)
        if (size > this.limit) throw new HpackError("table size update above the limit")
        this.maxSize = size
        this.evict()
      } else {
        // literal without indexing (0000) or never indexed (0001)
        const index = integer(4)
        const name = index === 0 ? string() : entry(index)[0]
        out.push([name, string()])
        fieldSeen = true
      }
    }
    return out
  }

  private add(name: string, value: string) {
    const size = name.length + value.length + 32
    this.table.unshift([name, value])
    this.size += size
    this.evict()
  }

  private evict() {
    while (this.size > this.maxSize) {
      const last = this.table.pop()!
      this.size -= last[0].length + last[1].length + 32
    }
  }
}

const writeInteger = (out: Array<number>, value: number, prefixBits: number, first: number) => {
  const mask = (1 << prefixBits) - 1
  if (value < mask) {
    out.push(first | value)
    return
  }
  out.push(first | mask)
  value -= mask
  while (value >= 128) {
    out.push((value % 128) + 128)
    value = Math.floor(value / 128)
  }
  out.push(value)
}

const writeString = (out: Array<number>, text: string) => {
  const bytes = Buffer.from(text, "latin1")
  writeInteger(out, bytes.length, 7, 0)
  for (const b of bytes) out.push(b)
}

/**
 * Encodes a header list as literal fields without indexing (`authorization` as never indexed,
 * so intermediaries do not index credentials). Names must be lower-case.
 *
 * @internal
 */
export const encode = (headers: ReadonlyArray<readonly [string, string]>): Buffer => {
  const out: Array<number> = []
  for (const [name, value] of headers) {
    writeInteger(out, 0, 4, name === "authorization" ? 0x10 : 0x00)
    writeString(out, name)
    writeString(out, value)
  }
  return Buffer.from(out)
}
