/**
 * The models a projection engine works with: the events it folds, the query definition it reads
 * out of the sandbox, what one step produces (state, result, emitted writes) and the engine's
 * limits. Shared by the engine, its worker protocol and the projection manager.
 *
 * @since 0.1.0
 */
/**
 * One event as the engine receives it (a store record maps onto it with {@link fromRecord}).
 *
 * @since 0.1.0
 * @category models
 */
export interface ProjectionEvent {
  readonly streamId: string
  readonly eventNumber: number
  readonly eventType: string
  readonly isJson: boolean
  readonly data: Uint8Array
  readonly metadata: Uint8Array
  /** The event id (handlers see it as `eventId`). */
  readonly eventId?: string | undefined
}

/**
 * What the engine processes: an event, and the `$>` link through which it was read when the
 * reader resolved one (a category or stream source full of links). The link's stream is the
 * position stream the source filter looks at; its metadata is the handlers' `linkMetadata`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProjectionInput {
  readonly event: ProjectionEvent
  readonly link?: ProjectionEvent | undefined
}

/**
 * The sources and shape of a compiled query, as the real node's `get_sources` reports them.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProjectionDefinition {
  readonly allStreams: boolean
  readonly streams: ReadonlyArray<string>
  readonly categories: ReadonlyArray<string>
  /** `"$all"` for `fromStreamsMatching`, else null. */
  readonly catalogStream: string | null
  /** True when `$any` (or no handler at all) makes every event type pass. */
  readonly allEvents: boolean
  readonly events: ReadonlyArray<string>
  /** `foreachStream` (and `fromStreamsMatching`): one partition per stream. */
  readonly byStreams: boolean
  /** `partitionBy`. */
  readonly byCustomPartitions: boolean
  readonly definesFold: boolean
  readonly definesStateTransform: boolean
  readonly producesResults: boolean
  readonly handlesDeletedNotifications: boolean
  readonly options: ProjectionOptions
  /** The query text names `emit`, `linkTo`, `copyTo` or `linkStreamTo` (a static hint only). */
  readonly mayEmit: boolean
}

/**
 * The `options({...})` a query may set, and `outputTo`'s stream names.
 *
 * @since 0.1.0
 * @category models
 */
export interface ProjectionOptions {
  readonly resultStreamName: string | null
  readonly partitionResultStreamNamePattern: string | null
  readonly includeLinks: boolean
  readonly reorderEvents: boolean
  readonly processingLag: number
  readonly biState: boolean
}

/**
 * One write a handler asked for: `emit`, `linkTo` (type `$>`, data `N@stream`), `copyTo` (the
 * event's type and raw body, its non-`$` metadata plus `$correlationId`) or `linkStreamTo` (type
 * `$@`, data the linked stream's name). `metadata` is JSON text or null.
 *
 * @since 0.1.0
 * @category models
 */
export interface EmittedEvent {
  readonly kind: "emit" | "linkTo" | "copyTo" | "linkStreamTo"
  readonly streamId: string
  readonly eventType: string
  readonly data: string
  readonly isJson: boolean
  readonly metadata: string | null
}

/**
 * The outcome of processing one input.
 *
 * - `Skipped`: the event does not pass the query's sources, event types or `$includeLinks`.
 * - `Processed`: the partition's new state (JSON text), the shared state with `biState`, the
 *   result (JSON text, `null` when `filterBy` rejected it or `transformBy` gave null; absent when
 *   the query produces no results) and the writes it emitted.
 * - `Faulted`: the reason; the engine stays faulted.
 *
 * @since 0.1.0
 * @category models
 */
export type ProcessOutcome =
  | { readonly _tag: "Skipped" }
  | {
    readonly _tag: "Processed"
    readonly partition: string
    readonly state: string
    readonly sharedState: string | null
    readonly result?: string | null
    readonly emitted: ReadonlyArray<EmittedEvent>
    readonly logs: ReadonlyArray<string>
  }
  | { readonly _tag: "Faulted"; readonly reason: string }

/**
 * Limits and switches of one engine.
 *
 * @since 0.1.0
 * @category models
 */
export interface EngineOptions {
  /** Whether emit/linkTo/copyTo/linkStreamTo may write (the projection's `emit_enabled`). */
  readonly emitEnabled: boolean
  /** Time limit of one sandbox call for an event, ms. Default 250 (the real node's `ProjectionExecutionTimeout`). */
  readonly timeLimitMs?: number
  /** Time limit of compiling the query, ms. Default 500 (the real node's `ProjectionCompilationTimeout`). */
  readonly compileTimeLimitMs?: number
  /**
   * `current` (default): the runtime of gRPC-era servers; `legacy`: the pre-6.0 prelude, with
   * `fromStreamsMatching` and a writing `copyTo` (see Prelude.ts for every difference).
   */
  readonly dialect?: "current" | "legacy"
  /** Memory limit of the sandbox's heap, bytes. Default 32 MiB. */
  readonly memoryLimitBytes?: number
  /**
   * Stack limit of the sandbox, bytes. Default 128 KiB (about 700 nested calls): QuickJS's C frames
   * run on the host's own stack, so a larger limit lets deep recursion exhaust Node's stack first.
   */
  readonly stackLimitBytes?: number
}
