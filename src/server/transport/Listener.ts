/**
 * The node's listening socket, serving HTTP/2 and HTTP/1.1 on one port as a real node does: with
 * TLS the protocol is chosen by ALPN (`h2` or `http/1.1`), in cleartext by the first bytes (the
 * HTTP/2 connection preface `PRI * HTTP/2.0` or anything else). Each accepted connection is
 * handed to the `node:http2` server or to an `http.Server` (neither listens itself; the HTTP/1.1
 * server's header and request timeouts are started here, since Node starts them on 'listening').
 * It also holds the connection limits, the time allowed to send the first bytes or finish the TLS
 * handshake, and the idle timeout.
 *
 * A connection is *pending* until it has completed a request (an HTTP/1.1 request's headers, or a
 * gRPC request message: see {@link Listener.markServed}). Pending connections count against their
 * own limit ({@link ListenerOptions.maxPendingConnections}) as well as the total: when either is
 * reached, the oldest pending connection is closed to admit the newcomer, so connections that
 * never send a request cannot keep clients out; a newcomer is refused only when every
 * connection has been served.
 *
 * @since 0.1.0
 */
import * as http from "node:http"
import type * as http2 from "node:http2"
import * as net from "node:net"
import * as tls from "node:tls"

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
 * Connection-level options.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListenerOptions {
  /**
   * Connections open at once. At the limit, the oldest pending connection (no request completed
   * yet) is closed to admit a newcomer; with none pending the newcomer is closed. Default 1000.
   */
  readonly maxConnections?: number | undefined
  /** Pending connections (no request completed yet) open at once; past it the oldest is closed. Default 500. */
  readonly maxPendingConnections?: number | undefined
  /** A connection with no traffic for this long is closed; default 130 s (Kestrel's keep-alive timeout), 0 = never. */
  readonly idleTimeoutMs?: number | undefined
  /** Time allowed for the TLS handshake, the first bytes and HTTP/1.1 request headers; default 10 s. */
  readonly handshakeTimeoutMs?: number | undefined
}

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n")
const SNIFF_BYTES = 4

/** The accepted (TCP) socket of a connection, set on it and on its TLS socket; readable through http2's socket proxy. */
const CONNECTION = Symbol.for("effect-esdb/server/Listener/connection")

type Tagged = { [CONNECTION]?: net.Socket | undefined }

/**
 * Accepts connections for an HTTP/2 server and an HTTP/1.1 server on one port.
 *
 * @since 0.1.0
 * @category models
 */
export class Listener {
  /** Where HTTP/1.1 connections go; add a `request` listener to serve them. */
  readonly http1: http.Server
  private readonly h2: http2.Http2Server
  private readonly options: ListenerOptions
  /** Accepted sockets (TCP, under TLS too), oldest first. */
  private readonly sockets = new Set<net.Socket>()
  /** Accepted sockets of connections with no completed request yet, oldest first. */
  private readonly pending = new Set<net.Socket>()
  private server: net.Server | undefined
  private closeWaiters: Array<() => void> = []
  private readonly busy = new WeakMap<net.Socket, number>()
  private readonly http1Sockets = new Set<net.Socket>()
  private closing = false

