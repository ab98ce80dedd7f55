/**
 * The server side of one HTTP/2 connection (RFC 9113) over a `node:net` or `node:tls` socket:
 * preface, SETTINGS, PING, GOAWAY, stream states, HEADERS + CONTINUATION, DATA, RST_STREAM and
 * flow control in both directions. Outgoing frames are written into a shared slab and flushed with
 * one socket write per microtask turn, so many frames share one write.
 *
 * @since 0.1.0
 */
import type { Socket } from "node:net"
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
} from "../../internal/http2/Frames.ts"
import { type HeaderList, HpackDecoder, HpackError } from "../../internal/http2/Hpack.ts"

/**
 * Options of a connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectionOptions {
  /** SETTINGS_MAX_CONCURRENT_STREAMS we advertise; streams beyond it are refused. */
  readonly maxConcurrentStreams: number
  /** Our receive window per stream and for the connection (default 4 MiB). */
  readonly receiveWindow?: number | undefined
  /** A new stream with its decoded request headers. */
  readonly onStream: (stream: H2Stream, headers: HeaderList) => void
}

const DEFAULT_RECEIVE_WINDOW = 4 * 1024 * 1024
const LOCAL_MAX_FRAME_SIZE = 16384
const DEFAULT_WINDOW = 65535
/** Per-stream queued bytes above which `write` asks the producer to pause. */
const STREAM_HIGH_WATER = 64 * 1024
/** Unflushed connection bytes above which writes ask producers to pause. */
const CONNECTION_HIGH_WATER = 256 * 1024
const SLAB_SIZE = 256 * 1024
const EMPTY = Buffer.alloc(0)

/** An output buffer, reused once everything written from it has reached the kernel. */
interface Slab {
  readonly buf: Buffer
  /** Sealed chunks of this slab not yet written out. */
  outstanding: number
  /** No more frames go into it. */
  retired: boolean
  readonly release: () => void
}

const MAX_FREE_SLABS = 4

type Queued =
  | { readonly kind: "data"; buf: Buffer; readonly end: boolean }
  | { readonly kind: "headers"; readonly block: Buffer; readonly end: boolean }

/**
 * One HTTP/2 stream as the application sees it. Callbacks are plain fields (set by the gRPC
 * layer) to keep the per-frame path free of event emitters.
 *
 * @since 0.1.0
 * @category models
 */
export class H2Stream {
  readonly id: number
  private readonly conn: Connection
  /** Peer's window for our DATA on this stream. */
  sendWindow: number
  /** What the peer may still send us on this stream. */
  recvWindow: number
  recvUnacked = 0
  localEnded = false
  remoteEnded = false
  closed = false
  queue: Array<Queued> = []
  queuedBytes = 0
  wantsDrain = false
  /** Request body bytes. */
  onData: ((chunk: Buffer) => void) | undefined
  /** The peer ended its side (END_STREAM). */
  onEnd: (() => void) | undefined
  /** The stream was reset by the peer or the connection went away before it completed. */
  onReset: ((code: number) => void) | undefined
  /** A write returned false before and the stream can take more now. */
  onDrain: (() => void) | undefined

  constructor(conn: Connection, id: number, sendWindow: number, recvWindow: number) {
    this.conn = conn
    this.id = id
    this.sendWindow = sendWindow
    this.recvWindow = recvWindow
  }

  /** The peer's SETTINGS_MAX_FRAME_SIZE. */
  get maxFrameSize(): number {
    return this.conn.peerMaxFrameSize
  }

  /** `false` when the producer should wait for `onDrain`. */
  get writable(): boolean {
    return this.queuedBytes < STREAM_HIGH_WATER && !this.conn.congested
  }

  /** Sends a header block (response headers or trailers). */
  sendHeaders(block: Buffer, endStream: boolean): void {
    if (this.closed || this.localEnded) return
    if (endStream) this.localEnded = true
    if (this.queue.length > 0) {
      this.queue.push({ kind: "headers", block, end: endStream })
      return
    }
    this.conn.writeHeaders(this.id, block, endStream)
    if (endStream) this.conn.localEnd(this)
  }

