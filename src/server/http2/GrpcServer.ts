/**
 * A small gRPC server over our own HTTP/2 connections: routes `/package.Service/Method` to
 * handlers using generated service definitions, frames and unframes length-prefixed messages,
 * reads metadata and `grpc-timeout`, and ends calls with `grpc-status` / `grpc-message` trailers
 * (Trailers-Only when nothing was sent). Handlers get a `ServerCall` with the subset of grpc-js's
 * server call API the node uses.
 *
 * @since 0.1.0
 */
import { EventEmitter } from "node:events"
import * as net from "node:net"
import * as tls from "node:tls"
import { Connection, type H2Stream } from "./Connection.ts"
import { frameMessage, MessageReader } from "../../internal/http2/GrpcFraming.ts"
import { encodeHeaders, type HeaderList } from "../../internal/http2/Hpack.ts"

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
 * Request metadata: lower-case keys; `-bin` values decoded to Buffers.
 *
 * @since 0.1.0
 * @category models
 */
export class RequestMetadata {
  private readonly headers: HeaderList
  constructor(headers: HeaderList) {
    this.headers = headers
  }

  /** All values of a key. */
  get(key: string): Array<string | Buffer> {
    const k = key.toLowerCase()
    const bin = k.endsWith("-bin")
    const out: Array<string | Buffer> = []
    const h = this.headers
    for (let i = 0; i < h.length; i += 2) {
      if (h[i] !== k) continue
      const v = h[i + 1]!
      if (bin) {
        for (const part of v.split(",")) out.push(Buffer.from(part.trim(), "base64"))
      } else {
        out.push(v)
      }
    }
    return out
  }

  /** First value of every (non-pseudo) key. */
  getMap(): Record<string, string | Buffer> {
    const map: Record<string, string | Buffer> = {}
    const h = this.headers
    for (let i = 0; i < h.length; i += 2) {
      const k = h[i]!
      if (k.startsWith(":") || k in map) continue
      map[k] = this.get(k)[0]!
    }
    return map
  }
}

/**
 * gRPC status codes used by the transport itself.
 *
 * @since 0.1.0
 * @category constants
 */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  UNIMPLEMENTED: 12,
  INTERNAL: 13
} as const

const RESPONSE_HEADERS = encodeHeaders([[":status", "200"], ["content-type", "application/grpc"]])
const OK_TRAILERS = encodeHeaders([["grpc-status", "0"]])

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

const trailerFields = (status: CallStatus, trailersOnly: boolean): Array<readonly [string, string]> => {
  const fields: Array<readonly [string, string]> = []
  if (trailersOnly) fields.push([":status", "200"], ["content-type", "application/grpc"])
  fields.push(["grpc-status", String(status.code ?? GrpcStatus.UNKNOWN)])
  const details = status.details ?? status.message ?? ""
  if (details.length > 0) fields.push(["grpc-message", percentEncode(details)])
  if (status.metadata !== undefined) {
    const headers = status.metadata.toHttp2Headers()
    for (const key of Object.keys(headers)) {
      if (key.startsWith(":") || key === "grpc-status" || key === "grpc-message") continue
      const value = headers[key]
      if (value === undefined) continue
      if (Array.isArray(value)) for (const v of value) fields.push([key, Buffer.from(String(v), "utf8").toString("latin1")])
      else fields.push([key, Buffer.from(String(value), "utf8").toString("latin1")])
    }
  }
  return fields
}

/**
 * Parses a `grpc-timeout` value to milliseconds (undefined when absent or malformed).
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
 * A server-side call: the request (unary and server-streaming methods), metadata, events
 * `data` / `end` (client-streaming), `cancelled` (client cancel, deadline, disconnect) and
 * `drain` (after `write` returned false), and the ways to respond.
 *
 * @since 0.1.0
 * @category models
 */
export class ServerCall<Req = any, Res = any> extends EventEmitter {
  /** The request message of unary and server-streaming methods. */
  request: Req = undefined as Req
  readonly metadata: RequestMetadata
  /** The call was cancelled (client cancel, deadline, disconnect); writes are ignored. */
  cancelled = false
  private ended = false
  private headersSent = false
  private readonly stream: H2Stream
  private readonly method: MethodDefinition
  private timer: ReturnType<typeof setTimeout> | undefined

  constructor(stream: H2Stream, method: MethodDefinition, metadata: RequestMetadata) {
    super()
    this.stream = stream
    this.method = method
    this.metadata = metadata
  }

  /** The method path. */
  get path(): string {
    return this.method.path
  }

