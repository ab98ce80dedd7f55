/**
 * The connection string: a URI naming the scheme, the optional user credentials, one or more
 * nodes and the client settings, parsed into a typed {@link ConnectionSettings} value or an
 * {@link InvalidConnectionString} error that says where and what was expected.
 *
 * ```text
 * scheme://[username:password@]host[:port][,host[:port]...][/][?key=value[&key=value...]]
 * ```
 *
 * - Schemes (case-insensitive): `kurrentdb`, `kurrent`, `kdb`, `esdb`, each also with `+discover`.
 *   One host without `+discover` is used directly (NodePreference plays no part); several hosts
 *   are gossip seeds; `+discover` takes exactly one host (a DNS name for the cluster) and always
 *   runs gossip discovery: the name is resolved (every round) to its addresses, each a seed on
 *   the given port (the resolver is the connection option `resolveHost`, by default the system's).
 * - Hosts: a DNS name, an IPv4 address or an IPv6 address in brackets (`[::1]:2113`); the port
 *   defaults to 2113.
 * - User name and password are percent-decoded; the password is kept `Redacted`.
 * - Keys are case-insensitive and `_` / `-` in keys are ignored (`node_preference` is
 *   `NodePreference`). The first occurrence of a key wins; later ones only produce a warning.
 *   The keys are one declarative table (name, decoder, field), decoded in one loop over the
 *   query; parsing is a pure function: the same input always gives the same value.
 *   Unknown keys are an error, never silently ignored. Text values are percent-decoded
 *   (`decodeURIComponent`: `+` stays a plus).
 *
 * | Key                    | Value                                         | Default         | Meaning |
 * |------------------------|-----------------------------------------------|-----------------|---------|
 * | `Tls`                  | `true` / `false` (any case)                   | `true`          | Secure (TLS) or insecure channel; must match the server. |
 * | `TlsVerifyCert`        | `true` / `false`                              | `true`          | `false` accepts any server certificate (development only). |
 * | `TlsCaFile`            | file path                                     | none            | PEM CA certificate(s) used to verify the server; overrides explicitly passed root certificates. |
 * | `UserCertFile`         | file path                                     | none            | PEM X.509 user certificate for client-certificate authentication; needs `UserKeyFile`. |
 * | `UserKeyFile`          | file path                                     | none            | PEM private key of the user certificate; needs `UserCertFile`. |
 * | `ConnectionName`       | text                                          | none (the connection picks a random UUID) | Sent as the `connection-name` metadata of every call. |
 * | `NodePreference`       | `leader` / `follower` / `random` / `readonlyreplica` (`read_only_replica` too) | `leader` | Which cluster member discovery picks; a kind the cluster lacks is `LeaderNotFound` / `FollowerNotFound` / `ReadOnlyReplicaNotFound` (no fallback). `leader` also sends `requires-leader` on every call. Only `leader` with gossip discovery follows a `NodeIsNotLeader` to the leader it names (retrying the call); otherwise the caller gets it and the connection stays (the seed's behaviour; Retry.ts). |
 * | `DefaultDeadline`      | integer > 0, **milliseconds**                 | none            | Default deadline of calls. Values under 1000 produce a warning (they look like the seed's seconds). |
 * | `GossipTimeout`        | integer > 0, **seconds**                      | `5`             | Deadline of one gossip read, on the Clock (stored as milliseconds). |
 * | `MaxDiscoverAttempts`  | integer ≥ 1                                   | `10`            | Discovery rounds before `DiscoveryFailed` (or the NodePreference's NotFound). |
 * | `DiscoveryInterval`    | integer ≥ 0, milliseconds                     | `100`           | Pause between discovery rounds. |
 * | `KeepAliveInterval`    | integer ≥ 1 or `-1` (disabled), milliseconds  | none (10000 on the channel) | HTTP/2 keepalive ping interval. |
 * | `KeepAliveTimeout`     | integer ≥ 1 or `-1` (disabled), milliseconds  | none (10000 on the channel) | How long to wait for a keepalive ping's answer. |
 * | `ThrowOnAppendFailure` | `true` / `false`                              | —               | Accepted for compatibility with the official Node client; has no effect (a warning says so): failed appends are always typed errors. |
 *
 * Warnings (in `warnings`, logged when the layer is built): a repeated key, a `DefaultDeadline`
 * that looks like seconds, `ThrowOnAppendFailure`, TLS keys with `Tls=false`, and credentials
 * (`username:password@`) with `Tls=false`: they are never sent over an insecure connection (an
 * insecure node runs every call without authentication), so they would be dropped silently.
 *
 * Errors: every {@link InvalidConnectionString} carries the 0-based `position` of the problem in
 * the input and a reason such as `Unexpected "x" at position 15, expected a port number`. Its
 * `connectionString` has the password replaced by `*` of the same length, so the position still
 * points at the same character.
 *
 * @since 0.1.0
 */
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import { InvalidConnectionString } from "../errors/InvalidConnectionString.ts"

