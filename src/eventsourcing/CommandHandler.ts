/**
 * A command handler: loads an aggregate (from its latest snapshot, then the events after it),
 * decides, appends with the expected version, and on `WrongCurrentVersion` loads and decides
 * again under a `Schedule`.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import type { StreamDeleted, WrongCurrentVersion } from "../index.ts"
import { Streams } from "../index.ts"
import type { Decider } from "./Decider.ts"
import type { EventDecodeError } from "./EventDecodeError.ts"
import type { EventEncodeError } from "./EventEncodeError.ts"
import type { EventCodec } from "./EventCodec.ts"
import type { Snapshots } from "./Snapshots.ts"

/**
 * An aggregate as loaded: its state, the stream position of its last event (`"no_stream"` when
 * it has none), whether a snapshot was used and how many events were folded after it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Loaded<State> {
  readonly state: State
  readonly version: bigint | "no_stream"
  readonly fromSnapshot: boolean
  readonly eventsSinceSnapshot: number
}

/**
 * What handling a command did: the events it appended (none when the decider decided none),
 * the new state and version, and the commit position of the append.
 *
 * @since 0.1.0
 * @category models
 */
export interface Handled<State, Event> {
  readonly events: ReadonlyArray<Event>
  readonly state: State
  readonly version: bigint | "no_stream"
  readonly position: bigint | undefined
}

/**
 * The errors of loading an aggregate.
 *
 * @since 0.1.0
 * @category errors
 */
export type LoadError = StreamDeleted | Streams.TransportError | EventDecodeError

/**
 * The errors of handling a command besides the domain's own.
 *
 * @since 0.1.0
 * @category errors
 */
export type HandleError = LoadError | Streams.AppendError | EventEncodeError

/**
 * A command handler for one aggregate type.
 *
 * @since 0.1.0
 * @category models
 */
export interface CommandHandler<State, Command, Event, E, R> {
  /** Loads the aggregate of a stream (a missing stream is the initial state). */
  readonly load: (stream: string) => Effect.Effect<Loaded<State>, LoadError, Streams.Streams>
  /**
   * Handles a command: load, decide, append with the loaded version as expected version. When
   * another writer got there first (`WrongCurrentVersion`) it loads and decides again, under
   * the `retry` Schedule; the domain's errors `E` stay typed.
   */
  readonly handle: (stream: string, command: Command) => Effect.Effect<Handled<State, Event>, E | HandleError, R | Streams.Streams>
}

/**
 * The default retry on `WrongCurrentVersion`: up to 10 retries, 10 ms doubling, jittered.
 *
 * @since 0.1.0
 * @category schedules
 */
export const defaultRetry: Schedule.Schedule<unknown, WrongCurrentVersion> = Schedule.exponential("10 millis").pipe(
  Schedule.jittered,
  Schedule.upTo({ times: 10 })
)

const isWrongCurrentVersion = (error: unknown): error is WrongCurrentVersion =>
  typeof error === "object" && error !== null && (error as { readonly _tag?: unknown })._tag === "WrongCurrentVersion"

/**
 * Makes a {@link CommandHandler} from a decider and the codec of its events, with snapshots as
 * an option.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { CommandHandler, Decider, EventCodec } from "effect-esdb/eventsourcing"
 *
 * class Added extends Schema.TaggedClass<Added>()("Added", { n: Schema.Number }) {}
 * class TooBig extends Schema.TaggedError<TooBig>()("TooBig", { n: Schema.Number }) {}
 * const codec = EventCodec.make([Added])
 * const counter = Decider.make({
 *   initialState: 0,
 *   evolve: (count: number, event: Added) => count + event.n,
 *   decide: (n: number, count: number) => count + n > 10 ? Effect.fail(new TooBig({ n })) : Effect.succeed([new Added({ n })])
 * })
 * const handler = CommandHandler.make({ decider: counter, codec })
 * const program = handler.handle("counter-1", 3) // Effect<Handled<number, Added>, TooBig | HandleError, Streams>
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <State, Command, Event extends { readonly _tag: string }, E, R, Meta = never>(options: {
  readonly decider: Decider<State, Command, Event, E, R>
  readonly codec: EventCodec<Event, Meta>
  readonly snapshots?: Snapshots<State, Event> | undefined
  readonly retry?: Schedule.Schedule<unknown, WrongCurrentVersion> | undefined
  /** Metadata written with every appended event. */
  readonly metadata?: Meta | undefined
}): CommandHandler<State, Command, Event, E, R> => {
  const { codec, decider, snapshots } = options
  const retry = options.retry ?? defaultRetry

  const load = (stream: string): Effect.Effect<Loaded<State>, LoadError, Streams.Streams> =>
    Effect.gen(function*() {
      const snapshot = snapshots === undefined ? undefined : yield* snapshots.load(stream)
      let state = snapshot?.state ?? decider.initialState
      let version: bigint | "no_stream" = snapshot?.version ?? "no_stream"
      let eventsSinceSnapshot = 0
      const streams = yield* Streams.Streams
      const read = streams.read(stream, snapshot === undefined ? {} : { streamPosition: snapshot.version + 1n }).pipe(
        codec.decodeStream(),
        Stream.runForEach((typed) =>
          Effect.sync(() => {
            state = decider.evolve(state, typed.event)
            version = typed.recorded.streamPosition
            eventsSinceSnapshot++
          })
        ),
        Effect.catchTag("NotFound", () => Effect.void)
      )
      yield* read
      return { state, version, fromSnapshot: snapshot !== undefined, eventsSinceSnapshot }
    })

  const once = (stream: string, command: Command) =>
    Effect.gen(function*() {
      const loaded = yield* load(stream)
      const events = yield* decider.decide(command, loaded.state)
      if (events.length === 0) {
        return { events, state: loaded.state, version: loaded.version, position: undefined } satisfies Handled<State, Event>
      }
      const position = yield* codec.append(stream, events, { currentVersion: loaded.version, metadata: options.metadata })
      let state = loaded.state
      for (const event of events) state = decider.evolve(state, event)
      const version = (loaded.version === "no_stream" ? -1n : loaded.version) + BigInt(events.length)
      if (snapshots !== undefined && snapshots.due({ state, version, events, eventsSinceSnapshot: loaded.eventsSinceSnapshot + events.length })) {
        // a snapshot is an optimisation: failing to write one does not fail the command
        yield* snapshots.save(stream, { state, version }).pipe(
          Effect.catch((error) => Effect.logWarning(`snapshot of ${stream} at ${version} not written: ${error.message}`))
        )
      }
      return { events, state, version, position } satisfies Handled<State, Event>
    })

  return {
    load,
    handle: (stream, command) =>
      once(stream, command).pipe(
        Effect.matchEffect({
          onFailure: (error) =>
            isWrongCurrentVersion(error)
              ? Effect.fail(error)
              : Effect.succeed({ _tag: "Failed", error: error as Exclude<typeof error, WrongCurrentVersion> } as const),
          onSuccess: (handled) => Effect.succeed({ _tag: "Done", handled } as const)
        }),
        Effect.retry(retry),
        Effect.flatMap((outcome) => outcome._tag === "Done" ? Effect.succeed(outcome.handled) : Effect.fail(outcome.error))
      )
  }
}
