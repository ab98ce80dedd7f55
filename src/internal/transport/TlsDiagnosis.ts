/**
 * Why a connection could not be made, when the connection string's `tls` does not match the
 * node: grpc-js only says "No connection established". A probe of the endpoint tells:
 *
 * - `tls=false` against a node that speaks TLS: a TLS handshake with it succeeds;
 * - `tls=true` against an insecure node: it answers a plain-text HTTP/2 connection (h2c) with its
 *   settings.
 *
 * Either way the failure becomes a `TlsFailed` saying what to change, and is not retried. The
 * probes use Node's `tls` and `http2` modules, and are bounded by the Clock.
 *
 * @internal
 */
import * as http2 from "node:http2"
import * as net from "node:net"
import * as tls from "node:tls"
import * as Effect from "effect/Effect"
import { TlsFailed } from "../../errors/TlsFailed.ts"
import type { Endpoint } from "../ConnectionString.ts"
import type { CallError } from "./CallError.ts"
import { isConnectFailure } from "./classifyError.ts"

/** How long a probe waits for the node's answer. */
const PROBE_TIMEOUT = "1 second"

const hostOf = (endpoint: Endpoint) => endpoint.host.startsWith("[") ? endpoint.host.slice(1, -1) : endpoint.host

/**
 * Whether the endpoint completes a TLS handshake.
 *
 * @internal
 */
export const speaksTls = (endpoint: Endpoint): Effect.Effect<boolean> =>
  Effect.callback<boolean>((resume) => {
    const host = hostOf(endpoint)
    const socket = tls.connect({
      host,
      port: endpoint.port,
      rejectUnauthorized: false,
      ALPNProtocols: ["h2"],
      ...(net.isIP(host) === 0 ? { servername: host } : {})
    })
    const finish = (result: boolean) => {
      socket.destroy()
      resume(Effect.succeed(result))
    }
    socket.once("secureConnect", () => finish(true))
    socket.once("error", () => finish(false))
    return Effect.sync(() => socket.destroy())
  }).pipe(Effect.timeoutOrElse({ duration: PROBE_TIMEOUT, orElse: () => Effect.succeed(false) }))

/**
 * Whether the endpoint answers plain-text HTTP/2 (an insecure node): it sends its settings.
 *
 * @internal
 */
export const speaksPlainHttp2 = (endpoint: Endpoint): Effect.Effect<boolean> =>
  Effect.callback<boolean>((resume) => {
    const host = hostOf(endpoint)
    const authority = `http://${net.isIPv6(host) ? `[${host}]` : host}:${endpoint.port}`
    const session = http2.connect(authority)
    const finish = (result: boolean) => {
      session.destroy()
      resume(Effect.succeed(result))
    }
    session.once("remoteSettings", () => finish(true))
    session.once("error", () => finish(false))
    session.once("close", () => finish(false))
    return Effect.sync(() => session.destroy())
  }).pipe(Effect.timeoutOrElse({ duration: PROBE_TIMEOUT, orElse: () => Effect.succeed(false) }))

/**
 * Diagnoses failures to connect of a connection whose string says `tls` (true or false) and whose
 * last endpoint is `lastEndpoint()`: a failure to connect to a node that speaks the other way
 * becomes a TlsFailed; any other failure is returned as it is.
 *
 * @internal
 */
export const make = (tlsEnabled: boolean, lastEndpoint: () => Endpoint | undefined) => {
  return <E extends CallError>(error: E): Effect.Effect<E | TlsFailed> => {
    const endpoint = lastEndpoint()
    if (endpoint === undefined || !isConnectFailure(error)) return Effect.succeed(error)
    const where = `${endpoint.host}:${endpoint.port}`
    return tlsEnabled
      ? Effect.map(speaksPlainHttp2(endpoint), (insecure): E | TlsFailed =>
        insecure
          ? new TlsFailed({
            reason: `${where} speaks plain-text HTTP/2, not TLS: this node is insecure: add tls=false to the connection string`,
            cause: error
          })
          : error)
      : Effect.map(speaksTls(endpoint), (isTls): E | TlsFailed =>
        isTls
          ? new TlsFailed({
            reason: `${where} speaks TLS but the connection string says tls=false: ` +
              `use tls=true (with TlsCaFile=<path> for a node whose CA is not trusted by the system)`,
            cause: error
          })
          : error)
  }
}