/**
 * Which cluster member discovery connects to. `readonlyreplica` prefers read-only replicas.
 *
 * @since 0.1.0
 * @category models
 */
export type NodePreference = "leader" | "follower" | "random" | "readonlyreplica"

/**
 * A node's gRPC address. `host` is a DNS name or an IP address; IPv6 addresses are stored
 * without brackets (see {@link formatEndpoint}).
 *
 * @since 0.1.0
 * @category models
 */
export interface Endpoint {
  readonly host: string
  readonly port: number
}

/**
 * Everything a connection string says, with defaults applied.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectionSettings {
  /** The scheme, lowercase, e.g. `"esdb"` or `"kurrentdb+discover"`. */
  readonly scheme: string
  /** `true` for a `+discover` scheme or more than one host: the node is found by gossip. */
  readonly discover: boolean
  /** The hosts as written (default port 2113). */
  readonly hosts: ReadonlyArray<Endpoint>
  /** The user name from the URI, percent-decoded. */
  readonly username?: string | undefined
  /** The password from the URI, percent-decoded and redacted. */
  readonly password?: Redacted.Redacted<string> | undefined
  /** Secure channel (default `true`). */
  readonly tls: boolean
  /** Verify the server certificate (default `true`). */
  readonly tlsVerifyCert: boolean
  /** Path of a PEM file with the CA certificate(s). */
  readonly tlsCaFile?: string | undefined
  /** Path of a PEM file with the user certificate. */
  readonly userCertFile?: string | undefined
  /** Path of a PEM file with the user certificate's private key. */
  readonly userKeyFile?: string | undefined
  /** Sent as `connection-name` on every call, when given (else the connection makes a random UUID). */
  readonly connectionName?: string | undefined
  /** Discovery rounds (default 10). */
  readonly maxDiscoverAttempts: number
  /** Milliseconds between discovery rounds (default 100). */
  readonly discoveryInterval: number
  /** Milliseconds allowed for one gossip read (the string gives seconds; default 5 s). */
  readonly gossipTimeout: number
  /** Which member discovery picks (default `"leader"`). */
  readonly nodePreference: NodePreference
  /** Default call deadline in milliseconds, when given. */
  readonly defaultDeadline?: number | undefined
  /** Keepalive ping interval in milliseconds; `-1` disables keepalive. */
  readonly keepAliveInterval?: number | undefined
  /** Keepalive ping timeout in milliseconds; `-1` disables the timeout. */
  readonly keepAliveTimeout?: number | undefined
  /** Non-fatal remarks, e.g. a `DefaultDeadline` that looks like seconds or a repeated key. */
  readonly warnings: ReadonlyArray<string>
}

/**
 * The port used when a host has none: 2113.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultPort = 2113

/**
 * The accepted schemes (lowercase). Each has a `+discover` variant.
 *
 * @since 0.1.0
 * @category constants
 */
export const schemes: ReadonlyArray<string> = [
  "kurrentdb",
  "kurrentdb+discover",
  "kurrent",
  "kurrent+discover",
  "kdb",
  "kdb+discover",
  "esdb",
  "esdb+discover"
]

/**
 * Formats an endpoint as a gRPC target `host:port`, bracketing IPv6 addresses (`[::1]:2113`).
 *
 * @since 0.1.0
 * @category utils
 */
