/**
 * One gRPC call on a `node:http2` stream, as handlers see it: the request (unary and
 * server-streaming methods), metadata, events `data` / `end` (client-streaming), `cancelled`
 * (client cancel, deadline, disconnect, too much unread output) and `drain` (after `write`
 * returned false), and the ways to respond: messages, then a status as trailers, or a
 * Trailers-Only response when nothing was sent.
 *
 * @since 0.1.0
 */
import { EventEmitter } from "node:events"
import type * as http2 from "node:http2"
import { Code } from "../../generated/code.ts"
import { frameMessage } from "./MessageFraming.ts"

/**
 * One method of a service definition (the shape ts-proto generates for grpc-js).
 *
 * @since 0.1.0
 * @category models
 */
export interface MethodDefinition {
  readonly path: string
  readonly requestStream: boolean
  readonly responseStream: boolean
  readonly requestDeserialize: (bytes: Buffer) => any
  readonly responseSerialize: (value: any) => Buffer
}

/**
 * A service definition: method name to definition.
 *
 * @since 0.1.0
 * @category models
 */
export type ServiceDefinition = { readonly [method: string]: MethodDefinition }

/**
 * Trailing metadata handlers may attach (grpc-js's `Metadata` fits).
 *
 * @since 0.1.0
 * @category models
 */
export interface TrailerSource {
  readonly toHttp2Headers: () => { readonly [key: string]: string | ReadonlyArray<string> | number | undefined }
}

/**
 * A status to end a call with.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallStatus {
  readonly code?: number | undefined
  readonly details?: string | undefined
  readonly message?: string | undefined
  readonly metadata?: TrailerSource | undefined
}

/**
 * Request metadata over the request's header object: lower-case keys; `-bin` values decoded to
 * Buffers.
 *
 * @since 0.1.0
 * @category models
 */
export class RequestMetadata {
  private readonly headers: http2.IncomingHttpHeaders
  constructor(headers: http2.IncomingHttpHeaders) {
    this.headers = headers
  }

  /** All values of a key. */
  get(key: string): Array<string | Buffer> {
    const k = key.toLowerCase()
    const raw = this.headers[k]
    if (raw === undefined) return []
    const values = Array.isArray(raw) ? raw : [raw]
    if (!k.endsWith("-bin")) return values.slice()
    const out: Array<string | Buffer> = []
    for (const v of values) for (const part of v.split(",")) out.push(Buffer.from(part.trim(), "base64"))
    return out
  }

  /** First value of every (non-pseudo) key. */
  getMap(): Record<string, string | Buffer> {
    const map: Record<string, string | Buffer> = {}
    for (const k of Object.keys(this.headers)) {
      if (k.startsWith(":")) continue
      const first = this.get(k)[0]
      if (first !== undefined) map[k] = first
    }
    return map
  }
}

/**
 * Percent-encodes a status message as the gRPC spec asks: UTF-8 bytes outside 0x20-0x7E and `%`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const percentEncode = (text: string): string => {
  let plain = true
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false
      break
    }
  }
  if (plain) return text
  let out = ""
  for (const byte of Buffer.from(text, "utf8")) {
    out += byte < 0x20 || byte > 0x7e || byte === 0x25 ? "%" + byte.toString(16).toUpperCase().padStart(2, "0") : String.fromCharCode(byte)
  }
  return out
}

/**
 * The trailer fields of a status (with `:status` and `content-type` for a Trailers-Only
 * response). Custom values are sent as their UTF-8 bytes.
 *
 * @since 0.1.0
 * @category encoding
 */
export const statusHeaders = (status: CallStatus, trailersOnly: boolean): http2.OutgoingHttpHeaders => {
  const fields: http2.OutgoingHttpHeaders = trailersOnly ? { ":status": 200, "content-type": "application/grpc" } : {}
  if (status.metadata !== undefined) {
    const headers = status.metadata.toHttp2Headers()
    for (const key of Object.keys(headers)) {
      if (key.startsWith(":") || key === "grpc-status" || key === "grpc-message" || key === "content-type") continue
      const value = headers[key]
      if (value === undefined) continue
      fields[key] = Array.isArray(value)
        ? value.map((v) => Buffer.from(String(v), "utf8").toString("latin1"))
        : Buffer.from(String(value), "utf8").toString("latin1")
    }
  }
  fields["grpc-status"] = String(status.code ?? Code.UNKNOWN)
  const details = status.details ?? status.message ?? ""
  if (details.length > 0) fields["grpc-message"] = percentEncode(details)
  return fields
}

