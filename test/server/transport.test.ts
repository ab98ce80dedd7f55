/**
 * The node's transport (src/server/transport, on node:http2): gRPC framings, Trailers-Only,
 * deadlines of any length, cancellation, limits it advertises, and HTTP/1.1 beside HTTP/2 on the
 * same port, cleartext and TLS.
 */
import * as grpc from "@grpc/grpc-js"
import { KurrentDBClient } from "@kurrent/kurrentdb-client"
import { assert, describe, it } from "@effect/vitest"
import * as http from "node:http"
import * as http2 from "node:http2"
import * as https from "node:https"
import { readFileSync } from "node:fs"
import { BatchAppendReq, ReadReq, StreamsClient } from "../../src/generated/streams.ts"
import { nodeStats, type RunningNode, startEmbeddedNode } from "../../src/server/EmbeddedNode.ts"
import { parseTimeout, percentEncode } from "../../src/server/transport/ServerCall.ts"
import { any, appendOk, connect, events, readAll, readOptions, streamOption, uniqueStream } from "./helpers.ts"
import { eventuallyAsync } from "../support/eventually.ts"
import { Flag, FrameType, frame, grpcMessage, grpcRequest, PREFACE, rawConnect, settings, windowUpdate } from "./rawHttp2.ts"

const READ = "/event_store.client.streams.Streams/Read"

/** A node:http2 client session with one Streams.Read call open (errors ignored: tests reset them). */
const openRead = (port: number, settings?: http2.Settings, extra: http2.OutgoingHttpHeaders = {}) => {
  const session = http2.connect(`http://127.0.0.1:${port}`, settings === undefined ? {} : { settings })
  session.on("error", () => {})
  const req = session.request({ ":method": "POST", ":path": READ, "content-type": "application/grpc", te: "trailers", ...extra })
  req.on("error", () => {})
  return { session, req }
}

const subscriptionRequest = (stream: string) =>
  grpcMessage(ReadReq.encode({
    options: readOptions({ streamOption: streamOption(stream), countOption: { $case: "subscription", value: {} } })
  }).finish())

const readRequest = (stream: string, count: bigint) =>
  grpcMessage(ReadReq.encode({
    options: readOptions({ streamOption: streamOption(stream), countOption: { $case: "count", value: count } })
  }).finish())


const messagesIn = (payload: Buffer) => {
  let pos = 0
  let n = 0
  while (pos < payload.length) {
    pos += 5 + payload.readUInt32BE(pos + 1)
    n++
  }
  return { n, whole: pos === payload.length }
}

