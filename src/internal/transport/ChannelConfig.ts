/**
 * What grpc-js needs to talk to a node, built from {@link ConnectionSettings}: channel options,
 * channel credentials (insecure or TLS, with CA and user certificates) and the metadata sent with
 * every call (`connection-name`, `requires-leader`, Basic `authorization` over TLS only).
 *
 * @since 0.1.0
 */
import * as grpc from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { X509Certificate } from "node:crypto"
import { readFile } from "node:fs/promises"
import { InvalidConnectionString } from "../../errors/InvalidConnectionString.ts"
import type { ConnectionSettings } from "../ConnectionString.ts"
import { errorText } from "../errorText.ts"

/**
 * The `grpc.primary_user_agent` sent by this client.
 *
 * @since 0.1.0
 * @category constants
 */
export const userAgent = "effect-esdb/0.1.0"

/**
 * Largest message accepted from a node by default: 17 MiB (the largest event a node accepts is
 * 16 MiB, plus its envelope), as the official clients configure it. A larger message fails its
 * call with RESOURCE_EXHAUSTED before it is buffered whole.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxReceiveMessageLength = 17 * 1024 * 1024

/**
 * The default HTTP/2 flow-control (receive) window: 256 KiB, four times grpc-js's 64 KiB, which
 * starves fast readers (see PERFORMANCE.md). It is not larger because a reader whose consumer is
 * slower than the node holds a full window of received bytes at all times: with 4 MiB, V8 kept
 * those alive across young-generation collections and grew its heap by 110-140 MB over 1,000,000
 * streamed events; with 256 KiB by 35 MB, at the same events/s on loopback (BENCHMARKS.md).
 *
 * @since 0.1.0
 * @category constants
 */
export const flowControlWindow = 256 * 1024

/**
 * Keepalive interval and timeout used when the connection string sets none: 10 s each, the
 * official clients' defaults.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultKeepAlive = 10_000

/** Largest delay a Node timer accepts (2^31 - 1 ms); used for a "disabled" keepalive timeout. */
const maxTimerMillis = 2_147_483_647

/**
 * The grpc-js channel options for a connection:
 *
 * - `grpc.max_receive_message_length`: `maxReceiveMessageSize`, 17 MiB by default.
 * - `grpc.keepalive_time_ms` / `grpc.keepalive_timeout_ms`: from `KeepAliveInterval` /
 *   `KeepAliveTimeout` (10 s each by default). `KeepAliveInterval=-1` leaves keepalive off (the
 *   option is not set, grpc-js's default); `KeepAliveTimeout=-1` waits as long as a timer can.
 * - `grpc-node.flow_control_window`: `window`, {@link flowControlWindow} (256 KiB) by default.
 * - `grpc.primary_user_agent`: `effect-esdb/0.1.0`.
 *
 * Certificate verification (`TlsVerifyCert=false`) is not a channel option in grpc-js: it is part
 * of the credentials, see {@link channelCredentials}.
 *
 * @since 0.1.0
 * @category constructors
 */
export const channelOptions = (
  settings: ConnectionSettings,
  window: number = flowControlWindow,
  maxReceiveMessageSize: number = maxReceiveMessageLength
): grpc.ChannelOptions => {
  const options: grpc.ChannelOptions = {
    "grpc.max_receive_message_length": maxReceiveMessageSize,
    "grpc-node.flow_control_window": window,
    "grpc.primary_user_agent": userAgent,
    // channelz keeps per-call and per-message counters nobody reads here: a few % of a read
    "grpc.enable_channelz": 0
  }
  const { intervalMs, timeoutMs } = keepAlive(settings)
  if (intervalMs !== -1) {
    options["grpc.keepalive_time_ms"] = intervalMs
    options["grpc.keepalive_timeout_ms"] = timeoutMs
  }
  return options
}

/**
 * Keepalive of a connection's transports, from `KeepAliveInterval` / `KeepAliveTimeout` (10 s
 * each by default): `intervalMs` -1 means no keepalive; a `KeepAliveTimeout` of -1 waits as long
 * as a timer can.
 *
 * @since 0.1.0
 * @category constructors
 */
export const keepAlive = (settings: ConnectionSettings): { readonly intervalMs: number; readonly timeoutMs: number } => {
  const timeout = settings.keepAliveTimeout ?? defaultKeepAlive
  return {
    intervalMs: settings.keepAliveInterval ?? defaultKeepAlive,
    timeoutMs: timeout === -1 ? maxTimerMillis : timeout
  }
}