/**
 * Parses a `grpc-timeout` value to milliseconds (undefined when absent or malformed). Any value
 * the spec allows (up to 8 digits of hours) is kept exact; see {@link ServerCall.setDeadline}.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseTimeout = (value: string | undefined): number | undefined => {
  if (value === undefined) return undefined
  const m = /^(\d{1,8})([HMSmun])$/.exec(value)
  if (m === null) return undefined
  const n = Number(m[1])
  switch (m[2]) {
    case "H":
      return n * 3600_000
    case "M":
      return n * 60_000
    case "S":
      return n * 1000
    case "m":
      return n
    case "u":
      return n / 1000
    default:
      return n / 1e6
  }
}

/**
 * The calls of one connection, for its cap on output its client leaves unread.
 *
 * @since 0.1.0
 * @category models
 */
export class CallGroup {
  readonly calls = new Set<ServerCall>()
  readonly maxPendingBytes: number
  constructor(maxPendingBytes: number) {
    this.maxPendingBytes = maxPendingBytes
  }

  /** Output queued and not yet sent on all calls. */
  pendingBytes(): number {
    let total = 0
    for (const call of this.calls) total += call.pendingBytes
    return total
  }
}

/** The longest delay `setTimeout` honours; longer deadlines are armed in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1

const RESPONSE_HEADERS: http2.OutgoingHttpHeaders = { ":status": 200, "content-type": "application/grpc" }
const RESPOND_OPTIONS: http2.ServerStreamResponseOptions = { waitForTrailers: true }
const TRAILERS_ONLY_OPTIONS: http2.ServerStreamResponseOptions = { endStream: true }
const OK_TRAILERS: http2.OutgoingHttpHeaders = { "grpc-status": "0" }
const NO_ERROR = 0
const ENHANCE_YOUR_CALM = 0xb

/**
 * A server-side call on a `node:http2` stream.
 *
 * @since 0.1.0
 * @category models
 */
export class ServerCall<Req = any, Res = any> extends EventEmitter {
  /** The request message of unary and server-streaming methods. */
  request: Req = undefined as Req
  /** The call was cancelled (client cancel, deadline, disconnect); writes are ignored. */
  cancelled = false
  private ended = false
  private headersSent = false
  private trailers: http2.OutgoingHttpHeaders = OK_TRAILERS
  private readonly stream: http2.ServerHttp2Stream
  private readonly method: MethodDefinition
  private readonly headers: http2.IncomingHttpHeaders
  private readonly maxPendingBytes: number
  private readonly group: CallGroup | undefined
  private requestMetadata: RequestMetadata | undefined
  private timer: ReturnType<typeof setTimeout> | undefined
  private deadlineAt = 0

  constructor(
    stream: http2.ServerHttp2Stream,
    method: MethodDefinition,
    headers: http2.IncomingHttpHeaders,
    maxPendingBytes: number,
    group?: CallGroup | undefined
  ) {
    super()
    this.stream = stream
    this.method = method
    this.headers = headers
    this.maxPendingBytes = maxPendingBytes
    this.group = group
    group?.calls.add(this)
    stream.on("drain", () => this.emit("drain"))
    stream.on("wantTrailers", () => {
      try {
        this.stream.sendTrailers(this.trailers)
      } catch {
        // the stream went away meanwhile
      }
    })
    stream.on("close", () => {
      group?.calls.delete(this)
      this.onCancelled()
    })
  }

  /** Output queued on this call and not yet sent. */
  get pendingBytes(): number {
    return this.stream.writableLength
  }

  /** Request metadata. */
  get metadata(): RequestMetadata {
    return this.requestMetadata ??= new RequestMetadata(this.headers)
  }

  /** The client's address and port (`host:port`), or "" when unknown. */
  get peer(): string {
    const socket = this.stream.session?.socket
    if (socket === undefined || socket.remoteAddress === undefined) return ""
    return `${socket.remoteAddress}:${socket.remotePort ?? 0}`
  }

  /** The method path. */
  get path(): string {
    return this.method.path
  }

  /** The largest DATA frame payload the client accepts. */
  get maxFrameSize(): number {
    return this.stream.session?.remoteSettings.maxFrameSize ?? 16384
  }

  /** The call is finished (status sent or cancelled). */
  get closed(): boolean {
    return this.ended || this.cancelled
  }

  /** Serializes and sends one response message; false = wait for 'drain'. */
  write(value: Res): boolean {
    if (this.ended || this.cancelled) return false
    return this.writeFramed(frameMessage(this.method.responseSerialize(value)))
  }