describe("gRPC layer", () => {
  it("parses grpc-timeout values and percent-encodes status messages", () => {
    assert.strictEqual(parseTimeout("200m"), 200)
    assert.strictEqual(parseTimeout("2S"), 2000)
    assert.strictEqual(parseTimeout("1H"), 3_600_000)
    assert.strictEqual(parseTimeout("99999999H"), 99999999 * 3_600_000)
    assert.strictEqual(parseTimeout("5000u"), 5)
    assert.isUndefined(parseTimeout("12"))
    assert.isUndefined(parseTimeout("123456789S"))
    assert.isUndefined(parseTimeout(undefined))
    assert.strictEqual(percentEncode("plain text"), "plain text")
    assert.strictEqual(percentEncode("100% sûr\n"), "100%25 s%C3%BBr%0A")
  })

  for (const framing of ["message", "coalesced"] as const) {
    it(`${framing} framing: every message whole, ${framing === "message" ? "one write per message" : "messages merged into frame-sized writes"}`, async () => {
      const node = await startEmbeddedNode({ readFraming: framing })
      const clients = connect(node)
      const s = uniqueStream(framing)
      await appendOk(clients.streams, s, any, Array.from({ length: 200 }, (_, i) => ({ data: { i, pad: "q".repeat(200) } })))
      const c = await rawConnect(node.port)
      await c.write(Buffer.concat([
        PREFACE,
        settings([[0x4, 1 << 20]]),
        windowUpdate(0, 1 << 20),
        frame(FrameType.HEADERS, Flag.END_HEADERS, 1, grpcRequest(READ)),
        frame(FrameType.DATA, Flag.END_STREAM, 1, readRequest(s, 1000n))
      ]))
      await c.waitFor(() => c.frames.find((f) => f.type === FrameType.HEADERS && (f.flags & Flag.END_STREAM) !== 0))
      const data = c.frames.filter((f) => f.type === FrameType.DATA && f.streamId === 1)
      const all = Buffer.concat(data.map((f) => f.payload))
      const { n, whole } = messagesIn(all)
      assert.isTrue(whole)
      assert.strictEqual(n, 200)
      assert.isTrue(data.every((f) => f.payload.length <= 16384))
      // nghttp2 packs what is queued into frames of up to 16 KiB either way; coalesced writes
      // are frame-sized, so its frames are full
      if (framing === "coalesced") assert.isBelow(data.length, 20)
      c.socket.destroy()
      clients.close()
      await node.stop()
    })
  }

  it("a client with a 1 KiB stream window reads a large stream completely (backpressure)", async () => {
    const node = await startEmbeddedNode({ readFraming: "coalesced" })
    const clients = connect(node)
    const s = uniqueStream("window")
    await appendOk(clients.streams, s, any, Array.from({ length: 300 }, (_, i) => ({ data: { i, pad: "p".repeat(400) } })))
    const { session, req } = openRead(node.port, { initialWindowSize: 1024 })
    req.end(readRequest(s, 1000n))
    const chunks: Array<Buffer> = []
    req.on("data", (d: Buffer) => chunks.push(d))
    const trailers = await new Promise<http2.IncomingHttpHeaders>((resolve) => req.once("trailers", resolve))
    assert.strictEqual(trailers["grpc-status"], "0")
    const { n, whole } = messagesIn(Buffer.concat(chunks))
    assert.isTrue(whole)
    assert.strictEqual(n, 300)
    session.close()
    clients.close()
    await node.stop()
  })

  it("RST_STREAM from the client cancels a subscription on the node", async () => {
    const node = await startEmbeddedNode()
    const { session, req } = openRead(node.port)
    req.end(subscriptionRequest(uniqueStream()))
    await new Promise<void>((resolve) => req.once("data", () => resolve()))
    assert.strictEqual(nodeStats(node).activeReads, 1)
    req.close(http2.constants.NGHTTP2_CANCEL)
    await eventuallyAsync("the node freed the read", () => nodeStats(node).activeReads === 0)
    assert.strictEqual(nodeStats(node).activeReads, 0)
    assert.strictEqual(nodeStats(node).storeListeners, 0)
    session.close()
    await node.stop()
  })

  it("ends a call with DEADLINE_EXCEEDED when its grpc-timeout passes", async () => {
    const node = await startEmbeddedNode()
    const started = Date.now()
    const { session, req } = openRead(node.port, undefined, { "grpc-timeout": "200m" })
    req.on("data", () => {})
    req.end(subscriptionRequest(uniqueStream()))
    const trailers = await new Promise<http2.IncomingHttpHeaders>((resolve) => req.once("trailers", resolve))
    assert.strictEqual(trailers["grpc-status"], "4")
    assert.strictEqual(trailers["grpc-message"], "Deadline exceeded")
    assert.isAtLeast(Date.now() - started, 150)
    await eventuallyAsync("the node freed the read", () => nodeStats(node).activeReads === 0)
    assert.strictEqual(nodeStats(node).activeReads, 0)
    session.close()
    await node.stop()
  })

  it("honours a grpc-timeout longer than a timer can hold (99999999H) instead of ending the call at once", async () => {
    const node = await startEmbeddedNode()
    const { session, req } = openRead(node.port, undefined, { "grpc-timeout": "99999999H" })
    let trailers: http2.IncomingHttpHeaders | undefined
    req.on("trailers", (t) => (trailers = t))
    req.on("data", () => {})
    req.end(subscriptionRequest(uniqueStream()))
    await new Promise<void>((resolve) => req.once("response", () => resolve()))
    await new Promise((r) => setTimeout(r, 300))
    assert.isUndefined(trailers)
    assert.strictEqual(nodeStats(node).activeReads, 1)
    req.close(http2.constants.NGHTTP2_CANCEL)
    await eventuallyAsync("the node freed the read", () => nodeStats(node).activeReads === 0)
    session.close()
    await node.stop()
  })

  it("answers an unknown method with UNIMPLEMENTED in a Trailers-Only response", async () => {
    const node = await startEmbeddedNode()
    const { session, req } = (() => {
      const session = http2.connect(`http://127.0.0.1:${node.port}`)
      session.on("error", () => {})
      const req = session.request({ ":method": "POST", ":path": "/no.Such/Method", "content-type": "application/grpc", te: "trailers" })
      return { session, req }
    })()
    req.end(grpcMessage(Buffer.alloc(0)))
    let data = 0
    req.on("data", (d: Buffer) => (data += d.length))
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => req.once("response", resolve))
    await new Promise<void>((resolve) => req.once("close", () => resolve()))
    assert.strictEqual(Number(headers[":status"]), 200)
    assert.strictEqual(headers["content-type"], "application/grpc")
    assert.strictEqual(headers["grpc-status"], "12")
    assert.strictEqual(data, 0)
    const client = new grpc.Client(`127.0.0.1:${node.port}`, grpc.credentials.createInsecure())
    const id = (b: Buffer) => b
    const error = await new Promise<grpc.ServiceError | null>((resolve) => {
      client.makeUnaryRequest("/no.Such/Method", id, id, Buffer.alloc(0), (e) => resolve(e))
    })
    assert.strictEqual(error?.code, grpc.status.UNIMPLEMENTED)
    client.close()
    session.close()
    await node.stop()
  })

  it("answers a compressed request message with INTERNAL", async () => {
    const node = await startEmbeddedNode()
    const { session, req } = openRead(node.port)
    req.on("data", () => {})
    const framed = subscriptionRequest(uniqueStream())
    framed[0] = 1
    req.end(framed)
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => req.once("response", resolve))
    assert.strictEqual(headers["grpc-status"], "13")
    session.close()
    await node.stop()
  })

  it("answers a message announced larger than the maximum with RESOURCE_EXHAUSTED, before it arrives", async () => {
    const node = await startEmbeddedNode({ maxReceiveMessageSize: 1000 })
    const { session, req } = openRead(node.port)
    req.on("data", () => {})
    const prefix = Buffer.alloc(5)
    prefix.writeUInt32BE(1001, 1)
    req.write(prefix)
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => req.once("response", resolve))
    assert.strictEqual(headers["grpc-status"], "8")
    assert.match(String(headers["grpc-message"]), /exceeds the maximum configured message size/)
    session.close()
    await node.stop()
  })

  it("resets a call whose client leaves more than 1 MiB of output unread (ENHANCE_YOUR_CALM)", async () => {
    const node = await startEmbeddedNode()
    const c = await rawConnect(node.port)
    // a stream window of 0: the node can send nothing on the call, every reply stays queued
    const request = grpcMessage(BatchAppendReq.encode({
      correlationId: { value: { $case: "string", value: "00000000-0000-4000-8000-000000000001" } },
      options: { streamIdentifier: { streamName: Buffer.from(uniqueStream("unread")) }, expectedStreamPosition: { $case: "any", value: {} } },
      proposedMessages: [],
      isFinal: true
    }).finish())
    await c.write(Buffer.concat([PREFACE, settings([[0x4, 0]]), frame(FrameType.HEADERS, Flag.END_HEADERS, 1, grpcRequest("/event_store.client.streams.Streams/BatchAppend"))]))
    const batch = Buffer.concat(Array.from({ length: 100 }, () => request))
    for (let i = 0; i < 200 && !c.frames.some((f) => f.type === FrameType.RST_STREAM); i++) {
      await c.write(frame(FrameType.DATA, 0, 1, batch))
      await new Promise((r) => setImmediate(r))
    }
    const rst = await c.waitFor(() => c.frames.find((f) => f.type === FrameType.RST_STREAM && f.streamId === 1))
    assert.strictEqual(rst.payload.readUInt32BE(0), http2.constants.NGHTTP2_ENHANCE_YOUR_CALM)
    c.socket.destroy()
    await node.stop()
  })

  it("resets calls once all calls of a connection leave more than 16 MiB of output unread", async () => {
    const node = await startEmbeddedNode()
    const c = await rawConnect(node.port)
    const request = grpcMessage(BatchAppendReq.encode({
      correlationId: { value: { $case: "string", value: "00000000-0000-4000-8000-000000000001" } },
      options: { streamIdentifier: { streamName: Buffer.from(uniqueStream("unread")) }, expectedStreamPosition: { $case: "any", value: {} } },
      proposedMessages: [],
      isFinal: true
    }).finish())
    // 24 calls, each kept under the 1 MiB cap of one call (about 900 KiB of replies each)
    const calls = 24
    const perCall = Math.floor((900 * 1024) / 100)
    const frames = [PREFACE, settings([[0x4, 0]])]
    for (let k = 0; k < calls; k++) frames.push(frame(FrameType.HEADERS, Flag.END_HEADERS, 2 * k + 1, grpcRequest("/event_store.client.streams.Streams/BatchAppend")))
    await c.write(Buffer.concat(frames))
    const batch = Buffer.concat(Array.from({ length: 100 }, () => request))
    for (let round = 0; round * 100 < perCall && !c.frames.some((f) => f.type === FrameType.RST_STREAM); round++) {
      for (let k = 0; k < calls; k++) await c.write(frame(FrameType.DATA, 0, 2 * k + 1, batch))
      await new Promise((r) => setImmediate(r))
    }
    const rst = await c.waitFor(() => c.frames.find((f) => f.type === FrameType.RST_STREAM))
    assert.strictEqual(rst.payload.readUInt32BE(0), http2.constants.NGHTTP2_ENHANCE_YOUR_CALM)
    c.socket.destroy()
    await node.stop()
  })

  it("serves several large reads at once on one connection: a call that waits for 'drain' is never reset", async () => {
    const node = await startEmbeddedNode()
    const streams = new StreamsClient(`127.0.0.1:${node.port}`, grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": -1,
      "grpc.max_send_message_length": -1
    })
    // three streams of a small event, an 8 MiB one and a small one, read at once: 24 MiB of output
    // in flight on one connection, where each call waits for 'drain' once told to
    const size = 8 * 1024 * 1024
    const names = Array.from({ length: 3 }, () => uniqueStream("large"))
    for (const name of names) {
      await appendOk(streams, name, any, [{ data: { before: true } }, { rawData: Buffer.alloc(size, 7) }, { data: { after: true } }])
    }
    const results = await Promise.all(names.map((name) => readAll(streams, { options: readOptions({ streamOption: streamOption(name) }) })))
    for (const { messages, error } of results) {
      assert.isUndefined(error, `a read failed: ${error?.code} ${error?.details}`)
      assert.deepStrictEqual(events(messages).map((e) => e.event?.data.length), [JSON.stringify({ before: true }).length, size, JSON.stringify({ after: true }).length])
    }
    streams.close()
    await node.stop()
  })

  it("300 calls at once on a fresh connection, before the client has its SETTINGS: 100 served, the rest refused (retryable), the connection kept", async () => {
    const node = await startEmbeddedNode()
    const clients = connect(node)
    const s = uniqueStream("burst")
    await appendOk(clients.streams, s, any, [{}])
    const c = await rawConnect(node.port)
    const block = grpcRequest("/event_store.client.streams.Streams/Read")
    const body = grpcMessage(ReadReq.encode({ options: readOptions({ streamOption: streamOption(s) }) }).finish())
    const request = (id: number) => Buffer.concat([frame(FrameType.HEADERS, Flag.END_HEADERS, id, block), frame(FrameType.DATA, Flag.END_STREAM, id, body)])
    // a client that does not wait for the node's SETTINGS (max 100 streams) before opening 300
    await c.write(Buffer.concat([PREFACE, settings(), ...Array.from({ length: 300 }, (_, j) => request(2 * j + 1))]))
    const ended = (id: number) => c.frames.some((f) => f.streamId === id && (f.type === FrameType.RST_STREAM || (f.type === FrameType.HEADERS && (f.flags & Flag.END_STREAM) !== 0)))
    await c.waitFor(() => (Array.from({ length: 300 }, (_, j) => 2 * j + 1).every(ended) ? true : undefined))
    const resets = c.frames.filter((f) => f.type === FrameType.RST_STREAM)
    // refused streams are REFUSED_STREAM (a client retries them), never ENHANCE_YOUR_CALM (status 8)
    assert.deepStrictEqual(new Set(resets.map((f) => f.payload.readUInt32BE(0))), new Set([http2.constants.NGHTTP2_REFUSED_STREAM]))
    assert.strictEqual(resets.length, 200)
    assert.isUndefined(c.frames.find((f) => f.type === FrameType.GOAWAY))
    // the client retries the refused ones on the same connection, now within the limit
    await c.write(frame(FrameType.SETTINGS, Flag.ACK, 0))
    const retried = Array.from({ length: 100 }, (_, j) => 601 + 2 * j)
    await c.write(Buffer.concat(retried.map(request)))
    await c.waitFor(() => (retried.every(ended) ? true : undefined))
    assert.strictEqual(c.frames.filter((f) => f.type === FrameType.RST_STREAM).length, 200)
    assert.isFalse(c.isClosed())
    c.socket.destroy()
    clients.close()
    await node.stop()
  })

  it("answers RESOURCE_EXHAUSTED when incomplete messages would pass maxBufferedRequestBytes, keeps serving others", async () => {
    const node = await startEmbeddedNode({ maxBufferedRequestBytes: 1024 * 1024 })
    const prefix = Buffer.alloc(5)
    prefix.writeUInt32BE(900 * 1024, 1)
    const part = Buffer.concat([prefix, Buffer.alloc(600 * 1024)])
    const first = openRead(node.port)
    const second = openRead(node.port)
    let firstStatus: unknown
    first.req.on("response", (h) => (firstStatus = h["grpc-status"]))
    first.req.write(part)
    await new Promise((r) => setTimeout(r, 100))
    second.req.write(part)
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => second.req.once("response", resolve))
    assert.strictEqual(headers["grpc-status"], "8")
    assert.isUndefined(firstStatus)
    // the first call's bytes are released when it goes away: a third such call is held again
    first.req.close(http2.constants.NGHTTP2_CANCEL)
    await new Promise((r) => setTimeout(r, 50))
    const third = openRead(node.port)
    let thirdStatus: unknown
    third.req.on("response", (h) => (thirdStatus = h["grpc-status"]))
    third.req.write(part)
    await new Promise((r) => setTimeout(r, 200))
    assert.isUndefined(thirdStatus)
    for (const c of [first, second, third]) c.session.destroy()
    await node.stop()
  })

  it("advertises its limits in SETTINGS: 100 concurrent streams, a header list size", async () => {
    const node = await startEmbeddedNode()
    const session = http2.connect(`http://127.0.0.1:${node.port}`)
    session.on("error", () => {})
    await new Promise<void>((resolve) => session.once("remoteSettings", () => resolve()))
    assert.strictEqual(session.remoteSettings.maxConcurrentStreams, 100)
    assert.strictEqual(session.remoteSettings.maxHeaderListSize, 32 * 1024)
    session.close()
    await node.stop()
  })

  it("stop() sends GOAWAY and ends open subscriptions and BatchAppend sessions as a real node: UNAVAILABLE, shutting down (a finished read ends OK)", async () => {
    const node = await startEmbeddedNode()
    const c = connect(node)
    const s = uniqueStream()
    await appendOk(c.streams, s, any, [{}])
    c.close()
    // a read that finishes ends OK
    const finite = openRead(node.port)
    finite.req.on("data", () => {})
    const finiteTrailers = new Promise<http2.IncomingHttpHeaders>((resolve) => finite.req.once("trailers", resolve))
    finite.req.end(readRequest(s, 10n))
    assert.strictEqual((await finiteTrailers)["grpc-status"], "0")
    finite.session.destroy()
    // a subscription and a BatchAppend session still open when the node stops
    const { session, req } = openRead(node.port)
    const goaway = new Promise<number>((resolve) => session.once("goaway", (code: number) => resolve(code)))
    req.on("data", () => {})
    req.end(subscriptionRequest(uniqueStream()))
    await new Promise<void>((resolve) => req.once("response", () => resolve()))
    const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => req.once("trailers", resolve))
    // a BatchAppend session that has appended once
    const batch = session.request({ ":method": "POST", ":path": "/event_store.client.streams.Streams/BatchAppend", "content-type": "application/grpc", te: "trailers" })
    batch.on("error", () => {})
    const appended = new Promise<void>((resolve) => batch.once("data", () => resolve()))
    const batchEnd = new Promise<http2.IncomingHttpHeaders>((resolve) => batch.once("trailers", resolve))
    batch.write(grpcMessage(BatchAppendReq.encode({
      correlationId: { value: { $case: "string", value: "00000000-0000-4000-8000-000000000001" } },
      options: { streamIdentifier: { streamName: Buffer.from(uniqueStream("batch")) }, expectedStreamPosition: { $case: "any", value: {} } },
      proposedMessages: [],
      isFinal: true
    }).finish()))
    await appended
    batch.on("data", () => {})
    assert.strictEqual(nodeStats(node).activeReads, 1)
    await node.stop()
    assert.strictEqual(await goaway, 0)
    for (const t of [await trailers, await batchEnd]) {
      assert.strictEqual(t["grpc-status"], "14")
      assert.strictEqual(decodeURIComponent(String(t["grpc-message"])), "The server is shutting down. Please retry after 5 seconds.")
      // google.rpc.Status { code 14, message, details: [ErrorInfo SERVER_SHUTTING_DOWN/server, RetryInfo 5 s] }
      const details = Buffer.from(String(t["grpc-status-details-bin"]), "base64")
      assert.strictEqual(details[0], 0x08)
      assert.strictEqual(details[1], 14)
      assert.include(details.toString("latin1"), "type.googleapis.com/google.rpc.ErrorInfo")
      assert.include(details.toString("latin1"), "SERVER_SHUTTING_DOWN")
      assert.include(details.toString("latin1"), "type.googleapis.com/google.rpc.RetryInfo")
    }
    session.destroy()
  })

  it("closes a connection idle for longer than idleTimeoutMs, not one with an open call", async () => {
    const node = await startEmbeddedNode({ idleTimeoutMs: 300 })
    const idle = http2.connect(`http://127.0.0.1:${node.port}`)
    idle.on("error", () => {})
    const idleClosed = new Promise<void>((resolve) => idle.once("close", () => resolve()))
    const { session, req } = openRead(node.port)
    req.on("data", () => {})
    req.end(subscriptionRequest(uniqueStream()))
    await new Promise<void>((resolve) => req.once("response", () => resolve()))
    await idleClosed
    await new Promise((r) => setTimeout(r, 400))
    assert.isFalse(session.closed || session.destroyed)
    assert.strictEqual(nodeStats(node).activeReads, 1)
    session.destroy()
    await node.stop()
  })

  /** A session that completed one Read (served), or only connected (pending). */
  const served = async (port: number) => {
    const { session, req } = openRead(port)
    req.on("data", () => {})
    req.end(readRequest(uniqueStream(), 1n))
    await new Promise<void>((resolve) => req.once("close", () => resolve()))
    return session
  }
  const connected = (port: number) =>
    new Promise<http2.ClientHttp2Session>((resolve) => {
      const s = http2.connect(`http://127.0.0.1:${port}`)
      s.on("error", () => {})
      s.once("remoteSettings", () => resolve(s))
      s.once("close", () => resolve(s))
    })
  const outcome = (s: http2.ClientHttp2Session) =>
    new Promise<string>((resolve) => {
      if (s.closed || s.destroyed) return resolve("closed")
      s.once("close", () => resolve("closed"))
      // a session still open after a second is kept (generous for a loaded machine, and well inside
      // the 5 s request grace period after which the node would close a pending one anyway)
      setTimeout(() => resolve(s.closed || s.destroyed ? "closed" : "open"), 1000)
    })

  it("at maxConnections, closes a newcomer when every connection has been served", async () => {
    const node = await startEmbeddedNode({ maxConnections: 2 })
    const sessions = [await served(node.port), await served(node.port)]
    const newcomer = http2.connect(`http://127.0.0.1:${node.port}`)
    newcomer.on("error", () => {})
    sessions.push(newcomer)
    assert.deepStrictEqual(await Promise.all(sessions.map(outcome)), ["open", "open", "closed"])
    for (const s of sessions) s.destroy()
    await node.stop()
  })

  it("at maxConnections or maxPendingConnections, closes the oldest connection that has not completed a request to admit a newcomer", async () => {
    const node = await startEmbeddedNode({ maxConnections: 3, maxPendingConnections: 2 })
    const kept = await served(node.port)
    const oldest = await connected(node.port)
    const second = await connected(node.port)
    // the pending limit (2): the oldest pending goes
    const third = await connected(node.port)
    assert.deepStrictEqual(await Promise.all([kept, oldest, second, third].map(outcome)), ["open", "closed", "open", "open"])
    // the newcomer is served (its Read completes)
    const fourth = await served(node.port)
    assert.deepStrictEqual(await Promise.all([kept, second, third, fourth].map(outcome)), ["open", "closed", "open", "open"])
    for (const s of [kept, oldest, second, third, fourth]) s.destroy()
    await node.stop()
  })

  it("a Read that sends HEADERS and no message closes its connection after the grace period (Kestrel's minimum request rate); others stay served", async () => {
    const node = await startEmbeddedNode({ requestGracePeriodMs: 300 })
    const c = connect(node)
    const s = uniqueStream()
    await appendOk(c.streams, s, any, [{}])
    const { session, req } = openRead(node.port)
    let goaway: number | undefined
    session.on("goaway", (code) => (goaway = code))
    const started = Date.now()
    await new Promise<void>((resolve) => session.once("close", () => resolve()))
    const took = Date.now() - started
    assert.isAtLeast(took, 250)
    assert.isBelow(took, 5000)
    assert.strictEqual(goaway, http2.constants.NGHTTP2_INTERNAL_ERROR)
    assert.isTrue(req.destroyed)
    // a Read whose message trickles in faster than 240 B/s is served
    const slow = openRead(node.port)
    const chunks: Array<Buffer> = []
    slow.req.on("data", (d: Buffer) => chunks.push(d))
    const body = readRequest(s, 1n)
    for (let i = 0; i < body.length; i++) {
      slow.req.write(body.subarray(i, i + 1))
      await new Promise((r) => setTimeout(r, 2))
    }
    slow.req.end()
    await new Promise<void>((resolve) => slow.req.once("close", () => resolve()))
    assert.isAbove(Buffer.concat(chunks).length, 0)
    slow.session.destroy()
    const { messages, error } = await readAll(c.streams, { options: readOptions({ streamOption: streamOption(s) }) })
    assert.isUndefined(error)
    assert.strictEqual(events(messages).length, 1)
    c.close()
    await node.stop()
  })
})

