/**
 * The events of an append still being received, kept compactly: their bytes copied into 64 KiB
 * chunks (event ids as 16 bytes) instead of an object, an id string and views into the request's
 * network buffers per event. An Append of millions of tiny events then holds about 35 bytes per
 * event until MaxAppendSize refuses it, instead of hundreds.
 *
 * @since 0.1.0
 */
import type { ProposedEvent } from "../storage/Store.ts"

const CHUNK = 64 * 1024
/** Records larger than this get a buffer of their own. */
const LARGE = 16 * 1024
const EMPTY = Buffer.alloc(0)
const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

const HEX_DIGITS = Buffer.from("0123456789abcdef", "latin1")
const uuidScratch = Buffer.alloc(36)

/**
 * The canonical text of the 16 bytes at `at`, built as one flat string (a template of slices
 * makes a tree of strings per id, which the store keeps until the id is written).
 */
const uuidText = (buf: Buffer, at: number): string => {
  let o = 0
  for (let k = 0; k < 16; k++) {
    if (k === 4 || k === 6 || k === 8 || k === 10) uuidScratch[o++] = 0x2d
    const b = buf[at + k]!
    uuidScratch[o++] = HEX_DIGITS[b >> 4]!
    uuidScratch[o++] = HEX_DIGITS[b & 15]!
  }
  return uuidScratch.toString("latin1", 0, 36)
}

/**
 * A compact list of proposed events.
 *
 * @since 0.1.0
 * @category models
 */
export class PendingEvents {
  private chunks: Array<Buffer> = []
  private current: Buffer = Buffer.alloc(0)
  private used = 0
  /** Events held. */
  count = 0

  /** Appends one event (its bytes are copied). */
  push(event: ProposedEvent): void {
    // ids are canonical lower-case UUID text (Uuid.fromWire); anything else is kept as text
    const binaryId = UUID_TEXT.test(event.eventId)
    const idLength = binaryId ? 16 : Buffer.byteLength(event.eventId, "utf8")
    const typeLength = Buffer.byteLength(event.eventType, "utf8")
    const need = 1 + (binaryId ? 0 : 2) + idLength + 4 + typeLength + 1 + 4 + event.data.length + 4 + event.customMetadata.length
    const buf = this.room(need)
    let at = this.used
    buf[at++] = binaryId ? 1 : 0
    if (binaryId) {
      const id = event.eventId
      buf.write(id.slice(0, 8), at, "hex")
      buf.write(id.slice(9, 13), at + 4, "hex")
      buf.write(id.slice(14, 18), at + 6, "hex")
      buf.write(id.slice(19, 23), at + 8, "hex")
      buf.write(id.slice(24), at + 10, "hex")
      at += 16
    } else {
      buf.writeUInt16LE(idLength, at)
      at += 2
      at += buf.write(event.eventId, at, "utf8")
    }
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

  /** A buffer with `need` bytes free at `this.used`. */
  private room(need: number): Buffer {
    if (this.used + need <= this.current.length) return this.current
    this.seal()
    this.current = Buffer.allocUnsafe(need > LARGE ? need : CHUNK)
    this.used = 0
    return this.current
  }

  /** Keeps the filled part of the current buffer. */
  private seal(): void {
    if (this.used === 0) return
    // the store keeps views of these bytes: a partly filled buffer is cut to its content
    this.chunks.push(this.used === this.current.length ? this.current : Buffer.from(this.current.subarray(0, this.used)))
    this.current = Buffer.alloc(0)
    this.used = 0
  }

  /** Drops every event held. */
  clear(): void {
    this.chunks = []
    this.current = Buffer.alloc(0)
    this.used = 0
    this.count = 0
  }

  /** The events, in order; data and metadata are views of this list's buffers. */
  toArray(): Array<ProposedEvent> {
    this.seal()
    const out: Array<ProposedEvent> = new Array(this.count)
    let i = 0
    let lastType: Buffer = EMPTY
    let lastTypeText = ""
    for (const buf of this.chunks) {
      let at = 0
      while (at < buf.length) {
        const binaryId = buf[at++] === 1
        let eventId: string
        if (binaryId) {
          eventId = uuidText(buf, at)
          at += 16
        } else {
          const idLength = buf.readUInt16LE(at)
          at += 2
          eventId = buf.toString("utf8", at, at + idLength)
          at += idLength
        }
        const typeLength = buf.readUInt32LE(at)
        at += 4
        // the events of an append mostly share a type: one string for a run of equal ones
        if (typeLength !== lastType.length || lastType.compare(buf, at, at + typeLength) !== 0) {
          lastType = buf.subarray(at, at + typeLength)
          lastTypeText = lastType.toString("utf8")
        }
        const eventType = lastTypeText
        at += typeLength
        const isJson = buf[at++] === 1
        const dataLength = buf.readUInt32LE(at)
        at += 4
        const data = buf.subarray(at, at + dataLength)
        at += dataLength
        const metaLength = buf.readUInt32LE(at)
        at += 4
        // most events have no metadata: one shared empty buffer, not a view object each
        const customMetadata = metaLength === 0 ? EMPTY : buf.subarray(at, at + metaLength)
        at += metaLength
        out[i++] = { eventId, eventType, isJson, data, customMetadata }
      }
    }
    return out
  }
}
