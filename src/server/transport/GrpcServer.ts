/**
 * The node's gRPC server on Node's own `http2` module (nghttp2): routes `/package.Service/Method`
 * to handlers using generated service definitions, unframes requests (with a maximum message
 * size per service), reads `grpc-timeout`, and answers through {@link ServerCall}. nghttp2 is
 * configured like a real node's Kestrel: 100 concurrent streams per connection, a limited and
 * advertised header list size, a session memory cap, and its flood protections (pings,
 * settings, rejected streams, invalid frames, reset rate). HTTP/1.1 requests on the same port go
 * to an `http.Server` (see {@link Listener}).
 *
 * A unary or server-streaming call must deliver its request as a real node's Kestrel requires a
 * request body to arrive: at least {@link GrpcServerOptions.minRequestDataRate} bytes per second
 * on average once {@link GrpcServerOptions.requestGracePeriodMs} have passed (Kestrel's
 * `MinRequestBodyDataRate`, 240 B/s with a 5 s grace period, left at its default by KurrentDB's
 * `src/KurrentDB/Program.cs`; ASP.NET Core gRPC lifts it only for client-streaming and duplex
 * methods, in their call handlers). A call that falls behind aborts its connection with GOAWAY
 * INTERNAL_ERROR, as Kestrel's `Http2Connection` does on a read-rate timeout; so a call opened
 * with HEADERS and nothing more no longer holds its connection for ever.
 *
 * @since 0.1.0
 */
import * as http from "node:http"
import * as http2 from "node:http2"
import { Code } from "../../generated/code.ts"
import { Listener, type ListenerOptions, type ServerTls } from "./Listener.ts"
import { MessageReader } from "./MessageFraming.ts"
import {
  CallGroup,
  type CallStatus,
  type Handler,
  type MethodDefinition,
  parseTimeout,
  ServerCall,
  type ServiceDefinition,
  type ServiceImplementation,
  statusHeaders,
  type UnaryCallback
} from "./ServerCall.ts"

export type { ServerTls }

/**
 * Limits of the gRPC server (defaults as a real node's Kestrel / ASP.NET Core gRPC).
 *
 * @since 0.1.0
 * @category models
 */
export interface GrpcServerOptions extends ListenerOptions {
  /**
   * Asked with a call's headers before the call is set up; when it answers a promise, the call
   * (its request body included: the stream is not read meanwhile) waits for it. The node checks
   * the call's password there, off the event loop (`Auth.prepare`).
   */
  readonly beforeCall?: ((headers: http2.IncomingHttpHeaders) => Promise<void> | undefined) | undefined
  /** Concurrent streams per connection (SETTINGS_MAX_CONCURRENT_STREAMS); default 100. */
  readonly maxConcurrentStreams?: number | undefined
  /** Largest request message of a service without its own limit; default 4 MiB. */
  readonly maxReceiveMessageSize?: number | undefined
  /** SETTINGS_MAX_HEADER_LIST_SIZE, advertised and enforced; default 32 KiB. */
  readonly maxHeaderListSize?: number | undefined
  /** nghttp2's session memory cap in MiB (Node's `maxSessionMemory`); default 32. */
  readonly maxSessionMemoryMb?: number | undefined
  /** Output a call may leave unread before it is reset; default 1 MiB. */
  readonly maxPendingBytesPerCall?: number | undefined
  /**
   * Output all calls of a connection may leave unread before a call writing past its own
   * backpressure is reset (a call that waited for 'drain' is not); default 16 MiB.
   */
  readonly maxPendingBytesPerConnection?: number | undefined
  /**
   * Bytes of incomplete request messages held at once, over all calls and connections; a call
   * whose message would pass it is answered RESOURCE_EXHAUSTED. Default 128 MiB.
   */
  readonly maxBufferedRequestBytes?: number | undefined
  /** Receive window per stream (SETTINGS_INITIAL_WINDOW_SIZE); default 1 MiB. */
  readonly initialWindowSize?: number | undefined
  /** Time a unary or server-streaming call has to deliver its request before its rate is checked; default 5000 ms (Kestrel's). */
  readonly requestGracePeriodMs?: number | undefined
  /** Average bytes per second such a call's request must arrive at after the grace period; default 240 (Kestrel's). */
  readonly minRequestDataRate?: number | undefined
}

/** A unary or server-streaming call still receiving its request. */
interface AwaitedRequest {
  readonly session: http2.Http2Session
  readonly started: number
  bytes: number
}

interface Route {
  readonly method: MethodDefinition
  readonly handler: Handler
  readonly maxReceiveMessageSize: number
}

const DEFAULT_MAX_RECEIVE = 4 * 1024 * 1024

