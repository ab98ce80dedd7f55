/**
 * A hand-written encoder of the persistent `ReadReq`'s acks and nacks, the messages a consumer
 * sends for every few events it handles. The generated codec (`@bufbuild/protobuf`'s writer, a
 * fork and join per nested message) took about 6 µs to encode an ack of 5 ids, 1.2 µs per event
 * or about a fifteenth of the consumer's whole CPU; this one sizes the message first and writes
 * it into one buffer, in 0.6-0.9 µs (BENCHMARKS.md section 11, sixth pass).
 *
 * It takes the messages this client sends: ids in their string form, each of ASCII text. Anything
 * else (the `options` message, a structured id, non-ASCII text) goes to the generated codec, so
 * every `ReadReq` is encoded, and byte for byte as the generated codec would
 * (`test/ReadReqEncoder.test.ts` checks it).
 *
 * @internal
 */
import { ReadReq, type ReadReq_Ack, type ReadReq_Nack } from "../../generated/persistent.ts"
import { fieldSize, writeVarint } from "../../wire/ProtoWire.ts"

/** Whether every character is ASCII: one UTF-8 byte each (any other takes two or more). */
const isAscii = (text: string): boolean => Buffer.byteLength(text, "utf8") === text.length

/** The size of the ids' fields (2: UUID { 2: string }), or -1 when one is not ASCII text. */
const idsSize = (ids: ReadReq_Ack["ids"]): number => {
  let size = 0
  for (const id of ids) {
    const value = id.value
    if (value?.$case !== "string" || !isAscii(value.value)) return -1
    size += fieldSize(fieldSize(value.value.length))
  }
  return size
}

const writeIds = (buffer: Buffer, at: number, ids: ReadReq_Ack["ids"]): number => {
  let offset = at
  for (const id of ids) {
    const text = (id.value as { readonly value: string }).value
    buffer[offset++] = 0x12
    offset = writeVarint(buffer, offset, fieldSize(text.length))
    buffer[offset++] = 0x12
    offset = writeVarint(buffer, offset, text.length)
    offset += buffer.write(text, offset, text.length, "latin1")
  }
  return offset
}

const generated = (message: ReadReq): Buffer => Buffer.from(ReadReq.encode(message).finish())

/** The size of the subscription id's field (1: bytes), written only when not empty (proto3). */
const idSize = (id: Uint8Array): number => id.length > 0 ? fieldSize(id.length) : 0

/**
 * A buffer for a `ReadReq` whose field `tag` (the ack or the nack) holds `size` bytes, with that
 * message's subscription id written: what follows goes at `buffer.length - size + idSize(id)`.
 */
const started = (tag: number, size: number, id: Uint8Array): Buffer => {
  const buffer = Buffer.allocUnsafe(fieldSize(size))
  buffer[0] = tag
  let offset = writeVarint(buffer, 1, size)
  if (id.length > 0) {
    buffer[offset++] = 0x0a
    offset = writeVarint(buffer, offset, id.length)
    buffer.set(id, offset)
  }
  return buffer
}

const encodeAck = (message: ReadReq, ack: ReadReq_Ack): Buffer => {
  const ids = idsSize(ack.ids)
  if (ids < 0) return generated(message)
  const size = idSize(ack.id) + ids
  const buffer = started(0x12, size, ack.id)
  writeIds(buffer, buffer.length - size + idSize(ack.id), ack.ids)
  return buffer
}

const encodeNack = (message: ReadReq, nack: ReadReq_Nack): Buffer => {
  const ids = idsSize(nack.ids)
  // actions are the enum's values (0..4); anything else (negative: ten varint bytes) is left to
  // the generated codec, as is a reason that is not ASCII
  if (ids < 0 || !(nack.action >= 0 && nack.action < 0x80) || !isAscii(nack.reason)) return generated(message)
  const size = idSize(nack.id) + ids + (nack.action !== 0 ? 2 : 0) + (nack.reason !== "" ? fieldSize(nack.reason.length) : 0)
  const buffer = started(0x1a, size, nack.id)
  let offset = writeIds(buffer, buffer.length - size + idSize(nack.id), nack.ids)
  if (nack.action !== 0) {
    buffer[offset++] = 0x18
    buffer[offset++] = nack.action
  }
  if (nack.reason !== "") {
    buffer[offset++] = 0x22
    offset = writeVarint(buffer, offset, nack.reason.length)
    buffer.write(nack.reason, offset, nack.reason.length, "latin1")
  }
  return buffer
}

/**
 * Encodes one persistent `ReadReq` (without the gRPC frame prefix): acks and nacks by hand, the
 * rest by the generated codec.
 *
 * @internal
 */
export const encodePersistentReadReq = (message: ReadReq): Buffer => {
  const content = message.content
  if (content?.$case === "ack") return encodeAck(message, content.value)
  if (content?.$case === "nack") return encodeNack(message, content.value)
  return generated(message)
}
