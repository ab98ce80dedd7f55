/**
 * Authentication (Basic/Bearer credentials against the node's users) and the default
 * authorization policy of a node (PROTOCOL.md §7): stream ACLs from `$acl`, `$settings` or the
 * defaults, admins bypass ACLs, anonymous stream access refused. In insecure mode every call is
 * the System user and everything is allowed.
 *
 * @since 0.1.0
 */
import { accessDenied, type RpcFailure, unauthenticated } from "./errors.ts"
import { isMetastream, type Store, type StreamAcl } from "./storage/Store.ts"

/**
 * Request metadata as far as authentication reads it (grpc-js's `Metadata` and the node's own
 * request metadata both fit).
 *
 * @since 0.1.0
 * @category models
 */
export interface MetadataReader {
  readonly get: (key: string) => Array<string | Buffer>
}

/**
 * Who is calling.
 *
 * @since 0.1.0
 * @category models
 */
export interface Principal {
  readonly login: string | undefined
  readonly roles: ReadonlyArray<string>
  readonly isSystem: boolean
  readonly isAuthenticated: boolean
}

/**
 * The System principal (insecure mode).
 *
 * @since 0.1.0
 * @category constants
 */
export const System: Principal = { login: "system", roles: ["$admins", "$system"], isSystem: true, isAuthenticated: true }

/**
 * The anonymous principal (no credentials).
 *
 * @since 0.1.0
 * @category constants
 */
export const Anonymous: Principal = { login: undefined, roles: [], isSystem: false, isAuthenticated: false }

/**
 * The user lookup the node gives {@link Auth}: for a login and password, the user's groups and
 * disabled flag, or `undefined` when there is no such user or the password is wrong (the node's
 * user store, src/server/users/UserStore.ts).
 *
 * @since 0.1.0
 * @category models
 */
export type UserLookup = (
  login: string,
  password: string
) => { readonly groups: ReadonlyArray<string>; readonly disabled: boolean } | undefined

/**
 * Stream operations subject to ACLs.
 *
 * @since 0.1.0
 * @category models
 */
export type StreamAction = "read" | "write" | "delete" | "metaRead" | "metaWrite"

/**
 * What a call needs, for {@link Auth.authorize}: nothing beyond valid credentials if any are
 * given (`Any`), an authenticated user (`User`), an operator (`$admins` or `$ops`), one of some roles, or an action
 * on a stream.
 *
 * @since 0.1.0
 * @category models
 */
export type Access =
  | { readonly _tag: "Any" }
  | { readonly _tag: "User" }
  | { readonly _tag: "Operator" }
  | { readonly _tag: "Roles"; readonly roles: ReadonlyArray<string> }
  | { readonly _tag: "Stream"; readonly stream: string; readonly action: StreamAction }

/**
 * The {@link Access} values.
 *
 * @since 0.1.0
 * @category constructors
 */
export const Access = {
  any: { _tag: "Any" } as Access,
  user: { _tag: "User" } as Access,
  operator: { _tag: "Operator" } as Access,
  /** One of these roles (a user's login counts as one of its roles), or System. */
  roles: (...roles: ReadonlyArray<string>): Access => ({ _tag: "Roles", roles }),
  stream: (stream: string, action: StreamAction): Access => ({ _tag: "Stream", stream, action })
} as const

/**
 * The result of authenticating a call.
 *
 * @since 0.1.0
 * @category models
 */
export type AuthResult = { readonly _tag: "Ok"; readonly principal: Principal } | { readonly _tag: "Unauthenticated" }