const unaryCallback = (call: ServerCall): UnaryCallback => (error, value, trailers) => {
  if (error !== null && error !== undefined) {
    call.sendStatus({
      code: typeof error.code === "number" ? error.code : Code.UNKNOWN,
      details: error.details ?? error.message ?? "",
      metadata: error.metadata
    })
    return
  }
  if (call.closed) return
  call.write(value)
  call.end(trailers)
}

const respondStatus = (stream: http2.ServerHttp2Stream, code: number, details: string): void => {
  if (stream.destroyed || stream.headersSent) return
  stream.respond(statusHeaders({ code, details }, true), { endStream: true })
  if (!stream.readableEnded) stream.close(http2.constants.NGHTTP2_NO_ERROR)
}

const noop = () => {}

/**
 * A gRPC server on `node:http2`.
 *
 * @since 0.1.0
 * @category models
 */
export class GrpcServer {
  private readonly routes = new Map<string, Route>()
  private readonly options: GrpcServerOptions
  private readonly h2: http2.Http2Server
  private readonly listener: Listener
  private readonly sessions = new Set<http2.ServerHttp2Session>()
  private readonly openCalls = new WeakMap<http2.Http2Session, number>()
  private readonly groups = new WeakMap<http2.Http2Session, CallGroup>()
  private readonly maxPendingBytes: number
  private readonly maxBufferedRequestBytes: number
  /** Bytes of incomplete request messages held by all calls. */
  private bufferedRequestBytes = 0
  /** Open calls of streaming methods (client-, server- or duplex-streaming). */
  private readonly streamingCalls = new Set<ServerCall>()
  /** Unary and server-streaming calls whose request has not fully arrived. */
  private readonly awaited = new Set<AwaitedRequest>()
  private rateTimer: ReturnType<typeof setInterval> | undefined
  private readonly gracePeriodMs: number
  private readonly minRequestDataRate: number

  constructor(options: GrpcServerOptions = {}) {
    this.options = options
    this.maxPendingBytes = options.maxPendingBytesPerCall ?? 1024 * 1024
    this.maxBufferedRequestBytes = options.maxBufferedRequestBytes ?? 128 * 1024 * 1024
    this.gracePeriodMs = options.requestGracePeriodMs ?? 5000
    this.minRequestDataRate = options.minRequestDataRate ?? 240
    const maxHeaderListSize = options.maxHeaderListSize ?? 32 * 1024
    this.h2 = http2.createServer({
      settings: {
        maxConcurrentStreams: options.maxConcurrentStreams ?? 100,
        maxHeaderListSize,
        initialWindowSize: options.initialWindowSize ?? 1024 * 1024,
        enablePush: false
      },
      maxHeaderListPairs: 128,
      maxSessionMemory: options.maxSessionMemoryMb ?? 32,
      maxOutstandingPings: 10,
      maxSettings: 32,
      maxSessionRejectedStreams: 100,
      maxSessionInvalidFrames: 1000,
      // nghttp2's rapid-reset protection (CVE-2023-44487): a burst of 1000 RST_STREAMs, then 33/s
      streamResetBurst: 1000,
      streamResetRate: 33,
      // the idle timeout is the listener's (per connection)
      unknownProtocolTimeout: 10_000
    })
    this.h2.on("session", (session: http2.ServerHttp2Session) => this.onSession(session))
    this.h2.on("stream", (stream, headers) => this.onStream(stream, headers))
    this.h2.on("sessionError", noop)
    this.listener = new Listener(this.h2, options)
  }

  /** Registers the handlers of a service; `maxReceiveMessageSize` overrides the server's. */
  addService(
    definition: ServiceDefinition,
    implementation: ServiceImplementation,
    options: { readonly maxReceiveMessageSize?: number | undefined } = {}
  ): void {
    const maxReceiveMessageSize = options.maxReceiveMessageSize ?? this.options.maxReceiveMessageSize ?? DEFAULT_MAX_RECEIVE
    for (const name of Object.keys(definition)) {
      const method = definition[name]!
      const handler = implementation[name]
      if (handler === undefined) continue
      this.routes.set(method.path, { method, handler, maxReceiveMessageSize })
    }
  }

  /**
   * Serves the HTTP requests arriving on the same port that are not gRPC calls: HTTP/1.1 ones, and
   * HTTP/2 ones without an `application/grpc` content type (a browser negotiates `h2` over TLS),
   * through Node's HTTP/2 compatibility request and response.
   */
  onHttpRequest(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): void {
    this.listener.http1.on("request", handler)
    this.httpHandler = handler
  }

  private httpHandler: ((req: http.IncomingMessage, res: http.ServerResponse) => void) | undefined

  /** Open connections (HTTP/2 and HTTP/1.1). */
  get connectionCount(): number {
    return this.listener.connectionCount
  }

