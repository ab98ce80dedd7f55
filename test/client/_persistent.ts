/**
 * Helpers shared by the persistent-subscription tests.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { SubscriptionInfo } from "../../src/domain/SubscriptionInfo.ts"
import { PersistentSubscriptions, type RecordedEvent } from "../../src/index.ts"

/** Each event's stream position and retry count, for comparing deliveries. */
export const positions = (events: ReadonlyArray<RecordedEvent>) => events.map((e) => [e.streamPosition, e.retryCount])

/** Polls GetInfo of a group on `stream` (or on $all: `{ all: true }`) until `done` holds (bounded: dies after 5 s). */
export const infoUntil = (stream: string | { readonly all: true }, group: string, done: (info: SubscriptionInfo) => boolean) =>
  Effect.gen(function*() {
    const ps = yield* PersistentSubscriptions.PersistentSubscriptions
    for (let i = 0; i < 250; i++) {
      const info = yield* (typeof stream === "string" ? ps.getInfoToStream(stream, group) : ps.getInfoToAll(group))
      if (done(info)) return info
      yield* Effect.sleep(Duration.millis(20))
    }
    return yield* Effect.die(new Error(`GetInfo of ${typeof stream === "string" ? stream : "$all"}::${group} never reached the expected state`))
  })
