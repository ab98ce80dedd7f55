/**
 * Helpers shared by the persistent-subscription tests.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { SubscriptionInfo } from "../../src/domain/SubscriptionInfo.ts"
import { PersistentSubscriptions, type RecordedEvent } from "../../src/index.ts"

/** Each event's stream position and retry count, for comparing deliveries. */
export const positions = (events: ReadonlyArray<RecordedEvent>) => events.map((e) => [e.streamPosition, e.retryCount])

/** Polls GetInfo until `done` holds (bounded: dies after 5 s). */
export const infoUntil = (stream: string, group: string, done: (info: SubscriptionInfo) => boolean) =>
  Effect.gen(function*() {
    const ps = yield* PersistentSubscriptions.PersistentSubscriptions
    for (let i = 0; i < 250; i++) {
      const info = yield* ps.getInfo(stream, group)
      if (done(info)) return info
      yield* Effect.sleep(Duration.millis(20))
    }
    return yield* Effect.die(new Error(`GetInfo of ${stream}::${group} never reached the expected state`))
  })
