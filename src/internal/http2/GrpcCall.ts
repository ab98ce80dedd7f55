/**
 * A bidirectional-streaming gRPC call on a {@link ClientSession}: length-prefixed messages both
 * ways, and the call's status from its trailers, reported in the shape grpc-js gives a failed
 * call (`code`, `details`, `metadata`) so that `classifyError` reads both alike.
 *
 * @internal
 */
import { Code } from "../../generated/code.ts"
import type { ClientSession, ClientStream } from "./ClientSession.ts"
import { ErrorCode } from "./Frames.ts"
import { frameMessage, MessageReader } from "./GrpcFraming.ts"
import type { HeaderList } from "./Hpack.ts"

/**
 * How a call ended: `code` 0 is a clean end; `metadata` holds the trailers (and the response
 * headers), without the reserved `grpc-status` / `grpc-message` and pseudo-headers.
 *
 * @internal
 */
export interface CallStatus {
  readonly code: number
  readonly details: string
  readonly metadata: Record<string, Array<string>>
}

/**
 * What a call reports: its messages, then exactly one status.
 *
 * @internal
 */
export interface CallHandlers<Resp> {
  readonly onMessage: (message: Resp) => void
  readonly onStatus: (status: CallStatus) => void
}

/**
 * The sending half of a call.
 *
 * @internal
 */
export interface DuplexCall<Req> {
  /** Sends one message. */
  readonly write: (message: Req) => void
  /** Sends bytes that already hold complete length-prefixed messages. */
  readonly writeFramed: (framed: Buffer) => void
  /** Half-closes the call. */
  readonly end: () => void
  /** Cancels the call; no status is reported after this. */
  readonly cancel: () => void
}

/**
 * Options of a call.
 *
 * @internal
 */
export interface CallOptions<Req, Resp> {
  /** `/package.Service/Method`. */
  readonly path: string
  /** Extra request headers (lower-case names), after the gRPC ones. */
  readonly headers: ReadonlyArray<readonly [string, string]>
  readonly userAgent: string
  readonly encode: (message: Req) => Uint8Array
  readonly decode: (bytes: Buffer) => Resp
}

/** gRPC status for an HTTP status that is not 200 (the gRPC spec's HTTP-to-gRPC mapping). */
const fromHttpStatus = (status: number): number => {
  switch (status) {
    case 400:
      return Code.INTERNAL
    case 401:
      return Code.UNAUTHENTICATED
    case 403:
      return Code.PERMISSION_DENIED
    case 404:
      return Code.UNIMPLEMENTED
    case 429:
    case 502:
    case 503:
    case 504:
      return Code.UNAVAILABLE
    default:
      return Code.UNKNOWN
  }
}

const decodeMessage = (text: string): string => {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

const isReserved = (name: string) => name.startsWith(":") || name === "grpc-status" || name === "grpc-message"

/**
 * Starts a call on `session`.
 *
 * @internal
 */
export const duplex = <Req, Resp>(
  session: ClientSession,
  options: CallOptions<Req, Resp>,
  handlers: CallHandlers<Resp>
): DuplexCall<Req> => {
  const metadata: Record<string, Array<string>> = {}
  const collect = (headers: HeaderList) => {
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!
      const value = headers[i + 1]!
      if (isReserved(name)) continue
      const list = metadata[name]
      if (list === undefined) metadata[name] = [value]
      else list.push(value)
    }
  }
  let httpCode: number | undefined
  let ended = false
  const finish = (status: CallStatus) => {
    if (ended) return
    ended = true
    handlers.onStatus(status)
  }

  const reader = new MessageReader((compressed, bytes) => {
    if (ended) return false
    if (compressed) {
      stream.cancel()
      finish({ code: Code.INTERNAL, details: "Received a compressed message, but no compression was negotiated", metadata })
      return false
    }
    let message: Resp
    try {
      message = options.decode(bytes)
    } catch (error) {
      stream.cancel()
      finish({ code: Code.INTERNAL, details: `Response message parsing error: ${String(error)}`, metadata })
      return false
    }
    handlers.onMessage(message)
    return !ended
  })
  const onData = (data: Buffer) => {
    if (!ended) reader.push(data)
  }

  const stream: ClientStream = session.request(
    [
      [":method", "POST"],
      [":scheme", session.scheme],
      [":path", options.path],
      [":authority", session.authority],
      ["content-type", "application/grpc"],
      ["te", "trailers"],
      ["user-agent", options.userAgent],
      ...options.headers
    ],
    {
      onHeaders: (headers) => {
        collect(headers)
        const at = headers.indexOf(":status")
        const status = at >= 0 && at % 2 === 0 ? headers[at + 1] : undefined
        if (status !== undefined && status !== "200") httpCode = fromHttpStatus(Number(status))
      },
      onData,
      onTrailers: (headers, trailersOnly) => {
        collect(headers)
        let grpcStatus: string | undefined
        let grpcMessage = ""
        let status: string | undefined
        for (let i = 0; i < headers.length; i += 2) {
          const name = headers[i]!
          const value = headers[i + 1]!
          if (name === "grpc-status") grpcStatus = value
          else if (name === "grpc-message") grpcMessage = decodeMessage(value)
          else if (name === ":status") status = value
        }
        if (trailersOnly && status !== undefined && status !== "200" && grpcStatus === undefined) {
          httpCode = fromHttpStatus(Number(status))
        }
        if (grpcStatus !== undefined) {
          const code = Number(grpcStatus)
          finish({ code: Number.isInteger(code) ? code : Code.UNKNOWN, details: grpcMessage, metadata })
        } else if (httpCode !== undefined) {
          finish({ code: httpCode, details: `Received HTTP status code ${status ?? "other than 200"}`, metadata })
        } else {
          finish({ code: Code.UNKNOWN, details: "No status received", metadata })
        }
      },
      onReset: (code) => {
        if (httpCode !== undefined) {
          finish({ code: httpCode, details: "Received a non-200 HTTP status", metadata })
        } else if (code === ErrorCode.REFUSED_STREAM) {
          finish({ code: Code.UNAVAILABLE, details: "Stream refused by server", metadata })
        } else if (code === ErrorCode.CANCEL) {
          finish({ code: Code.CANCELLED, details: "Call cancelled by the server", metadata })
        } else if (code === ErrorCode.NO_ERROR) {
          finish({ code: Code.INTERNAL, details: "The server ended the call without a status", metadata })
        } else {
          finish({ code: Code.INTERNAL, details: `Received RST_STREAM with code ${code}`, metadata })
        }
      },
      onError: (error, established) =>
        finish({
          code: Code.UNAVAILABLE,
          details: established ? error.message : `No connection established. Last error: ${error.message}`,
          metadata
        })
    }
  )

  return {
    write: (message) => {
      if (!ended) stream.write(frameMessage(options.encode(message)))
    },
    writeFramed: (framed) => {
      if (!ended) stream.write(framed)
    },
    end: () => stream.end(),
    cancel: () => {
      ended = true
      stream.cancel()
    }
  }
}