  /**
   * Sends bytes as DATA: one frame when they fit the peer's frame size and windows, else split.
   * Returns `writable`.
   */
  sendData(buf: Buffer, endStream = false): boolean {
    if (this.closed || this.localEnded) return false
    if (endStream) this.localEnded = true
    if (this.queue.length > 0) {
      this.queue.push({ kind: "data", buf, end: endStream })
      this.queuedBytes += buf.length
    } else {
      const rest = this.conn.writeData(this, buf, endStream)
      if (rest !== undefined) {
        this.queue.push({ kind: "data", buf: rest, end: endStream })
        this.queuedBytes += rest.length
        this.conn.blocked.add(this)
      } else if (endStream) {
        this.conn.localEnd(this)
      }
    }
    const ok = this.writable
    if (!ok) this.conn.waitDrain(this)
    return ok
  }

  /** Writes what the windows allow from the queue; true when the queue is empty. */
  drainQueue(): boolean {
    while (this.queue.length > 0) {
      const item = this.queue[0]!
      if (item.kind === "headers") {
        this.queue.shift()
        this.conn.writeHeaders(this.id, item.block, item.end)
        if (item.end) this.conn.localEnd(this)
        continue
      }
      const before = item.buf.length
      const rest = this.conn.writeData(this, item.buf, item.end)
      if (rest !== undefined) {
        this.queuedBytes -= before - rest.length
        item.buf = rest
        return false
      }
      this.queuedBytes -= before
      this.queue.shift()
      if (item.end) this.conn.localEnd(this)
    }
    return true
  }

  /** Resets the stream (RST_STREAM) unless it is closed already. */
  reset(code: number): void {
    if (this.closed) return
    this.conn.resetStream(this, code)
  }
}

/**
 * The server side of one HTTP/2 connection.
 *
 * @since 0.1.0
 * @category models
 */
export class Connection {
  readonly socket: Socket
  private readonly options: ConnectionOptions
  private readonly receiveWindow: number
  private readonly decoder = new HpackDecoder()
  readonly streams = new Map<number, H2Stream>()
  /** Streams with queued DATA waiting for window. */
  readonly blocked = new Set<H2Stream>()
  private readonly drainWaiters = new Set<H2Stream>()
  private prefaceReceived = false
  private pending: Buffer = EMPTY
  private lastStreamId = 0
  private continuation: { streamId: number; flags: number; fragments: Array<Buffer> } | undefined
  private peerInitialWindow = DEFAULT_WINDOW
  peerMaxFrameSize = 16384
  private sendWindow = DEFAULT_WINDOW
  private recvWindow = DEFAULT_WINDOW
  private recvUnacked = 0
  private goingAway = false
  private dead = false
  // output
  private readonly freeSlabs: Array<Slab> = []
  private current: Slab = this.newSlab(SLAB_SIZE)
  private slab: Buffer = this.current.buf
  private slabStart = 0
  private slabEnd = 0
  private chunks: Array<Buffer> = []
  private chunkSlabs: Array<Slab | undefined> = []
  private outBytes = 0
  private flushScheduled = false
  /** Called once the socket closed. */
  onClose: (() => void) | undefined

  constructor(socket: Socket, options: ConnectionOptions) {
    this.socket = socket
    this.options = options
    this.receiveWindow = options.receiveWindow ?? DEFAULT_RECEIVE_WINDOW
    socket.setNoDelay?.(true)
    socket.on("data", this.onSocketData)
    socket.on("drain", this.onSocketDrain)
    socket.on("error", () => {})
    socket.on("close", this.onSocketClose)
    this.writeRaw(settingsFrame([
      [Setting.MAX_CONCURRENT_STREAMS, options.maxConcurrentStreams],
      [Setting.INITIAL_WINDOW_SIZE, this.receiveWindow],
      [Setting.MAX_FRAME_SIZE, LOCAL_MAX_FRAME_SIZE],
      [Setting.ENABLE_PUSH, 0]
    ]))
    if (this.receiveWindow > DEFAULT_WINDOW) {
      this.writeRaw(windowUpdateFrame(0, this.receiveWindow - DEFAULT_WINDOW))
      this.recvWindow = this.receiveWindow
    }
  }

  /** The connection's output is backed up (unflushed bytes or the socket wants 'drain'). */
  get congested(): boolean {
    return this.outBytes > CONNECTION_HIGH_WATER || this.socket.writableNeedDrain
  }

