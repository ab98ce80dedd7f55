/**
 * The node's internal user store, kept where a real node keeps it: each user's details in
 * `$user-<login>` (the whole record per event: `$UserCreated`, then `$UserUpdated`), the logins in
 * `$users` (`$User`, data = the login), `$$$user-<login>` holding the ACL that keeps the details
 * to admins, and a `$PasswordChanged` notice in `$users-password-notifications` whenever a
 * password, the groups or the enabled state change (the real node's signal to drop cached
 * credentials). Everything is written through the store's ordinary append path and read through
 * its ordinary reads, so `db` keeps the users and a restart reads them back.
 *
 * Sources (kurrent-io/KurrentDB): `src/KurrentDB.Core/Authentication/InternalAuthentication/
 * UserManagementService.cs` (the commands, their events and answers), `AllUsersReader.cs` (the
 * list), `InternalAuthenticationProvider.cs` (authentication: the last event of `$user-<login>`,
 * disabled users refused), `src/KurrentDB.Core/Data/UserData.cs` (the record's fields, written
 * as indented camel-case JSON, `disabled` left out when false: `KurrentDB.Common/Utils/Json.cs`),
 * `src/KurrentDB.Core/Services/Transport/Http/Authentication/Rfc2898PasswordHashAlgorithm.cs`
 * (the password hash).
 *
 * Passwords are never stored: the record holds a PBKDF2 hash (`node:crypto`) and its salt, with
 * the real node's parameters (HMAC-SHA1, 1000 iterations, 16-byte salt, 20-byte hash, both
 * base64), so a record reads the same as a real node's. Verifying costs a PBKDF2 run (about a
 * millisecond); a successful verification is remembered as a SHA-256 under a key that lives only
 * in this process, tied to the user's current record, so a changed record is verified afresh.
 * The PBKDF2 runs of calls are made off the event loop: the transport waits for {@link
 * UserStore.prepare} (Node's `crypto.pbkdf2` on libuv's thread pool, two at a time so that the
 * pool's other work, the log's `fdatasync`, keeps its threads) before it hands a call to its
 * handler, and the outcome, a match or a mismatch, is remembered (mismatches: the last 4,096
 * (login, password) pairs, as keyed hashes tied to the record) for the check the handler then
 * makes; a flood of wrong passwords queues on the pool instead of stopping the node. A check that
 * was not prepared still runs PBKDF2 in place (`pbkdf2Sync`).
 *
 * @since 0.1.0
 */