  constructor(h2: http2.Http2Server, options: ListenerOptions) {
    this.h2 = h2
    this.options = options
    const handshake = options.handshakeTimeoutMs ?? 10_000
    this.http1 = http.createServer({
      maxHeaderSize: 16 * 1024,
      requestTimeout: handshake * 3,
      headersTimeout: handshake,
      // how often the headers and request timeouts are checked
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(handshake / 4)))
    })
    this.http1.keepAliveTimeout = this.idleTimeout === 0 ? 5000 : Math.min(this.idleTimeout, 130_000)
    this.http1.on("clientError", (_e, socket) => socket.destroy())
    // Node's http.Server starts checking headersTimeout / requestTimeout on 'listening' (its
    // connections tracking); this one never listens itself (the Listener hands it connections)
    this.http1.emit("listening")
    // requests in flight per HTTP/1.1 connection: at shutdown idle ones close at once, the others
    // once their response is sent (an http.Server that never listened tracks none itself)
    this.http1.prependListener("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
      const socket = req.socket
      this.markServed(socket)
      this.busy.set(socket, (this.busy.get(socket) ?? 0) + 1)
      res.once("close", () => {
        const n = (this.busy.get(socket) ?? 1) - 1
        if (n > 0) this.busy.set(socket, n)
        else this.busy.delete(socket)
        if (this.closing && n <= 0) socket.destroySoon()
      })
    })
  }

  /** The idle timeout in ms (0 = never). */
  get idleTimeout(): number {
    return this.options.idleTimeoutMs ?? 130_000
  }

  /** Open connections. */
  get connectionCount(): number {
    return this.sockets.size
  }

  /** Open connections that have not completed a request yet. */
  get pendingCount(): number {
    return this.pending.size
  }

  /**
   * Marks the connection of `socket` (its TCP or TLS socket, or http2's proxy of either) as
   * served: it completed a request, and is no longer closed to admit newcomers.
   */
  markServed(socket: object | undefined): void {
    const accepted = (socket as Tagged | undefined)?.[CONNECTION]
    if (accepted !== undefined) this.pending.delete(accepted)
  }

  /** Listens on `host:port` (TLS when `secure` is given); resolves with the bound port. */
  listen(host: string, port: number, secure?: ServerTls | undefined): Promise<number> {
    const handshake = this.options.handshakeTimeoutMs ?? 10_000
    const server = secure === undefined
      ? net.createServer({ noDelay: true })
      : tls.createServer({
        cert: secure.cert,
        key: secure.key,
        ...(secure.ca === undefined ? {} : { ca: secure.ca }),
        ALPNProtocols: ["h2", "http/1.1"],
        handshakeTimeout: handshake,
        requestCert: false,
        noDelay: true
      }, (socket) => this.dispatch(socket, socket.alpnProtocol === "h2"))
    // limits are applied per accepted socket (admit), before the TLS handshake
    server.on("connection", (socket: net.Socket) => {
      if (this.admit(socket) && secure === undefined) this.sniff(socket)
    })
    server.on("tlsClientError", (_e: Error, socket: net.Socket) => socket.destroy())
    server.on("error", () => {})
    this.server = server
    return new Promise<number>((resolve, reject) => {
      server.once("error", reject)
      server.listen(port, host, () => {
        server.removeListener("error", reject)
        const address = server.address()
        resolve(typeof address === "object" && address !== null ? address.port : port)
      })
    })
  }

  /**
   * Counts an accepted socket against the limits: at either limit the oldest pending connection
   * is closed, or, with none pending, this one.
   */
  /** While true every connection is dropped as it arrives (a cluster member cut from its clients). */
  refusing = false

  /** Drops every open connection (a cluster member cut from its clients, or killed). */
  dropAll(): void {
    for (const socket of Array.from(this.sockets)) socket.destroy()
    for (const socket of Array.from(this.http1Sockets)) socket.destroy()
  }

  private admit(socket: net.Socket): boolean {
    socket.on("error", () => {})
    const maxConnections = this.options.maxConnections ?? 1000
    const maxPending = this.options.maxPendingConnections ?? 500
    if (this.closing || this.refusing) {
      socket.destroy()
      return false
    }
    while (this.pending.size > 0 && (this.sockets.size >= maxConnections || this.pending.size >= maxPending)) {
      const oldest = this.pending.values().next().value!
      this.forget(oldest)
      oldest.destroy()
    }
    if (this.sockets.size >= maxConnections) {
      socket.destroy()
      return false
    }
    ;(socket as Tagged)[CONNECTION] = socket
    this.sockets.add(socket)
    this.pending.add(socket)
    socket.once("close", () => this.forget(socket))
    return true
  }

  private forget(socket: net.Socket): void {
    this.pending.delete(socket)
    if (!this.sockets.delete(socket)) return
    if (this.sockets.size === 0) for (const w of this.closeWaiters.splice(0)) w()
  }

  /** Cleartext: waits for the first bytes, then hands the socket to HTTP/2 or HTTP/1.1. */
  private sniff(socket: net.Socket): void {
    socket.setTimeout(this.options.handshakeTimeoutMs ?? 10_000, () => socket.destroy())
    let seen: Buffer = Buffer.alloc(0)
    const onData = (chunk: Buffer) => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk])
      const n = Math.min(seen.length, SNIFF_BYTES)
      const isPreface = seen.subarray(0, n).equals(PREFACE.subarray(0, n))
      if (isPreface && seen.length < SNIFF_BYTES) return
      socket.removeListener("data", onData)
      socket.pause()
      socket.unshift(seen)
      socket.setTimeout(0)
      this.dispatch(socket, isPreface)
    }
    socket.on("data", onData)
  }

  private dispatch(socket: net.Socket, h2: boolean): void {
    // a TLS socket carries the accepted socket it wraps (Node keeps it as `_parent`; without it
    // the connection would stay counted as pending, still served)
    const tagged = socket as Tagged
    tagged[CONNECTION] ??= (socket as { _parent?: Tagged | undefined })._parent?.[CONNECTION]
    if (h2) {
      // the session takes what the sniffer put back, then nghttp2 reads the socket itself (no
      // resume: JS reads would compete). Its idle timeout is the session's (GrpcServer).
      this.h2.emit("connection", socket)
    } else {
      this.http1Sockets.add(socket)
      socket.once("close", () => this.http1Sockets.delete(socket))
      this.http1.emit("connection", socket)
      // the HTTP/1.1 parser reads what the sniffer put back only once the socket flows
      socket.resume()
    }
  }

  /**
   * Stops accepting; resolves once every connection closed (the caller asked HTTP/2 sessions to
   * GOAWAY), destroying what is left after `graceMs`.
   */
  close(graceMs: number): Promise<void> {
    this.server?.close()
    this.server = undefined
    this.closing = true
    // stops the HTTP/1.1 server's timeout checks (it never listened: the error is expected)
    this.http1.close(() => {})
    for (const socket of this.http1Sockets) if (!this.busy.has(socket)) socket.destroySoon()
    if (this.sockets.size === 0) return Promise.resolve()
    return new Promise<void>((resolve) => {
      let done = false
      const finish = () => {
        if (done) return
        done = true
        clearTimeout(timer)
        resolve()
      }
      const timer = setTimeout(() => {
        for (const socket of Array.from(this.sockets)) socket.destroy()
        finish()
      }, graceMs)
      this.closeWaiters.push(finish)
    })
  }
}