export const formatEndpoint = (endpoint: Endpoint): string =>
  endpoint.host.includes(":") ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`

/**
 * Returns the connection string with the password (between the first `:` of the user info and
 * its `@`) replaced by as many `*`, so that positions in it stay valid. Safe to log.
 *
 * @since 0.1.0
 * @category utils
 */
export const redactConnectionString = (input: string): string => {
  const span = passwordSpan(input)
  return span === undefined ? input : input.slice(0, span[0]) + "*".repeat(span[1] - span[0]) + input.slice(span[1])
}

/**
 * Parses a connection string (see the module documentation for the syntax and the keys).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseConnectionString = (input: string): Result.Result<ConnectionSettings, InvalidConnectionString> =>
  Result.mapError(
    parse(input),
    (failure) =>
      new InvalidConnectionString({
        reason: failure.reason,
        connectionString: redactConnectionString(input),
        position: failure.position
      })
  )

// ---------------------------------------------------------------------------------------------
// internals: every step returns a Result (no exceptions); the first failure is the answer
// ---------------------------------------------------------------------------------------------

/** Why the input is refused, and where (0-based, in the original input). */
interface Failure {
  readonly reason: string
  readonly position: number
}

type Parsed<A> = Result.Result<A, Failure>

const failure = (position: number, reason: string): Parsed<never> => Result.fail({ position, reason })

const schemeList = "kurrentdb://, kurrentdb+discover://, kurrent://, kurrent+discover://, kdb://, kdb+discover://, esdb:// or esdb+discover://"

const quote = (s: string): string => JSON.stringify(s)

/** The input between its surrounding white space, with the helpers every step uses. */
interface Source {
  readonly input: string
  readonly start: number
  readonly end: number
}

const found = (src: Source, pos: number, tokenEnd?: number): string => {
  if (pos >= src.end) return "end of input"
  const stop = Math.min(tokenEnd ?? pos + 1, src.end)
  return quote(src.input.slice(pos, Math.max(stop, pos + 1)))
}

/** `Unexpected <token> at position N, expected <what>`: the token is the input at `pos`. */
const unexpected = (src: Source, pos: number, expected: string, tokenEnd?: number): Parsed<never> =>
  failure(pos, `Unexpected ${found(src, pos, tokenEnd)} at position ${pos}, expected ${expected}`)

const indexOrEnd = (src: Source, chars: string, from: number, to = src.end): number => {
  for (let i = from; i < to; i++) if (chars.includes(src.input[i]!)) return i
  return to
}

/**
 * Index of the "@" ending the user info, or -1. Normally the last "@" before the first "?"; when
 * there is none, the last "@" before the first "=" or "&" (a password with an unencoded "?"),
 * so that such a password is still recognized, parsed and masked rather than shown in an error.
 */
const userInfoEnd = (input: string, start: number, end: number): number => {
  const firstIndex = (chars: string) => {
    for (let i = start; i < end; i++) if (chars.includes(input[i]!)) return i
    return end
  }
  const before = (stop: number) => {
    for (let i = stop - 1; i >= start; i--) if (input[i] === "@") return i
    return -1
  }
  const at = before(firstIndex("?"))
  return at >= 0 ? at : before(firstIndex("=&"))
}

const passwordSpan = (input: string): readonly [number, number] | undefined => {
  const sep = input.indexOf("://")
  const start = sep < 0 ? 0 : sep + 3
  const at = userInfoEnd(input, start, input.length)
  if (at < 0) return undefined
  const colon = input.indexOf(":", start)
  if (colon < 0 || colon > at) return undefined
  return [colon + 1, at]
}

/** Where percent-decoding fails: the first malformed escape, else (escapes that are not UTF-8) the first escape. */
const firstBadPercent = (s: string): number => {
  const m = /%(?![0-9A-Fa-f]{2})/.exec(s)
  return m === null ? Math.max(0, s.indexOf("%")) : m.index
}

const utf8Encoder = new TextEncoder()
const utf8Decoder = new TextDecoder("utf-8")

/**
 * Percent-decoding as `decodeURIComponent` does it (`+` stays a plus), without its exceptions:
 * `undefined` for a "%" not followed by two hex digits, or escapes that are not UTF-8 (decoded
 * leniently, they would not encode back to the same bytes).
 */
const percentDecode = (raw: string): string | undefined => {
  if (!raw.includes("%")) return raw
  if (/%(?![0-9A-Fa-f]{2})/.test(raw)) return undefined
  const bytes: Array<number> = []
  for (let i = 0; i < raw.length;) {
    if (raw[i] === "%") {
      bytes.push(Number.parseInt(raw.slice(i + 1, i + 3), 16))
      i += 3
    } else {
      const char = String.fromCodePoint(raw.codePointAt(i)!)
      for (const b of utf8Encoder.encode(char)) bytes.push(b)
      i += char.length
    }
  }
  const decoded = utf8Decoder.decode(Uint8Array.from(bytes))
  const again = utf8Encoder.encode(decoded)
  return again.length === bytes.length && again.every((b, i) => b === bytes[i]) ? decoded : undefined
}

const decodeAt = (src: Source, raw: string, pos: number, expected: string): Parsed<string> => {
  const decoded = percentDecode(raw)
  if (decoded !== undefined) return Result.succeed(decoded)
  const bad = pos + firstBadPercent(raw)
  return unexpected(src, bad, expected, bad + 3)
}

// --- scheme ----------------------------------------------------------------------------------

const parseScheme = (src: Source): Parsed<{ readonly scheme: string; readonly next: number }> => {
  const { input, start, end } = src
  const sep = input.indexOf("://", start)
  const schemeEnd = sep < 0 || sep >= end ? -1 : sep
  if (schemeEnd < 0 || /[/?@]/.test(input.slice(start, schemeEnd))) {
    // the token stops at ":" so that "user:password@host" never shows the password
    return unexpected(src, start, `a scheme (${schemeList})`, indexOrEnd(src, ":/?@", start))
  }
  const scheme = input.slice(start, schemeEnd).toLowerCase()
  if (!schemes.includes(scheme)) return unexpected(src, start, schemeList, schemeEnd + 3)
  return Result.succeed({ scheme, next: schemeEnd + 3 })
}

// --- user info -------------------------------------------------------------------------------

interface UserInfo {
  readonly username: string | undefined
  readonly password: Redacted.Redacted<string> | undefined
  /** Where the user info starts, -1 without one. */
  readonly position: number
  readonly next: number
}

const parseUserInfo = (src: Source, pos: number): Parsed<UserInfo> => {
  const { input, end } = src
  const at = userInfoEnd(input, pos, end)
  if (at < pos) return Result.succeed({ username: undefined, password: undefined, position: -1, next: pos })
  if (at === pos) return unexpected(src, pos, "username:password before \"@\"")
  const colon = input.indexOf(":", pos)
  const userEnd = colon >= 0 && colon < at ? colon : at
  const user = decodeAt(src, input.slice(pos, userEnd), pos, "a percent-encoded username")
  if (Result.isFailure(user)) return Result.fail(user.failure)
  let password: Redacted.Redacted<string> | undefined
  if (userEnd < at) {
    const rawPassword = input.slice(userEnd + 1, at)
    const decoded = percentDecode(rawPassword)
    if (decoded === undefined) {
      // never quote the password: only say where it is
      const bad = userEnd + 1 + firstBadPercent(rawPassword)
      return failure(bad, `Invalid percent-encoding in the password at position ${bad}, expected %XX escapes of UTF-8`)
    }
    password = decoded.length > 0 ? Redacted.make(decoded, { label: "password" }) : undefined
  }
  return Result.succeed({
    username: user.success.length > 0 ? user.success : undefined,
    password,
    position: pos,
    next: at + 1
  })
}

// --- hosts -----------------------------------------------------------------------------------

const hostChars = /^[A-Za-z0-9._~-]$/
const ipv6Chars = /^[0-9A-Fa-f:.]$/

const parsePort = (src: Source, host: string, portPos: number, b: number): Parsed<Endpoint> => {
  if (portPos >= b) return unexpected(src, portPos, "a port number", portPos + 1)
  for (let i = portPos; i < b; i++) {
    const c = src.input[i]!
    if (c < "0" || c > "9") return unexpected(src, i, "a port number")
  }
  const port = Number(src.input.slice(portPos, b))
  if (port < 1 || port > 65535) return unexpected(src, portPos, "a port number between 1 and 65535", b)
  return Result.succeed({ host, port })
}

const parseHost = (src: Source, a: number, b: number): Parsed<Endpoint> => {
  const { input } = src
  if (input[a] === "[") {
    const close = input.indexOf("]", a)
    if (close < 0 || close >= b) return unexpected(src, b, "\"]\" closing the IPv6 address")
    for (let i = a + 1; i < close; i++) {
      if (!ipv6Chars.test(input[i]!)) return unexpected(src, i, "an IPv6 address")
    }
    const host = input.slice(a + 1, close)
    if (!host.includes(":")) return unexpected(src, a + 1, "an IPv6 address", close)
    if (close + 1 === b) return Result.succeed({ host, port: defaultPort })
    if (input[close + 1] !== ":") return unexpected(src, close + 1, "\":\" and a port number, \",\" or \"?\"")
    return parsePort(src, host, close + 2, b)
  }
  let i = a
  while (i < b && input[i] !== ":") {
    if (!hostChars.test(input[i]!)) return unexpected(src, i, "a host")
    i++
  }
  if (i === a) return unexpected(src, a, "a host")
  const host = input.slice(a, i)
  return i === b ? Result.succeed({ host, port: defaultPort }) : parsePort(src, host, i + 1, b)
}

const parseHosts = (
  src: Source,
  pos: number,
  scheme: string
): Parsed<{ readonly hosts: ReadonlyArray<Endpoint>; readonly next: number }> => {
  const hostsEnd = indexOrEnd(src, "/?", pos)
  const hosts: Array<Endpoint> = []
  let itemStart = pos
  for (;;) {
    const itemEnd = indexOrEnd(src, ",", itemStart, hostsEnd)
    let a = itemStart
    let b = itemEnd
    while (a < b && src.input[a] === " ") a++
    while (b > a && src.input[b - 1] === " ") b--
    if (a === b) return unexpected(src, a, "a host", a + 1)
    const host = parseHost(src, a, b)
    if (Result.isFailure(host)) return Result.fail(host.failure)
    hosts.push(host.success)
    if (itemEnd >= hostsEnd) break
    itemStart = itemEnd + 1
  }
  if (scheme.endsWith("+discover") && hosts.length > 1) {
    return unexpected(
      src,
      indexOrEnd(src, ",", pos, hostsEnd),
      `a single host after ${scheme}:// (it names the cluster, resolved through DNS; list gossip seeds with ${
        scheme.replace("+discover", "")
      }:// instead)`
    )
  }
  // a trailing "/" before the query (or the end) is accepted; any other path is not
  let next = hostsEnd
  while (next < src.end && src.input[next] === "/") next++
  if (next < src.end && src.input[next] !== "?") {
    return unexpected(src, next, "\"?key=value\" or the end of the connection string", indexOrEnd(src, "?", next))
  }
  return Result.succeed({ hosts, next })
}

