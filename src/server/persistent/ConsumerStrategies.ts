/**
 * The consumer strategies of a persistent-subscription group (PROTOCOL.md §4,
 * `Services/PersistentSubscription/ConsumerStrategy/*`): which connected consumer receives the
 * next message.
 *
 * - `DispatchToSingle`: fill the first consumer (in connection order) up to its in-flight limit,
 *   then the next.
 * - `RoundRobin`: each message to the next consumer with room, in turn.
 * - `Pinned`: by a hash of the event's stream, so one stream goes to one consumer while the set
 *   of consumers stays the same.
 * - `PinnedByCorrelation`: by a hash of the event's `$correlationId` metadata (its stream when it
 *   has none).
 *
 * @since 0.1.0
 */
import type { EventRecord } from "../storage/Store.ts"

/**
 * A consumer as the strategies see it.
 *
 * @since 0.1.0
 * @category models
 */
export interface StrategyConsumer {
  /** True while the consumer can take one more message. */
  readonly hasRoom: () => boolean
}

/**
 * Picks the consumer of a message, or undefined when the one it must go to has no room.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConsumerStrategy {
  readonly pick: <C extends StrategyConsumer>(consumers: ReadonlyArray<C>, event: EventRecord) => C | undefined
}

/** A 32-bit FNV-1a hash of a string's UTF-16 units. */
const hash = (text: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

const correlationOf = (event: EventRecord): string | undefined => {
  if (event.customMetadata.length === 0 || event.customMetadata.length > 64 * 1024) return undefined
  try {
    const meta = JSON.parse(event.customMetadata.toString("utf8")) as unknown
    if (typeof meta !== "object" || meta === null) return undefined
    const id = (meta as Record<string, unknown>)["$correlationId"]
    return typeof id === "string" ? id : undefined
  } catch {
    return undefined
  }
}

const pinnedBy = (key: (event: EventRecord) => string): ConsumerStrategy => ({
  pick: (consumers, event) => {
    if (consumers.length === 0) return undefined
    const chosen = consumers[hash(key(event)) % consumers.length]!
    return chosen.hasRoom() ? chosen : undefined
  }
})

const dispatchToSingle: ConsumerStrategy = {
  pick: (consumers) => consumers.find((c) => c.hasRoom())
}

const roundRobin = (): ConsumerStrategy => {
  let next = 0
  return {
    pick: (consumers) => {
      for (let i = 0; i < consumers.length; i++) {
        const index = (next + i) % consumers.length
        const c = consumers[index]!
        if (c.hasRoom()) {
          next = index + 1
          return c
        }
      }
      return undefined
    }
  }
}

/**
 * The strategy of that name (a group's names are checked when it is created); unknown names
 * dispatch round-robin.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeStrategy = (name: string): ConsumerStrategy => {
  switch (name) {
    case "DispatchToSingle":
      return dispatchToSingle
    case "Pinned":
      return pinnedBy((event) => event.stream)
    case "PinnedByCorrelation":
      return pinnedBy((event) => correlationOf(event) ?? event.stream)
    default:
      return roundRobin()
  }
}