  /** The largest DATA frame payload the client accepts. */
  get maxFrameSize(): number {
    return this.stream.maxFrameSize
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
   * Sends bytes that already hold one or more length-prefixed messages, as one DATA frame when
   * they fit; false = wait for 'drain'.
   */
  writeFramed(framed: Buffer): boolean {
    if (this.ended || this.cancelled) return false
    if (!this.headersSent) {
      this.headersSent = true
      this.stream.sendHeaders(RESPONSE_HEADERS, false)
    }
    return this.stream.sendData(framed)
  }

  /** Ends the call with OK and optional trailing metadata. */
  end(trailers?: TrailerSource | undefined): void {
    this.sendStatus({ code: GrpcStatus.OK, metadata: trailers })
  }

  /** Ends the call with a status (Trailers-Only when nothing was sent yet). */
  sendStatus(status: CallStatus): void {
    if (this.ended || this.cancelled) return
    this.ended = true
    this.clearTimer()
    const trailersOnly = !this.headersSent
    this.headersSent = true
    const block = !trailersOnly && (status.code ?? 2) === 0 && status.metadata === undefined
      ? OK_TRAILERS
      : encodeHeaders(trailerFields(status, trailersOnly))
    this.stream.sendHeaders(block, true)
  }

  /** Arms the deadline. */
  setDeadline(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined
      if (this.ended || this.cancelled) return
      this.sendStatus({ code: GrpcStatus.DEADLINE_EXCEEDED, details: "Deadline exceeded" })
      this.cancelled = true
      this.emit("cancelled")
    }, Math.max(0, ms))
    this.timer.unref?.()
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
  }

  /** The client went away (RST_STREAM or a lost connection). */
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

interface Route {
  readonly method: MethodDefinition
  readonly handler: Handler
}

/**
 * TLS settings of a server.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerTls {
  readonly cert: Buffer
  readonly key: Buffer
  readonly ca?: Buffer | undefined
}

/**
 * Options of a gRPC server.
 *
 * @since 0.1.0
 * @category models
 */
export interface GrpcServerOptions {
  readonly maxConcurrentStreams?: number | undefined
  /** Receive window per stream and connection; default 4 MiB. */
  readonly receiveWindow?: number | undefined
}

const unaryCallback = (call: ServerCall): UnaryCallback => (error, value, trailers) => {
  if (error !== null && error !== undefined) {
    call.sendStatus({
      code: typeof error.code === "number" ? error.code : GrpcStatus.UNKNOWN,
      details: error.details ?? error.message ?? "",
      metadata: error.metadata
    })
    return
  }
  if (call.closed) return
  call.write(value)
  call.end(trailers)
}

/**
 * A gRPC server on our HTTP/2 implementation.
 *
 * @since 0.1.0
 * @category models
 */
export class GrpcServer {
  private readonly routes = new Map<string, Route>()
  private readonly connections = new Set<Connection>()
  private readonly options: GrpcServerOptions
  private listener: net.Server | undefined
  private closeWaiters: Array<() => void> = []

  constructor(options: GrpcServerOptions = {}) {
    this.options = options
  }

  /** Registers the handlers of a service. */
  addService(definition: ServiceDefinition, implementation: ServiceImplementation): void {
    for (const name of Object.keys(definition)) {
      const method = definition[name]!
      const handler = implementation[name]
      if (handler === undefined) continue
      this.routes.set(method.path, { method, handler })
    }
  }

  /** Open connections. */
  get connectionCount(): number {
    return this.connections.size
  }

  /** Listens on `host:port` (cleartext HTTP/2 with prior knowledge, or TLS with ALPN h2). */
  listen(host: string, port: number, secure?: ServerTls | undefined): Promise<number> {
    const onSocket = (socket: net.Socket) => this.accept(socket)
    const server = secure === undefined
      ? net.createServer(onSocket)
      : tls.createServer({
        cert: secure.cert,
        key: secure.key,
        ...(secure.ca === undefined ? {} : { ca: secure.ca }),
        ALPNProtocols: ["h2"],
        requestCert: false
      }, onSocket)
    server.on("tlsClientError", () => {})
    this.listener = server
    return new Promise<number>((resolve, reject) => {
      server.once("error", reject)
      server.listen(port, host, () => {
        server.removeListener("error", reject)
        const address = server.address()
        resolve(typeof address === "object" && address !== null ? address.port : port)
      })
    })
  }