// --- the key table ---------------------------------------------------------------------------

/** The settings the query decides, before defaults. */
interface Fields {
  tls: boolean
  tlsVerifyCert: boolean
  tlsCaFile: string | undefined
  userCertFile: string | undefined
  userKeyFile: string | undefined
  connectionName: string | undefined
  nodePreference: NodePreference
  defaultDeadline: number | undefined
  gossipTimeout: number
  maxDiscoverAttempts: number
  discoveryInterval: number
  keepAliveInterval: number | undefined
  keepAliveTimeout: number | undefined
}

const defaults: Fields = {
  tls: true,
  tlsVerifyCert: true,
  tlsCaFile: undefined,
  userCertFile: undefined,
  userKeyFile: undefined,
  connectionName: undefined,
  nodePreference: "leader",
  defaultDeadline: undefined,
  gossipTimeout: 5000,
  maxDiscoverAttempts: 10,
  discoveryInterval: 100,
  keepAliveInterval: undefined,
  keepAliveTimeout: undefined
}

/** One `key=value` of the query: the key as written and where, the raw value and where. */
interface Param {
  readonly rawKey: string
  readonly keyPos: number
  readonly value: string
  readonly valuePos: number
}

type Decoder<A> = (src: Source, p: Param) => Parsed<A>