const httpGet = (node: RunningNode, path: string, method = "GET"): Promise<{ status: number; body: string; type: string | undefined }> =>
  new Promise((resolve, reject) => {
    const options = { host: "127.0.0.1", port: node.port, path, method, headers: { accept: "application/json" } }
    const onResponse = (res: http.IncomingMessage) => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (d: string) => (body += d))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, type: res.headers["content-type"] }))
    }
    const req = node.insecure
      ? http.request(options, onResponse)
      : https.request({ ...options, servername: "localhost", ca: readFileSync(node.caFile!) } as https.RequestOptions, onResponse)
    req.on("error", reject)
    req.end()
  })

for (const insecure of [true, false]) {
  describe(`HTTP/1.1 beside HTTP/2 on one port (${insecure ? "cleartext, by the first bytes" : "TLS, by ALPN"})`, () => {
    it("serves /ping, /info, /stats and /gossip as a real node, and gRPC on the same port", async () => {
      const node = await startEmbeddedNode({ insecure })
      const ping = await httpGet(node, "/ping")
      assert.strictEqual(ping.status, 200)
      assert.match(ping.type ?? "", /^application\/json/)
      assert.strictEqual(JSON.parse(ping.body).text, "Ping request successfully handled")
      const info = JSON.parse((await httpGet(node, "/info")).body)
      assert.strictEqual(info.esVersion, "26.1.0")
      assert.strictEqual(info.state, "leader")
      if (insecure) assert.isNull(info.authentication)
      else assert.strictEqual(info.authentication.type, "internal")
      const stats = JSON.parse((await httpGet(node, "/stats")).body)
      assert.strictEqual(stats.proc.id, process.pid)
      assert.isAbove(stats.proc.mem, 0)
      const gossip = JSON.parse((await httpGet(node, "/gossip")).body)
      assert.strictEqual(gossip.members.length, 1)
      assert.strictEqual(gossip.members[0].state, "Leader")
      assert.isTrue(gossip.members[0].isAlive)
      assert.strictEqual(gossip.members[0].httpEndPointPort, node.port)
      assert.strictEqual((await httpGet(node, "/nothing-here")).status, 404)
      assert.strictEqual((await httpGet(node, "/ping", "POST")).status, 405)
      // gRPC on the same port, same node
      const session = insecure
        ? http2.connect(`http://127.0.0.1:${node.port}`)
        : http2.connect(`https://localhost:${node.port}`, { ca: readFileSync(node.caFile!) })
      session.on("error", () => {})
      const req = session.request({
        ":method": "POST",
        ":path": "/event_store.client.server_features.ServerFeatures/GetSupportedMethods",
        "content-type": "application/grpc",
        te: "trailers"
      })
      req.on("data", () => {})
      req.end(grpcMessage(Buffer.alloc(0)))
      const trailers = await new Promise<http2.IncomingHttpHeaders>((resolve) => req.once("trailers", resolve))
      assert.strictEqual(trailers["grpc-status"], "0")
      session.close()
      await node.stop()
    })

    it("answers the official client's own /ping call (as its test suite makes it)", async () => {
      const node = await startEmbeddedNode({ insecure })
      const client = KurrentDBClient.connectionString(node.connectionString)
      const ping = await (client as unknown as { HTTPRequest: (m: string, p: string, o: object) => Promise<{ msgTypeId: number; text: string }> })
        .HTTPRequest("GET", "/ping", {})
      assert.strictEqual(ping.text, "Ping request successfully handled")
      assert.isNumber(ping.msgTypeId)
      await client.dispose()
      await node.stop()
    })
  })
}
