/**
 * A command handler with typed domain errors: each error of the order's decider is a tagged
 * error in the error channel, handled by tag; a lost race is retried by the handler itself.
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { CommandHandler } from "../../src/eventsourcing/index.ts"
import { codec, order, type OrderCommand } from "./order.ts"

export const commandsExample = (orderId: string) =>
  Effect.gen(function*() {
    const orders = CommandHandler.make({ decider: order, codec, metadata: { user: "demo" } })

    // every failure of `handle` is typed: the order's errors, and the store's (append, read, decode)
    const attempt = (command: OrderCommand) =>
      orders.handle(orderId, command).pipe(
        Effect.map((handled) => `ok: ${handled.events.map((e) => e._tag).join(", ")} (version ${handled.version})`),
        Effect.catchTags({
          OrderAlreadyExists: () => Effect.succeed("refused: the order exists"),
          OrderNotFound: () => Effect.succeed("refused: no such order"),
          OrderNotOpen: (e) => Effect.succeed(`refused: the order is ${e.status}`),
          EmptyOrder: () => Effect.succeed("refused: nothing to confirm")
        })
      )

    const outcomes: Array<string> = []
    for (
      const command of [
        { _tag: "AddItem", sku: "ball", quantity: 1, price: 5 },
        { _tag: "Create", customer: "ada" },
        { _tag: "Create", customer: "ada" },
        { _tag: "Confirm", at: new Date() },
        { _tag: "AddItem", sku: "ball", quantity: 1, price: 5 },
        { _tag: "Confirm", at: new Date() },
        { _tag: "Cancel", reason: "changed my mind" }
      ] satisfies Array<OrderCommand>
    ) {
      const outcome = yield* attempt(command)
      outcomes.push(outcome)
      yield* Console.log(`  ${command._tag}: ${outcome}`)
    }
    return outcomes
  })