/**
 * One row of the key table: its canonical name, how its value is decoded, the field it sets
 * (none for a key accepted for compatibility only), an optional warning about a valid value, and
 * whether it only means something with `Tls=true`.
 */
interface Key {
  readonly name: string
  readonly decode: Decoder<unknown>
  readonly field: keyof Fields | undefined
  readonly warn?: ((value: never, p: Param) => string | undefined) | undefined
  readonly tlsOnly?: boolean | undefined
}

const key = <F extends keyof Fields>(
  name: string,
  field: F,
  decode: Decoder<Exclude<Fields[F], undefined>>,
  extra: { readonly warn?: (value: Exclude<Fields[F], undefined>, p: Param) => string | undefined; readonly tlsOnly?: boolean } =
    {}
): Key => ({ name, field, decode, warn: extra.warn, tlsOnly: extra.tlsOnly })

const valueEnd = (p: Param) => p.valuePos + p.value.length

const bool: Decoder<boolean> = (src, p) => {
  const v = p.value.toLowerCase()
  return v === "true"
    ? Result.succeed(true)
    : v === "false"
    ? Result.succeed(false)
    : unexpected(src, p.valuePos, "true or false", valueEnd(p))
}

const int = (
  options: { readonly min: number; readonly max: number; readonly allowMinusOne?: boolean; readonly expected: string },
  scale = 1
): Decoder<number> =>
(src, p) => {
  const v = p.value
  const m = /^-?[0-9]+/.exec(v)
  if (m === null || m[0] === "-") return unexpected(src, p.valuePos + (v.startsWith("-") ? 1 : 0), options.expected, valueEnd(p))
  if (m[0].length < v.length) return unexpected(src, p.valuePos + m[0].length, options.expected, valueEnd(p))
  const n = Number(v)
  if (options.allowMinusOne === true && n === -1) return Result.succeed(-1)
  if (!Number.isSafeInteger(n) || n < options.min || n > options.max) {
    return unexpected(src, p.valuePos, options.expected, valueEnd(p))
  }
  return Result.succeed(n * scale)
}

