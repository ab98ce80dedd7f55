/**
 * A hostile "gRPC server" for the client's robustness tests: a raw `node:net` server on
 * 127.0.0.1 that speaks just enough HTTP/2, framed by hand, to misbehave in one chosen way.
 * It is the attacker, so it writes frames itself; nothing in `src/` does.
 *
 * Every scenario but `silent` sends an empty SETTINGS frame first; all but the floods then read
 * the client's frames (answering its SETTINGS and PINGs), and:
 *
 * - `continuation`: answers each request's HEADERS with a HEADERS frame without END_HEADERS,
 *   followed by an endless sequence of CONTINUATION frames (16 KiB of literal header fields each).
 * - `huge-message`: answers with proper response headers, then a DATA frame whose gRPC length
 *   prefix announces a 4 GiB message (0xFFFFFFFF), followed by as much data as the client's
 *   flow-control windows allow.
 * - `ping-flood`: stops reading the socket and sends PING frames without end; the client must
 *   answer each, and nobody reads the answers.
 * - `settings-flood`: the same with SETTINGS frames (each one asks for an ACK).
 * - `huge-headers`: answers with one 64 MiB header field spread over CONTINUATION frames, then
 *   END_HEADERS.
 * - `window-overflow`: answers a request with a WINDOW_UPDATE on its stream that takes the
 *   client's send window past 2^31−1 (a FLOW_CONTROL_ERROR the client must detect), and nothing else.
 * - `short-priority`: answers with a HEADERS frame whose PRIORITY flag is set but whose payload
 *   is shorter than the 5 bytes of priority fields (a FRAME_SIZE_ERROR).
 * - `no-answer`: a polite peer (SETTINGS, ACKs, PING answers) that never answers a request.
 * - `silent`: accepts the connection, reads everything and never sends a byte.
 *
 * For the protocol violations the server records how long the client took to react (reset the
 * stream, send GOAWAY or close the connection): see {@link HostileServer.firstReactionMs}.
 *
 * Every loop is bounded: a connection is destroyed after `maxMs` (default 15 s) or once
 * `maxBytes` (default 4 GiB) were written to it, and all writes wait for the socket to drain, so
 * the server itself stays small whatever the client does.
 */
import * as net from "node:net"

/** The misbehaviours of {@link startHostileServer}. */
export type Scenario =
  | "continuation"
  | "huge-message"
  | "ping-flood"
  | "settings-flood"
  | "huge-headers"
  | "window-overflow"
  | "short-priority"
  | "no-answer"
  | "silent"

/** Every scenario. */
export const scenarios: ReadonlyArray<Scenario> = [
  "continuation",
  "huge-message",
  "ping-flood",
  "settings-flood",
  "huge-headers",
  "window-overflow",
  "short-priority",
  "no-answer",
  "silent"
]

/** A running hostile server. */
export interface HostileServer {
  readonly port: number
  /** Connections accepted so far. */
  readonly accepted: () => number
  /** Requests (HEADERS frames opening a stream) seen so far. */
  readonly requests: () => number
  /** Bytes written to clients so far. */
  readonly bytesSent: () => number
  /**
   * On the first connection where this server broke the protocol: milliseconds from the first
   * violation (or the start of a flood) to the client's first reaction, a RST_STREAM, a GOAWAY or
   * closing the connection; `undefined` while it has not reacted. A client that detects the
   * violation reacts within milliseconds; one that ignores it reacts, at best, at its deadline.
   */
  readonly firstReactionMs: () => number | undefined
  /** Destroys every connection and stops listening. */
  readonly close: () => Promise<void>
}

/** Options of {@link startHostileServer}. */
export interface HostileOptions {
  /** A connection is destroyed this long after it was accepted (default 15 s). */
  readonly maxMs?: number | undefined
  /** A connection is destroyed once this many bytes were written to it (default 4 GiB). */
  readonly maxBytes?: number | undefined
}

// ---------------------------------------------------------------------------------------------
// HTTP/2 framing, by hand (RFC 9113 §4.1) and just enough HPACK (RFC 7541)

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1")
const FRAME_HEADER = 9
const MAX_FRAME = 16384

const DATA = 0x0
const HEADERS = 0x1
const RST_STREAM = 0x3
const SETTINGS = 0x4
const PING = 0x6
const GOAWAY = 0x7
const WINDOW_UPDATE = 0x8
const CONTINUATION = 0x9

