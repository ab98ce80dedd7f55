/**
 * The common BatchAppend reply, read by hand: a success with a commit position, correlated by a
 * string UUID. Anything else (an error, a structured UUID, no position, unexpected wire types)
 * returns `undefined` and is decoded by the generated codec instead, so only the fast path is
 * hand-written. `test/BatchAppendReply.test.ts` checks it against `BatchAppendResp.decode`.
 *
 * @internal
 */

/** A successful append, as the reply said it. @internal */
export interface AppendSuccess {
  readonly _tag: "AppendSuccess"
  readonly correlationId: string
  readonly commitPosition: bigint
}

/** Reads a successful reply, or returns `undefined` for the generated codec to handle. @internal */
export const readAppendSuccess = (bytes: Uint8Array): AppendSuccess | undefined => {
  let pos = 0
  const end = bytes.length
  const varint = (): bigint | undefined => {
    let result = 0n
    let shift = 0n
    for (let i = 0; i < 10 && pos < end; i++) {
      const b = bytes[pos++]!
      result |= BigInt(b & 0x7f) << shift
      if (b < 0x80) return BigInt.asUintN(64, result)
      shift += 7n
    }
    return undefined
  }
  /** A length prefix: the end of the field, or undefined when it overruns. */
  const limit = (): number | undefined => {
    const n = varint()
    if (n === undefined || pos + Number(n) > end) return undefined
    return pos + Number(n)
  }
  let correlationId: string | undefined
  let commitPosition: bigint | undefined
  let success = false
  while (pos < end) {
    const tag = bytes[pos++]!
    if (tag === 0x0a) {
      // correlation_id: a UUID message holding only its string form
      const stop = limit()
      if (stop === undefined || bytes[pos] !== 0x12) return undefined
      pos++
      const textEnd = limit()
      if (textEnd === undefined || textEnd !== stop) return undefined
      correlationId = Buffer.from(bytes.buffer, bytes.byteOffset + pos, textEnd - pos).toString("utf8")
      pos = stop
    } else if (tag === 0x1a) {
      // success: current revision (1, 2) and position (3)
      const stop = limit()
      if (stop === undefined) return undefined
      success = true
      while (pos < stop) {
        const t = bytes[pos++]!
        if (t === 0x08) {
          if (varint() === undefined) return undefined
        } else if (t === 0x12) {
          const skip = limit()
          if (skip === undefined) return undefined
          pos = skip
        } else if (t === 0x1a) {
          const positionEnd = limit()
          if (positionEnd === undefined) return undefined
          while (pos < positionEnd) {
            const p = bytes[pos++]!
            const value = varint()
            if (value === undefined || (p !== 0x08 && p !== 0x10)) return undefined
            if (p === 0x08) commitPosition = value
          }
          commitPosition ??= 0n
        } else return undefined
      }
    } else if (tag === 0x22 || tag === 0x32 || tag === 0x3a || tag === 0x42) {
      // stream_identifier and the Empty forms of expected_stream_position
      const stop = limit()
      if (stop === undefined) return undefined
      pos = stop
    } else if (tag === 0x28) {
      if (varint() === undefined) return undefined
    } else return undefined
  }
  if (!success || correlationId === undefined || commitPosition === undefined) return undefined
  return { _tag: "AppendSuccess", correlationId, commitPosition }
}