const text = (expected: string): Decoder<string> => (src, p) => {
  if (p.value.length === 0) return unexpected(src, p.valuePos, expected, p.valuePos + 1)
  const decoded = decodeAt(src, p.value, p.valuePos, `${expected} (percent-encoded)`)
  if (Result.isFailure(decoded)) return Result.fail(decoded.failure)
  return decoded.success.length === 0 ? unexpected(src, p.valuePos, expected, valueEnd(p)) : decoded
}

const flat = (s: string): string => s.toLowerCase().replace(/[_-]/g, "")

const nodePreferences: ReadonlyMap<string, NodePreference> = new Map([
  ["leader", "leader"],
  ["follower", "follower"],
  ["random", "random"],
  ["readonlyreplica", "readonlyreplica"]
])

const nodePreference: Decoder<NodePreference> = (src, p) => {
  const preference = nodePreferences.get(flat(p.value))
  return preference === undefined
    ? unexpected(src, p.valuePos, "leader, follower, random or readonlyreplica", valueEnd(p))
    : Result.succeed(preference)
}

/** Largest value handed to a Node timer without overflowing (2^31 - 1 ms, about 24.8 days). */
const maxTimerMillis = 2_147_483_647

const keepAlive = int({
  min: 1,
  max: maxTimerMillis,
  allowMinusOne: true,
  expected: `a positive integer (milliseconds, at most ${maxTimerMillis}) or -1 to disable`
})