const END_STREAM = 0x1
const ACK = 0x1
const END_HEADERS = 0x4
const PRIORITY = 0x20

const SETTINGS_INITIAL_WINDOW_SIZE = 0x4

const frame = (type: number, flags: number, streamId: number, payload: Uint8Array = Buffer.alloc(0)): Buffer => {
  const out = Buffer.allocUnsafe(FRAME_HEADER + payload.length)
  out.writeUIntBE(payload.length, 0, 3)
  out[3] = type
  out[4] = flags
  out.writeUInt32BE(streamId & 0x7fffffff, 5)
  out.set(payload, FRAME_HEADER)
  return out
}

/** An HPACK integer with an `n`-bit prefix, the prefix byte's high bits set to `high`. */
const hpackInt = (value: number, n: number, high: number): Array<number> => {
  const max = (1 << n) - 1
  if (value < max) return [high | value]
  const out = [high | max]
  let rest = value - max
  while (rest >= 128) {
    out.push((rest % 128) + 128)
    rest = Math.floor(rest / 128)
  }
  out.push(rest)
  return out
}

/** A literal header field without indexing, new name, no Huffman (RFC 7541 §6.2.2). */
const literal = (name: string, value: string | number): Buffer => {
  const valueLength = typeof value === "number" ? value : Buffer.byteLength(value)
  return Buffer.concat([
    Buffer.from([0x00, ...hpackInt(name.length, 7, 0), ...Buffer.from(name, "latin1")]),
    Buffer.from(hpackInt(valueLength, 7, 0)),
    typeof value === "number" ? Buffer.alloc(0) : Buffer.from(value, "latin1")
  ])
}

/** `:status: 200` (static table entry 8) and `content-type: application/grpc`. */
const responseHeaderBlock = Buffer.concat([Buffer.from([0x88]), literal("content-type", "application/grpc")])

/** A CONTINUATION payload of exactly 16 KiB: one literal header field `x-a: aaa…`. */
const continuationPayload = (): Buffer => {
  const head = literal("x-a", 0)
  // name part is 5 bytes (0x00, len, "x-a"); the value length takes 3 bytes for ~16 KiB
  const valueLength = MAX_FRAME - 5 - 3
  const prefix = Buffer.concat([head.subarray(0, 5), Buffer.from(hpackInt(valueLength, 7, 0))])
  if (prefix.length !== 8) throw new Error("unexpected HPACK prefix length")
  return Buffer.concat([prefix, Buffer.alloc(valueLength, 0x61)])
}

/** `count` copies of `one`, concatenated: written as one chunk, again and again. */
const repeat = (one: Buffer, count: number): Buffer => Buffer.concat(Array.from({ length: count }, () => one))

// ---------------------------------------------------------------------------------------------

interface Conn {
  readonly socket: net.Socket
  buffer: Buffer
  prefaceSeen: boolean
  sent: number
  readonly started: Set<number>
  /** When this server first broke the protocol on this connection, and when the client first reacted. */
  violationAt: number | undefined
  reactionAt: number | undefined
  /** Flow control of what this server sends (DATA only). */
  connectionWindow: number
  initialStreamWindow: number
  readonly streamWindows: Map<number, number>
  /** Woken when a WINDOW_UPDATE or SETTINGS changes the windows (or the socket closes). */
  readonly windowWaiters: Set<() => void>
}

/**
 * Starts a hostile server playing `scenario` on every connection it accepts.
 */
