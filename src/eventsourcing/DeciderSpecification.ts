/**
 * A test kit for deciders in Emmett's `DeciderSpecification` shape: given events, when a
 * command, then the events decided or the error. It runs without a node (the decider alone) or
 * against a node (the command handler: the given events are appended to a fresh stream, the
 * command is handled, and the events it appended are read back and decoded).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { randomUUID } from "node:crypto"
import { isDeepStrictEqual, inspect } from "node:util"
import { Streams } from "../index.ts"
import type { CommandHandler } from "./CommandHandler.ts"
import { fold, type Decider } from "./Decider.ts"
import type { EventCodec } from "./EventCodec.ts"

/**
 * A specification that did not hold: what was expected and what happened.
 *
 * @since 0.1.0
 * @category errors
 */
export class SpecificationFailed extends Schema.TaggedError<SpecificationFailed>("effect-esdb/eventsourcing/SpecificationFailed")(
  "SpecificationFailed",
  { expected: Schema.String, actual: Schema.String }
) {
  override get message(): string {
    return `Expected ${this.expected}\n     got ${this.actual}`
  }
}

const show = (value: unknown): string => inspect(value, { depth: 6, breakLength: 120 })

/**
 * The outcome of `when`: assert the events decided, or the error.
 *
 * @since 0.1.0
 * @category models
 */
export interface Then<Event, E, R> {
  /** The command decided exactly these events (compared structurally). */
  readonly then: (expected: ReadonlyArray<Event>) => Effect.Effect<void, SpecificationFailed, R>
  /** The command failed with this error (compared structurally), or an error the predicate accepts. */
  readonly thenFails: (expected: E | ((error: E) => boolean)) => Effect.Effect<void, SpecificationFailed, R>
}

/**
 * A specification: `given(events).when(command).then(events)` or `.thenFails(error)`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Specification<Command, Event, E, R> {
  readonly given: (events: ReadonlyArray<Event>) => {
    readonly when: (command: Command) => Then<Event, E, R>
  }
}

const thenOf = <Event, E, R, E2>(
  outcome: Effect.Effect<ReadonlyArray<Event>, E | E2, R>
): Then<Event, E, R> => ({
  then: (expected) =>
    Effect.matchEffect(outcome, {
      onFailure: (error) => Effect.fail(new SpecificationFailed({ expected: show(expected), actual: `failure ${show(error)}` })),
      onSuccess: (actual) =>
        isDeepStrictEqual([...actual], [...expected])
          ? Effect.void
          : Effect.fail(new SpecificationFailed({ expected: show(expected), actual: show(actual) }))
    }),
  thenFails: (expected) =>
    Effect.matchEffect(outcome, {
      onFailure: (error) => {
        const holds = typeof expected === "function"
          ? (expected as (error: E) => boolean)(error as E)
          : isDeepStrictEqual(error, expected)
        return holds ? Effect.void : Effect.fail(new SpecificationFailed({ expected: show(expected), actual: `failure ${show(error)}` }))
      },
      onSuccess: (actual) => Effect.fail(new SpecificationFailed({ expected: `failure ${show(expected)}`, actual: show(actual) }))
    })
})

/**
 * A specification of the decider alone, without a node: the given events are folded with
 * `evolve`, then `decide` runs.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Decider, DeciderSpecification } from "effect-esdb/eventsourcing"
 *
 * const counter = Decider.make({
 *   initialState: 0,
 *   evolve: (n: number, e: { readonly _tag: "Added"; readonly n: number }) => n + e.n,
 *   decide: (c: number, _n: number) => Effect.succeed([{ _tag: "Added" as const, n: c }])
 * })
 * const spec = DeciderSpecification.make(counter)
 * const test = spec.given([{ _tag: "Added", n: 1 }]).when(2).then([{ _tag: "Added", n: 2 }])
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <State, Command, Event, E, R>(
  decider: Decider<State, Command, Event, E, R>
): Specification<Command, Event, E, R> => ({
  given: (events) => ({
    when: (command) => thenOf(Effect.suspend(() => decider.decide(command, fold(decider, events))))
  })
})

/**
 * A specification run against a node through the command handler: the given events are
 * appended (with the codec) to a fresh stream `<prefix>-<uuid>`, the command is handled, and
 * the events it appended are read back from the node and decoded.
 *
 * @since 0.1.0
 * @category constructors
 */
export const onNode = <State, Command, Event extends { readonly _tag: string }, E, R, Meta>(
  handler: CommandHandler<State, Command, Event, E, R>,
  codec: EventCodec<Event, Meta>,
  options: { readonly streamPrefix?: string } = {}
): Specification<Command, Event, E, R | Streams.Streams> => ({
  given: (events) => ({
    when: (command) =>
      thenOf<Event, E, R | Streams.Streams, never>(Effect.gen(function*() {
        const stream = `${options.streamPrefix ?? "spec"}-${randomUUID()}`
        if (events.length > 0) yield* Effect.orDie(codec.append(stream, events, { currentVersion: "no_stream" }))
        yield* handler.handle(stream, command)
        const streams = yield* Streams.Streams
        const recorded = yield* streams.get(stream, { streamPosition: BigInt(events.length) }).pipe(
          Effect.catchTag("NotFound", () => Effect.succeed([])),
          Effect.orDie
        )
        const decided: Array<Event> = []
        for (const event of recorded) decided.push((yield* Effect.orDie(codec.decode(event))).event)
        return decided
        // infrastructure failures reach `then`/`thenFails` as failures too, and fail the specification
      }) as Effect.Effect<ReadonlyArray<Event>, E, R | Streams.Streams>)
  })
})