  /** Connections that have not completed a request yet. */
  get pendingConnectionCount(): number {
    return this.listener.pendingCount
  }

  /** Listens on `host:port`: cleartext, or TLS when `secure` is given. */
  listen(host: string, port: number, secure?: ServerTls | undefined): Promise<number> {
    // like Kestrel's heartbeat (1 s): checks the calls still receiving their request
    const tick = Math.max(50, Math.min(1000, Math.floor(this.gracePeriodMs / 4)))
    this.rateTimer ??= setInterval(() => this.checkRequestRates(), tick)
    this.rateTimer.unref()
    return this.listener.listen(host, port, secure)
  }

  /** Aborts the connections of calls whose request arrives slower than the minimum rate. */
  private checkRequestRates(): void {
    const now = performance.now()
    for (const call of this.awaited) {
      const elapsed = now - call.started
      if (elapsed <= this.gracePeriodMs || call.bytes >= (this.minRequestDataRate * elapsed) / 1000) continue
      this.awaited.delete(call)
      // Kestrel: Http2Connection aborts the connection (GOAWAY INTERNAL_ERROR, "Reading the
      // request body timed out due to data arriving too slowly")
      if (!call.session.destroyed) {
        call.session.goaway(http2.constants.NGHTTP2_INTERNAL_ERROR)
        call.session.destroy()
      }
    }
  }

  private onSession(session: http2.ServerHttp2Session): void {
    this.sessions.add(session)
    session.on("error", noop)
    session.on("close", () => this.sessions.delete(session))
    const idle = this.listener.idleTimeout
    // like Kestrel's keep-alive timeout: only a connection without open calls is idle
    if (idle > 0) session.setTimeout(idle, () => {
      if (this.openCalls.get(session) === undefined) session.close()
    })
  }

