/**
 * `tls=true` against an insecure node fails fast with a TlsFailed saying what to change (the
 * reverse mismatch is in secure.test.ts), and is not retried.
 */
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { Streams } from "../../src/services/Streams.ts"
import { EmbeddedNode, newEvents, nodeLayer, uniqueStream, withClient } from "./_support.ts"

layer(nodeLayer(), { excludeTestServices: true, timeout: "30 seconds" })("tls=true against an insecure node", (it) => {
  it.effect("fails fast with TlsFailed saying the node is insecure and to add tls=false", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      const secure = node.connectionString.replace(/tls=false/, "tls=true")
      assert.notStrictEqual(secure, node.connectionString)
      // retries would take seconds under this schedule: fast means not retried
      const slowRetries = { retrySchedule: Schedule.spaced("10 seconds").pipe(Schedule.upTo({ times: 3 })) }
      const started = Date.now()
      const error = yield* withClient(
        secure,
        Effect.flip(Effect.flatMap(Streams, (streams) => streams.append(uniqueStream("tls"), newEvents(1), { currentVersion: "any" }))),
        slowRetries
      )
      assert.strictEqual(error._tag, "TlsFailed")
      assert.include(error.message, "this node is insecure: add tls=false")
      assert.isBelow(Date.now() - started, 5000)
      const readError = yield* withClient(
        secure,
        Effect.flip(Effect.flatMap(Streams, (streams) => streams.get("any-stream"))),
        slowRetries
      )
      assert.strictEqual(readError._tag, "TlsFailed")
    }))
})
