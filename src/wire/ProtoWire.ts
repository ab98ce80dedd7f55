/**
 * Protocol Buffers wire primitives for the hand-written encoders (the node's `ReadResp` encoder
 * and the client's `BatchAppendReq` encoder): varint sizes and writers.
 *
 * @internal
 */

/** Bytes of the varint of a non-negative safe integer. @internal */
export const varintSize = (n: number): number => {
  let size = 1
  while (n >= 128) {
    n = Math.floor(n / 128)
    size++
  }
  return size
}

/** Bytes of the varint of a non-negative bigint below 2^64. @internal */
export const varintSizeBig = (n: bigint): number => {
  let size = 1
  while (n >= 128n) {
    n >>= 7n
    size++
  }
  return size
}

/** Writes the varint of a non-negative safe integer at `pos`; returns the position after it. @internal */
export const writeVarint = (buf: Buffer, pos: number, n: number): number => {
  while (n >= 128) {
    buf[pos++] = (n % 128) | 128
    n = Math.floor(n / 128)
  }
  buf[pos++] = n
  return pos
}

/** Writes the varint of a non-negative bigint below 2^64; returns the position after it. @internal */
export const writeVarintBig = (buf: Buffer, pos: number, n: bigint): number => {
  while (n >= 128n) {
    buf[pos++] = Number(n & 127n) | 128
    n >>= 7n
  }
  buf[pos++] = Number(n)
  return pos
}

/** Size of a length-delimited field of `length` bytes with a one-byte tag. @internal */
export const fieldSize = (length: number): number => 1 + varintSize(length) + length

const truncated = () => new RangeError("truncated protobuf message")

/**
 * A cursor over one message's bytes for the hand-written decoders; every read is bounds-checked
 * and throws a `RangeError` on truncated or malformed input.
 *
 * @internal
 */
export class ProtoReader {
  readonly buf: Buffer
  pos: number
  constructor(buf: Buffer, pos = 0) {
    this.buf = buf
    this.pos = pos
  }

  varint(): number {
    let b = this.buf[this.pos++]
    if (b === undefined) throw truncated()
    if (b < 0x80) return b
    let result = b & 0x7f
    let mul = 0x80
    for (;;) {
      b = this.buf[this.pos++]
      if (b === undefined) throw truncated()
      result += (b & 0x7f) * mul
      if (b < 0x80) return result
      mul *= 0x80
      if (mul > 0x20000000000000) throw new RangeError("varint too long for a number")
    }
  }

  /** A varint as an unsigned 64-bit bigint. */
  varint64(): bigint {
    let result = 0n
    let shift = 0n
    for (let i = 0; i < 10; i++) {
      const b = this.buf[this.pos++]
      if (b === undefined) throw truncated()
      result |= BigInt(b & 0x7f) << shift
      if (b < 0x80) return BigInt.asUintN(64, result)
      shift += 7n
    }
    throw new RangeError("varint longer than 10 bytes")
  }

  /** The end of a length-delimited field starting here. */
  end(): number {
    const n = this.varint()
    const end = this.pos + n
    if (end > this.buf.length) throw truncated()
    return end
  }

  bytes(): Buffer {
    const end = this.end()
    const view = this.buf.subarray(this.pos, end)
    this.pos = end
    return view
  }

  string(): string {
    const end = this.end()
    const text = this.buf.toString("utf8", this.pos, end)
    this.pos = end
    return text
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint64()
        return
      case 1:
        this.pos += 8
        break
      case 2:
        this.pos = this.end()
        return
      case 5:
        this.pos += 4
        break
      default:
        throw new RangeError(`invalid wire type ${wireType}`)
    }
    if (this.pos > this.buf.length) throw truncated()
  }
}
