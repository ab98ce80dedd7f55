/**
 * The common BatchAppend reply, read by hand: a success with a commit position, correlated by a
 * string UUID. Anything else (an error, a structured UUID, no position, unexpected wire types)
 * returns `undefined` and is decoded by the generated codec instead, so only the fast path is
 * hand-written. `test/BatchAppendReply.test.ts` checks it against `BatchAppendResp.decode`.
 *
 * @internal
 */
import { ProtoReader } from "../../wire/ProtoWire.ts"

/** A successful append, as the reply said it. @internal */
export interface AppendSuccess {
  readonly _tag: "AppendSuccess"
  readonly correlationId: string
  readonly commitPosition: bigint
}

/** Reads a successful reply, or returns `undefined` for the generated codec to handle. @internal */
export const readAppendSuccess = (bytes: Buffer): AppendSuccess | undefined => {
  try {
    return read(new ProtoReader(bytes))
  } catch {
    // malformed: the codec reports it
    return undefined
  }
}

const read = (r: ProtoReader): AppendSuccess | undefined => {
  const end = r.buf.length
  let correlationId: string | undefined
  let commitPosition: bigint | undefined
  let success = false
  while (r.pos < end) {
    const tag = r.varint()
    if (tag === 0x0a) {
      // correlation_id: a UUID message holding only its string form
      const stop = r.end()
      if (r.varint() !== 0x12) return undefined
      correlationId = r.string()
      if (r.pos !== stop) return undefined
    } else if (tag === 0x1a) {
      // success: current revision (1, 2) and position (3)
      const stop = r.end()
      success = true
      while (r.pos < stop) {
        const t = r.varint()
        if (t === 0x08) r.varint64()
        else if (t === 0x12) r.pos = r.end()
        else if (t === 0x1a) {
          const positionEnd = r.end()
          while (r.pos < positionEnd) {
            const p = r.varint()
            if (p !== 0x08 && p !== 0x10) return undefined
            const value = r.varint64()
            if (p === 0x08) commitPosition = value
          }
          commitPosition ??= 0n
        } else return undefined
      }
    } else if (tag === 0x22 || tag === 0x32 || tag === 0x3a || tag === 0x42) {
      // stream_identifier and the Empty forms of expected_stream_position
      r.pos = r.end()
    } else if (tag === 0x28) {
      r.varint64()
    } else return undefined
  }
  if (!success || correlationId === undefined || commitPosition === undefined) return undefined
  return { _tag: "AppendSuccess", correlationId, commitPosition }
}
