/**
 * The checkpoint tag a projection stamps on everything it writes, as KurrentDB's
 * `CheckpointTag.WriteTo` writes it (src/KurrentDB.Projections.Shared/Services/Processing/
 * Checkpointing/CheckpointTag.cs): `$v` = `projectionId:epoch:version:subsystemVersion` (written
 * only for a projection id above 0), then `$c`/`$p` (the commit and prepare positions; one log,
 * so both are the record's position). `CheckpointTag.FromJson` reads `$v` in both forms: four (or
 * three) parts, or the older `x:version`, whose first part it ignores (epoch 0, the current id).
 *
 * @since 0.1.0
 */

/**
 * `ProjectionConstants.SubsystemVersion` (src/KurrentDB.Projections.Shared/ProjectionConstants.cs).
 *
 * @since 0.1.0
 * @category constants
 */
export const SUBSYSTEM_VERSION = 4

/**
 * A projection's identity and version: the id (the event number of its `$ProjectionCreated` in
 * the registry), the epoch (the version of its last reset) and the version.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProjectionVersion {
  readonly id: number
  readonly epoch: number
  readonly version: number
}

/**
 * The metadata of a checkpoint tag at `position`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const checkpointTag = (v: ProjectionVersion, position: number): Record<string, unknown> => ({
  ...(v.id > 0 ? { "$v": `${v.id}:${v.epoch}:${v.version}:${SUBSYSTEM_VERSION}` } : {}),
  "$c": position,
  "$p": position
})

/**
 * A tag read back.
 *
 * @since 0.1.0
 * @category models
 */
export interface ParsedTag {
  readonly id: number
  readonly epoch: number
  readonly version: number
  readonly position: number
}

/**
 * Reads the tag of an event's metadata, with `current` for what the tag leaves out (as
 * `CheckpointTag.FromJson` does); undefined when there is no `$c`.
 *
 * @since 0.1.0
 * @category parsers
 */
export const parseTag = (metadata: Uint8Array, current: ProjectionVersion): ParsedTag | undefined => {
  if (metadata.length === 0) return undefined
  let m: unknown
  try {
    m = JSON.parse(Buffer.from(metadata).toString("utf8"))
  } catch {
    return undefined
  }
  if (typeof m !== "object" || m === null) return undefined
  const o = m as Record<string, unknown>
  const position = o["$c"]
  if (typeof position !== "number") return undefined
  let id = current.id
  let epoch = 0
  let version = 0
  const v = o["$v"]
  if (typeof v === "number") {
    if (v > 0) version = v
  } else if (typeof v === "string") {
    const parts = v.split(":").map((x) => Number.parseInt(x, 10))
    if (parts.length === 2) {
      version = parts[1] ?? 0
    } else {
      id = parts[0] ?? id
      epoch = parts[1] ?? 0
      version = parts[2] ?? 0
    }
  }
  return { id, epoch, version, position }
}
