/**
 * The commit check: how a write is decided against the state of its stream, as a real node's
 * `IndexWriter.CheckCommit` decides it (PROTOCOL.md §1, the expected-revision table and
 * idempotency by event id). Pure: the state comes in, the decision goes out; the writer applies it.
 *
 * @since 0.1.0
 */
import type { Expected } from "./Records.ts"

/**
 * An event of the stream the commit check found by id: its number and log position.
 *
 * @since 0.1.0
 * @category models
 */
export interface CommittedEvent {
  readonly eventNumber: number
  readonly position: number
}

/**
 * The writer's view of one stream (readable records and those decided but not yet durable).
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamState {
  /** The stream itself has a tombstone (for `$$x`, only its own: `$$x` of a tombstoned `x` stays writable). */
  readonly tombstoned: boolean
  /** Last event number, −1 when the stream has none. */
  readonly last: number
  /** Its metadata carries `$tb` = long.MaxValue. */
  readonly softDeleted: boolean
  /** Its metastream has events (`stream_exists` then succeeds on an empty stream). */
  readonly metastreamHasEvents: boolean
  /** Id, number and position of event `n` of this stream. */
  readonly eventAt: (n: number) => (CommittedEvent & { readonly eventId: string }) | undefined
  /** A recently committed event of this stream with this id (the idempotency window), if any. */
  readonly recent: (eventId: string) => CommittedEvent | undefined
}

/**
 * What the commit check decided.
 *
 * @since 0.1.0
 * @category models
 */
export type CommitDecision =
  | { readonly _tag: "Ok"; readonly softDeleted: boolean }
  | { readonly _tag: "Idempotent"; readonly currentRevision: number; readonly position: number }
  | { readonly _tag: "WrongExpectedVersion"; readonly currentRevision: number }
  | { readonly _tag: "StreamDeleted" }

/**
 * Decides a write of events with `eventIds` to a stream in `state` with `expected`.
 *
 * @since 0.1.0
 * @category decisions
 */
export const checkCommit = (state: StreamState, expected: Expected, eventIds: ReadonlyArray<string>): CommitDecision => {
  if (state.tombstoned) return { _tag: "StreamDeleted" }
  const { last, softDeleted } = state
  const ok: CommitDecision = { _tag: "Ok", softDeleted }
  const wev: CommitDecision = { _tag: "WrongExpectedVersion", currentRevision: last }

  // any / stream_exists: recently committed ids in the same stream
  const byIds = (): CommitDecision | undefined => {
    const firstId = eventIds[0]
    if (firstId === undefined) return undefined
    const first = state.recent(firstId)
    if (first === undefined) return undefined
    let lastFound = first
    for (let i = 1; i < eventIds.length; i++) {
      const found = state.recent(eventIds[i]!)
      if (found === undefined) return wev
      lastFound = found
    }
    return { _tag: "Idempotent", currentRevision: lastFound.eventNumber, position: lastFound.position }
  }

  // no_stream / exact: the ids at expected+1… must all equal, below the end
  const exact = (e: bigint): CommitDecision => {
    if (e === BigInt(last)) return ok
    if (e > BigInt(last) || last < 0) return wev
    const noStreamOnSoftDeleted = e === -1n && softDeleted
    if (eventIds.length === 0) return noStreamOnSoftDeleted ? ok : wev
    const from = Number(e) + 1
    let found: CommittedEvent | undefined
    for (let i = 0; i < eventIds.length; i++) {
      const at = state.eventAt(from + i)
      if (at?.eventId !== eventIds[i]) {
        if (i > 0) return wev
        return noStreamOnSoftDeleted ? ok : wev
      }
      found = at
    }
    return { _tag: "Idempotent", currentRevision: found!.eventNumber, position: found!.position }
  }

  switch (expected._tag) {
    case "Any":
      return byIds() ?? ok
    case "StreamExists": {
      if (softDeleted) return { _tag: "StreamDeleted" }
      const idem = byIds()
      if (idem !== undefined) return idem
      if (last < 0) return state.metastreamHasEvents ? ok : wev
      return ok
    }
    case "NoStream":
      return exact(-1n)
    case "Revision":
      return exact(expected.revision)
  }
}