/**
 * PEM material given in code rather than as files in the connection string.
 *
 * @since 0.1.0
 * @category models
 */
export interface CertificateOverrides {
  /** CA certificate(s) to verify the server; `TlsCaFile` takes precedence. */
  readonly rootCertificates?: Uint8Array | string | undefined
  /** The user certificate's private key; `UserKeyFile` takes precedence. */
  readonly privateKey?: Uint8Array | string | undefined
  /** The user certificate (chain); `UserCertFile` takes precedence. */
  readonly certChain?: Uint8Array | string | undefined
}

/**
 * A certificate verifier that accepts any server identity (for `TlsVerifyCert=false`).
 */
const acceptAnyServerIdentity: grpc.VerifyOptions["checkServerIdentity"] = () => undefined

/**
 * How a connection is secured: the grpc-js channel credentials.
 *
 * @since 0.1.0
 * @category models
 */
export interface TransportSecurity {
  readonly credentials: grpc.ChannelCredentials
}

/**
 * The security of a connection's transports.
 *
 * - `Tls=false`: insecure credentials; certificates are not read.
 * - `Tls=true`: TLS. Root certificates come from `TlsCaFile` (which overrides
 *   `overrides.rootCertificates`, as the seed client does), else from `overrides.rootCertificates`,
 *   else the system roots. The user certificate and key come from `UserCertFile` / `UserKeyFile`,
 *   else from `overrides.certChain` / `overrides.privateKey`; the two must come together.
 * - `TlsVerifyCert=false`: the server certificate is not verified at all (neither its chain nor
 *   its host name), for development clusters with self-signed certificates.
 *
 * Fails with {@link InvalidConnectionString} when a file cannot be read (naming the key, the path
 * and the reason), when only one of certificate and key is given, or when the PEM material is
 * rejected by Node's TLS. Its `connectionString` then holds the offending `key=value` only.
 *
 * @since 0.1.0
 * @category constructors
 */
export const transportSecurity = (
  settings: ConnectionSettings,
  overrides?: CertificateOverrides
): Effect.Effect<TransportSecurity, InvalidConnectionString> =>
  Effect.gen(function*() {
    if (!settings.tls) return { credentials: grpc.credentials.createInsecure() }
    const fromFile = (key: string, path: string | undefined) =>
      path === undefined ? Effect.succeed(undefined) : readPem(key, path)
    const caFile = yield* fromFile("TlsCaFile", settings.tlsCaFile)
    const certFile = yield* fromFile("UserCertFile", settings.userCertFile)
    const keyFile = yield* fromFile("UserKeyFile", settings.userKeyFile)
    const rootCerts = caFile ?? toBuffer(overrides?.rootCertificates)
    if (rootCerts !== undefined) {
      // Node silently ignores CA data without certificates, which would only surface later as
      // an unexplained handshake failure: check it here.
      yield* checkCertificates(
        caFile !== undefined ? `TlsCaFile "${settings.tlsCaFile}"` : "rootCertificates",
        caFile !== undefined ? `TlsCaFile=${settings.tlsCaFile}` : "",
        rootCerts
      )
    }
    const certChain = certFile ?? toBuffer(overrides?.certChain)
    const privateKey = keyFile ?? toBuffer(overrides?.privateKey)
    if ((certChain === undefined) !== (privateKey === undefined)) {
      const [given, missing] = certChain === undefined
        ? [settings.userKeyFile !== undefined ? "UserKeyFile" : "privateKey", "a user certificate (UserCertFile or certChain)"]
        : [settings.userCertFile !== undefined ? "UserCertFile" : "certChain", "its private key (UserKeyFile or privateKey)"]
      return yield* new InvalidConnectionString({
        reason: `${given} was given without ${missing}: a user certificate and its key must come together`,
        connectionString: given === "UserCertFile"
          ? `UserCertFile=${settings.userCertFile}`
          : given === "UserKeyFile"
          ? `UserKeyFile=${settings.userKeyFile}`
          : ""
      })
    }
    const verifyOptions: grpc.VerifyOptions = settings.tlsVerifyCert
      ? {}
      : { rejectUnauthorized: false, checkServerIdentity: acceptAnyServerIdentity }
    const credentials = yield* Effect.try({
      try: () => grpc.credentials.createSsl(rootCerts ?? null, privateKey ?? null, certChain ?? null, verifyOptions),
      catch: (cause) =>
        new InvalidConnectionString({
          reason: `The TLS certificates were rejected (${describeSources(settings, overrides)}): ${errorText(cause)}`,
          connectionString: ""
        })
    })
    return { credentials }
  })

