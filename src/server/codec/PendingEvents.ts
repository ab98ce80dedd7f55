/**
 * The events of an append still being received, kept compactly: their bytes copied into chunks of
 * up to 64 KiB (event ids as 16 bytes) instead of an object, an id string and views into the
 * request's network buffers per event. An Append of millions of tiny events then holds about 35
 * bytes per event until MaxAppendSize refuses it, instead of hundreds. A BatchAppend batch that
 * arrives complete in one message waits for nothing and keeps its events as decoded
 * ({@link WholeBatchEvents}).
 *
 * @since 0.1.0
 */
import type { ProposedEvent } from "../storage/Store.ts"
import { isCanonicalUuid } from "./Uuid.ts"

const CHUNK = 64 * 1024
/** Records larger than this get a buffer of their own. */
const LARGE = 16 * 1024
/** The smallest chunk after the first (chunks then double up to {@link CHUNK}). */
const MIN_GROWTH = 1024
const EMPTY = Buffer.alloc(0)

/**
 * The events of one append as the handler gathers them: {@link PendingEvents} for a batch that
 * arrives over several messages, {@link WholeBatchEvents} for one complete in a single message.
 *
 * @since 0.1.0
 * @category models
 */
export interface AppendEvents {
  /** Events held. */
  readonly count: number
  /** Appends one event (its bytes are copied). */
  push(event: ProposedEvent): void
  /** The events, in order. */
  toArray(): Array<ProposedEvent>
}

/**
 * The events of a batch that arrived complete in one message (the common case): it is appended
 * as soon as it is decoded and never waits for more, so its events are kept as they are, with
 * their data and metadata copied out of the request's network buffers (which the store must not
 * pin) into one small buffer each; the id text is not re-encoded as in {@link PendingEvents}.
 * The message itself is bounded by the method's maximum message size.
 *
 * @since 0.1.0
 * @category models
 */
export class WholeBatchEvents implements AppendEvents {
  private readonly events: Array<ProposedEvent> = []

  /** Events held. */
  get count(): number {
    return this.events.length
  }

  /** Appends one event (its data and metadata are copied). */
  push(event: ProposedEvent): void {
    const dataLength = event.data.length
    const metaLength = event.customMetadata.length
    let data: Buffer = EMPTY
    let customMetadata: Buffer = EMPTY
    if (metaLength === 0) {
      // the usual event: one buffer (every Buffer made costs about as much as a small copy)
      if (dataLength > 0) {
        data = Buffer.allocUnsafe(dataLength)
        data.set(event.data, 0)
      }
    } else {
      const bytes = Buffer.allocUnsafe(dataLength + metaLength)
      bytes.set(event.data, 0)
      bytes.set(event.customMetadata, dataLength)
      data = bytes.subarray(0, dataLength)
      customMetadata = bytes.subarray(dataLength)
    }
    this.events.push({ eventId: event.eventId, eventType: event.eventType, isJson: event.isJson, data, customMetadata })
  }

  /** The events, in order. */
  toArray(): Array<ProposedEvent> {
    return this.events
  }
}

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
export class PendingEvents implements AppendEvents {
  private chunks: Array<Buffer> = []
  private current: Buffer = EMPTY
  private used = 0
  /**
   * Size of the next chunk. The first one is exactly the first record, so the common append of
   * one small event takes a few bytes of Buffer's shared pool instead of a 64 KiB buffer of its
   * own: a fresh 64 KiB buffer per append counts as external memory, and V8 runs a full
   * mark-compact for every 64 MB of it (every ~1,000 appends). Later chunks double up to 64 KiB.
   */
  private next = 0
  /** Events held. */
  count = 0

  /** Appends one event (its bytes are copied). */
  push(event: ProposedEvent): void {
    // ids are canonical lower-case UUID text (Uuid.fromWire); anything else is kept as text
    const binaryId = isCanonicalUuid(event.eventId)
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
    const size = need > LARGE ? need : Math.max(need, this.next)
    this.next = Math.min(CHUNK, Math.max(MIN_GROWTH, size * 2))
    this.current = Buffer.allocUnsafe(size)
    this.used = 0
    return this.current
  }

  /** Keeps the filled part of the current buffer. */
  private seal(): void {
    if (this.used === 0) return
    // the store keeps views of these bytes: a partly filled buffer is cut to its content
    this.chunks.push(this.used === this.current.length ? this.current : Buffer.from(this.current.subarray(0, this.used)))
    this.current = EMPTY
    this.used = 0
  }

  /** Drops every event held. */
  clear(): void {
    this.chunks = []
    this.current = EMPTY
    this.used = 0
    this.next = 0
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
