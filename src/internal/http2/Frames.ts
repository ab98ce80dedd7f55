/**
 * HTTP/2 frame codec (RFC 9113 §4, §6): frame types, flags, error codes, settings identifiers,
 * the 9-byte frame header and builders of the small control frames. Shared by the embedded node's
 * server connections and the client's own connection.
 *
 * @since 0.1.0
 */

/**
 * Frame type identifiers.
 *
 * @since 0.1.0
 * @category constants
 */
export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9
} as const

/**
 * Frame flags.
 *
 * @since 0.1.0
 * @category constants
 */
export const Flag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20
} as const

/**
 * Error codes of RST_STREAM and GOAWAY.
 *
 * @since 0.1.0
 * @category constants
 */
export const ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd
} as const

/**
 * SETTINGS parameter identifiers.
 *
 * @since 0.1.0
 * @category constants
 */
export const Setting = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6
} as const

/**
 * The 24-byte client connection preface.
 *
 * @since 0.1.0
 * @category constants
 */
export const CLIENT_PREFACE: Buffer = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1")

/**
 * Size of a frame header.
 *
 * @since 0.1.0
 * @category constants
 */
export const FRAME_HEADER_SIZE = 9

/**
 * The largest flow-control window (2^31 - 1).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_WINDOW = 0x7fffffff

/**
 * A decoded frame header.
 *
 * @since 0.1.0
 * @category models
 */
export interface FrameHeader {
  readonly length: number
  readonly type: number
  readonly flags: number
  readonly streamId: number
}

/**
 * Writes a frame header into `target` at `offset`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const writeFrameHeader = (
  target: Buffer,
  offset: number,
  length: number,
  type: number,
  flags: number,
  streamId: number
): void => {
  target[offset] = (length >>> 16) & 0xff
  target[offset + 1] = (length >>> 8) & 0xff
  target[offset + 2] = length & 0xff
  target[offset + 3] = type
  target[offset + 4] = flags
  target[offset + 5] = (streamId >>> 24) & 0x7f
  target[offset + 6] = (streamId >>> 16) & 0xff
  target[offset + 7] = (streamId >>> 8) & 0xff
  target[offset + 8] = streamId & 0xff
}

/**
 * Reads the frame header at `offset` (the caller checked 9 bytes are there).
 *
 * @since 0.1.0
 * @category decoding
 */
export const readFrameHeader = (source: Buffer, offset: number): FrameHeader => ({
  length: (source[offset]! << 16) | (source[offset + 1]! << 8) | source[offset + 2]!,
  type: source[offset + 3]!,
  flags: source[offset + 4]!,
  streamId: source.readUInt32BE(offset + 5) & 0x7fffffff
})

/**
 * A complete frame (header + payload) as one buffer.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeFrame = (type: number, flags: number, streamId: number, payload?: Buffer | undefined): Buffer => {
  const length = payload === undefined ? 0 : payload.length
  const frame = Buffer.allocUnsafe(FRAME_HEADER_SIZE + length)
  writeFrameHeader(frame, 0, length, type, flags, streamId)
  if (payload !== undefined) payload.copy(frame, FRAME_HEADER_SIZE)
  return frame
}

/**
 * A SETTINGS frame with the given parameters (empty with `ack`).
 *
 * @since 0.1.0
 * @category encoding
 */
export const settingsFrame = (settings: ReadonlyArray<readonly [number, number]>, ack = false): Buffer => {
  const payload = Buffer.allocUnsafe(settings.length * 6)
  settings.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, i * 6)
    payload.writeUInt32BE(value >>> 0, i * 6 + 2)
  })
  return encodeFrame(FrameType.SETTINGS, ack ? Flag.ACK : 0, 0, payload)
}

/**
 * A WINDOW_UPDATE frame.
 *
 * @since 0.1.0
 * @category encoding
 */
export const windowUpdateFrame = (streamId: number, increment: number): Buffer => {
  const payload = Buffer.allocUnsafe(4)
  payload.writeUInt32BE(increment & 0x7fffffff, 0)
  return encodeFrame(FrameType.WINDOW_UPDATE, 0, streamId, payload)
}

/**
 * A RST_STREAM frame.
 *
 * @since 0.1.0
 * @category encoding
 */
export const rstStreamFrame = (streamId: number, errorCode: number): Buffer => {
  const payload = Buffer.allocUnsafe(4)
  payload.writeUInt32BE(errorCode >>> 0, 0)
  return encodeFrame(FrameType.RST_STREAM, 0, streamId, payload)
}

/**
 * A GOAWAY frame.
 *
 * @since 0.1.0
 * @category encoding
 */
export const goAwayFrame = (lastStreamId: number, errorCode: number, debug?: string | undefined): Buffer => {
  const debugBytes = debug === undefined ? Buffer.alloc(0) : Buffer.from(debug, "utf8")
  const payload = Buffer.allocUnsafe(8 + debugBytes.length)
  payload.writeUInt32BE(lastStreamId & 0x7fffffff, 0)
  payload.writeUInt32BE(errorCode >>> 0, 4)
  debugBytes.copy(payload, 8)
  return encodeFrame(FrameType.GOAWAY, 0, 0, payload)
}

/**
 * A PING frame (an ACK echoes the peer's 8 bytes).
 *
 * @since 0.1.0
 * @category encoding
 */
export const pingFrame = (data: Buffer, ack: boolean): Buffer => encodeFrame(FrameType.PING, ack ? Flag.ACK : 0, 0, data)

/**
 * The payload of a DATA or HEADERS frame without its padding (RFC 9113 §6.1), or `undefined`
 * when the padding is invalid (a connection PROTOCOL_ERROR).
 *
 * @since 0.1.0
 * @category decoding
 */
export const stripPadding = (flags: number, payload: Buffer): Buffer | undefined => {
  if ((flags & Flag.PADDED) === 0) return payload
  if (payload.length < 1) return undefined
  const padLength = payload[0]!
  if (padLength >= payload.length) return undefined
  return payload.subarray(1, payload.length - padLength)
}
