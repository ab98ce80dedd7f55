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
