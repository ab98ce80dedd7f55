/**
 * Standard projections of the embedded node (`standardProjections: true`): `$et-<type>` and
 * `$ce-<category>` link streams, read over real gRPC with the effect-esdb client. The system
 * projections run asynchronously, as a real node's: each check polls until the links are there.
 */
import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { NewEvent, Streams } from "../../src/index.ts"
import { nodeWithClient } from "../client/_support.ts"
import { eventually } from "../support/eventually.ts"

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString("utf8")
const ev = (type: string) => new NewEvent({ type, data: "{}" })

/** Reads a stream (a missing one as empty) until `ok` holds of its events ({@link eventually}). */
const poll = <A, E, R>(what: string, read: Effect.Effect<ReadonlyArray<A>, E, R>, ok: (events: ReadonlyArray<A>) => boolean) =>
  eventually(what, read, { until: ok })

describe("standard projections", () => {
  layer(nodeWithClient({ insecure: true, standardProjections: true }), { excludeTestServices: true, timeout: "30 seconds" })(
    "on",
    (it) => {
      it.effect("$et-<type> and $ce-<category> link every appended event in order", () =>
        Effect.gen(function*() {
          const streams = yield* Streams.Streams
          const o1 = [ev("A"), ev("B"), ev("A")]
          const o2 = [ev("B"), ev("A")]
          yield* streams.append("order-1", o1, { currentVersion: "no_stream" })
          yield* streams.append("order-2", o2, { currentVersion: "no_stream" })
          yield* streams.append("order-1", ev("B"), { currentVersion: 2n })

          const get = (stream: string) =>
            streams.get(stream).pipe(Effect.catchTag("NotFound", () => Effect.succeed([] as ReadonlyArray<never>)))
          const links = yield* poll("$et-A", get("$et-A"), (es) => es.length === 3)
          yield* poll("$et-B", get("$et-B"), (es) => es.length === 3)
          yield* poll("$ce-order", get("$ce-order"), (es) => es.length === 6)
          assert.deepStrictEqual(links.map((e) => text(e.data)), ["0@order-1", "2@order-1", "1@order-2"])
          for (const link of links) {
            assert.strictEqual(link.type, "$>")
            assert.strictEqual(link.contentType, "application/octet-stream")
            const meta = JSON.parse(text(link.metadata)) as Record<string, unknown>
            assert.strictEqual(typeof meta, "object")
            // IndexEventsByEventType writes a plain data event: no `$o` (the category links have one)
            assert.isUndefined(meta["$o"])
          }
          for (const link of yield* streams.get("$ce-order")) {
            assert.strictEqual((JSON.parse(text(link.metadata)) as Record<string, unknown>)["$o"], text(link.data).split("@")[1])
          }
          assert.deepStrictEqual(
            (yield* streams.get("$et-B")).map((e) => text(e.data)),
            ["1@order-1", "0@order-2", "3@order-1"]
          )

          const resolved = yield* streams.get("$et-A", { resolveLinks: true })
          assert.deepStrictEqual(resolved.map((e) => e.id), [o1[0]!.id, o1[2]!.id, o2[1]!.id])
          assert.isTrue(resolved.every((e) => e.link?.streamName === "$et-A"))

          const category = yield* streams.get("$ce-order", { resolveLinks: true })
          assert.deepStrictEqual(
            category.map((e) => `${e.streamPosition}@${e.streamName}:${e.type}`),
            ["0@order-1:A", "1@order-1:B", "2@order-1:A", "0@order-2:B", "1@order-2:A", "3@order-1:B"]
          )
        }))

      it.effect("system streams, $-types and streams without a category", () =>
        Effect.gen(function*() {
          const streams = yield* Streams.Streams
          yield* streams.append("nocategory", ev("Solo"), { currentVersion: "no_stream" })
          yield* streams.append("$sys-x", ev("Sys"), { currentVersion: "no_stream" })
          yield* streams.append("thing-1", ev("$internal"), { currentVersion: "no_stream" })
          // a last event: once both projections linked it, they have seen the ones above
          yield* streams.append("thing-2", ev("Last"), { currentVersion: "no_stream" })
          const get = (stream: string) =>
            streams.get(stream).pipe(Effect.catchTag("NotFound", () => Effect.succeed([] as ReadonlyArray<never>)))
          yield* poll("$et-Last", get("$et-Last"), (es) => es.length === 1)
          yield* poll("$ce-thing", get("$ce-thing"), (es) => es.length === 2)
          assert.deepStrictEqual((yield* streams.get("$et-Solo")).map((e) => text(e.data)), ["0@nocategory"])
          assert.strictEqual((yield* Effect.flip(streams.get("$et-Sys")))._tag, "NotFound")
          assert.strictEqual((yield* Effect.flip(streams.get("$ce-$sys")))._tag, "NotFound")
          // a `$` type in a user stream is indexed like any other (IndexEventsByEventType skips only `$>`)
          assert.deepStrictEqual((yield* streams.get("$et-$internal")).map((e) => text(e.data)), ["0@thing-1"])
          assert.deepStrictEqual((yield* streams.get("$ce-thing")).map((e) => text(e.data)), ["0@thing-1", "0@thing-2"])
        }))
    }
  )

  layer(nodeWithClient({ insecure: true }), { excludeTestServices: true, timeout: "30 seconds" })("off (default)", (it) => {
    it.effect("no link streams", () =>
      Effect.gen(function*() {
        const streams = yield* Streams.Streams
        yield* streams.append("order-1", [ev("A"), ev("B")], { currentVersion: "no_stream" })
        assert.strictEqual((yield* Effect.flip(streams.get("$et-A")))._tag, "NotFound")
        assert.strictEqual((yield* Effect.flip(streams.get("$ce-order")))._tag, "NotFound")
      }))
  })
})
