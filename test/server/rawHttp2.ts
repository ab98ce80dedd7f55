/**
 * A raw HTTP/2 peer over `node:net`, for tests that must send what no real client sends (the
 * attacker's side) or look at the frames a node writes. Frames and header blocks are written by
 * hand here, in the test only: HPACK literals without indexing and without Huffman coding.
 */
import * as net from "node:net"
import { eventuallyAsync } from "../support/eventually.ts"

export const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")

export const FrameType = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const
export const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const

/** One frame: 9-byte header + payload. */
export const frame = (type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer => {
  const out = Buffer.allocUnsafe(9 + payload.length)
  out.writeUIntBE(payload.length, 0, 3)
  out[3] = type
  out[4] = flags
  out.writeUInt32BE(streamId & 0x7fffffff, 5)
  payload.copy(out, 9)
  return out
}

export const settings = (values: ReadonlyArray<readonly [number, number]> = []): Buffer => {
  const payload = Buffer.alloc(6 * values.length)
  values.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, 6 * i)
    payload.writeUInt32BE(value, 6 * i + 2)
  })
  return frame(FrameType.SETTINGS, 0, 0, payload)
}

export const windowUpdate = (streamId: number, increment: number): Buffer => {
  const payload = Buffer.alloc(4)
  payload.writeUInt32BE(increment, 0)
  return frame(FrameType.WINDOW_UPDATE, 0, streamId, payload)
}

export const rstStream = (streamId: number, code = 8): Buffer => {
  const payload = Buffer.alloc(4)
  payload.writeUInt32BE(code, 0)
  return frame(FrameType.RST_STREAM, 0, streamId, payload)
}

const hpackInt = (value: number, prefixBits: number, first: number): Array<number> => {
  const max = (1 << prefixBits) - 1
  if (value < max) return [first | value]
  const out = [first | max]
  value -= max
  while (value >= 128) {
    out.push((value & 0x7f) | 0x80)
    value >>>= 7
  }
  out.push(value)
  return out
}

const hpackString = (s: string): Buffer => {
  const bytes = Buffer.from(s, "latin1")
  return Buffer.concat([Buffer.from(hpackInt(bytes.length, 7, 0)), bytes])
}

/** A header block of literal fields without indexing (no Huffman). */
export const headerBlock = (fields: ReadonlyArray<readonly [string, string]>): Buffer =>
  Buffer.concat(fields.flatMap(([name, value]) => [Buffer.from([0x00]), hpackString(name), hpackString(value)]))

/** A literal field WITH incremental indexing (enters the peer's dynamic table). */
export const indexedLiteral = (name: string, value: string): Buffer =>
  Buffer.concat([Buffer.from([0x40]), hpackString(name), hpackString(value)])

/** An indexed field referring to a dynamic table entry (index 62 = newest). */
export const indexed = (index: number): Buffer => Buffer.from(hpackInt(index, 7, 0x80))

export const grpcRequest = (path: string, extra: ReadonlyArray<readonly [string, string]> = []): Buffer =>
  headerBlock([
    [":method", "POST"],
    [":scheme", "http"],
    [":path", path],
    [":authority", "localhost"],
    ["content-type", "application/grpc"],
    ["te", "trailers"],
    ...extra
  ])

/** A gRPC length-prefixed message. */
export const grpcMessage = (body: Uint8Array): Buffer => {
  const out = Buffer.alloc(5 + body.length)
  out.writeUInt32BE(body.length, 1)
  out.set(body, 5)
  return out
}

export interface RawFrame {
  readonly type: number
  readonly flags: number
  readonly streamId: number
  readonly payload: Buffer
}

/**
 * Connects a raw peer. `read: false` never reads the socket (a peer that never reads what the
 * node writes); otherwise frames the node sends are collected.
 */
export const rawConnect = async (port: number, options: { readonly read?: boolean } = {}) => {
  const socket = net.connect(port, "127.0.0.1")
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve)
    socket.once("error", reject)
  })
  socket.on("error", () => {})
  const frames: Array<RawFrame> = []
  let closed = false
  socket.on("close", () => {
    closed = true
  })
  if (options.read === false) {
    socket.pause()
  } else {
    let buffered: Buffer = Buffer.alloc(0)
    socket.on("data", (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk])
      while (buffered.length >= 9) {
        const length = buffered.readUIntBE(0, 3)
        if (buffered.length < 9 + length) break
        frames.push({
          type: buffered[3]!,
          flags: buffered[4]!,
          streamId: buffered.readUInt32BE(5) & 0x7fffffff,
          payload: Buffer.from(buffered.subarray(9, 9 + length))
        })
        buffered = buffered.subarray(9 + length)
      }
    })
  }
  /** Waits until `find` finds something ({@link eventuallyAsync}), and returns it. */
  const waitFor = async <A>(find: () => A | undefined, what = "a frame"): Promise<A> =>
    (await eventuallyAsync(what, find, { until: (found) => found !== undefined }))!
  /** Writes, resolving when the socket accepted the bytes (or the peer closed). */
  const write = (bytes: Buffer): Promise<void> =>
    new Promise((resolve) => {
      if (closed || socket.destroyed) return resolve()
      if (socket.write(bytes)) return resolve()
      const done = () => {
        socket.removeListener("drain", done)
        socket.removeListener("close", done)
        resolve()
      }
      socket.once("drain", done)
      socket.once("close", done)
    })
  return { socket, frames, waitFor, write, isClosed: () => closed || socket.destroyed }
}
