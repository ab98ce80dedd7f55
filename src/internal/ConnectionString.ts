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
 *   One host without `+discover` is used directly; several hosts are gossip seeds; `+discover`
 *   takes exactly one host (a DNS name for the cluster) and always runs gossip discovery.
 * - Hosts: a DNS name, an IPv4 address or an IPv6 address in brackets (`[::1]:2113`); the port
 *   defaults to 2113.
 * - User name and password are percent-decoded; the password is kept `Redacted`.
 * - Keys are case-insensitive and `_` / `-` in keys are ignored (`node_preference` is
 *   `NodePreference`). The first occurrence of a key wins; later ones only produce a warning.
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
 * | `ConnectionName`       | text                                          | a random UUID   | Sent as the `connection-name` metadata of every call. |
 * | `NodePreference`       | `leader` / `follower` / `random` / `readonlyreplica` (`read_only_replica` too) | `leader` | Which cluster member discovery picks. |
 * | `DefaultDeadline`      | integer > 0, **milliseconds**                 | none            | Default deadline of calls. Values under 1000 produce a warning (they look like the seed's seconds). |
 * | `GossipTimeout`        | integer > 0, **seconds**                      | `5`             | Deadline of one gossip read (stored as milliseconds). |
 * | `MaxDiscoverAttempts`  | integer ≥ 1                                   | `10`            | Discovery rounds before `DiscoveryFailed`. |
 * | `DiscoveryInterval`    | integer ≥ 0, milliseconds                     | `100`           | Pause between discovery rounds. |
 * | `KeepAliveInterval`    | integer ≥ 1 or `-1` (disabled), milliseconds  | none (10000 on the channel) | HTTP/2 keepalive ping interval. |
 * | `KeepAliveTimeout`     | integer ≥ 1 or `-1` (disabled), milliseconds  | none (10000 on the channel) | How long to wait for a keepalive ping's answer. |
 * | `ThrowOnAppendFailure` | `true` / `false`                              | —               | Accepted for compatibility with the official Node client; has no effect (a warning says so): failed appends are always typed errors. |
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
  /** Sent as `connection-name` on every call (default: a random UUID). */
  readonly connectionName: string
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
export const parseConnectionString = (input: string): Result.Result<ConnectionSettings, InvalidConnectionString> => {
  try {
    return Result.succeed(parse(input))
  } catch (e) {
    if (e instanceof ParseFailure) {
      return Result.fail(
        new InvalidConnectionString({
          reason: e.reason,
          connectionString: redactConnectionString(input),
          position: e.position
        })
      )
    }
    throw e
  }
}

// ---------------------------------------------------------------------------------------------
// internals
// ---------------------------------------------------------------------------------------------

class ParseFailure {
  readonly reason: string
  readonly position: number
  constructor(reason: string, position: number) {
    this.reason = reason
    this.position = position
  }
}

const schemeList = "kurrentdb://, kurrentdb+discover://, kurrent://, kurrent+discover://, kdb://, kdb+discover://, esdb:// or esdb+discover://"

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

type KeyName =
  | "Tls"
  | "TlsVerifyCert"
  | "TlsCaFile"
  | "UserCertFile"
  | "UserKeyFile"
  | "ConnectionName"
  | "NodePreference"
  | "DefaultDeadline"
  | "GossipTimeout"
  | "MaxDiscoverAttempts"
  | "DiscoveryInterval"
  | "KeepAliveInterval"
  | "KeepAliveTimeout"
  | "ThrowOnAppendFailure"

const keyNames: ReadonlyArray<KeyName> = [
  "Tls",
  "TlsVerifyCert",
  "TlsCaFile",
  "UserCertFile",
  "UserKeyFile",
  "ConnectionName",
  "NodePreference",
  "DefaultDeadline",
  "GossipTimeout",
  "MaxDiscoverAttempts",
  "DiscoveryInterval",
  "KeepAliveInterval",
  "KeepAliveTimeout",
  "ThrowOnAppendFailure"
]

const flat = (s: string): string => s.toLowerCase().replace(/[_-]/g, "")

const keyByFlatName: ReadonlyMap<string, KeyName> = new Map(keyNames.map((k) => [flat(k), k]))

const nodePreferences: ReadonlyMap<string, NodePreference> = new Map([
  ["leader", "leader"],
  ["follower", "follower"],
  ["random", "random"],
  ["readonlyreplica", "readonlyreplica"]
])

/** Largest value handed to a Node timer without overflowing (2^31 - 1 ms, about 24.8 days). */
const maxTimerMillis = 2_147_483_647

const quote = (s: string): string => JSON.stringify(s)

interface Param {
  readonly key: KeyName
  readonly rawKey: string
  readonly keyPos: number
  readonly value: string
  readonly valuePos: number
}

const parse = (input: string): ConnectionSettings => {
  // Leading and trailing white space (e.g. a newline from an environment file) is skipped;
  // positions stay those of the original input.
  let start = 0
  let end = input.length
  while (start < end && /\s/.test(input[start]!)) start++
  while (end > start && /\s/.test(input[end - 1]!)) end--

  const found = (pos: number, tokenEnd?: number): string => {
    if (pos >= end) return "end of input"
    const stop = Math.min(tokenEnd ?? pos + 1, end)
    return quote(input.slice(pos, Math.max(stop, pos + 1)))
  }
  const unexpected = (pos: number, expected: string, tokenEnd?: number): never => {
    throw new ParseFailure(`Unexpected ${found(pos, tokenEnd)} at position ${pos}, expected ${expected}`, pos)
  }
  // `text` must itself say "at position N"
  const problem = (pos: number, text: string): never => {
    throw new ParseFailure(text, pos)
  }
  const indexOrEnd = (chars: string, from: number, to = end): number => {
    for (let i = from; i < to; i++) if (chars.includes(input[i]!)) return i
    return to
  }

  // --- scheme ------------------------------------------------------------------------------
  const sep = input.indexOf("://", start)
  const schemeEnd = sep < 0 || sep >= end ? -1 : sep
  if (schemeEnd < 0 || /[/?@]/.test(input.slice(start, schemeEnd))) {
    // the token stops at ":" so that "user:password@host" never shows the password
    unexpected(start, `a scheme (${schemeList})`, indexOrEnd(":/?@", start))
  }
  const scheme = input.slice(start, schemeEnd).toLowerCase()
  if (!schemes.includes(scheme)) {
    unexpected(start, schemeList, schemeEnd + 3)
  }
  const plusDiscover = scheme.endsWith("+discover")
  let pos = schemeEnd + 3

  // --- user info ---------------------------------------------------------------------------
  const at = userInfoEnd(input, pos, end)
  let username: string | undefined
  let password: Redacted.Redacted<string> | undefined
  let userInfoPos = -1
  if (at >= pos) {
    userInfoPos = pos
    if (at === pos) unexpected(pos, "username:password before \"@\"")
    const colon = input.indexOf(":", pos)
    const userEnd = colon >= 0 && colon < at ? colon : at
    const rawUser = input.slice(pos, userEnd)
    const user = decodeOrFail(rawUser, pos, "a percent-encoded username", unexpected)
    username = user.length > 0 ? user : undefined
    if (userEnd < at) {
      const rawPassword = input.slice(userEnd + 1, at)
      let decoded: string
      try {
        decoded = decodeURIComponent(rawPassword)
      } catch {
        // never quote the password: only say where it is
        const bad = userEnd + 1 + firstBadPercent(rawPassword)
        return problem(bad, `Invalid percent-encoding in the password at position ${bad}, expected %XX escapes of UTF-8`)
      }
      password = decoded.length > 0 ? Redacted.make(decoded, { label: "password" }) : undefined
    }
    pos = at + 1
  }

  // --- hosts -------------------------------------------------------------------------------
  const hostsEnd = indexOrEnd("/?", pos)
  const hosts: Array<Endpoint> = []
  const hostPositions: Array<number> = []
  let itemStart = pos
  for (;;) {
    const itemEnd = indexOrEnd(",", itemStart, hostsEnd)
    let a = itemStart
    let b = itemEnd
    while (a < b && input[a] === " ") a++
    while (b > a && input[b - 1] === " ") b--
    if (a === b) unexpected(a, "a host", a + 1)
    hosts.push(parseHost(input, a, b, unexpected))
    hostPositions.push(a)
    if (itemEnd >= hostsEnd) break
    itemStart = itemEnd + 1
  }
  if (plusDiscover && hosts.length > 1) {
    const comma = indexOrEnd(",", pos, hostsEnd)
    unexpected(comma, `a single host after ${scheme}:// (it names the cluster, resolved through DNS; list gossip seeds with ${scheme.replace("+discover", "")}:// instead)`)
  }

  // --- path --------------------------------------------------------------------------------
  pos = hostsEnd
  while (pos < end && input[pos] === "/") pos++
  if (pos < end && input[pos] !== "?") {
    unexpected(pos, "\"?key=value\" or the end of the connection string", indexOrEnd("?", pos))
  }

  // --- query -------------------------------------------------------------------------------
  const params: Array<Param> = []
  const unknown: Array<{ readonly key: string; readonly pos: number }> = []
  const warnings: Array<string> = []
  if (pos < end) {
    let segStart = pos + 1
    while (segStart <= end) {
      const segEnd = indexOrEnd("&", segStart)
      if (segEnd > segStart) {
        const eq = indexOrEnd("=", segStart, segEnd)
        const rawKey = input.slice(segStart, eq)
        if (rawKey.length === 0) unexpected(segStart, "a key before \"=\"")
        if (eq >= segEnd) unexpected(segEnd, `"=" and a value after ${rawKey}`)
        let keyText = rawKey
        try {
          keyText = decodeURIComponent(rawKey)
        } catch {
          // keep the raw key; it will be reported as unknown
        }
        const key = keyByFlatName.get(flat(keyText))
        if (key === undefined) {
          unknown.push({ key: keyText, pos: segStart })
        } else {
          params.push({ key, rawKey, keyPos: segStart, value: input.slice(eq + 1, segEnd), valuePos: eq + 1 })
        }
      }
      segStart = segEnd + 1
    }
  }
  if (unknown.length === 1) {
    const u = unknown[0]!
    problem(u.pos, `Unknown key ${quote(u.key)} at position ${u.pos}; expected one of ${keyNames.join(", ")}`)
  } else if (unknown.length > 1) {
    const list = unknown.map((u) => `${quote(u.key)} at position ${u.pos}`).join(", ")
    problem(unknown[0]!.pos, `Unknown keys ${list}; expected one of ${keyNames.join(", ")}`)
  }

  // --- values ------------------------------------------------------------------------------
  const seen = new Map<KeyName, Param>()
  for (const p of params) {
    const first = seen.get(p.key)
    if (first !== undefined) {
      warnings.push(
        `${p.rawKey} at position ${p.keyPos} repeats ${first.rawKey} (position ${first.keyPos}); the first value is used`
      )
      continue
    }
    seen.set(p.key, p)
  }
  const valueEnd = (p: Param) => p.valuePos + p.value.length

  const bool = (p: Param): boolean => {
    const v = p.value.toLowerCase()
    if (v === "true") return true
    if (v === "false") return false
    return unexpected(p.valuePos, "true or false", valueEnd(p))
  }
  const int = (p: Param, options: { readonly min: number; readonly max: number; readonly allowMinusOne?: boolean; readonly expected: string }): number => {
    const v = p.value
    const m = /^-?[0-9]+/.exec(v)
    if (m === null || m[0] === "-") {
      const bad = v.startsWith("-") ? 1 : 0
      return unexpected(p.valuePos + bad, options.expected, valueEnd(p))
    }
    if (m[0].length < v.length) return unexpected(p.valuePos + m[0].length, options.expected, valueEnd(p))
    const n = Number(v)
    if (options.allowMinusOne === true && n === -1) return -1
    if (!Number.isSafeInteger(n) || n < options.min || n > options.max) {
      return unexpected(p.valuePos, options.expected, valueEnd(p))
    }
    return n
  }
  const text = (p: Param, expected: string): string => {
    if (p.value.length === 0) return unexpected(p.valuePos, expected, p.valuePos + 1)
    const decoded = decodeOrFail(p.value, p.valuePos, `${expected} (percent-encoded)`, unexpected)
    if (decoded.length === 0) return unexpected(p.valuePos, expected, valueEnd(p))
    return decoded
  }
  const get = <A>(key: KeyName, f: (p: Param) => A): A | undefined => {
    const p = seen.get(key)
    return p === undefined ? undefined : f(p)
  }

  const tls = get("Tls", bool) ?? true
  const tlsVerifyCert = get("TlsVerifyCert", bool) ?? true
  const tlsCaFile = get("TlsCaFile", (p) => text(p, "a file path"))
  const userCertFile = get("UserCertFile", (p) => text(p, "a file path"))
  const userKeyFile = get("UserKeyFile", (p) => text(p, "a file path"))
  const connectionName = get("ConnectionName", (p) => text(p, "a connection name")) ?? crypto.randomUUID()
  const nodePreference = get("NodePreference", (p) => {
    const pref = nodePreferences.get(flat(p.value))
    return pref ?? unexpected(p.valuePos, "leader, follower, random or readonlyreplica", valueEnd(p))
  }) ?? "leader"
  const defaultDeadline = get("DefaultDeadline", (p) => {
    const n = int(p, { min: 1, max: Number.MAX_SAFE_INTEGER, expected: "a positive integer (milliseconds)" })
    if (n < 1000) {
      warnings.push(
        `DefaultDeadline=${n} (position ${p.valuePos}) looks like seconds: DefaultDeadline is read as milliseconds, ` +
          `so this is ${n} ms; write DefaultDeadline=${n * 1000} for ${n} seconds`
      )
    }
    return n
  })
  const gossipTimeout = get("GossipTimeout", (p) =>
    int(p, {
      min: 1,
      max: Math.floor(maxTimerMillis / 1000),
      expected: `a positive integer (seconds, at most ${Math.floor(maxTimerMillis / 1000)})`
    }) * 1000
  ) ?? 5000
  const maxDiscoverAttempts = get("MaxDiscoverAttempts", (p) =>
    int(p, { min: 1, max: maxTimerMillis, expected: "a positive integer" })
  ) ?? 10
  const discoveryInterval = get("DiscoveryInterval", (p) =>
    int(p, { min: 0, max: maxTimerMillis, expected: "a non-negative integer (milliseconds)" })
  ) ?? 100
  const keepAlive = (p: Param) =>
    int(p, {
      min: 1,
      max: maxTimerMillis,
      allowMinusOne: true,
      expected: `a positive integer (milliseconds, at most ${maxTimerMillis}) or -1 to disable`
    })
  const keepAliveInterval = get("KeepAliveInterval", keepAlive)
  const keepAliveTimeout = get("KeepAliveTimeout", keepAlive)
  get("ThrowOnAppendFailure", (p) => {
    bool(p)
    warnings.push(
      `ThrowOnAppendFailure (position ${p.keyPos}) has no effect: failed appends are always typed errors`
    )
  })

  // --- cross-field rules -------------------------------------------------------------------
  const certParam = seen.get("UserCertFile")
  const keyParam = seen.get("UserKeyFile")
  if (certParam !== undefined && keyParam === undefined) {
    problem(certParam.keyPos, `UserCertFile at position ${certParam.keyPos} must be given together with UserKeyFile`)
  }
  if (keyParam !== undefined && certParam === undefined) {
    problem(keyParam.keyPos, `UserKeyFile at position ${keyParam.keyPos} must be given together with UserCertFile`)
  }
  if (tls && (username === undefined) !== (password === undefined)) {
    problem(
      userInfoPos,
      `Username and password are required with Tls=true: the user info at position ${userInfoPos} has ` +
        (username === undefined ? "a password but no username" : "a username but no password") +
        `; write username:password@ (percent-encoded), or neither`
    )
  }
  if (!tls) {
    for (const key of ["TlsVerifyCert", "TlsCaFile", "UserCertFile", "UserKeyFile"] as const) {
      const p = seen.get(key)
      if (p !== undefined) warnings.push(`${p.rawKey} (position ${p.keyPos}) is ignored because Tls=false`)
    }
  }

  return {
    scheme,
    discover: plusDiscover || hosts.length > 1,
    hosts,
    username,
    password,
    tls,
    tlsVerifyCert,
    tlsCaFile,
    userCertFile,
    userKeyFile,
    connectionName,
    maxDiscoverAttempts,
    discoveryInterval,
    gossipTimeout,
    nodePreference,
    defaultDeadline,
    keepAliveInterval,
    keepAliveTimeout,
    warnings
  }
}

const firstBadPercent = (s: string): number => {
  const m = /%(?![0-9A-Fa-f]{2})/.exec(s)
  return m === null ? 0 : m.index
}

const decodeOrFail = (
  raw: string,
  pos: number,
  expected: string,
  unexpected: (pos: number, expected: string, tokenEnd?: number) => never
): string => {
  try {
    return decodeURIComponent(raw)
  } catch {
    const bad = firstBadPercent(raw)
    return unexpected(pos + bad, expected, pos + bad + 3)
  }
}

const hostChars = /^[A-Za-z0-9._~-]$/
const ipv6Chars = /^[0-9A-Fa-f:.]$/

const parseHost = (
  input: string,
  a: number,
  b: number,
  unexpected: (pos: number, expected: string, tokenEnd?: number) => never
): Endpoint => {
  let host: string
  let portPos: number
  if (input[a] === "[") {
    const close = input.indexOf("]", a)
    if (close < 0 || close >= b) return unexpected(b, "\"]\" closing the IPv6 address")
    for (let i = a + 1; i < close; i++) {
      if (!ipv6Chars.test(input[i]!)) return unexpected(i, "an IPv6 address")
    }
    host = input.slice(a + 1, close)
    if (!host.includes(":")) return unexpected(a + 1, "an IPv6 address", close)
    if (close + 1 === b) return { host, port: defaultPort }
    if (input[close + 1] !== ":") return unexpected(close + 1, "\":\" and a port number, \",\" or \"?\"")
    portPos = close + 2
  } else {
    let i = a
    while (i < b && input[i] !== ":") {
      if (!hostChars.test(input[i]!)) return unexpected(i, "a host")
      i++
    }
    if (i === a) return unexpected(a, "a host")
    host = input.slice(a, i)
    if (i === b) return { host, port: defaultPort }
    portPos = i + 1
  }
  if (portPos >= b) return unexpected(portPos, "a port number", portPos + 1)
  for (let i = portPos; i < b; i++) {
    const c = input[i]!
    if (c < "0" || c > "9") return unexpected(i, "a port number")
  }
  const port = Number(input.slice(portPos, b))
  if (port < 1 || port > 65535) return unexpected(portPos, "a port number between 1 and 65535", b)
  return { host, port }
}