/**
 * The grpc-js channel credentials for a connection: {@link transportSecurity}'s `credentials`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const channelCredentials = (
  settings: ConnectionSettings,
  overrides?: CertificateOverrides
): Effect.Effect<grpc.ChannelCredentials, InvalidConnectionString> =>
  Effect.map(transportSecurity(settings, overrides), (security) => security.credentials)

const readPem = (key: string, path: string): Effect.Effect<Buffer, InvalidConnectionString> =>
  Effect.tryPromise({
    try: () => readFile(path),
    catch: (cause) => {
      const code = typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : ""
      const why = code === "ENOENT"
        ? "the file does not exist"
        : code === "EACCES" || code === "EPERM"
        ? "permission denied"
        : code === "EISDIR"
        ? "it is a directory"
        : errorText(cause)
      return new InvalidConnectionString({
        reason: `Failed to read ${key} "${path}": ${why}`,
        connectionString: `${key}=${path}`
      })
    }
  })

const checkCertificates = (
  source: string,
  connectionString: string,
  pem: Buffer
): Effect.Effect<void, InvalidConnectionString> => {
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    return Effect.fail(
      new InvalidConnectionString({
        reason: `${source} contains no PEM certificate (expected "-----BEGIN CERTIFICATE-----")`,
        connectionString
      })
    )
  }
  return Effect.try({
    try: () => {
      new X509Certificate(pem)
    },
    catch: (cause) =>
      new InvalidConnectionString({
        reason: `${source} holds an invalid certificate: ${errorText(cause)}`,
        connectionString
      })
  })
}

const describeSources = (settings: ConnectionSettings, overrides: CertificateOverrides | undefined): string => {
  const sources: Array<string> = []
  if (settings.tlsCaFile !== undefined) sources.push(`TlsCaFile "${settings.tlsCaFile}"`)
  else if (overrides?.rootCertificates !== undefined) sources.push("rootCertificates")
  if (settings.userCertFile !== undefined) sources.push(`UserCertFile "${settings.userCertFile}"`)
  else if (overrides?.certChain !== undefined) sources.push("certChain")
  if (settings.userKeyFile !== undefined) sources.push(`UserKeyFile "${settings.userKeyFile}"`)
  else if (overrides?.privateKey !== undefined) sources.push("privateKey")
  return sources.length === 0 ? "system roots" : sources.join(", ")
}

const toBuffer = (value: Uint8Array | string | undefined): Buffer | undefined =>
  value === undefined
    ? undefined
    : typeof value === "string"
    ? Buffer.from(value, "utf8")
    : Buffer.isBuffer(value)
    ? value
    : Buffer.from(value.buffer, value.byteOffset, value.byteLength)

/**
 * User credentials for one call.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallCredentials {
  readonly username: string
  readonly password: Redacted.Redacted<string>
}

/**
 * The metadata sent with every call:
 *
 * - `connection-name`: the connection string's `ConnectionName`.
 * - `requires-leader`: `"true"` or `"false"` (the node answers NotLeader when it is not the
 *   leader and the header is `"true"`).
 * - `authorization: Basic base64(username:password)`: only when `Tls=true`; never over an
 *   insecure channel (the credentials would travel in clear text). Per-call `credentials`
 *   override the connection string's user.
 *
 * @since 0.1.0
 * @category constructors
 */
export const callMetadata = (
  settings: ConnectionSettings,
  options: {
    readonly requiresLeader: boolean
    readonly credentials?: CallCredentials | undefined
  }
): grpc.Metadata => {
  const metadata = new grpc.Metadata()
  if (settings.connectionName !== undefined) metadata.set("connection-name", settings.connectionName)
  metadata.set("requires-leader", options.requiresLeader ? "true" : "false")
  if (settings.tls) {
    const credentials = options.credentials ??
      (settings.username !== undefined && settings.password !== undefined
        ? { username: settings.username, password: settings.password }
        : undefined)
    if (credentials !== undefined) {
      metadata.set("authorization", basicAuthorization(credentials))
    }
  }
  return metadata
}

/**
 * The `authorization` header value for user credentials: `Basic base64(username:password)`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const basicAuthorization = (credentials: CallCredentials): string =>
  `Basic ${Buffer.from(`${credentials.username}:${Redacted.value(credentials.password)}`, "utf8").toString("base64")}`
