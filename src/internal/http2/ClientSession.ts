/**
 * A small HTTP/2 client connection (RFC 9113) over one TCP or TLS socket: the transport of the
 * long-lived BatchAppend call, where Node's `http2` module and grpc-js cost more CPU per message
 * than the rest of an append (see BENCHMARKS.md).
 *
 * It does what a gRPC client needs and nothing more: requests (HEADERS, DATA), responses
 * (HEADERS, DATA, trailers), flow control in both directions, SETTINGS, PING (answered, and sent
 * as keepalive), RST_STREAM, GOAWAY and CONTINUATION. Frames produced in one turn of the event
 * loop leave in one socket write.
 *
 * @internal
 */
import * as net from "node:net"
import * as tls from "node:tls"
import {
  CLIENT_PREFACE,
  ErrorCode,
  Flag,
  FRAME_HEADER_SIZE,
  FrameType,
  goAwayFrame,
  MAX_WINDOW,
  pingFrame,
  rstStreamFrame,
  Setting,
  settingsFrame,
  stripPadding,
  windowUpdateFrame,
  writeFrameHeader
} from "./Frames.ts"
import { encodeHeaders, type HeaderList, HpackDecoder } from "./Hpack.ts"

const { CONTINUATION, DATA, GOAWAY, HEADERS, PING, PUSH_PROMISE, RST_STREAM, SETTINGS, WINDOW_UPDATE } = FrameType
const { ACK, END_HEADERS, END_STREAM } = Flag
const { CANCEL, COMPRESSION_ERROR, FLOW_CONTROL_ERROR, FRAME_SIZE_ERROR, NO_ERROR, PROTOCOL_ERROR, REFUSED_STREAM } = ErrorCode

const DEFAULT_WINDOW = 65_535
/** Our receive windows (connection and stream), as grpc-js is configured by this client. */
const RECEIVE_WINDOW = 4 * 1024 * 1024
/** Consumed bytes are given back in WINDOW_UPDATEs once this many have accumulated. */
const WINDOW_REFILL = 256 * 1024
const MAX_FRAME = 16_384

/**
 * Where and how to connect.
 *
 * @internal
 */
export interface SessionOptions {
  readonly host: string
  readonly port: number
  /** TLS options (ALPN is set to `h2`); cleartext HTTP/2 with prior knowledge when absent. */
  readonly tls?: tls.ConnectionOptions | undefined
  /** PING interval in milliseconds while the connection is open; absent or -1: no keepalive. */
  readonly keepAliveMs?: number | undefined
  /** How long a keepalive PING may stay unanswered before the connection is dropped. */
  readonly keepAliveTimeoutMs?: number | undefined
}

/**
 * What a stream reports. Exactly one of `onTrailers`, `onReset` and `onError` ends it.
 *
 * @internal
 */
export interface StreamEvents {
  /** The response headers (not called for a trailers-only response). */
  readonly onHeaders: (headers: HeaderList) => void
  /** A DATA frame's payload (padding removed). */
  readonly onData: (data: Buffer) => void
  /** The trailers, or the headers of a trailers-only response (`trailersOnly`). */
  readonly onTrailers: (headers: HeaderList, trailersOnly: boolean) => void
  /** The stream ended without trailers: reset by the peer, refused by GOAWAY, or ended bare. */
  readonly onReset: (code: number) => void
  /** The connection failed; `established` is false when it never completed its handshake. */
  readonly onError: (error: Error, established: boolean) => void
}

/**
 * One request stream.
 *
 * @internal
 */
export class ClientStream {
  readonly id: number
  readonly events: StreamEvents
  /** Bytes we may still send (the peer's stream window). */
  sendWindow: number
  /** DATA waiting for flow-control window. */
  pending: Array<Buffer> = []
  pendingEnd = false
  /** Received bytes not yet given back to the peer. */
  unacked = 0
  sawHeaders = false
  localClosed = false
  done = false
  private readonly session: ClientSession

  constructor(session: ClientSession, id: number, sendWindow: number, events: StreamEvents) {
    this.session = session
    this.id = id
    this.sendWindow = sendWindow
    this.events = events
  }

