/**
 * gRPC's message framing over HTTP/2 DATA (a compressed flag, a 4-byte length, the message), for
 * both the node's server calls and the client's own calls.
 *
 * @internal
 */

/**
 * One message with its 5-byte prefix (uncompressed).
 *
 * @internal
 */
export const frameMessage = (body: Uint8Array): Buffer => {
  const framed = Buffer.allocUnsafe(5 + body.length)
  framed[0] = 0
  framed.writeUInt32BE(body.length, 1)
  framed.set(body, 5)
  return framed
}

/**
 * Incremental parser of length-prefixed messages on one stream: messages split over DATA frames
 * are joined, several in one frame are split. `onMessage` returns `false` to stop reading.
 *
 * @internal
 */
export class MessageReader {
  private chunks: Array<Buffer> = []
  private length = 0
  private readonly onMessage: (compressed: boolean, bytes: Buffer) => boolean
  constructor(onMessage: (compressed: boolean, bytes: Buffer) => boolean) {
    this.onMessage = onMessage
  }

  push(chunk: Buffer): void {
    if (this.length === 0) return this.parse(chunk)
    this.chunks.push(chunk)
    this.length += chunk.length
    if (this.length < 5) return
    if (this.chunks[0]!.length < 5) this.chunks = [Buffer.concat(this.chunks, this.length)]
    const need = 5 + this.chunks[0]!.readUInt32BE(1)
    if (this.length < need) return
    const all = Buffer.concat(this.chunks, this.length)
    this.chunks = []
    this.length = 0
    this.parse(all)
  }

  private parse(buf: Buffer): void {
    let pos = 0
    const end = buf.length
    while (end - pos >= 5) {
      const size = buf.readUInt32BE(pos + 1)
      if (end - pos - 5 < size) break
      const compressed = buf[pos] !== 0
      const body = buf.subarray(pos + 5, pos + 5 + size)
      pos += 5 + size
      if (!this.onMessage(compressed, body)) return
    }
    if (pos < end) {
      this.chunks = [buf.subarray(pos)]
      this.length = end - pos
    }
  }

  /** Bytes of an incomplete message. */
  get pendingBytes(): number {
    return this.length
  }
}
