/**
 * HPACK (RFC 7541): a full header block decoder (static and dynamic table, table size updates,
 * Huffman-coded strings) and a small encoder that writes literals without indexing (plus the
 * static `:status: 200`), which keeps no state to share with the peer.
 *
 * @since 0.1.0
 */

/**
 * A decoding failure (the connection answers COMPRESSION_ERROR).
 *
 * @since 0.1.0
 * @category errors
 */
export class HpackError extends Error {
  constructor(message: string) {
    super(message)
    this.name = "HpackError"
  }
}

/**
 * The static table (RFC 7541 Appendix A); index 1 is element 0.
 *
 * @since 0.1.0
 * @category constants
 */
export const STATIC_TABLE: ReadonlyArray<readonly [string, string]> = [
  [":authority", ""],
  [":method", "GET"],
  [":method", "POST"],
  [":path", "/"],
  [":path", "/index.html"],
  [":scheme", "http"],
  [":scheme", "https"],
  [":status", "200"],
  [":status", "204"],
  [":status", "206"],
  [":status", "304"],
  [":status", "400"],
  [":status", "404"],
  [":status", "500"],
  ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"],
  ["accept-language", ""],
  ["accept-ranges", ""],
  ["accept", ""],
  ["access-control-allow-origin", ""],
  ["age", ""],
  ["allow", ""],
  ["authorization", ""],
  ["cache-control", ""],
  ["content-disposition", ""],
  ["content-encoding", ""],
  ["content-language", ""],
  ["content-length", ""],
  ["content-location", ""],
  ["content-range", ""],
  ["content-type", ""],
  ["cookie", ""],
  ["date", ""],
  ["etag", ""],
  ["expect", ""],
  ["expires", ""],
  ["from", ""],
  ["host", ""],
  ["if-match", ""],
  ["if-modified-since", ""],
  ["if-none-match", ""],
  ["if-range", ""],
  ["if-unmodified-since", ""],
  ["last-modified", ""],
  ["link", ""],
  ["location", ""],
  ["max-forwards", ""],
  ["proxy-authenticate", ""],
  ["proxy-authorization", ""],
  ["range", ""],
  ["referer", ""],
  ["refresh", ""],
  ["retry-after", ""],
  ["server", ""],
  ["set-cookie", ""],
  ["strict-transport-security", ""],
  ["transfer-encoding", ""],
  ["user-agent", ""],
  ["vary", ""],
  ["via", ""],
  ["www-authenticate", ""]
]

// Code lengths of symbols 0..255 (RFC 7541 Appendix B); EOS (256) is 30 bits. The code is
// canonical: codes are assigned in order of (length, symbol).
const CODE_LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30
]

const EOS = 256

/** Canonical codes from the lengths: [code, length] per symbol. */
const buildCodes = (): Array<readonly [number, number]> => {
  const symbols = CODE_LENGTHS.map((length, symbol) => ({ symbol, length }))
  symbols.sort((a, b) => a.length - b.length || a.symbol - b.symbol)
  const codes: Array<readonly [number, number]> = new Array(CODE_LENGTHS.length)
  let code = 0
  let previous = symbols[0]!.length
  for (const { length, symbol } of symbols) {
    code = code * 2 ** (length - previous)
    previous = length
    codes[symbol] = [code, length]
    code++
  }
  return codes
}

/**
 * The Huffman code of each symbol (0..256) as [code, bit length].
 *
 * @since 0.1.0
 * @category constants
 */
export const HUFFMAN_CODES: ReadonlyArray<readonly [number, number]> = buildCodes()

// Decoding tree: node n has children at tree[2n] (bit 0) and tree[2n+1] (bit 1); a child value
// > 0 is a node index, <= 0 is a leaf holding -symbol (symbol 0 is stored as the leaf marker LEAF0).
const LEAF0 = -1000
const buildTree = (): Int32Array => {
  const tree = new Int32Array(2 * 512)
  let nodes = 1
  HUFFMAN_CODES.forEach(([code, length], symbol) => {
    let node = 0
    for (let bit = length - 1; bit >= 0; bit--) {
      const b = Math.floor(code / 2 ** bit) & 1
      const slot = 2 * node + b
      if (bit === 0) {
        tree[slot] = symbol === 0 ? LEAF0 : -symbol
      } else {
        if (tree[slot] === 0) tree[slot] = nodes++
        node = tree[slot]!
      }
    }
  })
  return tree
}
const TREE = buildTree()