  /** Sends `data` (subject to flow control); `end` half-closes the stream after it. */
  write(data: Buffer, end = false): void {
    if (this.done || this.localClosed) return
    if (data.length > 0) this.pending.push(data)
    if (end) {
      this.pendingEnd = true
      this.localClosed = true
    }
    this.session.pump(this)
  }

  /** Half-closes the stream (END_STREAM). */
  end(): void {
    this.write(Buffer.alloc(0), true)
  }

  /** Resets the stream with CANCEL; no further events are reported. */
  cancel(): void {
    if (this.done) return
    this.done = true
    this.session.reset(this, CANCEL)
  }
}

/**
 * An HTTP/2 client connection.
 *
 * @internal
 */
export class ClientSession {
  private readonly socket: net.Socket
  private readonly decoder = new HpackDecoder()
  private readonly streams = new Map<number, ClientStream>()
  private nextStreamId = 1
  private out: Array<Buffer> = []
  private outBytes = 0
  private flushScheduled = false
  private input: Buffer | undefined
  /** A header block being continued: its stream, flags of the HEADERS frame, and fragments. */
  private continuation: { stream: number; flags: number; fragments: Array<Buffer> } | undefined
  private sendWindow = DEFAULT_WINDOW
  private initialSendWindow = DEFAULT_WINDOW
  private peerMaxFrame = MAX_FRAME
  private unacked = 0
  private established = false
  private goingAway = false
  private keepAlive: ReturnType<typeof setInterval> | undefined
  private pingTimer: ReturnType<typeof setTimeout> | undefined
  /** The error the connection ended with; set once. */
  closedWith: Error | undefined
  /** Called once when the connection is gone (after every stream was told). */
  onClose: ((error: Error) => void) | undefined
  readonly authority: string
  readonly scheme: "http" | "https"

  constructor(options: SessionOptions) {
    this.authority = `${options.host.includes(":") ? `[${options.host}]` : options.host}:${options.port}`
    this.scheme = options.tls === undefined ? "http" : "https"
    if (options.tls === undefined) {
      this.socket = net.connect({ host: options.host, port: options.port, noDelay: true })
      this.socket.once("connect", () => {
        this.established = true
      })
    } else {
      const servername = net.isIP(options.host) === 0 ? options.host : undefined
      this.socket = tls.connect({
        ...options.tls,
        host: options.host,
        port: options.port,
        ALPNProtocols: ["h2"],
        ...(servername !== undefined && options.tls.servername === undefined ? { servername } : {})
      })
      this.socket.setNoDelay(true)
      this.socket.once("secureConnect", () => {
        const protocol = (this.socket as tls.TLSSocket).alpnProtocol
        if (protocol !== "h2") {
          this.destroy(new Error(`the server did not negotiate HTTP/2 (ALPN: ${String(protocol)})`))
          return
        }
        this.established = true
      })
    }
    this.socket.on("data", (chunk: Buffer) => this.receive(chunk))
    this.socket.on("error", (error) => this.destroy(error))
    this.socket.on("close", () => this.destroy(new Error("Connection dropped")))
    // preface, our settings (no push, 4 MiB stream windows) and the connection window
    this.push(CLIENT_PREFACE)
    this.push(settingsFrame([[Setting.ENABLE_PUSH, 0], [Setting.INITIAL_WINDOW_SIZE, RECEIVE_WINDOW]]))
    this.push(windowUpdateFrame(0, RECEIVE_WINDOW - DEFAULT_WINDOW))
    const interval = options.keepAliveMs ?? -1
    if (interval > 0) {
      const timeout = options.keepAliveTimeoutMs ?? interval
      this.keepAlive = setInterval(() => this.ping(timeout), interval)
      this.keepAlive.unref()
    }
  }

  /** True while new streams may be opened. */
  get usable(): boolean {
    return this.closedWith === undefined && !this.goingAway
  }

