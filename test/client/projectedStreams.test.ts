/**
 * Seed checklist item 37: with standard projections running, reading `$et-<type>` with
 * resolveLinks gives the same events, in the same order, as reading `$all` filtered by that type.
 */
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { NewEvent, Streams } from "../../src/index.ts"
import { collect, eventually, nodeWithClient, uniqueId, uniqueStream } from "./_support.ts"

layer(nodeWithClient({ insecure: true, standardProjections: true }), { excludeTestServices: true, timeout: "30 seconds" })(
  "projected streams",
  (it) => {
    it.effect("$et-<type> with resolveLinks matches readAll filtered by the type", () =>
      Effect.gen(function*() {
        const streams = yield* Streams.Streams
        const type = `Projected${uniqueId()}`
        const mine: Array<string> = []
        for (let i = 0; i < 4; i++) {
          const stream = uniqueStream("projected")
          const events = [
            new NewEvent({ type, data: JSON.stringify({ i }) }),
            new NewEvent({ type: "Other", data: "{}" }),
            new NewEvent({ type, data: JSON.stringify({ i, second: true }) })
          ]
          mine.push(events[0]!.id, events[2]!.id)
          yield* streams.append(stream, events, { currentVersion: "no_stream" })
        }
        // the system projection runs asynchronously, as a real node's: wait for its links
        const projected = yield* eventually(
          `the links of $et-${type}`,
          streams.get(`$et-${type}`, { resolveLinks: true }).pipe(
            Effect.catchTag("NotFound", () => Effect.succeed([] as ReadonlyArray<never>))
          ),
          { until: (links) => links.length >= mine.length }
        )
        const all = yield* collect(streams.readAll({ filterInclude: [type] }))
        assert.deepStrictEqual(projected.map((e) => e.id), mine)
        assert.deepStrictEqual(all.map((e) => e.id), mine)
        assert.deepStrictEqual(projected.map((e) => e.streamName), all.map((e) => e.streamName))
        assert.isTrue(projected.every((e) => e.type === type && e.link?.type === "$>"))
      }))
  }
)