/** Every key a connection string may have, in the order errors list them. */
const keyTable: ReadonlyArray<Key> = [
  key("Tls", "tls", bool),
  key("TlsVerifyCert", "tlsVerifyCert", bool, { tlsOnly: true }),
  key("TlsCaFile", "tlsCaFile", text("a file path"), { tlsOnly: true }),
  key("UserCertFile", "userCertFile", text("a file path"), { tlsOnly: true }),
  key("UserKeyFile", "userKeyFile", text("a file path"), { tlsOnly: true }),
  key("ConnectionName", "connectionName", text("a connection name")),
  key("NodePreference", "nodePreference", nodePreference),
  key("DefaultDeadline", "defaultDeadline", int({ min: 1, max: Number.MAX_SAFE_INTEGER, expected: "a positive integer (milliseconds)" }), {
    warn: (n, p) =>
      n < 1000
        ? `DefaultDeadline=${n} (position ${p.valuePos}) looks like seconds: DefaultDeadline is read as milliseconds, ` +
          `so this is ${n} ms; write DefaultDeadline=${n * 1000} for ${n} seconds`
        : undefined
  }),
  key(
    "GossipTimeout",
    "gossipTimeout",
    int({
      min: 1,
      max: Math.floor(maxTimerMillis / 1000),
      expected: `a positive integer (seconds, at most ${Math.floor(maxTimerMillis / 1000)})`
    }, 1000)
  ),
  key("MaxDiscoverAttempts", "maxDiscoverAttempts", int({ min: 1, max: maxTimerMillis, expected: "a positive integer" })),
  key(
    "DiscoveryInterval",
    "discoveryInterval",
    int({ min: 0, max: maxTimerMillis, expected: "a non-negative integer (milliseconds)" })
  ),
  key("KeepAliveInterval", "keepAliveInterval", keepAlive),
  key("KeepAliveTimeout", "keepAliveTimeout", keepAlive),
  {
    name: "ThrowOnAppendFailure",
    field: undefined,
    decode: bool,
    warn: (_: never, p: Param) => `ThrowOnAppendFailure (position ${p.keyPos}) has no effect: failed appends are always typed errors`
  }
]

const keyByFlatName: ReadonlyMap<string, Key> = new Map(keyTable.map((k) => [flat(k.name), k]))

const keyNames = keyTable.map((k) => k.name).join(", ")

// --- query -----------------------------------------------------------------------------------

/** The query's `key=value` pairs, each with its row of the key table; unknown keys refused. */
const parseQuery = (src: Source, pos: number): Parsed<ReadonlyArray<readonly [Key, Param]>> => {
  const params: Array<readonly [Key, Param]> = []
  const unknown: Array<{ readonly key: string; readonly pos: number }> = []
  if (pos < src.end) {
    let segStart = pos + 1
    while (segStart <= src.end) {
      const segEnd = indexOrEnd(src, "&", segStart)
      if (segEnd > segStart) {
        const eq = indexOrEnd(src, "=", segStart, segEnd)
        const rawKey = src.input.slice(segStart, eq)
        if (rawKey.length === 0) return unexpected(src, segStart, "a key before \"=\"")
        if (eq >= segEnd) return unexpected(src, segEnd, `"=" and a value after ${rawKey}`)
        // a key that does not decode is kept as written, and reported as unknown
        const keyText = percentDecode(rawKey) ?? rawKey
        const row = keyByFlatName.get(flat(keyText))
        if (row === undefined) unknown.push({ key: keyText, pos: segStart })
        else params.push([row, { rawKey, keyPos: segStart, value: src.input.slice(eq + 1, segEnd), valuePos: eq + 1 }])
      }
      segStart = segEnd + 1
    }
  }
  if (unknown.length === 1) {
    const u = unknown[0]!
    return failure(u.pos, `Unknown key ${quote(u.key)} at position ${u.pos}; expected one of ${keyNames}`)
  }
  if (unknown.length > 1) {
    const list = unknown.map((u) => `${quote(u.key)} at position ${u.pos}`).join(", ")
    return failure(unknown[0]!.pos, `Unknown keys ${list}; expected one of ${keyNames}`)
  }
  return Result.succeed(params)
}

/**
 * The one loop over the query: each key's first occurrence is decoded by its row of the table
 * into its field (a later one is only a warning), in the order they are written.
 */