  /** Opens a stream with the given request headers (pseudo-headers first, lower-case names). */
  request(headers: ReadonlyArray<readonly [string, string]>, events: StreamEvents): ClientStream {
    const id = this.nextStreamId
    this.nextStreamId += 2
    const stream = new ClientStream(this, id, this.initialSendWindow, events)
    if (this.closedWith !== undefined) {
      stream.done = true
      const error = this.closedWith
      const established = this.established
      queueMicrotask(() => events.onError(error, established))
      return stream
    }
    this.streams.set(id, stream)
    const block = encodeHeaders(headers)
    let offset = 0
    let first = true
    do {
      const size = Math.min(this.peerMaxFrame, block.length - offset)
      const last = offset + size >= block.length
      this.frame(first ? HEADERS : CONTINUATION, last ? END_HEADERS : 0, id, block.subarray(offset, offset + size))
      offset += size
      first = false
    } while (offset < block.length)
    return stream
  }

  /** Closes gracefully: GOAWAY, then the socket once the writes are out. */
  close(): void {
    if (this.closedWith !== undefined) return
    this.push(goAwayFrame(0, NO_ERROR))
    this.flush()
    const error = new Error("The connection was closed")
    this.finish(error)
    this.socket.end()
  }

  /** Drops the connection: every open stream reports `error`. */
  destroy(error: Error): void {
    if (this.closedWith !== undefined) return
    this.finish(error)
    this.socket.destroy()
  }

  private finish(error: Error) {
    this.closedWith = error
    if (this.keepAlive !== undefined) clearInterval(this.keepAlive)
    if (this.pingTimer !== undefined) clearTimeout(this.pingTimer)
    const open = Array.from(this.streams.values())
    this.streams.clear()
    for (const stream of open) {
      if (stream.done) continue
      stream.done = true
      stream.events.onError(error, this.established)
    }
    this.onClose?.(error)
  }

  // ---- sending -------------------------------------------------------------------------------

  private push(bytes: Buffer) {
    this.out.push(bytes)
    this.outBytes += bytes.length
    if (!this.flushScheduled) {
      this.flushScheduled = true
      queueMicrotask(() => this.flush())
    }
  }

  private flush() {
    this.flushScheduled = false
    if (this.out.length === 0 || this.socket.destroyed) {
      this.out = []
      this.outBytes = 0
      return
    }
    const chunks = this.out
    const bytes = this.outBytes
    this.out = []
    this.outBytes = 0
    if (chunks.length === 1) this.socket.write(chunks[0]!)
    else if (bytes <= 65_536) this.socket.write(Buffer.concat(chunks, bytes))
    else {
      this.socket.cork()
      for (const chunk of chunks) this.socket.write(chunk)
      this.socket.uncork()
    }
  }

  /** Queues a frame; a large payload is queued as is, after its header, not copied. */
  private frame(type: number, flags: number, stream: number, payload: Buffer) {
    if (payload.length <= 1024) {
      const frame = Buffer.allocUnsafe(FRAME_HEADER_SIZE + payload.length)
      writeFrameHeader(frame, 0, payload.length, type, flags, stream)
      payload.copy(frame, FRAME_HEADER_SIZE)
      this.push(frame)
    } else {
      const header = Buffer.allocUnsafe(FRAME_HEADER_SIZE)
      writeFrameHeader(header, 0, payload.length, type, flags, stream)
      this.push(header)
      this.push(payload)
    }
  }

  /** Sends what flow control allows of a stream's pending data. */
  pump(stream: ClientStream): void {
    if (stream.done || this.closedWith !== undefined) return
    while (stream.pending.length > 0) {
      const allowed = Math.min(this.sendWindow, stream.sendWindow, this.peerMaxFrame)
      if (allowed <= 0) return
      const head = stream.pending[0]!
      let chunk: Buffer
      if (head.length <= allowed) {
        chunk = head
        stream.pending.shift()
      } else {
        chunk = head.subarray(0, allowed)
        stream.pending[0] = head.subarray(allowed)
      }
      this.sendWindow -= chunk.length
      stream.sendWindow -= chunk.length
      const last = stream.pending.length === 0 && stream.pendingEnd
      this.frame(DATA, last ? END_STREAM : 0, stream.id, chunk)
      if (last) stream.pendingEnd = false
    }
    if (stream.pendingEnd) {
      stream.pendingEnd = false
      this.frame(DATA, END_STREAM, stream.id, Buffer.alloc(0))
    }
  }

  /** @internal */
  reset(stream: ClientStream, code: number): void {
    if (!this.streams.delete(stream.id) || this.closedWith !== undefined) return
    this.push(rstStreamFrame(stream.id, code))
  }