const parseCredentials = (header: string): { login: string; password: string } | "malformed" | undefined => {
  const space = header.indexOf(" ")
  if (space < 0) return undefined
  const scheme = header.slice(0, space).toLowerCase()
  if (scheme !== "basic" && scheme !== "bearer") return undefined
  const token = header.slice(space + 1).trim()
  let decoded: string
  try {
    decoded = Buffer.from(token, "base64").toString("utf8")
  } catch {
    return "malformed"
  }
  const colon = decoded.indexOf(":")
  if (colon < 0) return "malformed"
  return { login: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
}

const DEFAULT_USER_ACL = ["$all"]
const DEFAULT_SYSTEM_ACL = ["$admins"]

/**
 * Users and access checks of one node.
 *
 * @since 0.1.0
 * @category models
 */
export class Auth {
  readonly insecure: boolean
  private readonly store: Store
  private readonly lookupUser: UserLookup
  private readonly prepareUser: ((login: string, password: string) => Promise<void> | undefined) | undefined

  /**
   * `lookupUser` checks credentials; without it no credentials are accepted (insecure nodes need
   * none). `prepareUser` makes the costly part of a check ahead, off the event loop ({@link prepare}).
   */
  constructor(
    store: Store,
    insecure: boolean,
    lookupUser: UserLookup = () => undefined,
    prepareUser?: (login: string, password: string) => Promise<void> | undefined
  ) {
    this.store = store
    this.insecure = insecure
    this.lookupUser = lookupUser
    this.prepareUser = prepareUser
  }

  /**
   * The one check every handler makes: authenticates the call (or takes a principal already
   * authenticated) and checks it may do what `access` says. UNAUTHENTICATED for bad credentials,
   * PERMISSION_DENIED "Access Denied" (`access-denied`) when not allowed (PROTOCOL.md §7).
   */
  authorize(who: MetadataReader | Principal, access: Access): Principal | RpcFailure {
    let principal: Principal
    if ("roles" in who) principal = who
    else {
      const result = this.authenticate(who)
      if (result._tag === "Unauthenticated") return unauthenticated()
      principal = result.principal
    }
    switch (access._tag) {
      case "Any":
        return principal
      case "User":
        return this.insecure || principal.isAuthenticated ? principal : accessDenied()
      case "Operator":
        return this.isOperator(principal) ? principal : accessDenied()
      case "Roles":
        return this.insecure || principal.isSystem || principal.roles.some((role) => access.roles.includes(role))
          ? principal
          : accessDenied()
      case "Stream":
        return this.canAccessStream(principal, access.stream, access.action) ? principal : accessDenied()
    }
  }

  /**
   * Makes the password check of the call's `authorization` header off the event loop, before a
   * handler calls {@link authenticate} (UserStore.ts): undefined when there is nothing to wait for.
   */
  prepare(authorization: string | ReadonlyArray<string> | undefined): Promise<void> | undefined {
    if (this.insecure || this.prepareUser === undefined) return undefined
    const header = typeof authorization === "string" ? authorization : authorization?.[0]
    if (header === undefined) return undefined
    const creds = parseCredentials(header)
    if (creds === undefined || creds === "malformed") return undefined
    return this.prepareUser(creds.login, creds.password)
  }

  /** Authenticates the call's `authorization` header. */
  authenticate(metadata: MetadataReader): AuthResult {
    if (this.insecure) return { _tag: "Ok", principal: System }
    const values = metadata.get("authorization")
    const header = values[0]
    if (header === undefined) return { _tag: "Ok", principal: Anonymous }
    const creds = parseCredentials(typeof header === "string" ? header : header.toString("utf8"))
    if (creds === undefined) return { _tag: "Ok", principal: Anonymous }
    if (creds === "malformed") return { _tag: "Unauthenticated" }
    const user = this.lookupUser(creds.login, creds.password)
    if (user === undefined || user.disabled) return { _tag: "Unauthenticated" }
    return {
      _tag: "Ok",
      principal: { login: creds.login, roles: [creds.login, ...user.groups], isSystem: false, isAuthenticated: true }
    }
  }

  /** Is the principal an admin (or System)? */
  isAdmin(principal: Principal): boolean {
    return this.insecure || principal.isSystem || principal.roles.includes("$admins")
  }

  /** Is the principal in `$admins` or `$ops`? */
  isOperator(principal: Principal): boolean {
    return this.isAdmin(principal) || principal.roles.includes("$ops")
  }

  private settingsAcl(system: boolean, action: StreamAction): ReadonlyArray<string> | undefined {
    const last = this.store.lastEvent("$settings")
    if (last === undefined) return undefined
    try {
      const raw = JSON.parse(last.data.toString("utf8")) as Record<string, unknown>
      const acl = raw[system ? "$systemStreamAcl" : "$userStreamAcl"] as Record<string, unknown> | undefined
      if (acl === undefined || typeof acl !== "object" || acl === null) return undefined
      const key = { read: "$r", write: "$w", delete: "$d", metaRead: "$mr", metaWrite: "$mw" }[action]
      const v = acl[key]
      if (typeof v === "string") return [v]
      if (Array.isArray(v)) return v.filter((x): x is string => typeof x === "string")
    } catch {
      return undefined
    }
    return undefined
  }

  /** May the principal perform `action` on `stream` (`$all` included)? */
  canAccessStream(principal: Principal, stream: string, action: StreamAction): boolean {
    if (this.insecure || principal.isSystem) return true
    if (stream === "$all" && (action === "write" || action === "delete")) return false
    if (!principal.isAuthenticated) return false
    if (principal.roles.includes("$admins")) return true
    let target = stream
    let act = action
    if (isMetastream(stream)) {
      target = stream.slice(2)
      act = action === "read" ? "metaRead" : action === "write" ? "metaWrite" : action
    }
    const system = target.startsWith("$")
    const acl: StreamAcl | undefined = target === "$all" ? undefined : this.store.metadataOf(target)?.acl
    const roles = (acl?.[act]) ?? this.settingsAcl(system, act) ?? (system ? DEFAULT_SYSTEM_ACL : DEFAULT_USER_ACL)
    if (roles.includes("$all")) return true
    return roles.some((r) => principal.roles.includes(r))
  }
}
