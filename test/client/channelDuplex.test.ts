/**
 * Duplex calls on grpc-js's channel call API (`src/internal/transport/ChannelDuplex.ts`), against
 * an embedded node over loopback: what the Node stream did for us is still done. Writes go in
 * order, each callback once grpc-js took its message, and `end`'s once all were; a failed call
 * ends with the error grpc-js's own client makes of the same status; a reply that cannot be
 * decoded ends the call with INTERNAL; a paused call delivers nothing until resumed; a server
 * stream delivers every reply before its end with OK.
 */
import * as grpc from "@grpc/grpc-js"
import { assert, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { PersistentSubscriptionsService, type ReadReq } from "../../src/generated/persistent.ts"
import { PersistentSubscriptions, Streams } from "../../src/index.ts"
import type { Method } from "../../src/internal/transport/Calls.ts"
import { type ChannelDuplex, errorFromStatus, openChannelDuplex } from "../../src/internal/transport/ChannelDuplex.ts"
import { Read } from "../../src/internal/persistent/methods.ts"
import { Read as StreamsRead } from "../../src/internal/streams/methods.ts"
import { streamRequest } from "../../src/internal/streams/readRequest.ts"
import type { PersistentReadMessage } from "../../src/internal/codec/ReadRespDecoder.ts"
import { EmbeddedNode, eventually, newEvents, nodeWithClient, uniqueName, uniqueStream } from "./_support.ts"

const optionsOf = (stream: string, group: string, bufferSize = 10): ReadReq => ({
  content: {
    $case: "options",
    value: {
      streamOption: { $case: "streamIdentifier", value: { streamName: Buffer.from(stream) } },
      groupName: group,
      bufferSize,
      uuidOption: { content: { $case: "string", value: {} } }
    }
  }
})

const ackOf = (ids: ReadonlyArray<string>): ReadReq => ({
  content: { $case: "ack", value: { id: Buffer.alloc(0), ids: ids.map((id) => ({ value: { $case: "string", value: id } })) } }
})

/** A channel to the test node, closed with the test's scope. */
const channel = Effect.gen(function*() {
  const node = yield* EmbeddedNode
  const target = /^esdb:\/\/([^/?]+)/.exec(node.connectionString)![1]!
  return yield* Effect.acquireRelease(
    Effect.sync(() => new grpc.Channel(target, grpc.credentials.createInsecure(), {})),
    (c) => Effect.sync(() => c.close())
  )
})

/** A call that records what it is told, and a way to wait for its end. */
const open = <O>(c: grpc.Channel, method: Method<ReadReq, O>) => {
  const messages: Array<O> = []
  let ended: { readonly error: grpc.ServiceError | undefined } | undefined
  const call: ChannelDuplex<ReadReq> = openChannelDuplex(c, method, new grpc.Metadata(), Infinity, {
    onMessage: (message) => messages.push(message),
    onEnd: (error) => {
      ended = { error }
    }
  })
  const end = eventually("the call ended", Effect.sync(() => ended), { until: (e) => e !== undefined }).pipe(
    Effect.map((e) => e!)
  )
  return { call, messages, end }
}

const withGroup = (events: number) =>
  Effect.gen(function*() {
    const stream = uniqueStream("duplex")
    const group = uniqueName("g")
    const streams = yield* Streams.Streams
    if (events > 0) yield* streams.append(stream, newEvents(events), { currentVersion: "any" })
    yield* PersistentSubscriptions.PersistentSubscriptions.use((ps) => ps.createToStream(stream, group, { from: "start" }))
    return { stream, group }
  })

it.layer(nodeWithClient(), { excludeTestServices: true, timeout: "30 seconds" })("channel duplex calls", (it) => {
  it.effect("a failed call ends with the error grpc-js's client makes of the same status", () =>
    Effect.gen(function*() {
      const c = yield* channel
      const none = uniqueStream("none")
      const { call, end } = open(c, Read)
      call.write(optionsOf(none, "no-such-group"))
      const { error } = yield* end
      assert.isDefined(error)
      // the same call through grpc-js's client (a Node stream): its error, field by field
      const client = new grpc.Client("unused", grpc.credentials.createInsecure(), { channelOverride: c })
      const reference = yield* Effect.callback<grpc.ServiceError>((resume) => {
        const stream = client.makeBidiStreamRequest(
          PersistentSubscriptionsService.read.path,
          PersistentSubscriptionsService.read.requestSerialize,
          PersistentSubscriptionsService.read.responseDeserialize,
          new grpc.Metadata()
        )
        stream.on("error", (e: grpc.ServiceError) => resume(Effect.succeed(e)))
        stream.write(optionsOf(none, "no-such-group"))
      })
      assert.strictEqual(error!.code, grpc.status.NOT_FOUND)
      assert.strictEqual(error!.code, reference.code)
      assert.strictEqual(error!.details, reference.details)
      assert.strictEqual(error!.message, reference.message)
      assert.deepStrictEqual(error!.metadata.getMap(), reference.metadata.getMap())
      assert.instanceOf(error, Error)
      const made = errorFromStatus({ code: grpc.status.UNAVAILABLE, details: "gone", metadata: new grpc.Metadata() })
      assert.strictEqual(made.message, "14 UNAVAILABLE: gone")
    }))

  it.effect("writes go in order, each callback after its message was taken, end's after all of them", () =>
    Effect.gen(function*() {
      const { stream, group } = yield* withGroup(20)
      const c = yield* channel
      const { call, messages } = open(c, Read)
      const order: Array<string> = []
      call.write(optionsOf(stream, group, 20), () => order.push("options"))
      const events = yield* eventually("20 events delivered", Effect.sync(() => messages), { until: (m) => m.filter((x) => x._tag === "event").length === 20 })
      const ids = events.flatMap((m) => (m._tag === "event" && m.event !== undefined ? [m.event.ackId] : []))
      for (let i = 0; i < 20; i += 2) call.write(ackOf(ids.slice(i, i + 2)), () => order.push(`ack ${i / 2}`))
      const done = yield* Effect.callback<void>((resume) => {
        call.end(() => {
          order.push("end")
          resume(Effect.void)
        })
      })
      assert.isUndefined(done)
      assert.deepStrictEqual(order, ["options", ...Array.from({ length: 10 }, (_, i) => `ack ${i}`), "end"])
      // the node read every ack: nothing of the group is left in flight
      const info = yield* eventually(
        "the acks reached the group",
        PersistentSubscriptions.PersistentSubscriptions.use((ps) => ps.getInfoToStream(stream, group)),
        { until: (i) => i.connections.length === 1 && i.connections[0]!.inFlightMessages === 0 }
      )
      assert.strictEqual(info.connections[0]!.inFlightMessages, 0)
      call.cancel()
    }))

  it.effect("a reply that cannot be decoded ends the call with INTERNAL, as grpc-js does", () =>
    Effect.gen(function*() {
      const { stream, group } = yield* withGroup(3)
      const c = yield* channel
      const broken: Method<ReadReq, PersistentReadMessage> = {
        ...Read,
        responseDeserialize: (bytes) => {
          const message = Read.responseDeserialize(bytes)
          if (message._tag === "event") throw new RangeError("not this one")
          return message
        }
      }
      const { call, messages, end } = open(c, broken)
      call.write(optionsOf(stream, group))
      const { error } = yield* end
      assert.strictEqual(error?.code, grpc.status.INTERNAL)
      assert.strictEqual(error?.details, "Response message parsing error: not this one")
      assert.isTrue(messages.every((m) => m._tag !== "event"))
    }))

  it.effect("a paused call delivers nothing until it is resumed", () =>
    Effect.gen(function*() {
      const { stream, group } = yield* withGroup(10)
      const c = yield* channel
      const { call, messages } = open(c, Read)
      // paused at once: the read asked for when the call started brings one message (the
      // confirmation), then nothing, while the node sends its 10 events
      call.pause()
      call.write(optionsOf(stream, group))
      yield* eventually(
        "the group sent its buffer",
        PersistentSubscriptions.PersistentSubscriptions.use((ps) => ps.getInfoToStream(stream, group)),
        { until: (i) => i.connections.length === 1 && i.connections[0]!.inFlightMessages === 10 }
      )
      yield* Effect.sleep("100 millis")
      assert.isAtMost(messages.length, 1)
      call.resume()
      yield* eventually("all 10 events", Effect.sync(() => messages.filter((m) => m._tag === "event").length), {
        until: (n) => n === 10
      })
      call.cancel()
    }))

  it.effect("a server stream: the request, the half-close, every reply, then the end with OK, also when paused", () =>
    Effect.gen(function*() {
      const stream = uniqueStream("read")
      yield* Streams.Streams.use((streams) => streams.append(stream, newEvents(30), { currentVersion: "no_stream" }))
      const c = yield* channel
      const messages: Array<string> = []
      let ended: { readonly error: grpc.ServiceError | undefined } | undefined
      const call = openChannelDuplex(c, StreamsRead, new grpc.Metadata(), Infinity, {
        onMessage: (message) => messages.push(message._tag),
        onEnd: (error) => {
          ended = { error }
        }
      })
      call.pause()
      call.write(streamRequest(stream, "start", false, false, 30n))
      call.end()
      // the node sent everything and ended the call, but a paused call has taken one reply: the
      // end with OK waits for the replies before it
      yield* Effect.sleep("200 millis")
      assert.isAtMost(messages.length, 1)
      assert.isUndefined(ended)
      call.resume()
      const end = yield* eventually("the end", Effect.sync(() => ended), { until: (e) => e !== undefined })
      assert.isUndefined(end!.error)
      assert.strictEqual(messages.filter((m) => m === "event").length, 30)
    }))
})
