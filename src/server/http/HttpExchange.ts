/**
 * What every HTTP API endpoint of the node shares: the caller's principal through the node's one
 * access check (`Auth.authorize`, with the `Authorization` header as gRPC calls carry it), JSON
 * and text replies, a request body read within a limit, and the answers of a refused call
 * (401 with a Basic challenge unless the request says it comes from script, 403, 404, 405, 413).
 *
 * @since 0.1.0
 */
import type * as http from "node:http"
import { type Access, type Auth, type MetadataReader, type Principal } from "../Auth.ts"
import { isRpcFailure } from "../errors.ts"

/**
 * One request and its response.
 *
 * @since 0.1.0
 * @category models
 */
export interface HttpExchange {
  readonly req: http.IncomingMessage
  readonly res: http.ServerResponse
  /** The path, percent-decoded per segment (`/streams/%24all` → segments `["streams", "$all"]`). */
  readonly segments: ReadonlyArray<string>
  readonly query: URLSearchParams
}

/**
 * Splits a request's target into decoded path segments and its query, or `undefined` for a target
 * that does not decode.
 *
 * @since 0.1.0
 * @category constructors
 */
export const exchangeOf = (req: http.IncomingMessage, res: http.ServerResponse): HttpExchange | undefined => {
  const target = req.url ?? "/"
  const q = target.indexOf("?")
  const path = q < 0 ? target : target.slice(0, q)
  try {
    const segments = path.split("/").filter((s) => s !== "").map((s) => decodeURIComponent(s))
    return { req, res, segments, query: new URLSearchParams(q < 0 ? "" : target.slice(q + 1)) }
  } catch {
    return undefined
  }
}

const headersOf = (req: http.IncomingMessage): MetadataReader => ({
  get: (key: string) => {
    const v = req.headers[key.toLowerCase()]
    return v === undefined ? [] : Array.isArray(v) ? v : [v]
  }
})

/**
 * The caller, if `access` allows it; otherwise the refusal is sent (401 for missing or bad
 * credentials, 403 for an authenticated user without the right) and `undefined` returned.
 *
 * @since 0.1.0
 * @category authorization
 */
export const authorize = (auth: Auth, ex: HttpExchange, access: Access): Principal | undefined => {
  const outcome = auth.authorize(headersOf(ex.req), access)
  if (!isRpcFailure(outcome)) return outcome
  const authenticated = auth.authenticate(headersOf(ex.req))
  if (authenticated._tag === "Unauthenticated" || !authenticated.principal.isAuthenticated) {
    // a page's script asks not to get the browser's own login dialog (it shows its own form)
    const fromScript = ex.req.headers["x-requested-with"] === "XMLHttpRequest"
    text(ex.res, 401, "Unauthorized", fromScript ? {} : { "www-authenticate": `Basic realm="effect-esdb", charset="UTF-8"` })
  } else {
    text(ex.res, 403, "Access Denied")
  }
  return undefined
}

/**
 * Sends JSON.
 *
 * @since 0.1.0
 * @category replies
 */
export const json = (
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
  contentType = "application/json"
): void => {
  const text = JSON.stringify(body, null, 2)
  res.writeHead(status, {
    "content-type": `${contentType}; charset=utf-8`,
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-cache",
    ...headers
  })
  res.end(text)
}

/**
 * Sends plain text.
 *
 * @since 0.1.0
 * @category replies
 */
export const text = (res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void => {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body), ...headers })
  res.end(body)
}

/**
 * Answers 405 with the methods allowed.
 *
 * @since 0.1.0
 * @category replies
 */
export const methodNotAllowed = (res: http.ServerResponse, allow: string): void =>
  text(res, 405, "Method Not Allowed", { allow })

/**
 * Reads the request body, up to `limit` bytes: past it the answer is 413 and the connection is
 * closed after it (nothing more is read), and the promise resolves `undefined`. A body not
 * complete within `timeoutMs` (default 30 s, the whole-request limit of HTTP/1.1 requests, which
 * HTTP/2 requests do not have otherwise) is answered 408 and its request destroyed.
 *
 * @since 0.1.0
 * @category requests
 */
export const readBody = (ex: HttpExchange, limit: number, timeoutMs = 30_000): Promise<Buffer | undefined> =>
  new Promise((resolve) => {
    const timer = setTimeout(() => {
      if (done) return
      done = true
      if (!ex.res.headersSent) text(ex.res, 408, "Request body not received in time")
      ex.req.removeAllListeners("data")
      setImmediate(() => ex.req.destroy())
      resolve(undefined)
    }, timeoutMs)
    const clear = () => clearTimeout(timer)
    const declared = Number(ex.req.headers["content-length"] ?? "0")
    const tooLarge = () => {
      // HTTP/1.1: the connection closes after the answer (the rest of the body is never read);
      // HTTP/2: the answer ends the stream, and its unread body is reset
      const http1 = ex.req.httpVersionMajor === 1
      if (http1) ex.res.shouldKeepAlive = false
      text(ex.res, 413, `Request body larger than ${limit} bytes`, http1 ? { connection: "close" } : {})
      ex.req.removeAllListeners("data")
      ex.req.pause()
      resolve(undefined)
    }
    const chunks: Array<Buffer> = []
    let size = 0
    let done = false
    if (Number.isFinite(declared) && declared > limit) {
      done = true
      clear()
      return tooLarge()
    }
    ex.req.on("data", (chunk: Buffer) => {
      if (done) return
      size += chunk.length
      if (size > limit) {
        done = true
        clear()
        return tooLarge()
      }
      chunks.push(chunk)
    })
    ex.req.on("end", () => {
      if (done) return
      done = true
      clear()
      resolve(Buffer.concat(chunks))
    })
    ex.req.on("error", () => {
      if (done) return
      done = true
      clear()
      resolve(undefined)
    })
    ex.req.on("close", () => {
      if (done) return
      done = true
      clear()
      resolve(undefined)
    })
  })

/**
 * The base URL of a request (scheme, and the `Host` it was sent to), for links in replies.
 *
 * @since 0.1.0
 * @category requests
 */
export const baseUrl = (req: http.IncomingMessage): string => {
  const secure = (req.socket as { encrypted?: boolean }).encrypted === true
  const host = req.headers.host ?? (req.headers[":authority"] as string | undefined) ?? "localhost"
  return `${secure ? "https" : "http"}://${host}`
}