  /** Number of open streams. */
  get activeStreams(): number {
    return this.streams.size
  }

  // ---------------------------------------------------------------------------------------------
  // output

  private newSlab(size: number): Slab {
    if (size <= SLAB_SIZE) {
      const free = this.freeSlabs.pop()
      if (free !== undefined) {
        free.retired = false
        return free
      }
    }
    const slab: Slab = {
      buf: Buffer.allocUnsafeSlow(Math.max(SLAB_SIZE, size)),
      outstanding: 0,
      retired: false,
      release: () => {
        slab.outstanding--
        this.recycle(slab)
      }
    }
    return slab
  }

  private recycle(slab: Slab): void {
    if (slab.retired && slab.outstanding === 0 && slab.buf.length === SLAB_SIZE && this.freeSlabs.length < MAX_FREE_SLABS) {
      this.freeSlabs.push(slab)
    }
  }

  private reserve(n: number): void {
    if (this.slabEnd + n <= this.slab.length) return
    this.seal()
    const old = this.current
    old.retired = true
    this.recycle(old)
    this.current = this.newSlab(n)
    this.slab = this.current.buf
    this.slabStart = 0
    this.slabEnd = 0
  }

  private seal(): void {
    if (this.slabEnd > this.slabStart) {
      this.chunks.push(this.slab.subarray(this.slabStart, this.slabEnd))
      this.chunkSlabs.push(this.current)
      this.current.outstanding++
      this.slabStart = this.slabEnd
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return
    this.flushScheduled = true
    queueMicrotask(this.flush)
  }

  /** Appends a frame header plus payload bytes to the output. */
  private writeFrame(type: number, flags: number, streamId: number, payload: Buffer, start = 0, end = payload.length): void {
    const length = end - start
    if (length > 4096) {
      this.reserve(FRAME_HEADER_SIZE)
      writeFrameHeader(this.slab, this.slabEnd, length, type, flags, streamId)
      this.slabEnd += FRAME_HEADER_SIZE
      this.seal()
      this.chunks.push(start === 0 && end === payload.length ? payload : payload.subarray(start, end))
      this.chunkSlabs.push(undefined)
    } else {
      this.reserve(FRAME_HEADER_SIZE + length)
      writeFrameHeader(this.slab, this.slabEnd, length, type, flags, streamId)
      this.slabEnd += FRAME_HEADER_SIZE
      if (length > 0) {
        this.slab.set(start === 0 && end === payload.length ? payload : payload.subarray(start, end), this.slabEnd)
        this.slabEnd += length
      }
    }
    this.outBytes += FRAME_HEADER_SIZE + length
    this.scheduleFlush()
  }

  /** Appends complete frame bytes to the output. */
  private writeRaw(frame: Buffer): void {
    if (this.dead) return
    this.reserve(frame.length)
    this.slab.set(frame, this.slabEnd)
    this.slabEnd += frame.length
    this.outBytes += frame.length
    this.scheduleFlush()
  }

  /** Writes everything buffered to the socket (one write, or one corked batch). */
  readonly flush = (): void => {
    this.flushScheduled = false
    this.seal()
    const chunks = this.chunks
    if (chunks.length === 0) return
    const slabs = this.chunkSlabs
    this.chunks = []
    this.chunkSlabs = []
    this.outBytes = 0
    const socket = this.socket
    if (socket.destroyed || !socket.writable) return
    if (chunks.length === 1) {
      socket.write(chunks[0]!, slabs[0]?.release)
    } else {
      let total = 0
      for (const c of chunks) total += c.length
      if (total <= 64 * 1024) {
        socket.write(Buffer.concat(chunks, total))
        for (const slab of slabs) slab?.release()
      } else {
        socket.cork()
        for (let i = 0; i < chunks.length; i++) socket.write(chunks[i]!, slabs[i]?.release)
        socket.uncork()
      }
    }
    if (!socket.writableNeedDrain) this.notifyDrain()
  }

  /** HEADERS (+ CONTINUATION when the block exceeds the peer's frame size). */
  writeHeaders(streamId: number, block: Buffer, endStream: boolean): void {
    if (this.dead) return
    const max = this.peerMaxFrameSize
    if (block.length <= max) {
      this.writeFrame(FrameType.HEADERS, Flag.END_HEADERS | (endStream ? Flag.END_STREAM : 0), streamId, block)
      return
    }
    this.writeFrame(FrameType.HEADERS, endStream ? Flag.END_STREAM : 0, streamId, block, 0, max)
    let pos = max
    while (pos < block.length) {
      const end = Math.min(block.length, pos + max)
      this.writeFrame(FrameType.CONTINUATION, end === block.length ? Flag.END_HEADERS : 0, streamId, block, pos, end)
      pos = end
    }
  }

  /**
   * Writes as much of `buf` as DATA as the windows allow; returns the unsent rest (undefined when
   * all was sent). END_STREAM goes on the last frame.
   */
  writeData(stream: H2Stream, buf: Buffer, endStream: boolean): Buffer | undefined {
    if (this.dead) return undefined
    const max = this.peerMaxFrameSize
    let pos = 0
    const total = buf.length
    if (total === 0) {
      this.writeFrame(FrameType.DATA, endStream ? Flag.END_STREAM : 0, stream.id, EMPTY)
      return undefined
    }
    while (pos < total) {
      const n = Math.min(total - pos, max, stream.sendWindow, this.sendWindow)
      if (n <= 0) return buf.subarray(pos)
      stream.sendWindow -= n
      this.sendWindow -= n
      const last = pos + n === total
      this.writeFrame(FrameType.DATA, last && endStream ? Flag.END_STREAM : 0, stream.id, buf, pos, pos + n)
      pos += n
    }
    return undefined
  }

  /** Our side of a stream ended. */
  localEnd(stream: H2Stream): void {
    stream.localEnded = true
    this.blocked.delete(stream)
    if (stream.remoteEnded) {
      this.closeStream(stream)
    } else {
      // the response is complete: tell the client to stop sending (RFC 9113 §8.1)
      this.writeRaw(rstStreamFrame(stream.id, ErrorCode.NO_ERROR))
      this.closeStream(stream)
    }
  }

  private closeStream(stream: H2Stream): void {
    if (stream.closed) return
    stream.closed = true
    this.streams.delete(stream.id)
    this.blocked.delete(stream)
    this.drainWaiters.delete(stream)
    if (this.goingAway && this.streams.size === 0) this.endSocket()
  }

  /** RST_STREAM from our side. */
  resetStream(stream: H2Stream, code: number): void {
    if (stream.closed) return
    this.writeRaw(rstStreamFrame(stream.id, code))
    this.closeStream(stream)
  }

  waitDrain(stream: H2Stream): void {
    stream.wantsDrain = true
    this.drainWaiters.add(stream)
  }

  private notifyDrain(): void {
    if (this.drainWaiters.size === 0 || this.congested) return
    for (const stream of Array.from(this.drainWaiters)) {
      if (stream.closed) {
        this.drainWaiters.delete(stream)
        continue
      }
      if (!stream.writable) continue
      this.drainWaiters.delete(stream)
      stream.wantsDrain = false
      stream.onDrain?.()
      if (this.congested) return
    }
  }

  private readonly onSocketDrain = (): void => {
    this.notifyDrain()
  }

  /** Sends queued DATA of blocked streams after window updates. */
  private resumeBlocked(): void {
    if (this.blocked.size === 0) return
    for (const stream of Array.from(this.blocked)) {
      if (this.sendWindow <= 0) break
      if (stream.sendWindow <= 0) continue
      if (stream.drainQueue()) this.blocked.delete(stream)
    }
    this.notifyDrain()
  }

  // ---------------------------------------------------------------------------------------------
  // lifecycle

  /** Graceful shutdown: GOAWAY with the last stream id; the socket ends once streams are done. */
  goAway(): void {
    if (this.goingAway || this.dead) return
    this.goingAway = true
    this.writeRaw(goAwayFrame(this.lastStreamId, ErrorCode.NO_ERROR))
    if (this.streams.size === 0) this.endSocket()
  }

  private endSocket(): void {
    if (this.dead) return
    this.flush()
    this.dead = true
    this.socket.end()
    const timer = setTimeout(() => this.socket.destroy(), 2000)
    timer.unref()
  }

  /** Closes the connection with a GOAWAY carrying an error code. */
  connectionError(code: number, debug?: string): void {
    if (this.dead) return
    this.writeRaw(goAwayFrame(this.lastStreamId, code, debug))
    this.endSocket()
    this.resetAll(code)
  }

  /** Drops the connection now. */
  destroy(): void {
    this.dead = true
    this.socket.destroy()
  }

  private resetAll(code: number): void {
    const streams = Array.from(this.streams.values())
    this.streams.clear()
    this.blocked.clear()
    this.drainWaiters.clear()
    for (const stream of streams) {
      if (stream.closed) continue
      stream.closed = true
      stream.onReset?.(code)
    }
  }

  private readonly onSocketClose = (): void => {
    this.dead = true
    this.resetAll(ErrorCode.CANCEL)
    this.onClose?.()
  }

  // ---------------------------------------------------------------------------------------------
  // input

  private readonly onSocketData = (chunk: Buffer): void => {
    if (this.dead) return
    let buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk
    let pos = 0
    if (!this.prefaceReceived) {
      const n = Math.min(buf.length, CLIENT_PREFACE.length)
      if (buf.compare(CLIENT_PREFACE, 0, n, 0, n) !== 0) {
        this.connectionError(ErrorCode.PROTOCOL_ERROR, "invalid connection preface")
        return
      }
      if (buf.length < CLIENT_PREFACE.length) {
        this.pending = buf
        return
      }
      this.prefaceReceived = true
      pos = CLIENT_PREFACE.length
    }
    const end = buf.length
    while (end - pos >= FRAME_HEADER_SIZE) {
      const length = (buf[pos]! << 16) | (buf[pos + 1]! << 8) | buf[pos + 2]!
      if (length > LOCAL_MAX_FRAME_SIZE) {
        this.connectionError(ErrorCode.FRAME_SIZE_ERROR, "frame too large")
        return
      }
      if (end - pos - FRAME_HEADER_SIZE < length) break
      const type = buf[pos + 3]!
      const flags = buf[pos + 4]!
      const streamId = buf.readUInt32BE(pos + 5) & 0x7fffffff
      const start = pos + FRAME_HEADER_SIZE
      pos = start + length
      this.onFrame(type, flags, streamId, buf.subarray(start, pos))
      if (this.dead) return
    }
    this.pending = pos < end ? buf.subarray(pos) : EMPTY
    if (this.pending.length > 0 && this.pending.buffer === chunk.buffer) {
      // keep only the partial frame, not the whole socket chunk
      this.pending = Buffer.from(this.pending)
    }
    buf = EMPTY
    if (this.recvUnacked >= this.receiveWindow / 4) {
      this.writeRaw(windowUpdateFrame(0, this.recvUnacked))
      this.recvWindow += this.recvUnacked
      this.recvUnacked = 0
    }
  }

  private onFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (this.continuation !== undefined && type !== FrameType.CONTINUATION) {
      return this.connectionError(ErrorCode.PROTOCOL_ERROR, "expected CONTINUATION")
    }
    switch (type) {
      case FrameType.DATA:
        return this.onDataFrame(flags, streamId, payload)
      case FrameType.HEADERS:
        return this.onHeadersFrame(flags, streamId, payload)
      case FrameType.PRIORITY:
        if (streamId === 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, "PRIORITY on stream 0")
        if (payload.length !== 5) this.writeRaw(rstStreamFrame(streamId, ErrorCode.FRAME_SIZE_ERROR))
        return
      case FrameType.RST_STREAM:
        return this.onRstStream(streamId, payload)
      case FrameType.SETTINGS:
        return this.onSettings(flags, streamId, payload)
      case FrameType.PUSH_PROMISE:
        return this.connectionError(ErrorCode.PROTOCOL_ERROR, "PUSH_PROMISE from a client")
      case FrameType.PING:
        if (streamId !== 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, "PING on a stream")
        if (payload.length !== 8) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, "PING size")
        if ((flags & Flag.ACK) === 0) this.writeRaw(pingFrame(payload, true))
        return
      case FrameType.GOAWAY:
        if (streamId !== 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, "GOAWAY on a stream")
        // the client will close the connection; open streams may complete
        return
      case FrameType.WINDOW_UPDATE:
        return this.onWindowUpdate(streamId, payload)
      case FrameType.CONTINUATION:
        return this.onContinuation(flags, streamId, payload)
      default:
        // unknown frame types are ignored (RFC 9113 §4.1)
        return
    }
  }

  private onDataFrame(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, "DATA on stream 0")
    const length = payload.length
    this.recvWindow -= length
    if (this.recvWindow < 0) return this.connectionError(ErrorCode.FLOW_CONTROL_ERROR, "connection window exceeded")
    this.recvUnacked += length
    const data = stripPadding(flags, payload)
    if (data === undefined) return this.connectionError(ErrorCode.PROTOCOL_ERROR, "bad padding")
    const stream = this.streams.get(streamId)
    if (stream === undefined) {
      if (streamId > this.lastStreamId) return this.connectionError(ErrorCode.PROTOCOL_ERROR, "DATA on an idle stream")
      return // closed (by us): ignore, the connection window was credited above
    }
    if (stream.remoteEnded) {
      this.resetStream(stream, ErrorCode.STREAM_CLOSED)
      stream.onReset?.(ErrorCode.STREAM_CLOSED)
      return
    }
    stream.recvWindow -= length
    if (stream.recvWindow < 0) {
      this.resetStream(stream, ErrorCode.FLOW_CONTROL_ERROR)
      stream.onReset?.(ErrorCode.FLOW_CONTROL_ERROR)
      return
    }
    const endStream = (flags & Flag.END_STREAM) !== 0
    stream.recvUnacked += length
    if (!endStream && stream.recvUnacked >= this.receiveWindow / 4) {
      this.writeRaw(windowUpdateFrame(streamId, stream.recvUnacked))
      stream.recvWindow += stream.recvUnacked
      stream.recvUnacked = 0
    }
    if (data.length > 0) stream.onData?.(data)
    if (endStream) this.remoteEnd(stream)
  }

  private remoteEnd(stream: H2Stream): void {
    if (stream.remoteEnded) return
    stream.remoteEnded = true
    if (stream.localEnded) this.closeStream(stream)
    stream.onEnd?.()
  }

  private onHeadersFrame(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, "HEADERS on stream 0")
    let fragment = stripPadding(flags, payload)
    if (fragment === undefined) return this.connectionError(ErrorCode.PROTOCOL_ERROR, "bad padding")
    if ((flags & Flag.PRIORITY) !== 0) {
      if (fragment.length < 5) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, "HEADERS priority")
      fragment = fragment.subarray(5)
    }
    if ((flags & Flag.END_HEADERS) === 0) {
      this.continuation = { streamId, flags, fragments: [fragment] }
      return
    }
    this.onHeaderBlock(flags, streamId, fragment)
  }

  private onContinuation(flags: number, streamId: number, payload: Buffer): void {
    const c = this.continuation
    if (c === undefined || c.streamId !== streamId) {
      return this.connectionError(ErrorCode.PROTOCOL_ERROR, "unexpected CONTINUATION")
    }
    c.fragments.push(payload)
    let size = 0
    for (const f of c.fragments) size += f.length
    if (size > 1 << 20) return this.connectionError(ErrorCode.ENHANCE_YOUR_CALM, "header block too large")
    if ((flags & Flag.END_HEADERS) === 0) return
    this.continuation = undefined
    this.onHeaderBlock(c.flags, streamId, Buffer.concat(c.fragments))
  }

  private onHeaderBlock(flags: number, streamId: number, block: Buffer): void {
    let headers: HeaderList
    try {
      headers = this.decoder.decode(block)
    } catch (e) {
      return this.connectionError(ErrorCode.COMPRESSION_ERROR, e instanceof HpackError ? e.message : "bad header block")
    }
    const endStream = (flags & Flag.END_STREAM) !== 0
    const existing = this.streams.get(streamId)
    if (existing !== undefined) {
      // trailers from the client: they must end the stream
      if (existing.remoteEnded || !endStream) {
        this.resetStream(existing, ErrorCode.PROTOCOL_ERROR)
        existing.onReset?.(ErrorCode.PROTOCOL_ERROR)
        return
      }
      this.remoteEnd(existing)
      return
    }
    if ((streamId & 1) === 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, "even stream id")
    if (streamId <= this.lastStreamId) return // a closed stream: ignore
    this.lastStreamId = streamId
    if (this.goingAway || this.streams.size >= this.options.maxConcurrentStreams) {
      this.writeRaw(rstStreamFrame(streamId, ErrorCode.REFUSED_STREAM))
      return
    }
    const stream = new H2Stream(this, streamId, this.peerInitialWindow, this.receiveWindow)
    stream.remoteEnded = endStream
    this.streams.set(streamId, stream)
    this.options.onStream(stream, headers)
    if (endStream && !stream.closed) stream.onEnd?.()
  }

  private onRstStream(streamId: number, payload: Buffer): void {
    if (streamId === 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, "RST_STREAM on stream 0")
    if (payload.length !== 4) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, "RST_STREAM size")
    if (streamId > this.lastStreamId) return this.connectionError(ErrorCode.PROTOCOL_ERROR, "RST_STREAM on an idle stream")
    const stream = this.streams.get(streamId)
    if (stream === undefined) return
    this.closeStream(stream)
    stream.onReset?.(payload.readUInt32BE(0))
  }

  private onSettings(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, "SETTINGS on a stream")
    if ((flags & Flag.ACK) !== 0) {
      if (payload.length !== 0) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS ACK with payload")
      return
    }
    if (payload.length % 6 !== 0) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, "SETTINGS size")
    let windowGrew = false
    for (let i = 0; i < payload.length; i += 6) {
      const id = payload.readUInt16BE(i)
      const value = payload.readUInt32BE(i + 2)
      switch (id) {
        case Setting.ENABLE_PUSH:
          if (value > 1) return this.connectionError(ErrorCode.PROTOCOL_ERROR, "ENABLE_PUSH")
          break
        case Setting.INITIAL_WINDOW_SIZE: {
          if (value > MAX_WINDOW) return this.connectionError(ErrorCode.FLOW_CONTROL_ERROR, "INITIAL_WINDOW_SIZE")
          const delta = value - this.peerInitialWindow
          this.peerInitialWindow = value
          for (const stream of this.streams.values()) {
            stream.sendWindow += delta
            if (stream.sendWindow > MAX_WINDOW) {
              return this.connectionError(ErrorCode.FLOW_CONTROL_ERROR, "window overflow")
            }
          }
          if (delta > 0) windowGrew = true
          break
        }
        case Setting.MAX_FRAME_SIZE:
          if (value < 16384 || value > 16777215) return this.connectionError(ErrorCode.PROTOCOL_ERROR, "MAX_FRAME_SIZE")
          this.peerMaxFrameSize = value
          break
        default:
          // HEADER_TABLE_SIZE: our encoder never uses the dynamic table; others need nothing
          break
      }
    }
    this.writeRaw(settingsFrame([], true))
    if (windowGrew) this.resumeBlocked()
  }

  private onWindowUpdate(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, "WINDOW_UPDATE size")
    const increment = payload.readUInt32BE(0) & 0x7fffffff
    if (streamId === 0) {
      if (increment === 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, "WINDOW_UPDATE of 0")
      this.sendWindow += increment
      if (this.sendWindow > MAX_WINDOW) return this.connectionError(ErrorCode.FLOW_CONTROL_ERROR, "window overflow")
      this.resumeBlocked()
      return
    }
    const stream = this.streams.get(streamId)
    if (stream === undefined) {
      if (streamId > this.lastStreamId) return this.connectionError(ErrorCode.PROTOCOL_ERROR, "WINDOW_UPDATE on an idle stream")
      return
    }
    if (increment === 0) {
      this.resetStream(stream, ErrorCode.PROTOCOL_ERROR)
      stream.onReset?.(ErrorCode.PROTOCOL_ERROR)
      return
    }
    stream.sendWindow += increment
    if (stream.sendWindow > MAX_WINDOW) {
      this.resetStream(stream, ErrorCode.FLOW_CONTROL_ERROR)
      stream.onReset?.(ErrorCode.FLOW_CONTROL_ERROR)
      return
    }
    if (this.blocked.has(stream) && this.sendWindow > 0) {
      if (stream.drainQueue()) this.blocked.delete(stream)
      this.notifyDrain()
    }
  }
}
