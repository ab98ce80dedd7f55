/**
 * Limits on what the client accepts from a node: a message larger than `maxReceiveMessageSize`
 * fails its call with a typed error before it is buffered whole; the connection serves the next
 * call.
 */
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { Code } from "../../src/generated/code.ts"
import { NewEvent, Streams } from "../../src/index.ts"
import { maxReceiveMessageLength } from "../../src/internal/transport/ChannelConfig.ts"
import { newEvents, nodeWithClient, uniqueStream } from "./_support.ts"

layer(nodeWithClient({ insecure: true }, { maxReceiveMessageSize: 64 * 1024 }), { excludeTestServices: true, timeout: "30 seconds" })(
  "maxReceiveMessageSize",
  (it) => {
    it.effect("an event larger than the limit fails the read with RESOURCE_EXHAUSTED; smaller ones still read", () =>
      Effect.gen(function*() {
        const streams = yield* Streams.Streams
        const stream = uniqueStream("large")
        yield* streams.append(stream, new NewEvent({ type: "Large", data: new Uint8Array(100 * 1024) }), {
          currentVersion: "no_stream"
        })
        const error = yield* Effect.flip(streams.get(stream))
        assert.strictEqual(error._tag, "GrpcError")
        if (error._tag === "GrpcError") assert.strictEqual(error.code, Code.RESOURCE_EXHAUSTED)
        const small = uniqueStream("small")
        yield* streams.append(small, newEvents(2), { currentVersion: "no_stream" })
        assert.strictEqual((yield* streams.get(small)).length, 2)
      }))

    it("the default is 17 MiB: the largest event a node accepts (16 MiB) plus its envelope", () => {
      assert.strictEqual(maxReceiveMessageLength, 17 * 1024 * 1024)
    })
  }
)
