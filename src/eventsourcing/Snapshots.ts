/**
 * Snapshots of an aggregate's state, as the seed's how-to stores them: a snapshot stream per
 * aggregate (`snapshot-$<stream>`) whose events hold the state (data) and the stream position of
 * the last event it covers (metadata `version`), plus the state Schema's version
 * (`schemaVersion`).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { NewEvent, Streams } from "../index.ts"

/**
 * When to take a snapshot after a command was handled: every `every` events since the last
 * snapshot, or when `when` says so (given the new state, its version and the events appended).
 *
 * @since 0.1.0
 * @category models
 */
export interface SnapshotPolicy<State, Event> {
  readonly every?: number | undefined
  readonly when?: ((context: { readonly state: State; readonly version: bigint; readonly events: ReadonlyArray<Event> }) => boolean) | undefined
}

/**
 * A snapshot read back: the state and the stream position of the last event it covers.
 *
 * @since 0.1.0
 * @category models
 */
export interface Snapshot<State> {
  readonly state: State
  readonly version: bigint
}

/**
 * How an aggregate's snapshots are written and read.
 *
 * @since 0.1.0
 * @category models
 */
export interface Snapshots<State, Event = unknown> {
  /** The snapshot stream of an aggregate stream (default `snapshot-$<stream>`). */
  readonly streamName: (stream: string) => string
  readonly policy: SnapshotPolicy<State, Event>
  /** The latest snapshot whose schema version matches and whose state decodes; `undefined` otherwise. */
  readonly load: (stream: string) => Effect.Effect<Snapshot<State> | undefined, Streams.TransportError, Streams.Streams>
  /** Appends a snapshot of `state` covering the events up to `version`. */
  readonly save: (stream: string, snapshot: Snapshot<State>) => Effect.Effect<void, Streams.AppendError | Schema.SchemaError, Streams.Streams>
  /** Whether the policy asks for a snapshot after a command. */
  readonly due: (context: {
    readonly state: State
    readonly version: bigint
    readonly events: ReadonlyArray<Event>
    readonly eventsSinceSnapshot: number
  }) => boolean
}

/** The metadata of a snapshot event. */
const SnapshotMetadata = Schema.Struct({ version: Schema.String, schemaVersion: Schema.Number })

const encoder = new TextEncoder()

/**
 * Makes {@link Snapshots} from the state's Schema. `schemaVersion` (default 1) is written with
 * each snapshot; a snapshot written under another schema version is ignored (the aggregate is
 * then rebuilt from its events), so changing the state's shape only needs a new number. The
 * snapshot stream keeps the last `maxCount` snapshots (default 5; stream metadata `$maxCount`).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Snapshots } from "effect-esdb/eventsourcing"
 *
 * const OrderState = Schema.Struct({ items: Schema.Array(Schema.String) })
 * const snapshots = Snapshots.make({ schema: OrderState, schemaVersion: 2, every: 100 })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <State, Event = unknown>(options: {
  readonly schema: Schema.Codec<State, any, never, never>
  readonly schemaVersion?: number | undefined
  readonly every?: number | undefined
  readonly when?: SnapshotPolicy<State, Event>["when"]
  readonly streamName?: ((stream: string) => string) | undefined
  readonly maxCount?: number | undefined
}): Snapshots<State, Event> => {
  const schemaVersion = options.schemaVersion ?? 1
  const streamName = options.streamName ?? ((stream: string) => `snapshot-$${stream}`)
  const codec = Schema.toCodecJson(options.schema)
  const maxCount = options.maxCount ?? 5
  const policy: SnapshotPolicy<State, Event> = { every: options.every, when: options.when }
  const load = (stream: string) =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const found = yield* streams.get(streamName(stream), { backwards: true, limit: 1 }).pipe(
        Effect.catchTags({
          NotFound: () => Effect.succeed([]),
          StreamDeleted: () => Effect.succeed([])
        })
      )
      const recorded = found[0]
      if (recorded === undefined) return undefined
      const decoded = yield* Effect.result(Effect.gen(function*() {
        const meta = yield* Schema.decodeUnknownEffect(SnapshotMetadata)(JSON.parse(new TextDecoder().decode(recorded.metadata)))
        if (meta.schemaVersion !== schemaVersion) {
          return yield* Effect.fail(`schema version ${meta.schemaVersion}, expected ${schemaVersion}`)
        }
        const state = yield* recorded.decodeJson(codec)
        return { state, version: BigInt(meta.version) }
      }).pipe(Effect.catchDefect((defect) => Effect.fail(String(defect)))))
      if (decoded._tag === "Success") return decoded.success
      yield* Effect.logDebug(`snapshot of ${stream} ignored: ${typeof decoded.failure === "string" ? decoded.failure : decoded.failure.message}`)
      return undefined
    })
  const save = (stream: string, snapshot: Snapshot<State>) =>
    Effect.gen(function*() {
      const streams = yield* Streams.Streams
      const data = yield* Schema.encodeEffect(codec)(snapshot.state)
      const snapshotStream = streamName(stream)
      yield* streams.append(
        snapshotStream,
        new NewEvent({
          type: "Snapshot",
          data: encoder.encode(JSON.stringify(data)),
          metadata: encoder.encode(JSON.stringify({ version: snapshot.version.toString(), schemaVersion }))
        }),
        { currentVersion: "any" }
      )
      const current = yield* streams.getStreamMetadata(snapshotStream).pipe(Effect.catchTag("StreamDeleted", () => Effect.succeed(undefined)))
      if (current !== undefined && current.metadata.$maxCount === undefined) {
        yield* streams.setStreamMetadata(snapshotStream, { ...current.metadata, $maxCount: maxCount })
      }
    })
  return {
    streamName,
    policy,
    load,
    save,
    due: ({ events, eventsSinceSnapshot, state, version }) =>
      events.length > 0 && (
        (policy.every !== undefined && eventsSinceSnapshot >= policy.every) ||
        (policy.when !== undefined && policy.when({ state, version, events }))
      )
  }
}