import { hash, pbkdf2, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto"
import type { EventRecord, Expected, ProposedEvent, Store } from "../storage/Store.ts"
import { newUuid } from "../codec/Uuid.ts"

/**
 * A user's record, as the last event of `$user-<login>` holds it (`UserData.cs`).
 *
 * @since 0.1.0
 * @category models
 */
export interface UserRecord {
  readonly loginName: string
  readonly fullName: string
  readonly groups: ReadonlyArray<string>
  readonly hash: string
  readonly salt: string
  readonly disabled: boolean
}

/**
 * What Details answers for one user.
 *
 * @since 0.1.0
 * @category models
 */
export interface UserDetails {
  readonly loginName: string
  readonly fullName: string
  readonly groups: ReadonlyArray<string>
  readonly disabled: boolean
  /** Ticks (100 ns) since the Unix epoch of the record's event; absent when unknown. */
  readonly lastUpdatedTicks: bigint | undefined
}

/**
 * Why a user command failed, as `UserManagementMessage.Error` names it.
 *
 * @since 0.1.0
 * @category models
 */
export type UserError = "NotFound" | "Conflict" | "Unauthorized" | "TryAgain" | "Error"

/**
 * What authentication learns of a login and password: the user's groups and disabled flag, or
 * nothing (no such user, or a wrong password).
 *
 * @since 0.1.0
 * @category models
 */
export interface VerifiedUser {
  readonly groups: ReadonlyArray<string>
  readonly disabled: boolean
}

const HASH_SIZE = 20
const SALT_SIZE = 16
const ITERATIONS = 1000
const USERS = "$users"
const PASSWORD_NOTIFICATIONS = "$users-password-notifications"
/** Remembered successful verifications (one per login). */
const MAX_VERIFIED = 1024
/** Remembered failed verifications ((login, password) pairs). */
const MAX_REFUSED = 4096
/** PBKDF2 runs at once on libuv's thread pool (4 threads by default, shared with file I/O). */
const MAX_HASHING = 2

const collator = new Intl.Collator("en")

const userStream = (login: string): string => `$user-${login}`

/**
 * Hashes a password as a real node does (`Rfc2898PasswordHashAlgorithm.Hash`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const hashPassword = (password: string): { readonly hash: string; readonly salt: string } => {
  const salt = randomBytes(SALT_SIZE)
  return {
    hash: pbkdf2Sync(password, salt, ITERATIONS, HASH_SIZE, "sha1").toString("base64"),
    salt: salt.toString("base64")
  }
}

/**
 * Checks a password against a hash and salt (`Rfc2898PasswordHashAlgorithm.Verify`).
 *
 * @since 0.1.0
 * @category predicates
 */
export const verifyPassword = (password: string, hash: string, salt: string): boolean => {
  const expected = Buffer.from(hash, "base64")
  if (expected.length !== HASH_SIZE) return false
  const actual = pbkdf2Sync(password, Buffer.from(salt, "base64"), ITERATIONS, HASH_SIZE, "sha1")
  return timingSafeEqual(actual, expected)
}

/** The record as a real node serializes it: indented, camel case, `disabled` only when true. */
const recordJson = (user: UserRecord): Buffer => {
  const body: Record<string, unknown> = {
    loginName: user.loginName,
    fullName: user.fullName,
    groups: [...user.groups],
    hash: user.hash,
    salt: user.salt
  }
  if (user.disabled) body["disabled"] = true
  return Buffer.from(JSON.stringify(body, null, 2), "utf8")
}

const parseRecord = (record: EventRecord): UserRecord | undefined => {
  try {
    const raw = JSON.parse(record.data.toString("utf8")) as Record<string, unknown>
    if (typeof raw !== "object" || raw === null) return undefined
    const str = (v: unknown): string => (typeof v === "string" ? v : "")
    return {
      loginName: str(raw["loginName"]),
      fullName: str(raw["fullName"]),
      groups: Array.isArray(raw["groups"]) ? raw["groups"].filter((g): g is string => typeof g === "string") : [],
      hash: str(raw["hash"]),
      salt: str(raw["salt"]),
      disabled: raw["disabled"] === true
    }
  } catch {
    return undefined
  }
}

const jsonEvent = (eventType: string, data: Buffer): ProposedEvent => ({
  eventId: newUuid(),
  eventType,
  isJson: true,
  data,
  customMetadata: Buffer.alloc(0)
})

/** Ticks since the Unix epoch of a record (its `created`). */
const ticksOf = (record: EventRecord): bigint => BigInt(record.created)

/**
 * The user store of one node, over its {@link Store}.
 *
 * @since 0.1.0
 * @category models
 */
export class UserStore {
  private readonly store: Store
  private readonly parsed = new WeakMap<EventRecord, UserRecord | null>()
  /** login → the position of the record it was verified against and a keyed hash of the password. */
  private readonly verified = new Map<string, { readonly record: number; readonly mac: Buffer }>()
  /** keyed hash of (login, password) → the position of the record it failed against. */
  private readonly refused = new Map<string, number>()
  /** PBKDF2 runs waiting for the pool, and those running. */
  private readonly hashQueue: Array<() => void> = []
  private hashing = 0
  private readonly macKey = randomBytes(32)

  constructor(store: Store) {
    this.store = store
  }

  /** The last readable event of `$user-<login>` (ReadBackward from the end, one event). */
  private lastRecord(login: string): EventRecord | undefined {
    const view = this.store.view(userStream(login))
    if (view._tag !== "Ok" || view.last < view.first) return undefined
    return view.event(view.last)
  }

  private recordOf(event: EventRecord): UserRecord | undefined {
    let user = this.parsed.get(event)
    if (user === undefined) {
      user = parseRecord(event) ?? null
      this.parsed.set(event, user)
    }
    return user ?? undefined
  }

  /** The user's current record, if the user exists (not deleted). */
  get(login: string): UserRecord | undefined {
    const last = this.lastRecord(login)
    return last === undefined ? undefined : this.recordOf(last)
  }

  /**
   * The authentication hook: the user's groups and disabled flag when the login exists and, for
   * an enabled user, the password matches (`InternalAuthenticationProvider`: a disabled user is
   * refused before its password is checked).
   */
  verify(login: string, password: string): VerifiedUser | undefined {
    const last = this.lastRecord(login)
    if (last === undefined) return undefined
    const user = this.recordOf(last)
    if (user === undefined || user.loginName !== login) return undefined
    if (user.disabled) return { groups: user.groups, disabled: true }
    const mac = this.macOf(login, password)
    const known = this.known(login, last, mac)
    if (known !== undefined) return known ? { groups: user.groups, disabled: false } : undefined
    const matches = verifyPassword(password, user.hash, user.salt)
    this.remember(login, last, mac, matches)
    return matches ? { groups: user.groups, disabled: false } : undefined
  }

  /**
   * Checks a password off the event loop before {@link verify} is asked (see the module doc):
   * undefined when there is nothing to compute (no such user, disabled, or the answer is
   * remembered), else resolves once the answer is remembered.
   */
  prepare(login: string, password: string): Promise<void> | undefined {
    const last = this.lastRecord(login)
    if (last === undefined) return undefined
    const user = this.recordOf(last)
    if (user === undefined || user.loginName !== login || user.disabled) return undefined
    const mac = this.macOf(login, password)
    if (this.known(login, last, mac) !== undefined) return undefined
    const expected = Buffer.from(user.hash, "base64")
    const salt = Buffer.from(user.salt, "base64")
    return new Promise<void>((resolve) => {
      const run = () => {
        this.hashing++
        pbkdf2(password, salt, ITERATIONS, HASH_SIZE, "sha1", (error, actual) => {
          this.hashing--
          if (error === null) {
            this.remember(login, last, mac, expected.length === HASH_SIZE && timingSafeEqual(actual, expected))
          }
          this.hashQueue.shift()?.()
          resolve()
        })
      }
      if (this.hashing < MAX_HASHING) run()
      else this.hashQueue.push(run)
    })
  }

  /** A keyed one-shot SHA-256 of (login, password) (a tenth of an HMAC's cost per call); only compared in memory. */
  private macOf(login: string, password: string): Buffer {
    return hash("sha256", Buffer.concat([this.macKey, Buffer.from(`${login}\0${password}`, "utf8")]), "buffer")
  }

  /** The remembered answer for this password against the user's current record, if any. */
  private known(login: string, record: EventRecord, mac: Buffer): boolean | undefined {
    const verified = this.verified.get(login)
    if (verified !== undefined && verified.record === record.position && timingSafeEqual(verified.mac, mac)) return true
    if (this.refused.get(mac.toString("base64")) === record.position) return false
    return undefined
  }

  private remember(login: string, record: EventRecord, mac: Buffer, matches: boolean): void {
    if (!matches) {
      const key = mac.toString("base64")
      this.refused.delete(key)
      if (this.refused.size >= MAX_REFUSED) {
        const oldest = this.refused.keys().next()
        if (oldest.done !== true) this.refused.delete(oldest.value)
      }
      this.refused.set(key, record.position)
      return
    }
    this.verified.delete(login)
    if (this.verified.size >= MAX_VERIFIED) {
      const oldest = this.verified.keys().next()
      if (oldest.done !== true) this.verified.delete(oldest.value)
    }
    this.verified.set(login, { record: record.position, mac })
  }

  /** Writes the user's ACL (`UpdateStreamAcl`: `$w`, `$d`, `$mw` to `$admins`). */
  private writeAcl(login: string): UserError | undefined {
    const outcome = this.store.append(`$$${userStream(login)}`, { _tag: "Any" }, [
      jsonEvent("$metadata", Buffer.from(JSON.stringify({ "$acl": { "$w": "$admins", "$d": "$admins", "$mw": "$admins" } }), "utf8"))
    ])
    return outcome._tag === "Success" ? undefined : "TryAgain"
  }

  private writeRecord(user: UserRecord, eventType: string, expected: Expected): UserError | undefined {
    const outcome = this.store.append(userStream(user.loginName), expected, [jsonEvent(eventType, recordJson(user))])
    // ReplyByWriteResult: WrongExpectedVersion and StreamDeleted are a conflict
    return outcome._tag === "Success" ? undefined : "Conflict"
  }

  /** `$PasswordChanged` to `$users-password-notifications`, its `$maxAge` of an hour set first when empty. */
  private notifyPasswordChanged(login: string): UserError | undefined {
    const view = this.store.view(PASSWORD_NOTIFICATIONS)
    if (view._tag !== "Ok" || view.last < view.first) {
      this.store.append(`$$${PASSWORD_NOTIFICATIONS}`, { _tag: "Any" }, [
        jsonEvent("$metadata", Buffer.from(JSON.stringify({ "$maxAge": 3600 }), "utf8"))
      ])
    }
    const outcome = this.store.append(PASSWORD_NOTIFICATIONS, { _tag: "Any" }, [
      jsonEvent("$PasswordChanged", Buffer.from(JSON.stringify({ loginName: login }, null, 2), "utf8"))
    ])
    return outcome._tag === "Success" ? undefined : "Conflict"
  }

  /**
   * Create: an existing user with the same password is a success, with another password a
   * conflict; otherwise the ACL, `$UserCreated` and the `$users` entry are written.
   */
  create(login: string, password: string, fullName: string, groups: ReadonlyArray<string>): UserError | undefined {
    const existing = this.get(login)
    if (existing !== undefined) return verifyPassword(password, existing.hash, existing.salt) ? undefined : "Conflict"
    const expected: Expected = { _tag: "Revision", revision: BigInt(this.store.lastEventNumber(userStream(login))) }
    const { hash, salt } = hashPassword(password)
    const failure = this.writeAcl(login) ??
      this.writeRecord({ loginName: login, fullName, groups, hash, salt, disabled: false }, "$UserCreated", expected)
    if (failure !== undefined) return failure
    const outcome = this.store.append(USERS, { _tag: "Any" }, [{
      eventId: newUuid(),
      eventType: "$User",
      isJson: false,
      data: Buffer.from(login, "utf8"),
      customMetadata: Buffer.alloc(0)
    }])
    return outcome._tag === "Success" ? undefined : "Conflict"
  }

  /** Read, change, write `$UserUpdated` at the read revision, then notify when told (`ReadUpdateWriteReply`). */
  private readUpdateWrite(
    login: string,
    update: (user: UserRecord) => UserRecord | UserError,
    notify: boolean
  ): UserError | undefined {
    const last = this.lastRecord(login)
    if (last === undefined) return "NotFound"
    const user = this.recordOf(last)
    if (user === undefined) return "Error"
    const updated = update(user)
    if (typeof updated === "string") return updated
    const failure = this.writeRecord(updated, "$UserUpdated", { _tag: "Revision", revision: BigInt(last.eventNumber) })
    if (failure !== undefined) return failure
    return notify ? this.notifyPasswordChanged(login) : undefined
  }

  /** Update: full name and groups (the password is not touched). */
  update(login: string, fullName: string, groups: ReadonlyArray<string>): UserError | undefined {
    return this.readUpdateWrite(login, (u) => ({ ...u, fullName, groups: [...groups] }), true)
  }

  /** Enable (no password notification, as on a real node). */
  enable(login: string): UserError | undefined {
    return this.readUpdateWrite(login, (u) => ({ ...u, disabled: false }), false)
  }

  /** Disable. */
  disable(login: string): UserError | undefined {
    return this.readUpdateWrite(login, (u) => ({ ...u, disabled: true }), true)
  }

  /** ResetPassword (an admin sets a new password). */
  resetPassword(login: string, newPassword: string): UserError | undefined {
    const { hash, salt } = hashPassword(newPassword)
    return this.readUpdateWrite(login, (u) => ({ ...u, hash, salt }), true)
  }

  /** ChangePassword: the current password must match, else Unauthorized. */
  changePassword(login: string, currentPassword: string, newPassword: string): UserError | undefined {
    const { hash, salt } = hashPassword(newPassword)
    return this.readUpdateWrite(
      login,
      (u) => (verifyPassword(currentPassword, u.hash, u.salt) ? { ...u, hash, salt } : "Unauthorized"),
      true
    )
  }

  /** Delete: soft-deletes `$user-<login>` at its last revision, then notifies. */
  delete(login: string): UserError | undefined {
    const last = this.lastRecord(login)
    if (last === undefined) return "NotFound"
    const outcome = this.store.softDelete(userStream(login), { _tag: "Revision", revision: BigInt(last.eventNumber) })
    if (outcome._tag !== "Success") return "Conflict"
    return this.notifyPasswordChanged(login)
  }

  /**
   * Re-hashes the records written by earlier versions of this node, which kept the password
   * base64-encoded in `hash` with the login as `salt`: each gets a `$UserUpdated` with a PBKDF2
   * hash, so that a kept database still lets its users in. Returns how many were upgraded.
   */
  upgradeLegacyRecords(): number {
    const view = this.store.view(USERS)
    if (view._tag !== "Ok") return 0
    let upgraded = 0
    const seen = new Set<string>()
    for (let i = view.first; i <= view.last; i++) {
      const login = view.event(i)?.data.toString("utf8")
      if (login === undefined || seen.has(login)) continue
      seen.add(login)
      const user = this.get(login)
      if (user === undefined || user.salt !== Buffer.from(login, "utf8").toString("base64")) continue
      if (Buffer.from(user.hash, "base64").length === HASH_SIZE) continue
      const password = Buffer.from(user.hash, "base64").toString("utf8")
      if (this.readUpdateWrite(login, (u) => ({ ...u, ...hashPassword(password) }), false) === undefined) upgraded++
    }
    return upgraded
  }

  /** Details of one user (the login asked for, with the record's other fields). */
  details(login: string): UserDetails | UserError {
    const last = this.lastRecord(login)
    if (last === undefined) return "NotFound"
    const user = this.recordOf(last)
    if (user === undefined) return "Error"
    return { loginName: login, fullName: user.fullName, groups: user.groups, disabled: user.disabled, lastUpdatedTicks: ticksOf(last) }
  }

  /**
   * Every user listed in `$users` and not deleted, sorted by login (`AllUsersReader`): a login
   * listed twice is reported once; a record that is not a user's JSON fails the whole list.
   */
  all(): ReadonlyArray<UserDetails> | UserError {
    const view = this.store.view(USERS)
    if (view._tag !== "Ok") return "NotFound"
    const seen = new Set<string>()
    const out: Array<UserDetails> = []
    for (let i = view.first; i <= view.last; i++) {
      const event = view.event(i)
      if (event === undefined || event.eventType !== "$User") continue
      const login = event.data.toString("utf8")
      if (seen.has(login)) continue
      const last = this.lastRecord(login)
      if (last === undefined) continue
      seen.add(login)
      const user = this.recordOf(last)
      if (user === undefined) return "Error"
      out.push({ loginName: user.loginName, fullName: user.fullName, groups: user.groups, disabled: user.disabled, lastUpdatedTicks: ticksOf(last) })
    }
    // `OrderBy(v => v.LoginName)`: .NET's default string comparer is culture-aware (ICU on Linux)
    return out.sort((a, b) => collator.compare(a.loginName, b.loginName))
  }
}