  private ping(timeoutMs: number) {
    if (this.closedWith !== undefined || this.pingTimer !== undefined) return
    this.push(pingFrame(Buffer.alloc(8), false))
    this.pingTimer = setTimeout(() => this.destroy(new Error("Keepalive timeout: the server did not answer a PING")), timeoutMs)
    this.pingTimer.unref()
  }

  // ---- receiving -----------------------------------------------------------------------------

  private receive(chunk: Buffer) {
    let buffer = this.input === undefined ? chunk : Buffer.concat([this.input, chunk])
    this.input = undefined
    let offset = 0
    while (buffer.length - offset >= 9 && this.closedWith === undefined) {
      const length = buffer.readUIntBE(offset, 3)
      if (length > MAX_FRAME) return this.connectionError(FRAME_SIZE_ERROR, `frame of ${length} bytes`)
      if (buffer.length - offset < 9 + length) break
      const type = buffer[offset + 3]!
      const flags = buffer[offset + 4]!
      const streamId = buffer.readUInt32BE(offset + 5) & 0x7fffffff
      const payload = buffer.subarray(offset + 9, offset + 9 + length)
      offset += 9 + length
      this.onFrame(type, flags, streamId, payload)
    }
    if (offset < buffer.length && this.closedWith === undefined) {
      buffer = buffer.subarray(offset)
      // keep a copy only of small remainders; a large one is a view of the chunk anyway
      this.input = buffer
    }
  }

  private connectionError(code: number, reason: string) {
    if (this.closedWith !== undefined) return
    this.push(goAwayFrame(0, code, reason))
    this.flush()
    this.destroy(new Error(`HTTP/2 protocol error: ${reason}`))
  }

  private onFrame(type: number, flags: number, streamId: number, payload: Buffer) {
    if (this.continuation !== undefined && type !== CONTINUATION) {
      return this.connectionError(PROTOCOL_ERROR, "expected CONTINUATION")
    }
    switch (type) {
      case DATA:
        return this.onData(flags, streamId, payload)
      case HEADERS:
        return this.onHeaders(flags, streamId, payload)
      case CONTINUATION: {
        const c = this.continuation
        if (c === undefined || c.stream !== streamId) return this.connectionError(PROTOCOL_ERROR, "unexpected CONTINUATION")
        c.fragments.push(payload)
        if (flags & END_HEADERS) {
          this.continuation = undefined
          this.onHeaderBlock(c.flags, streamId, Buffer.concat(c.fragments))
        }
        return
      }
      case RST_STREAM: {
        if (payload.length !== 4) return this.connectionError(FRAME_SIZE_ERROR, "RST_STREAM size")
        const stream = this.streams.get(streamId)
        if (stream === undefined) return
        this.streams.delete(streamId)
        if (!stream.done) {
          stream.done = true
          stream.events.onReset(payload.readUInt32BE(0))
        }
        return
      }
      case SETTINGS:
        return this.onSettings(flags, streamId, payload)
      case PUSH_PROMISE:
        return this.connectionError(PROTOCOL_ERROR, "PUSH_PROMISE with push disabled")
      case PING:
        if (payload.length !== 8) return this.connectionError(FRAME_SIZE_ERROR, "PING size")
        if (flags & ACK) {
          if (this.pingTimer !== undefined) clearTimeout(this.pingTimer)
          this.pingTimer = undefined
        } else this.push(pingFrame(payload, true))
        return
      case GOAWAY: {
        if (payload.length < 8) return this.connectionError(FRAME_SIZE_ERROR, "GOAWAY size")
        const last = payload.readUInt32BE(0) & 0x7fffffff
        this.goingAway = true
        for (const [id, stream] of this.streams) {
          if (id <= last) continue
          this.streams.delete(id)
          if (!stream.done) {
            stream.done = true
            stream.events.onReset(REFUSED_STREAM)
          }
        }
        if (this.streams.size === 0) this.close()
        return
      }
      case WINDOW_UPDATE: {
        if (payload.length !== 4) return this.connectionError(FRAME_SIZE_ERROR, "WINDOW_UPDATE size")
        const increment = payload.readUInt32BE(0) & 0x7fffffff
        if (streamId === 0) {
          if (increment === 0) return this.connectionError(PROTOCOL_ERROR, "zero WINDOW_UPDATE")
          this.sendWindow += increment
          if (this.sendWindow > MAX_WINDOW) return this.connectionError(FLOW_CONTROL_ERROR, "window overflow")
          for (const stream of this.streams.values()) this.pump(stream)
        } else {
          const stream = this.streams.get(streamId)
          if (stream === undefined) return
          stream.sendWindow += increment
          this.pump(stream)
        }
        return
      }
      default:
        return // PRIORITY and unknown frame types
    }
  }