export const startHostileServer = (scenario: Scenario, options: HostileOptions = {}): Promise<HostileServer> => {
  const maxMs = options.maxMs ?? 15_000
  const maxBytes = options.maxBytes ?? 4 * 1024 ** 3
  const sockets = new Set<net.Socket>()
  let accepted = 0
  let requests = 0
  let bytesSent = 0

  const open = (c: Conn) => !c.socket.destroyed && c.sent < maxBytes

  /** Writes `chunk`; resolves once the socket can take more (or is gone). */
  const write = (c: Conn, chunk: Buffer): Promise<void> | undefined => {
    if (!open(c)) return undefined
    c.sent += chunk.length
    bytesSent += chunk.length
    if (c.socket.write(chunk)) return undefined
    return new Promise((resolve) => {
      const done = () => {
        c.socket.off("drain", done)
        c.socket.off("close", done)
        resolve()
      }
      c.socket.on("drain", done)
      c.socket.on("close", done)
    })
  }

  /** Writes `chunk` over and over until the connection is closed or used up. */
  const flood = async (c: Conn, chunk: Buffer) => {
    while (open(c)) {
      const wait = write(c, chunk)
      // yield now and then even when the socket never pushes back, so timers still run
      await (wait ?? new Promise<void>((resolve) => setImmediate(resolve)))
    }
  }

  const waitForWindow = (c: Conn) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => done(), 100)
      const done = () => {
        clearTimeout(timer)
        c.windowWaiters.delete(done)
        resolve()
      }
      c.windowWaiters.add(done)
    })

  const wake = (c: Conn) => {
    for (const done of Array.from(c.windowWaiters)) done()
  }

  const violations: Array<Conn> = []
  const violate = (c: Conn) => {
    if (c.violationAt !== undefined) return
    c.violationAt = performance.now()
    violations.push(c)
  }
  /** The client ended a stream or the connection (RST_STREAM, GOAWAY or closing the socket). */
  const react = (c: Conn) => {
    if (c.violationAt !== undefined && c.reactionAt === undefined) c.reactionAt = performance.now()
  }

  const respond = async (c: Conn, streamId: number) => {
    switch (scenario) {
      case "continuation": {
        violate(c)
        const payload = continuationPayload()
        await write(c, frame(HEADERS, 0, streamId, responseHeaderBlock))
        await flood(c, repeat(frame(CONTINUATION, 0, streamId, payload), 64))
        return
      }
      case "huge-headers": {
        violate(c)
        // one header field `x-big` whose value is 64 MiB, then END_HEADERS
        const size = 64 * 1024 * 1024
        const head = Buffer.concat([responseHeaderBlock, literal("x-big", size)])
        await write(c, frame(HEADERS, 0, streamId, head))
        const filler = frame(CONTINUATION, 0, streamId, Buffer.alloc(MAX_FRAME, 0x62))
        const chunk = repeat(filler, 64)
        let left = size
        while (open(c) && left > 64 * MAX_FRAME) {
          await write(c, chunk)
          left -= 64 * MAX_FRAME
        }
        while (open(c) && left > MAX_FRAME) {
          await write(c, filler)
          left -= MAX_FRAME
        }
        if (open(c)) await write(c, frame(CONTINUATION, END_HEADERS, streamId, Buffer.alloc(left, 0x62)))
        return
      }
      case "huge-message": {
        await write(c, frame(HEADERS, END_HEADERS, streamId, responseHeaderBlock))
        const body = Buffer.alloc(MAX_FRAME, 0x63)
        body[0] = 0 // not compressed
        body.writeUInt32BE(0xffffffff, 1) // announces 4 GiB - 1 bytes
        let first = true
        while (open(c)) {
          const window = Math.min(c.connectionWindow, c.streamWindows.get(streamId) ?? c.initialStreamWindow)
          if (window <= 0) {
            await waitForWindow(c)
            continue
          }
          const size = Math.min(MAX_FRAME, window)
          c.connectionWindow -= size
          c.streamWindows.set(streamId, (c.streamWindows.get(streamId) ?? c.initialStreamWindow) - size)
          const payload = first ? body.subarray(0, size) : Buffer.alloc(size, 0x63)
          first = false
          const wait = write(c, frame(DATA, 0, streamId, payload))
          await (wait ?? new Promise<void>((resolve) => setImmediate(resolve)))
        }
        return
      }
      case "window-overflow": {
        violate(c)
        const increment = Buffer.alloc(4)
        increment.writeUInt32BE(0x7fffffff)
        await write(c, frame(WINDOW_UPDATE, 0, streamId, increment))
        return
      }
      case "short-priority":
        violate(c)
        await write(c, frame(HEADERS, END_HEADERS | PRIORITY, streamId, Buffer.from([0x88, 0x00, 0x00])))
        return
      case "no-answer":
      case "silent":
      case "ping-flood":
      case "settings-flood":
        return
    }
  }

  const onFrame = (c: Conn, type: number, flags: number, streamId: number, payload: Buffer) => {
    switch (type) {
      case SETTINGS: {
        if ((flags & ACK) !== 0) return
        for (let i = 0; i + 6 <= payload.length; i += 6) {
          if (payload.readUInt16BE(i) === SETTINGS_INITIAL_WINDOW_SIZE) {
            const value = payload.readUInt32BE(i + 2)
            const delta = value - c.initialStreamWindow
            c.initialStreamWindow = value
            for (const [id, w] of c.streamWindows) c.streamWindows.set(id, w + delta)
          }
        }
        void write(c, frame(SETTINGS, ACK, 0))
        wake(c)
        return
      }
      case PING:
        if ((flags & ACK) === 0) void write(c, frame(PING, ACK, 0, payload))
        return
      case WINDOW_UPDATE: {
        const increment = payload.readUInt32BE(0) & 0x7fffffff
        if (streamId === 0) c.connectionWindow += increment
        else c.streamWindows.set(streamId, (c.streamWindows.get(streamId) ?? c.initialStreamWindow) + increment)
        wake(c)
        return
      }
      case RST_STREAM:
      case GOAWAY:
        react(c)
        return
      case HEADERS: {
        if (c.started.has(streamId)) return // trailers or a repeated HEADERS
        c.started.add(streamId)
        requests++
        void respond(c, streamId)
        return
      }
      default:
        return
    }
  }

  const onData = (c: Conn, chunk: Buffer) => {
    if (scenario === "silent") return
    c.buffer = c.buffer.length === 0 ? chunk : Buffer.concat([c.buffer, chunk])
    if (!c.prefaceSeen) {
      if (c.buffer.length < PREFACE.length) return
      if (!c.buffer.subarray(0, PREFACE.length).equals(PREFACE)) {
        c.socket.destroy()
        return
      }
      c.prefaceSeen = true
      c.buffer = c.buffer.subarray(PREFACE.length)
    }
    while (c.buffer.length >= FRAME_HEADER) {
      const length = c.buffer.readUIntBE(0, 3)
      if (c.buffer.length < FRAME_HEADER + length) break
      const type = c.buffer[3]!
      const flags = c.buffer[4]!
      const streamId = c.buffer.readUInt32BE(5) & 0x7fffffff
      const payload = c.buffer.subarray(FRAME_HEADER, FRAME_HEADER + length)
      c.buffer = c.buffer.subarray(FRAME_HEADER + length)
      onFrame(c, type, flags, streamId, payload)
    }
    // keep what is buffered small: the client's requests are tiny
    if (c.buffer.length > 64 * 1024 * 1024) c.socket.destroy()
  }

  const server = net.createServer((socket) => {
    accepted++
    sockets.add(socket)
    socket.setNoDelay(true)
    const c: Conn = {
      socket,
      buffer: Buffer.alloc(0),
      prefaceSeen: false,
      sent: 0,
      started: new Set(),
      violationAt: undefined,
      reactionAt: undefined,
      connectionWindow: 65535,
      initialStreamWindow: 65535,
      streamWindows: new Map(),
      windowWaiters: new Set()
    }
    const timer = setTimeout(() => socket.destroy(), maxMs)
    socket.on("error", () => socket.destroy())
    socket.on("close", () => {
      react(c)
      clearTimeout(timer)
      sockets.delete(socket)
      wake(c)
    })
    socket.on("data", (chunk: Buffer) => onData(c, chunk))
    if (scenario === "silent") return
    void write(c, frame(SETTINGS, 0, 0))
    if (scenario === "ping-flood" || scenario === "settings-flood") {
      // never read again: the client's answers pile up on its side
      socket.pause()
      socket.removeAllListeners("data")
      const one = scenario === "ping-flood"
        ? frame(PING, 0, 0, Buffer.from("hostile!", "latin1"))
        : frame(SETTINGS, 0, 0) // empty: the most ACKs per byte
      violate(c)
      void flood(c, repeat(one, 65536))
    }
  })

  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      resolve({
        port,
        accepted: () => accepted,
        requests: () => requests,
        bytesSent: () => bytesSent,
        firstReactionMs: () => {
          const c = violations[0]
          return c?.violationAt === undefined || c.reactionAt === undefined ? undefined : Math.round(c.reactionAt - c.violationAt)
        },
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy()
            sockets.clear()
            server.close(() => done())
          })
      })
    })
  })
}