  private accept(socket: net.Socket): void {
    const connection = new Connection(socket, {
      maxConcurrentStreams: this.options.maxConcurrentStreams ?? 100,
      receiveWindow: this.options.receiveWindow,
      onStream: (stream, headers) => this.onStream(stream, headers)
    })
    this.connections.add(connection)
    connection.onClose = () => {
      this.connections.delete(connection)
      if (this.connections.size === 0) for (const w of this.closeWaiters.splice(0)) w()
    }
  }

  private onStream(stream: H2Stream, headers: HeaderList): void {
    let method: string | undefined
    let path: string | undefined
    let contentType: string | undefined
    let timeout: string | undefined
    let encoding: string | undefined
    for (let i = 0; i < headers.length; i += 2) {
      switch (headers[i]) {
        case ":method":
          method = headers[i + 1]
          break
        case ":path":
          path = headers[i + 1]
          break
        case "content-type":
          contentType = headers[i + 1]
          break
        case "grpc-timeout":
          timeout = headers[i + 1]
          break
        case "grpc-encoding":
          encoding = headers[i + 1]
          break
      }
    }
    if (method !== "POST") {
      stream.sendHeaders(encodeHeaders([[":status", "405"]]), true)
      return
    }
    if (contentType === undefined || !contentType.startsWith("application/grpc")) {
      stream.sendHeaders(encodeHeaders([[":status", "415"]]), true)
      return
    }
    const route = path === undefined ? undefined : this.routes.get(path)
    if (route === undefined) {
      stream.sendHeaders(
        encodeHeaders(trailerFields({
          code: GrpcStatus.UNIMPLEMENTED,
          details: `The server does not implement the method ${path ?? ""}`
        }, true)),
        true
      )
      return
    }
    const def = route.method
    const call = new ServerCall(stream, def, new RequestMetadata(headers))
    const ms = parseTimeout(timeout)
    if (ms !== undefined) call.setDeadline(ms)
    stream.onReset = () => call.onCancelled()
    stream.onDrain = () => call.emit("drain")
    let received = false
    let invalid = false
    const reader = new MessageReader((compressed, bytes) => {
      if (call.closed) return false
      if (compressed) {
        invalid = true
        call.sendStatus(
          encoding === undefined || encoding === "identity"
            ? { code: GrpcStatus.INTERNAL, details: "Compressed flag set with identity encoding" }
            : { code: GrpcStatus.UNIMPLEMENTED, details: `Received message compressed with unsupported encoding "${encoding}"` }
        )
        return false
      }
      let message: unknown
      try {
        message = def.requestDeserialize(bytes)
      } catch {
        invalid = true
        call.sendStatus({ code: GrpcStatus.INTERNAL, details: "Error deserializing request" })
        return false
      }
      if (def.requestStream) {
        call.emit("data", message)
        return true
      }
      if (received) {
        invalid = true
        call.sendStatus({
          code: GrpcStatus.UNIMPLEMENTED,
          details: `Received a second request message for server streaming method ${def.path}`
        })
        return false
      }
      received = true
      call.request = message
      return true
    })
    stream.onData = (chunk) => {
      if (!invalid) reader.push(chunk)
    }
    const invoke = () => {
      try {
        if (def.responseStream) (route.handler as (call: ServerCall) => void)(call)
        else (route.handler as (call: ServerCall, cb: UnaryCallback) => void)(call, unaryCallback(call))
      } catch (e) {
        call.sendStatus({ code: GrpcStatus.UNKNOWN, details: `Server method handler threw error ${(e as Error)?.message ?? ""}` })
      }
    }
    if (def.requestStream) {
      stream.onEnd = () => {
        if (invalid || call.closed) return
        call.emit("end")
      }
      invoke()
      return
    }
    stream.onEnd = () => {
      if (invalid || call.closed) return
      if (!received) {
        call.sendStatus({
          code: GrpcStatus.UNIMPLEMENTED,
          details: `Received no request message for ${def.responseStream ? "server streaming" : "unary"} method ${def.path}`
        })
        return
      }
      invoke()
    }
  }

  /**
   * Graceful shutdown: stop accepting, GOAWAY every connection and resolve once all closed (or
   * after `graceMs`, destroying what is left).
   */
  shutdown(graceMs = 1000): Promise<void> {
    const listener = this.listener
    this.listener = undefined
    listener?.close()
    for (const connection of this.connections) connection.goAway()
    if (this.connections.size === 0) return Promise.resolve()
    return new Promise<void>((resolve) => {
      let done = false
      const finish = () => {
        if (done) return
        done = true
        clearTimeout(timer)
        resolve()
      }
      const timer = setTimeout(() => {
        for (const connection of Array.from(this.connections)) connection.destroy()
        finish()
      }, graceMs)
      this.closeWaiters.push(finish)
    })
  }
}