  private onSettings(flags: number, streamId: number, payload: Buffer) {
    if (streamId !== 0) return this.connectionError(PROTOCOL_ERROR, "SETTINGS on a stream")
    if (flags & ACK) return
    if (payload.length % 6 !== 0) return this.connectionError(FRAME_SIZE_ERROR, "SETTINGS size")
    for (let i = 0; i < payload.length; i += 6) {
      const id = payload.readUInt16BE(i)
      const value = payload.readUInt32BE(i + 2)
      if (id === Setting.INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW) return this.connectionError(FLOW_CONTROL_ERROR, "initial window too large")
        const delta = value - this.initialSendWindow
        this.initialSendWindow = value
        for (const stream of this.streams.values()) stream.sendWindow += delta
      } else if (id === Setting.MAX_FRAME_SIZE) {
        if (value < MAX_FRAME || value > 16_777_215) return this.connectionError(PROTOCOL_ERROR, "invalid max frame size")
        this.peerMaxFrame = value
      }
    }
    this.push(settingsFrame([], true))
    for (const stream of this.streams.values()) this.pump(stream)
  }

  private onData(flags: number, streamId: number, payload: Buffer) {
    const data = stripPadding(flags, payload)
    if (data === undefined) return this.connectionError(PROTOCOL_ERROR, "padding")
    // the whole frame counts against both windows, padding included
    this.unacked += payload.length
    if (this.unacked >= WINDOW_REFILL) {
      this.push(windowUpdateFrame(0, this.unacked))
      this.unacked = 0
    }
    const stream = this.streams.get(streamId)
    if (stream === undefined || stream.done) return
    stream.unacked += payload.length
    if (stream.unacked >= WINDOW_REFILL && (flags & END_STREAM) === 0) {
      this.push(windowUpdateFrame(streamId, stream.unacked))
      stream.unacked = 0
    }
    if (data.length > 0) stream.events.onData(data)
    if (flags & END_STREAM) this.endedBare(stream)
  }

  /** The server ended the stream with DATA and no trailers: a malformed gRPC response. */
  private endedBare(stream: ClientStream) {
    if (stream.done) return
    this.streams.delete(stream.id)
    stream.done = true
    stream.events.onReset(NO_ERROR)
  }

  private onHeaders(flags: number, streamId: number, payload: Buffer) {
    let block = stripPadding(flags, payload)
    if (block === undefined) return this.connectionError(PROTOCOL_ERROR, "padding")
    if (flags & Flag.PRIORITY) block = block.subarray(5)
    if ((flags & END_HEADERS) === 0) {
      this.continuation = { stream: streamId, flags, fragments: [Buffer.from(block)] }
      return
    }
    this.onHeaderBlock(flags, streamId, block)
  }

  private onHeaderBlock(flags: number, streamId: number, block: Buffer) {
    let headers: HeaderList
    try {
      // decoded even for unknown streams: the dynamic table must stay in step
      headers = this.decoder.decode(block)
    } catch (error) {
      return this.connectionError(COMPRESSION_ERROR, error instanceof Error ? error.message : String(error))
    }
    const stream = this.streams.get(streamId)
    if (stream === undefined || stream.done) return
    const end = (flags & END_STREAM) !== 0
    if (!stream.sawHeaders && !end) {
      stream.sawHeaders = true
      stream.events.onHeaders(headers)
      return
    }
    stream.done = true
    if (!end) {
      // a second header block without END_STREAM: not valid for gRPC
      this.reset(stream, PROTOCOL_ERROR)
      stream.events.onReset(PROTOCOL_ERROR)
      return
    }
    this.streams.delete(streamId)
    stream.events.onTrailers(headers, !stream.sawHeaders)
  }
}