  private onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    stream.on("error", noop)
    const session = stream.session
    if (session !== undefined) {
      this.openCalls.set(session, (this.openCalls.get(session) ?? 0) + 1)
      stream.once("close", () => {
        const n = (this.openCalls.get(session) ?? 1) - 1
        if (n === 0) this.openCalls.delete(session)
        else this.openCalls.set(session, n)
      })
    }
    const contentType = headers["content-type"]
    if (this.httpHandler !== undefined && (contentType === undefined || !contentType.startsWith("application/grpc"))) {
      // Node's own classes (the ones its 'request' event hands out), built for this one stream
      const Request = http2.Http2ServerRequest as unknown as new(s: http2.ServerHttp2Stream, h: http2.IncomingHttpHeaders, o: undefined, r: Array<string>) => http2.Http2ServerRequest
      const Response = http2.Http2ServerResponse as unknown as new(s: http2.ServerHttp2Stream, h: http2.IncomingHttpHeaders) => http2.Http2ServerResponse
      this.listener.markServed(stream.session?.socket)
      this.httpHandler(
        new Request(stream, headers, undefined, []) as unknown as http.IncomingMessage,
        new Response(stream, headers) as unknown as http.ServerResponse
      )
      return
    }
    if (headers[":method"] !== "POST") {
      stream.respond({ ":status": 405 }, { endStream: true })
      return
    }
    if (contentType === undefined || !contentType.startsWith("application/grpc")) {
      stream.respond({ ":status": 415 }, { endStream: true })
      return
    }
    const path = headers[":path"]
    const route = path === undefined ? undefined : this.routes.get(path)
    if (route === undefined) {
      respondStatus(stream, Code.UNIMPLEMENTED, `The server does not implement the method ${path ?? ""}`)
      return
    }
    const ready = this.options.beforeCall?.(headers)
    if (ready === undefined) return this.startCall(stream, headers, route)
    void ready.then(() => {
      if (!stream.destroyed && !stream.closed) this.startCall(stream, headers, route)
    })
  }

  /** Sets up a routed call: its limits, its deadline, its request messages, its handler. */
  private startCall(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, route: Route): void {
    const session = stream.session
    const def = route.method
    let group = session === undefined ? undefined : this.groups.get(session)
    if (group === undefined && session !== undefined) {
      group = new CallGroup(this.options.maxPendingBytesPerConnection ?? 16 * 1024 * 1024)
      this.groups.set(session, group)
    }
    const call = new ServerCall(stream, def, headers, this.maxPendingBytes, group)
    if (def.requestStream || def.responseStream) {
      this.streamingCalls.add(call)
      stream.once("close", () => this.streamingCalls.delete(call))
    }
    const timeout = headers["grpc-timeout"]
    const ms = parseTimeout(typeof timeout === "string" ? timeout : undefined)
    if (ms !== undefined) call.setDeadline(ms)
    const encoding = headers["grpc-encoding"]
    let received = false
    let served = false
    let invalid = false
    let awaited: AwaitedRequest | undefined
    if (!def.requestStream && session !== undefined) {
      const entry: AwaitedRequest = { session, started: performance.now(), bytes: 0 }
      awaited = entry
      this.awaited.add(entry)
    }
    const reader = new MessageReader(
      (compressed, bytes) => {
        if (call.closed) return false
        if (!served) {
          // the connection completed a request: it is no longer closed to admit newcomers
          served = true
          this.listener.markServed(session?.socket)
        }
        if (compressed) {
          invalid = true
          call.sendStatus(
            encoding === undefined || encoding === "identity"
              ? { code: Code.INTERNAL, details: "Compressed flag set with identity encoding" }
              : { code: Code.UNIMPLEMENTED, details: `Received message compressed with unsupported encoding "${encoding}"` }
          )
          return false
        }
        let message: unknown
        try {
          message = def.requestDeserialize(bytes)
        } catch {
          invalid = true
          call.sendStatus({ code: Code.INTERNAL, details: "Error deserializing request" })
          return false
        }
        if (def.requestStream) {
          call.emit("data", message)
          return true
        }
        if (received) {
          invalid = true
          call.sendStatus({
            code: Code.UNIMPLEMENTED,
            details: `Received a second request message for server streaming method ${def.path}`
          })
          return false
        }
        received = true
        call.request = message
        return true
      },
      route.maxReceiveMessageSize,
      (size) => {
        // as ASP.NET Core gRPC answers, without reading the message
        invalid = true
        call.sendStatus({
          code: Code.RESOURCE_EXHAUSTED,
          details: `Received message exceeds the maximum configured message size (${size} > ${route.maxReceiveMessageSize}).`
        })
      }
    )
    // incomplete messages count against the node-wide cap while they wait for their rest
    let held = 0
    const release = () => {
      this.bufferedRequestBytes -= held
      held = 0
    }
    stream.on("data", (chunk: Buffer) => {
      if (awaited !== undefined) awaited.bytes += chunk.length
      if (invalid) return
      reader.push(chunk)
      const pending = reader.pendingBytes
      if (pending === held) return
      this.bufferedRequestBytes += pending - held
      held = pending
      if (pending > 0 && this.bufferedRequestBytes > this.maxBufferedRequestBytes) {
        invalid = true
        reader.stop()
        release()
        call.sendStatus({ code: Code.RESOURCE_EXHAUSTED, details: "The node holds too many incomplete request messages." })
      }
    })
    stream.once("close", () => {
      release()
      if (awaited !== undefined) this.awaited.delete(awaited)
    })
    const invoke = () => {
      try {
        if (def.responseStream) (route.handler as (call: ServerCall) => void)(call)
        else (route.handler as (call: ServerCall, cb: UnaryCallback) => void)(call, unaryCallback(call))
      } catch (e) {
        call.sendStatus({ code: Code.UNKNOWN, details: `Server method handler threw error ${(e as Error)?.message ?? ""}` })
      }
    }
    if (def.requestStream) {
      stream.on("end", () => {
        if (invalid || call.closed) return
        call.emit("end")
      })
      invoke()
      return
    }
    stream.on("end", () => {
      if (awaited !== undefined) this.awaited.delete(awaited)
      if (invalid || call.closed) return
      if (!received) {
        call.sendStatus({
          code: Code.UNIMPLEMENTED,
          details: `Received no request message for ${def.responseStream ? "server streaming" : "unary"} method ${def.path}`
        })
        return
      }
      invoke()
    })
  }

  /**
   * Ends every open streaming call with `status`, as a real node does when it stops (unary calls
   * are left to finish): see `EmbeddedNode.stop`.
   */
  endStreamingCalls(status: CallStatus): void {
    for (const call of Array.from(this.streamingCalls)) call.sendStatus(status)
    this.streamingCalls.clear()
  }

  /**
   * A cluster member cut from its clients (`true`): open connections are dropped and new ones
   * refused until it is called with `false`.
   */
  refuseConnections(refuse: boolean): void {
    this.listener.refusing = refuse
    if (refuse) {
      for (const session of Array.from(this.sessions)) session.destroy()
      this.listener.dropAll()
    }
  }

  /**
   * Graceful shutdown: stop accepting, GOAWAY every HTTP/2 connection, close idle HTTP/1.1 ones,
   * and resolve once all closed (or after `graceMs`, destroying what is left).
   */
  shutdown(graceMs = 1000): Promise<void> {
    if (this.rateTimer !== undefined) clearInterval(this.rateTimer)
    this.rateTimer = undefined
    this.awaited.clear()
    for (const session of this.sessions) session.close()
    return this.listener.close(graceMs)
  }
}