/**
 * Decodes a Huffman-coded string (as latin1, one char per octet).
 *
 * @since 0.1.0
 * @category decoding
 */
export const huffmanDecode = (source: Buffer, start: number, end: number): string => {
  const out: Array<number> = []
  let node = 0
  let depth = 0
  let allOnes = true
  for (let i = start; i < end; i++) {
    const byte = source[i]!
    for (let bit = 7; bit >= 0; bit--) {
      const b = (byte >> bit) & 1
      const next = TREE[2 * node + b]!
      depth++
      if (b === 0) allOnes = false
      if (next > 0) {
        node = next
        continue
      }
      const symbol = next === LEAF0 ? 0 : -next
      if (symbol === EOS) throw new HpackError("EOS in Huffman string")
      out.push(symbol)
      node = 0
      depth = 0
      allOnes = true
    }
  }
  if (depth > 7 || !allOnes) throw new HpackError("invalid Huffman padding")
  return Buffer.from(out).toString("latin1")
}

/**
 * Huffman-encodes a latin1 string (used by tests and available to encoders).
 *
 * @since 0.1.0
 * @category encoding
 */
export const huffmanEncode = (text: string): Buffer => {
  const bytes: Array<number> = []
  let acc = 0
  let bits = 0
  for (let i = 0; i < text.length; i++) {
    const [code, length] = HUFFMAN_CODES[text.charCodeAt(i) & 0xff]!
    for (let bit = length - 1; bit >= 0; bit--) {
      acc = (acc << 1) | (Math.floor(code / 2 ** bit) & 1)
      if (++bits === 8) {
        bytes.push(acc)
        acc = 0
        bits = 0
      }
    }
  }
  if (bits > 0) bytes.push(((acc << (8 - bits)) | ((1 << (8 - bits)) - 1)) & 0xff)
  return Buffer.from(bytes)
}

/**
 * A decoded header list: names and values alternating (`[n0, v0, n1, v1, ...]`), values as latin1.
 *
 * @since 0.1.0
 * @category models
 */
export type HeaderList = Array<string>

/**
 * A stateful HPACK decoder (one per connection direction).
 *
 * @since 0.1.0
 * @category decoding
 */
export class HpackDecoder {
  /** Dynamic table entries, oldest first. */
  private readonly entries: Array<readonly [string, string]> = []
  private size = 0
  private maxSize: number
  /** The limit our SETTINGS_HEADER_TABLE_SIZE allows the encoder to choose. */
  private readonly settingsMax: number
  private readonly maxHeaderListSize: number

  constructor(settingsMax = 4096, maxHeaderListSize = 1 << 20) {
    this.maxSize = settingsMax
    this.settingsMax = settingsMax
    this.maxHeaderListSize = maxHeaderListSize
  }

  /** Current dynamic table size in octets (RFC 7541 §4.1). */
  get tableSize(): number {
    return this.size
  }

  /** Dynamic table entries, newest first (for tests). */
  get dynamicTable(): ReadonlyArray<readonly [string, string]> {
    return this.entries.slice().reverse()
  }

  private add(name: string, value: string): void {
    const entrySize = name.length + value.length + 32
    this.entries.push([name, value])
    this.size += entrySize
    this.evict()
  }

  private evict(): void {
    while (this.size > this.maxSize && this.entries.length > 0) {
      const [n, v] = this.entries.shift()!
      this.size -= n.length + v.length + 32
    }
  }

  private entry(index: number): readonly [string, string] {
    if (index <= 0) throw new HpackError("index 0")
    if (index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1]!
    const d = index - STATIC_TABLE.length
    if (d > this.entries.length) throw new HpackError(`index ${index} out of range`)
    return this.entries[this.entries.length - d]!
  }

