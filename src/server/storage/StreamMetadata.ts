/**
 * Stream metadata and ACLs: the last event of a metastream (`$$x`) parsed as a real node reads it
 * (`Data/StreamMetadata.cs`, PROTOCOL.md §1 "Stream metadata"): `$maxCount` (> 0), `$maxAge`
 * (seconds), `$tb`, `$acl{$r,$w,$d,$mr,$mw}` (a role or a list); non-JSON, empty or invalid data
 * means no metadata.
 *
 * @since 0.1.0
 */

/**
 * `$tb` value marking a soft-deleted stream (compared as a JS number).
 *
 * @since 0.1.0
 * @category constants
 */
export const DELETED_TB = 9223372036854775807

/**
 * Access control list of a stream (roles per action).
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamAcl {
  readonly read?: ReadonlyArray<string> | undefined
  readonly write?: ReadonlyArray<string> | undefined
  readonly delete?: ReadonlyArray<string> | undefined
  readonly metaRead?: ReadonlyArray<string> | undefined
  readonly metaWrite?: ReadonlyArray<string> | undefined
}

/**
 * The parsed metadata of a stream (last event of its metastream).
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamMetadata {
  readonly maxCount?: number | undefined
  readonly maxAge?: number | undefined
  readonly truncateBefore?: number | undefined
  readonly acl?: StreamAcl | undefined
  readonly raw: Record<string, unknown>
}

const asRoles = (value: unknown): ReadonlyArray<string> | undefined => {
  if (typeof value === "string") return [value]
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === "string")
  return undefined
}

/**
 * The raw JSON object of a metadata event's data, or undefined when it is not one.
 *
 * @since 0.1.0
 * @category parsing
 */
export const rawMetadata = (data: Buffer): Record<string, unknown> | undefined => {
  if (data.length === 0) return undefined
  let raw: unknown
  try {
    raw = JSON.parse(data.toString("utf8"))
  } catch {
    return undefined
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return undefined
  return raw as Record<string, unknown>
}

/**
 * Parses the data of a metastream's last event.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseMetadata = (data: Buffer | undefined): StreamMetadata | undefined => {
  const o = data === undefined ? undefined : rawMetadata(data)
  if (o === undefined) return undefined
  const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? Math.floor(v) : undefined)
  const maxCount = num(o["$maxCount"])
  const maxAge = num(o["$maxAge"])
  const tb = num(o["$tb"])
  const aclRaw = o["$acl"]
  let acl: StreamAcl | undefined
  if (typeof aclRaw === "object" && aclRaw !== null && !Array.isArray(aclRaw)) {
    const a = aclRaw as Record<string, unknown>
    acl = {
      read: asRoles(a["$r"]),
      write: asRoles(a["$w"]),
      delete: asRoles(a["$d"]),
      metaRead: asRoles(a["$mr"]),
      metaWrite: asRoles(a["$mw"])
    }
  }
  return {
    maxCount: maxCount !== undefined && maxCount > 0 ? maxCount : undefined,
    maxAge: maxAge !== undefined && maxAge > 0 ? maxAge : undefined,
    truncateBefore: tb !== undefined && tb >= 0 ? tb : undefined,
    acl,
    raw: o
  }
}

/**
 * Does this metadata mark its stream soft-deleted (`$tb` = long.MaxValue)?
 *
 * @since 0.1.0
 * @category accessors
 */
export const isSoftDeletedMeta = (meta: StreamMetadata | undefined): boolean =>
  meta?.truncateBefore !== undefined && meta.truncateBefore >= DELETED_TB
