/**
 * A decider: the pure shape of an aggregate (`initialState`, `evolve`, `decide`).
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"

/**
 * An aggregate as three functions: its state before any event, how an event changes the state,
 * and which events a command produces in a state. `decide` fails with the domain's own typed
 * errors; it may use services (`R`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Decider } from "effect-esdb/eventsourcing"
 *
 * type Counter = { readonly count: number }
 * type Added = { readonly _tag: "Added"; readonly n: number }
 * const counter = Decider.make({
 *   initialState: { count: 0 } as Counter,
 *   evolve: (state: Counter, event: Added): Counter => ({ count: state.count + event.n }),
 *   decide: (command: { readonly add: number }, _state: Counter) =>
 *     Effect.succeed([{ _tag: "Added", n: command.add } as Added])
 * })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Decider<State, Command, Event, E = never, R = never> {
  readonly initialState: State
  readonly evolve: (state: State, event: Event) => State
  readonly decide: (command: Command, state: State) => Effect.Effect<ReadonlyArray<Event>, E, R>
}

/**
 * Makes a {@link Decider} (an identity that infers its type parameters).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <State, Command, Event, E = never, R = never>(
  decider: Decider<State, Command, Event, E, R>
): Decider<State, Command, Event, E, R> => decider

/**
 * Folds events into a state with the decider's `evolve`, from `state` (default `initialState`).
 *
 * @since 0.1.0
 * @category folding
 */
export const fold = <State, Event>(
  decider: { readonly initialState: State; readonly evolve: (state: State, event: Event) => State },
  events: Iterable<Event>,
  state: State = decider.initialState
): State => {
  let current = state
  for (const event of events) current = decider.evolve(current, event)
  return current
}