  /** Decodes one complete header block. */
  decode(block: Buffer): HeaderList {
    const out: HeaderList = []
    let pos = 0
    const end = block.length
    let listSize = 0
    let fieldSeen = false
    const readInt = (prefixBits: number): number => {
      const mask = (1 << prefixBits) - 1
      let value = block[pos++]! & mask
      if (value < mask) return value
      let shift = 0
      for (;;) {
        if (pos >= end) throw new HpackError("truncated integer")
        const b = block[pos++]!
        value += (b & 0x7f) * 2 ** shift
        shift += 7
        if ((b & 0x80) === 0) break
        if (shift > 28) throw new HpackError("integer overflow")
      }
      if (value > 0x7fffffff) throw new HpackError("integer overflow")
      return value
    }
    const readString = (): string => {
      if (pos >= end) throw new HpackError("truncated string")
      const huffman = (block[pos]! & 0x80) !== 0
      const length = readInt(7)
      if (pos + length > end) throw new HpackError("truncated string")
      const s = huffman ? huffmanDecode(block, pos, pos + length) : block.toString("latin1", pos, pos + length)
      pos += length
      return s
    }
    const emit = (name: string, value: string) => {
      listSize += name.length + value.length + 32
      if (listSize > this.maxHeaderListSize) throw new HpackError("header list too large")
      out.push(name, value)
    }
    while (pos < end) {
      const b = block[pos]!
      if ((b & 0x80) !== 0) {
        const [name, value] = this.entry(readInt(7))
        emit(name, value)
        fieldSeen = true
      } else if ((b & 0xc0) === 0x40) {
        const index = readInt(6)
        const name = index === 0 ? readString() : this.entry(index)[0]
        const value = readString()
        this.add(name, value)
        emit(name, value)
        fieldSeen = true
      } else if ((b & 0xe0) === 0x20) {
        if (fieldSeen) throw new HpackError("table size update after a field")
        const size = readInt(5)
        if (size > this.settingsMax) throw new HpackError("table size update above the limit")
        this.maxSize = size
        this.evict()
      } else {
        // literal without indexing (0000) or never indexed (0001)
        const index = readInt(4)
        const name = index === 0 ? readString() : this.entry(index)[0]
        const value = readString()
        emit(name, value)
        fieldSeen = true
      }
    }
    return out
  }
}

const STATIC_NAME_INDEX = new Map<string, number>()
STATIC_TABLE.forEach(([name], i) => {
  if (!STATIC_NAME_INDEX.has(name)) STATIC_NAME_INDEX.set(name, i + 1)
})

const writeInt = (out: Array<number>, value: number, prefixBits: number, firstByteBits: number): void => {
  const max = (1 << prefixBits) - 1
  if (value < max) {
    out.push(firstByteBits | value)
    return
  }
  out.push(firstByteBits | max)
  value -= max
  while (value >= 128) {
    out.push((value % 128) + 128)
    value = Math.floor(value / 128)
  }
  out.push(value)
}

const writeString = (out: Array<number>, text: string): void => {
  const bytes = Buffer.from(text, "latin1")
  writeInt(out, bytes.length, 7, 0)
  for (let i = 0; i < bytes.length; i++) out.push(bytes[i]!)
}

/**
 * Encodes a header list without touching the dynamic table: `:status: 200` indexed, other fields
 * as literals without indexing (name indexed when the static table has it). Values are latin1.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeHeaders = (fields: ReadonlyArray<readonly [string, string]>): Buffer => {
  const out: Array<number> = []
  for (const [name, value] of fields) {
    if (name === ":status" && value === "200") {
      out.push(0x88)
      continue
    }
    // credentials are sent as never indexed (RFC 7541 §7.1.3): no intermediary may index them
    const first = name === "authorization" ? 0x10 : 0x00
    const index = STATIC_NAME_INDEX.get(name)
    if (index !== undefined) {
      writeInt(out, index, 4, first)
    } else {
      out.push(first)
      writeString(out, name)
    }
    writeString(out, value)
  }
  return Buffer.from(out)
}
