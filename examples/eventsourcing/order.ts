/**
 * The order aggregate of the event-sourcing examples: its events (a Schema union of tagged
 * classes, with an older version of `ItemAdded` upcast), its state Schema (for snapshots), its
 * commands, its typed domain errors, and its decider.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { Decider, EventCodec, Snapshots } from "../../src/eventsourcing/index.ts"

// ---- events ---------------------------------------------------------------------------------

export class OrderCreated extends Schema.TaggedClass<OrderCreated>()("OrderCreated", {
  customer: Schema.String
}) {}

export class ItemAdded extends Schema.TaggedClass<ItemAdded>()("ItemAdded", {
  sku: Schema.String,
  quantity: Schema.Int,
  price: Schema.Number
}) {}

export class OrderConfirmed extends Schema.TaggedClass<OrderConfirmed>()("OrderConfirmed", {
  at: Schema.Date
}) {}

export class OrderCancelled extends Schema.TaggedClass<OrderCancelled>()("OrderCancelled", {
  reason: Schema.String
}) {}

export type OrderEvent = OrderCreated | ItemAdded | OrderConfirmed | OrderCancelled

/** Version 1 of `ItemAdded` had no quantity: one item each. */
export const ItemAddedV1 = Schema.Struct({ sku: Schema.String, price: Schema.Number })

/** Who did it, with every event. */
export const OrderMetadata = Schema.Struct({ user: Schema.String })

export const codec = EventCodec.make([OrderCreated, ItemAdded, OrderConfirmed, OrderCancelled], {
  metadata: OrderMetadata,
  upcasters: {
    ItemAdded: [EventCodec.upcaster(ItemAddedV1, (v1) => new ItemAdded({ sku: v1.sku, price: v1.price, quantity: 1 }))]
  }
})

// ---- state ----------------------------------------------------------------------------------

export const Line = Schema.Struct({ sku: Schema.String, quantity: Schema.Int, price: Schema.Number })

export const OrderState = Schema.Struct({
  status: Schema.Literals(["none", "open", "confirmed", "cancelled"]),
  customer: Schema.String,
  lines: Schema.Array(Line),
  total: Schema.Number
})
export type OrderState = typeof OrderState.Type

export const initialState: OrderState = { status: "none", customer: "", lines: [], total: 0 }

export const evolve = (state: OrderState, event: OrderEvent): OrderState => {
  switch (event._tag) {
    case "OrderCreated":
      return { ...state, status: "open", customer: event.customer }
    case "ItemAdded":
      return {
        ...state,
        lines: [...state.lines, { sku: event.sku, quantity: event.quantity, price: event.price }],
        total: state.total + event.quantity * event.price
      }
    case "OrderConfirmed":
      return { ...state, status: "confirmed" }
    case "OrderCancelled":
      return { ...state, status: "cancelled" }
  }
}

// ---- commands and domain errors ---------------------------------------------------------------

export type OrderCommand =
  | { readonly _tag: "Create"; readonly customer: string }
  | { readonly _tag: "AddItem"; readonly sku: string; readonly quantity: number; readonly price: number }
  | { readonly _tag: "Confirm"; readonly at: Date }
  | { readonly _tag: "Cancel"; readonly reason: string }

export class OrderAlreadyExists extends Schema.TaggedError<OrderAlreadyExists>()("OrderAlreadyExists", {}) {}
export class OrderNotFound extends Schema.TaggedError<OrderNotFound>()("OrderNotFound", {}) {}
export class OrderNotOpen extends Schema.TaggedError<OrderNotOpen>()("OrderNotOpen", { status: Schema.String }) {}
export class EmptyOrder extends Schema.TaggedError<EmptyOrder>()("EmptyOrder", {}) {}

export type OrderError = OrderAlreadyExists | OrderNotFound | OrderNotOpen | EmptyOrder

const open = (state: OrderState): Effect.Effect<void, OrderNotFound | OrderNotOpen> =>
  state.status === "none"
    ? Effect.fail(new OrderNotFound())
    : state.status === "open"
    ? Effect.void
    : Effect.fail(new OrderNotOpen({ status: state.status }))

export const decide = (command: OrderCommand, state: OrderState): Effect.Effect<ReadonlyArray<OrderEvent>, OrderError> => {
  switch (command._tag) {
    case "Create":
      return state.status === "none"
        ? Effect.succeed([new OrderCreated({ customer: command.customer })])
        : Effect.fail(new OrderAlreadyExists())
    case "AddItem":
      return Effect.as(open(state), [new ItemAdded({ sku: command.sku, quantity: command.quantity, price: command.price })])
    case "Confirm":
      return Effect.flatMap(open(state), () =>
        state.lines.length === 0 ? Effect.fail(new EmptyOrder()) : Effect.succeed([new OrderConfirmed({ at: command.at })]))
    case "Cancel":
      return Effect.as(open(state), [new OrderCancelled({ reason: command.reason })])
  }
}

export const order = Decider.make({ initialState, evolve, decide })

/** Snapshots of the order's state every 3 events (small, so that the examples show them). */
export const orderSnapshots = Snapshots.make<OrderState, OrderEvent>({ schema: OrderState, schemaVersion: 1, every: 3 })
