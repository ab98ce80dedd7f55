/**
 * Helpers shared by the persistent-subscription tests.
 */
import type { SubscriptionInfo } from "../../src/domain/SubscriptionInfo.ts"
import { PersistentSubscriptions, type RecordedEvent } from "../../src/index.ts"
import * as Effect from "effect/Effect"
import { eventually } from "../support/eventually.ts"

/** Each event's stream position and retry count, for comparing deliveries. */
export const positions = (events: ReadonlyArray<RecordedEvent>) => events.map((e) => [e.streamPosition, e.retryCount])

/** The GetInfo of a group on `stream` (or on $all: `{ all: true }`) once `done` holds for it ({@link eventually}). */
export const infoUntil = (stream: string | { readonly all: true }, group: string, done: (info: SubscriptionInfo) => boolean) =>
  Effect.gen(function*() {
    const ps = yield* PersistentSubscriptions.PersistentSubscriptions
    return yield* eventually(
      `GetInfo of ${typeof stream === "string" ? stream : "$all"}::${group} in the expected state`,
      typeof stream === "string" ? ps.getInfoToStream(stream, group) : ps.getInfoToAll(group),
      { until: done, intervalMs: 20 }
    )
  })
