/**
 * The events of an append still being received, kept compactly: their bytes copied into one
 * growing buffer instead of an object (and views into the request's network buffers) per event.
 * An Append of millions of tiny events then holds tens of bytes per event until it is refused
 * by MaxAppendSize, instead of hundreds.
 *
 * @since 0.1.0
 */
import type { ProposedEvent } from "./Store.ts"

/**
 * A compact list of proposed events.
 *
 * @since 0.1.0
 * @category models
 */
export class PendingEvents {
  private buf: Buffer = Buffer.allocUnsafe(0)
  private used = 0
  /** Events held. */
  count = 0

  /** Appends one event (its bytes are copied). */
  push(event: ProposedEvent): void {
    const idLength = Buffer.byteLength(event.eventId, "utf8")
    const typeLength = Buffer.byteLength(event.eventType, "utf8")
    const need = 2 + idLength + 4 + typeLength + 1 + 4 + event.data.length + 4 + event.customMetadata.length
    this.reserve(need)
    const buf = this.buf
    let at = this.used
    buf.writeUInt16LE(idLength, at)
    at += 2
    at += buf.write(event.eventId, at, "utf8")
    buf.writeUInt32LE(typeLength, at)
    at += 4
    at += buf.write(event.eventType, at, "utf8")
    buf[at++] = event.isJson ? 1 : 0
    buf.writeUInt32LE(event.data.length, at)
    at += 4
    buf.set(event.data, at)
    at += event.data.length
    buf.writeUInt32LE(event.customMetadata.length, at)
    at += 4
    buf.set(event.customMetadata, at)
    at += event.customMetadata.length
    this.used = at
    this.count++
  }

  private reserve(need: number): void {
    if (this.used + need <= this.buf.length) return
    const next = Buffer.allocUnsafe(Math.max(this.used + need, this.buf.length * 2, 256))
    this.buf.copy(next, 0, 0, this.used)
    this.buf = next
  }

  /**
   * The events, in order. Their data and metadata are views of one buffer of exactly their size
   * (the store keeps them), not of this list's growing one.
   */
  toArray(): Array<ProposedEvent> {
    const out: Array<ProposedEvent> = new Array(this.count)
    const buf = this.used === this.buf.length ? this.buf : Buffer.from(this.buf.subarray(0, this.used))
    let at = 0
    for (let i = 0; i < this.count; i++) {
      const idLength = buf.readUInt16LE(at)
      at += 2
      const eventId = buf.toString("utf8", at, at + idLength)
      at += idLength
      const typeLength = buf.readUInt32LE(at)
      at += 4
      const eventType = buf.toString("utf8", at, at + typeLength)
      at += typeLength
      const isJson = buf[at++] === 1
      const dataLength = buf.readUInt32LE(at)
      at += 4
      const data = buf.subarray(at, at + dataLength)
      at += dataLength
      const metaLength = buf.readUInt32LE(at)
      at += 4
      const customMetadata = buf.subarray(at, at + metaLength)
      at += metaLength
      out[i] = { eventId, eventType, isJson, data, customMetadata }
    }
    return out
  }
}