const decodeKeys = (
  src: Source,
  params: ReadonlyArray<readonly [Key, Param]>
): Parsed<{ readonly fields: Fields; readonly given: ReadonlyMap<Key, Param>; readonly warnings: ReadonlyArray<string> }> => {
  const fields: Record<string, unknown> = { ...defaults }
  const given = new Map<Key, Param>()
  const warnings: Array<string> = []
  for (const [row, p] of params) {
    const first = given.get(row)
    if (first !== undefined) {
      warnings.push(`${p.rawKey} at position ${p.keyPos} repeats ${first.rawKey} (position ${first.keyPos}); the first value is used`)
      continue
    }
    given.set(row, p)
    const value = row.decode(src, p)
    if (Result.isFailure(value)) return Result.fail(value.failure)
    if (row.field !== undefined) fields[row.field] = value.success
    const warning = row.warn?.(value.success as never, p)
    if (warning !== undefined) warnings.push(warning)
  }
  return Result.succeed({ fields: fields as unknown as Fields, given, warnings })
}

// --- cross-field rules -----------------------------------------------------------------------

const paramOf = (given: ReadonlyMap<Key, Param>, name: string): Param | undefined => given.get(keyByFlatName.get(flat(name))!)

const checkTogether = (
  given: ReadonlyMap<Key, Param>,
  user: UserInfo,
  fields: Fields
): Parsed<ReadonlyArray<string>> => {
  const cert = paramOf(given, "UserCertFile")
  const key = paramOf(given, "UserKeyFile")
  if (cert !== undefined && key === undefined) {
    return failure(cert.keyPos, `UserCertFile at position ${cert.keyPos} must be given together with UserKeyFile`)
  }
  if (key !== undefined && cert === undefined) {
    return failure(key.keyPos, `UserKeyFile at position ${key.keyPos} must be given together with UserCertFile`)
  }
  const hasUser = user.username !== undefined
  const hasPassword = user.password !== undefined
  if (fields.tls && hasUser !== hasPassword) {
    return failure(
      user.position,
      `Username and password are required with Tls=true: the user info at position ${user.position} has ` +
        (hasUser ? "a username but no password" : "a password but no username") +
        `; write username:password@ (percent-encoded), or neither`
    )
  }
  const warnings: Array<string> = []
  if (!fields.tls) {
    for (const row of keyTable) {
      const p = row.tlsOnly === true ? given.get(row) : undefined
      if (p !== undefined) warnings.push(`${p.rawKey} (position ${p.keyPos}) is ignored because Tls=false`)
    }
    if (hasUser || hasPassword) {
      warnings.push(
        `The credentials of the user info (position ${user.position}) are not sent because Tls=false: ` +
          `credentials only travel over TLS, and an insecure node runs every call without authentication`
      )
    }
  }
  return Result.succeed(warnings)
}

// --- the whole string ------------------------------------------------------------------------

const parse = (input: string): Parsed<ConnectionSettings> => {
  // Leading and trailing white space (e.g. a newline from an environment file) is skipped;
  // positions stay those of the original input.
  let start = 0
  let end = input.length
  while (start < end && /\s/.test(input[start]!)) start++
  while (end > start && /\s/.test(input[end - 1]!)) end--
  const src: Source = { input, start, end }

  const scheme = parseScheme(src)
  if (Result.isFailure(scheme)) return Result.fail(scheme.failure)
  const user = parseUserInfo(src, scheme.success.next)
  if (Result.isFailure(user)) return Result.fail(user.failure)
  const hosts = parseHosts(src, user.success.next, scheme.success.scheme)
  if (Result.isFailure(hosts)) return Result.fail(hosts.failure)
  const params = parseQuery(src, hosts.success.next)
  if (Result.isFailure(params)) return Result.fail(params.failure)
  const decoded = decodeKeys(src, params.success)
  if (Result.isFailure(decoded)) return Result.fail(decoded.failure)
  const { fields, given, warnings } = decoded.success
  const more = checkTogether(given, user.success, fields)
  if (Result.isFailure(more)) return Result.fail(more.failure)

  return Result.succeed({
    scheme: scheme.success.scheme,
    discover: scheme.success.scheme.endsWith("+discover") || hosts.success.hosts.length > 1,
    hosts: hosts.success.hosts,
    username: user.success.username,
    password: user.success.password,
    ...fields,
    warnings: [...warnings, ...more.success]
  })
}
