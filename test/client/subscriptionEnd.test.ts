/**
 * A subscription never ends by itself: a node that ends the call with status OK (as a node
 * shutting down may) sees it resumed, each resume logged; a read ending with OK after its last
 * event is a normal end; a failure that cannot be resumed (AccessDenied) ends the subscription.
 * The node here is a grpc-js server whose `Read` does what each test needs.
 */
import * as grpc from "@grpc/grpc-js"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { Streams } from "../../src/index.ts"
import { StreamsService } from "../../src/generated/streams.ts"
import { recoveryLog } from "../support/recoveryLog.ts"
import { withClient } from "./_support.ts"

/** A Streams server whose n-th Read (from 1) is answered by `answer(n, call)`. */
const fakeNode = (answer: (n: number, call: grpc.ServerWritableStream<unknown, unknown>) => void) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      let reads = 0
      const server = new grpc.Server()
      server.addService(StreamsService as unknown as grpc.ServiceDefinition, {
        read: (call: grpc.ServerWritableStream<unknown, unknown>) => {
          reads++
          call.on("error", () => {})
          answer(reads, call)
        }
      })
      const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p)))
      )
      return { port, reads: () => reads, server }
    }),
    ({ server }) => Effect.sync(() => server.forceShutdown())
  )

const accessDenied = (): grpc.ServiceError => {
  const metadata = new grpc.Metadata()
  metadata.set("exception", "access-denied")
  return Object.assign(new Error("Access Denied"), { code: grpc.status.PERMISSION_DENIED, details: "Access Denied", metadata })
}

const fast = { resumeSchedule: Schedule.spaced("10 millis") }

describe("a subscription the node ends", () => {
  it.live("status OK is resumed (logged each time); AccessDenied ends it", () =>
    Effect.gen(function*() {
      const node = yield* fakeNode((n, call) => {
        // per subscription (they run one after the other): two ends, then a refusal
        if (n % 3 !== 0) call.end()
        else call.emit("error", accessDenied())
      })
      const log = recoveryLog()
      const [fromStream, fromAll] = yield* withClient(
        `esdb://127.0.0.1:${node.port}?tls=false`,
        log.capture(Effect.flatMap(Streams.Streams, (streams) =>
          Effect.all([
            Effect.flip(Stream.runDrain(streams.subscribeToStream("s", fast))),
            Effect.flip(Stream.runDrain(streams.subscribeToAll(fast)))
          ])))
      )
      assert.strictEqual(fromStream._tag, "AccessDenied")
      assert.strictEqual(fromAll._tag, "AccessDenied")
      const resumes = [...log.of("Streams.subscribeToStream", "resume"), ...log.of("Streams.subscribeToAll", "resume")]
      assert.deepStrictEqual(resumes.map((w) => w.annotations["attempt"]), [1, 2, 1, 2])
      for (const w of resumes) assert.match(w.text, /after ServiceUnavailable: The node ended the call of Streams\.subscribeTo(Stream|All)/)
      assert.strictEqual(node.reads(), 6)
    }))

  it.live("a read that ends with OK is done: not resumed, nothing logged", () =>
    Effect.gen(function*() {
      const node = yield* fakeNode((_, call) => call.end())
      const log = recoveryLog()
      const events = yield* withClient(
        `esdb://127.0.0.1:${node.port}?tls=false`,
        log.capture(Effect.flatMap(Streams.Streams, (streams) => Stream.runCollect(streams.read("s"))))
      )
      assert.strictEqual(events.length, 0)
      assert.strictEqual(node.reads(), 1)
      assert.deepStrictEqual(log.warnings, [])
    }))
})
