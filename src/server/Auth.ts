/**
 * Authentication (Basic/Bearer credentials against the node's users) and the default
 * authorization policy of a node (PROTOCOL.md §7): stream ACLs from `$acl`, `$settings` or the
 * defaults, admins bypass ACLs, anonymous stream access refused. In insecure mode every call is
 * the System user and everything is allowed.
 *
 * @since 0.1.0
 */
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
 * A user of the internal user store.
 *
 * @since 0.1.0
 * @category models
 */
export interface User {
  readonly login: string
  password: string
  fullName: string
  groups: Array<string>
  disabled: boolean
}

/**
 * Stream operations subject to ACLs.
 *
 * @since 0.1.0
 * @category models
 */
export type StreamAction = "read" | "write" | "delete" | "metaRead" | "metaWrite"

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
  readonly users = new Map<string, User>()
  private readonly store: Store

  constructor(store: Store, insecure: boolean) {
    this.store = store
    this.insecure = insecure
  }

  /**
   * Reads the users back from their streams (`$users` lists the logins, the last event of
   * `$user-<login>` holds the details), as after a restart on a kept database.
   */
  loadUsers(): void {
    const logins = this.store.events("$users")
    for (const record of logins) {
      const login = record.data.toString("utf8")
      if (this.store.isTombstoned(`$user-${login}`) || this.store.isSoftDeleted(`$user-${login}`)) continue
      const last = this.store.lastEvent(`$user-${login}`)
      if (last === undefined) continue
      try {
        const data = JSON.parse(last.data.toString("utf8")) as Record<string, unknown>
        const groups = Array.isArray(data["groups"]) ? data["groups"].filter((g): g is string => typeof g === "string") : []
        this.users.set(login, {
          login,
          password: typeof data["hash"] === "string" ? Buffer.from(data["hash"], "base64").toString("utf8") : "",
          fullName: typeof data["fullName"] === "string" ? data["fullName"] : login,
          groups,
          disabled: data["disabled"] === true
        })
      } catch {
        // not a user record this node wrote: skip it
      }
    }
  }

  /** Adds a user to the user store and writes its streams like a real node does. */
  createUser(login: string, password: string, fullName: string, groups: ReadonlyArray<string>): void {
    this.users.set(login, { login, password, fullName, groups: [...groups], disabled: false })
    this.store.writeSystemEvent(`$$$user-${login}`, "$metadata", {
      "$acl": { "$w": "$admins", "$d": "$admins", "$mw": "$admins" }
    })
    this.store.writeSystemEvent(`$user-${login}`, "$UserCreated", {
      loginName: login,
      fullName,
      salt: Buffer.from(login).toString("base64"),
      hash: Buffer.from(password).toString("base64"),
      groups: [...groups]
    })
    this.store.writeSystemEvent("$users", "$User", login, false)
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
    const user = this.users.get(creds.login)
    if (user === undefined || user.disabled || user.password !== creds.password) return { _tag: "Unauthenticated" }
    return {
      _tag: "Ok",
      principal: { login: user.login, roles: [user.login, ...user.groups], isSystem: false, isAuthenticated: true }
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