  /**
   * Sends bytes that already hold one or more length-prefixed messages (one stream write);
   * false = wait for 'drain'. A client that leaves more than the node's cap of output unread on
   * one call, or on all calls of its connection, has the call reset (ENHANCE_YOUR_CALM) instead of
   * growing the node's memory. The connection's total is checked only when a write returns false
   * and the call was already told to wait for 'drain' (it writes past its own backpressure): a
   * call that waited holds one message, as several large reads at once legitimately do.
   */
  writeFramed(framed: Buffer): boolean {
    if (this.ended || this.cancelled) return false
    const stream = this.stream
    if (!this.headersSent) {
      this.headersSent = true
      stream.respond(RESPONSE_HEADERS, RESPOND_OPTIONS)
    }
    if (stream.writableLength > this.maxPendingBytes) return this.reset()
    // only a call writing past its own backpressure (told to wait for 'drain') counts against the
    // connection: one that waited holds the message it is sending, as a real node's call does
    // (several large reads at once on one connection are legitimate)
    const ignoresBackpressure = stream.writableNeedDrain
    if (stream.write(framed)) return true
    const group = this.group
    if (ignoresBackpressure && group !== undefined && group.pendingBytes() > group.maxPendingBytes) return this.reset()
    return false
  }

  private reset(): false {
    this.onCancelled()
    this.stream.close(ENHANCE_YOUR_CALM)
    return false
  }

  /** Ends the call with OK and optional trailing metadata. */
  end(trailers?: TrailerSource | undefined): void {
    this.sendStatus({ code: Code.OK, metadata: trailers })
  }

  /** Ends the call with a status (Trailers-Only when nothing was sent yet). */
  sendStatus(status: CallStatus): void {
    if (this.ended || this.cancelled) return
    this.ended = true
    this.clearTimer()
    const stream = this.stream
    if (stream.destroyed) return
    try {
      if (!this.headersSent) {
        this.headersSent = true
        stream.respond(statusHeaders(status, true), TRAILERS_ONLY_OPTIONS)
        // like Kestrel: once the response is complete, a request still being sent is reset
        // with NO_ERROR so the client stops sending
        if (!stream.readableEnded) stream.close(NO_ERROR)
      } else {
        if ((status.code ?? Code.UNKNOWN) !== Code.OK || status.metadata !== undefined) {
          this.trailers = statusHeaders(status, false)
        }
        // trailers go after the messages ('wantTrailers'); a reset now could overtake them and
        // the client would see a call ended without a status, so a request still being sent
        // is left to the client, which ends it on the trailers
        stream.end()
      }
    } catch {
      // the stream went away meanwhile
    }
  }

  /**
   * Arms the deadline, `ms` from now. Deadlines longer than a timer allows (2^31-1 ms, about 24.8
   * days) are re-armed in steps, so every `grpc-timeout` is honoured as sent.
   */
  setDeadline(ms: number): void {
    this.deadlineAt = performance.now() + Math.max(0, ms)
    this.arm()
  }

  private arm(): void {
    const remaining = this.deadlineAt - performance.now()
    if (remaining > MAX_TIMER_MS) {
      this.timer = setTimeout(() => this.arm(), MAX_TIMER_MS)
    } else {
      this.timer = setTimeout(() => this.expire(), Math.max(0, remaining))
    }
    this.timer.unref?.()
  }

  private expire(): void {
    this.timer = undefined
    if (this.ended || this.cancelled) return
    this.sendStatus({ code: Code.DEADLINE_EXCEEDED, details: "Deadline exceeded" })
    this.cancelled = true
    this.emit("cancelled")
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
  }

  /** The client went away (RST_STREAM or a lost connection), or the call was reset. */
  onCancelled(): void {
    if (this.cancelled) return
    const wasEnded = this.ended
    this.cancelled = true
    this.ended = true
    this.clearTimer()
    if (!wasEnded) this.emit("cancelled")
  }
}

/**
 * The callback of unary and client-streaming handlers.
 *
 * @since 0.1.0
 * @category models
 */
export type UnaryCallback<Res = any> = (
  error: CallStatus | null,
  value?: Res | null | undefined,
  trailers?: TrailerSource | undefined
) => void

/**
 * A method implementation: unary and client-streaming handlers get a callback.
 *
 * @since 0.1.0
 * @category models
 */
export type Handler = ((call: ServerCall<any, any>, callback: UnaryCallback<any>) => void) | ((call: ServerCall<any, any>) => void)

/**
 * A service implementation: method name to handler.
 *
 * @since 0.1.0
 * @category models
 */
export type ServiceImplementation = { readonly [method: string]: Handler }
