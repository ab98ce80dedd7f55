/**
 * A persistent-subscription group as configured (PROTOCOL.md §4): its stream (or `$all`), name,
 * start, `$all` filter and settings, taken literally as a real node takes them; the start
 * positions' text and validation; the names of the streams a group writes.
 *
 * Both the registry (PersistentGroups.ts) and a running group (ConsumerGroup.ts) use this model,
 * which depends on neither.
 *
 * @since 0.1.0
 */

/**
 * The consumer strategies a real node registers.
 *
 * @since 0.1.0
 * @category constants
 */
export const CONSUMER_STRATEGIES: ReadonlyArray<string> = ["DispatchToSingle", "RoundRobin", "Pinned", "PinnedByCorrelation"]

/**
 * Where a group starts: an event number of its stream (-1 = from the end), or a `$all` position
 * ((-1, -1) = from the end).
 *
 * @since 0.1.0
 * @category models
 */
export type StartFrom =
  | { readonly _tag: "Stream"; readonly eventNumber: bigint }
  | { readonly _tag: "All"; readonly commit: bigint; readonly prepare: bigint }

/**
 * A `$all` group's filter as stored in its entry.
 *
 * @since 0.1.0
 * @category models
 */
export interface GroupFilter {
  readonly context: "StreamId" | "EventType"
  readonly type: "Regex" | "Prefix"
  readonly data: ReadonlyArray<string>
}

/**
 * The settings of a group, as a real node takes them: literally, no defaults.
 *
 * @since 0.1.0
 * @category models
 */
export interface GroupSettings {
  readonly resolveLinkTos: boolean
  readonly extraStatistics: boolean
  readonly messageTimeoutMs: number
  readonly maxRetryCount: number
  readonly liveBufferSize: number
  readonly historyBufferSize: number
  readonly readBatchSize: number
  readonly checkPointAfterMs: number
  readonly minCheckPointCount: number
  readonly maxCheckPointCount: number
  readonly maxSubscriberCount: number
  readonly consumerStrategy: string
}

/**
 * One group.
 *
 * @since 0.1.0
 * @category models
 */
export interface Group {
  /** The stream, or `$all`. */
  readonly stream: string
  readonly group: string
  readonly startFrom: StartFrom
  readonly filter: GroupFilter | undefined
  readonly settings: GroupSettings
}

/**
 * The text a real node shows for a start position (`StartPosition`, GetInfo's `start_from`).
 *
 * @since 0.1.0
 * @category formatting
 */
export const startFromText = (start: StartFrom): string =>
  start._tag === "Stream" ? String(start.eventNumber) : `C:${start.commit}/P:${start.prepare}`

/**
 * Why a real node refuses a start position, or undefined.
 *
 * @since 0.1.0
 * @category validation
 */
export const startFromProblem = (start: StartFrom, lastIndexedPosition: number): string | undefined => {
  if (start._tag === "Stream") {
    return start.eventNumber < -1n ? "Invalid Start From position: event number must be greater than or equal to -1." : undefined
  }
  if (start.prepare > start.commit) {
    return "Invalid Start From position: prepare position must be less than or equal to the commit position."
  }
  if (start.commit > BigInt(lastIndexedPosition)) {
    return "Invalid Start From position: commit position must be less than or equal to the last commit position in the transaction file."
  }
  if ((start.prepare <= -1n || start.commit <= -1n) && !(start.prepare === -1n && start.commit === -1n)) {
    return "Invalid Start From position: prepare and commit positions must be greater than or equal to 0 or both equal to -1."
  }
  return undefined
}

/**
 * The streams a group writes: its parked messages and its checkpoints.
 *
 * @since 0.1.0
 * @category accessors
 */
export const groupStreams = (stream: string, group: string) => ({
  parked: `$persistentsubscription-${stream}::${group}-parked`,
  checkpoint: `$persistentsubscription-${stream}::${group}-checkpoint`
})
