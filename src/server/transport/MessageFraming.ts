/**
 * gRPC's length-prefixed message framing (a compressed flag, a 4-byte big-endian length, the
 * message) on the node's side: framing responses, and reading requests out of HTTP/2 DATA chunks
 * with a maximum message size checked as soon as a 5-byte prefix arrives, so an announced message
 * larger than the limit is refused without buffering any of it.
 *
 * @since 0.1.0
 */

/**
 * One message with its 5-byte prefix (uncompressed).
 *
 * @since 0.1.0
 * @category encoding
 */
export const frameMessage = (body: Uint8Array): Buffer => {
  const framed = Buffer.allocUnsafe(5 + body.length)
  framed[0] = 0
  framed.writeUInt32BE(body.length, 1)
  framed.set(body, 5)
  return framed
}

/**
 * What a {@link MessageReader} reports for each message: `true` to keep reading.
 *
 * @since 0.1.0
 * @category models
 */
export type OnMessage = (compressed: boolean, bytes: Buffer) => boolean

/**
 * Incremental parser of length-prefixed messages on one stream: messages split over DATA chunks
 * are joined, several in one chunk are split. A prefix announcing more than `maxMessageSize`
 * bytes calls `onTooLarge` (with the announced size) and stops the reader for good; nothing of
 * that message is kept.
 *
 * @since 0.1.0
 * @category decoding
 */
export class MessageReader {
  private chunks: Array<Buffer> = []
  private length = 0
  private stopped = false
  private readonly onMessage: OnMessage
  private readonly maxMessageSize: number
  private readonly onTooLarge: (size: number) => void

  constructor(onMessage: OnMessage, maxMessageSize: number, onTooLarge: (size: number) => void) {
    this.onMessage = onMessage
    this.maxMessageSize = maxMessageSize
    this.onTooLarge = onTooLarge
  }

  /** Feeds one DATA chunk. */
  push(chunk: Buffer): void {
    if (this.stopped) return
    if (this.length === 0) return this.parse(chunk)
    this.chunks.push(chunk)
    this.length += chunk.length
    if (this.length < 5) return
    if (this.chunks[0]!.length < 5) this.chunks = [Buffer.concat(this.chunks, this.length)]
    const size = this.chunks[0]!.readUInt32BE(1)
    if (size > this.maxMessageSize) return this.tooLarge(size)
    if (this.length < 5 + size) return
    const all = Buffer.concat(this.chunks, this.length)
    this.chunks = []
    this.length = 0
    this.parse(all)
  }

  /** Stops reading; later chunks are dropped. */
  stop(): void {
    this.stopped = true
    this.chunks = []
    this.length = 0
  }

  private tooLarge(size: number): void {
    this.stop()
    this.onTooLarge(size)
  }

  private parse(buf: Buffer): void {
    let pos = 0
    const end = buf.length
    while (end - pos >= 5) {
      const size = buf.readUInt32BE(pos + 1)
      if (size > this.maxMessageSize) return this.tooLarge(size)
      if (end - pos - 5 < size) break
      const compressed = buf[pos] !== 0
      const body = buf.subarray(pos + 5, pos + 5 + size)
      pos += 5 + size
      if (!this.onMessage(compressed, body)) {
        this.stop()
        return
      }
      if (this.stopped) return
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
