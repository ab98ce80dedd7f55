import * as grpc from "@grpc/grpc-js"
import { assert, describe, it } from "@effect/vitest"
import * as http2 from "node:http2"
import * as net from "node:net"
import { ReadReq } from "../../src/generated/streams.ts"
import { nodeStats, startEmbeddedNode } from "../../src/server/EmbeddedNode.ts"
import {
  CLIENT_PREFACE,
  encodeFrame,
  ErrorCode,
  Flag,
  FrameType,
  readFrameHeader,
  settingsFrame,
  windowUpdateFrame,
  writeFrameHeader
} from "../../src/internal/http2/Frames.ts"
import { parseTimeout } from "../../src/server/http2/GrpcServer.ts"
import { encodeHeaders, HpackDecoder, huffmanDecode, huffmanEncode } from "../../src/internal/http2/Hpack.ts"
import { any, appendOk, connect, readOptions, streamOption, uniqueStream } from "./helpers.ts"

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex")
const pairs = (list: Array<string>) => {
  const out: Array<[string, string]> = []
  for (let i = 0; i < list.length; i += 2) out.push([list[i]!, list[i + 1]!])
  return out
}


/** A raw node:http2 client with one Streams.Read call open (errors ignored: tests reset them). */
const openRead = (port: number, settings?: http2.Settings) => {
  const session = http2.connect(`http://127.0.0.1:${port}`, settings === undefined ? {} : { settings })
  session.on("error", () => {})
  const req = session.request({
    ":method": "POST",
    ":path": "/event_store.client.streams.Streams/Read",
    "content-type": "application/grpc",
    te: "trailers"
  })
  req.on("error", () => {})
  return { session, req }
}

describe("HPACK", () => {
  it("decodes the RFC 7541 C.3 requests (no Huffman) with the dynamic table", () => {
    const d = new HpackDecoder()
    assert.deepStrictEqual(pairs(d.decode(hex("828684410f7777772e6578616d706c652e636f6d"))), [
      [":method", "GET"],
      [":scheme", "http"],
      [":path", "/"],
      [":authority", "www.example.com"]
    ])
    assert.strictEqual(d.tableSize, 57)
    assert.deepStrictEqual(pairs(d.decode(hex("828684be58086e6f2d6361636865"))), [
      [":method", "GET"],
      [":scheme", "http"],
      [":path", "/"],
      [":authority", "www.example.com"],
      ["cache-control", "no-cache"]
    ])
    assert.strictEqual(d.tableSize, 110)
    assert.deepStrictEqual(
      pairs(d.decode(hex("828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565"))),
      [
        [":method", "GET"],
        [":scheme", "https"],
        [":path", "/index.html"],
        [":authority", "www.example.com"],
        ["custom-key", "custom-value"]
      ]
    )
    assert.strictEqual(d.tableSize, 164)
    assert.deepStrictEqual(d.dynamicTable, [["custom-key", "custom-value"], ["cache-control", "no-cache"], [":authority", "www.example.com"]])
  })

  it("decodes the RFC 7541 C.4 requests (Huffman)", () => {
    const d = new HpackDecoder()
    assert.deepStrictEqual(pairs(d.decode(hex("828684418cf1e3c2e5f23a6ba0ab90f4ff"))).at(-1), [":authority", "www.example.com"])
    assert.deepStrictEqual(pairs(d.decode(hex("828684be5886a8eb10649cbf"))).at(-1), ["cache-control", "no-cache"])
    assert.deepStrictEqual(
      pairs(d.decode(hex("828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf"))).at(-1),
      ["custom-key", "custom-value"]
    )
    assert.strictEqual(d.tableSize, 164)
  })

  it("decodes the RFC 7541 C.6 responses (Huffman, eviction with a 256-octet table)", () => {
    const d = new HpackDecoder(256)
    const first = pairs(d.decode(hex(
      "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3"
    )))
    assert.deepStrictEqual(first, [
      [":status", "302"],
      ["cache-control", "private"],
      ["date", "Mon, 21 Oct 2013 20:13:21 GMT"],
      ["location", "https://www.example.com"]
    ])
    assert.strictEqual(d.tableSize, 222)
    const second = pairs(d.decode(hex("4883640effc1c0bf")))
    assert.deepStrictEqual(second[0], [":status", "307"])
    assert.strictEqual(d.tableSize, 222)
    const third = pairs(d.decode(hex(
      "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007"
    )))
    assert.deepStrictEqual(third, [
      [":status", "200"],
      ["cache-control", "private"],
      ["date", "Mon, 21 Oct 2013 20:13:22 GMT"],
      ["location", "https://www.example.com"],
      ["content-encoding", "gzip"],
      ["set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"]
    ])
    assert.strictEqual(d.tableSize, 215)
  })

  it("round-trips Huffman coding and refuses bad padding and out-of-range indexes", () => {
    const samples = ["", "a", "/event_store.client.streams.Streams/Read", "Basic YWRtaW46Y2hhbmdlaXQ=", "\u0000\u00ff~|{}"]
    for (let i = 0; i < 50; i++) {
      samples.push(String.fromCharCode(...Array.from({ length: i * 3 }, (_, j) => (i * 31 + j * 17) % 256)))
    }
    for (const s of samples) {
      const encoded = huffmanEncode(s)
      assert.strictEqual(huffmanDecode(encoded, 0, encoded.length), s)
    }
    // a padding of more than 7 bits
    assert.throws(() => huffmanDecode(Buffer.from([0xff, 0xff]), 0, 2))
    assert.throws(() => new HpackDecoder().decode(Buffer.from([0xff, 0x00])))
    assert.throws(() => new HpackDecoder().decode(Buffer.from([0xbe])))
  })

  it("encodes headers the decoder reads back (literals, static names, :status 200)", () => {
    const fields: Array<[string, string]> = [
      [":status", "200"],
      ["content-type", "application/grpc"],
      ["grpc-status", "9"],
      ["grpc-message", "x".repeat(300)],
      ["exception", "stream-deleted"]
    ]
    const d = new HpackDecoder()
    assert.deepStrictEqual(pairs(d.decode(encodeHeaders(fields))), fields)
    assert.strictEqual(d.tableSize, 0)
  })
})

describe("frames", () => {
  it("writes and reads frame headers", () => {
    const b = Buffer.alloc(9)
    writeFrameHeader(b, 0, 0x123456, FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 0x7ffffff1)
    assert.deepStrictEqual(readFrameHeader(b, 0), { length: 0x123456, type: 1, flags: 5, streamId: 0x7ffffff1 })
  })

  it("parses grpc-timeout values", () => {
    assert.strictEqual(parseTimeout("200m"), 200)
    assert.strictEqual(parseTimeout("2S"), 2000)
    assert.strictEqual(parseTimeout("1H"), 3_600_000)
    assert.strictEqual(parseTimeout("5000u"), 5)
    assert.isUndefined(parseTimeout("12"))
    assert.isUndefined(parseTimeout(undefined))
  })
})

/** A raw HTTP/2 client over a socket, collecting frames the server sends. */
const rawClient = async (port: number) => {
  const socket = net.connect(port, "127.0.0.1")
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve)
    socket.once("error", reject)
  })
  const frames: Array<{ type: number; flags: number; streamId: number; payload: Buffer }> = []
  let buffered = Buffer.alloc(0)
  let closed = false
  const waiters: Array<() => void> = []
  socket.on("data", (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk])
    while (buffered.length >= 9) {
      const h = readFrameHeader(buffered, 0)
      if (buffered.length < 9 + h.length) break
      frames.push({ type: h.type, flags: h.flags, streamId: h.streamId, payload: buffered.subarray(9, 9 + h.length) })
      buffered = buffered.subarray(9 + h.length)
    }
    for (const w of waiters.splice(0)) w()
  })
  socket.on("error", () => {})
  socket.on("close", () => {
    closed = true
    for (const w of waiters.splice(0)) w()
  })
  const waitFor = async <A>(find: () => A | undefined, ms = 3000): Promise<A> => {
    const deadline = Date.now() + ms
    for (;;) {
      const found = find()
      if (found !== undefined) return found
      if (Date.now() > deadline) throw new Error("timed out waiting for a frame")
      await new Promise<void>((resolve) => {
        waiters.push(resolve)
        setTimeout(resolve, 50)
      })
    }
  }
  return { socket, frames, waitFor, isClosed: () => closed }
}

const grpcRequestHeaders = (path: string, extra: Array<[string, string]> = []) =>
  encodeHeaders([
    [":method", "POST"],
    [":scheme", "http"],
    [":path", path],
    [":authority", "localhost"],
    ["content-type", "application/grpc"],
    ["te", "trailers"],
    ...extra
  ])

const grpcFrame = (body: Buffer) => {
  const framed = Buffer.alloc(5 + body.length)
  framed.writeUInt32BE(body.length, 1)
  body.copy(framed, 5)
  return framed
}

const subscriptionRequest = (stream: string) =>
  grpcFrame(Buffer.from(ReadReq.encode({
    options: readOptions({ streamOption: streamOption(stream), countOption: { $case: "subscription", value: {} } })
  }).finish()))

describe("HTTP/2 transport on the wire", () => {
  it("answers SETTINGS and PING, and sends GOAWAY(PROTOCOL_ERROR) for a bad preface", async () => {
    const node = await startEmbeddedNode()
    const c = await rawClient(node.port)
    c.socket.write(Buffer.concat([CLIENT_PREFACE, settingsFrame([]), encodeFrame(FrameType.PING, 0, 0, Buffer.from("12345678"))]))
    const ack = await c.waitFor(() => c.frames.find((f) => f.type === FrameType.PING))
    assert.strictEqual(ack.flags & Flag.ACK, Flag.ACK)
    assert.strictEqual(ack.payload.toString(), "12345678")
    await c.waitFor(() => c.frames.find((f) => f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) !== 0))
    const serverSettings = c.frames.find((f) => f.type === FrameType.SETTINGS && f.flags === 0)!
    const settings = new Map<number, number>()
    for (let i = 0; i < serverSettings.payload.length; i += 6) {
      settings.set(serverSettings.payload.readUInt16BE(i), serverSettings.payload.readUInt32BE(i + 2))
    }
    assert.strictEqual(settings.get(3), 100)
    c.socket.destroy()

    const bad = await rawClient(node.port)
    bad.socket.write(Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
    const goaway = await bad.waitFor(() => bad.frames.find((f) => f.type === FrameType.GOAWAY))
    assert.strictEqual(goaway.payload.readUInt32BE(4), ErrorCode.PROTOCOL_ERROR)
    await bad.waitFor(() => (bad.isClosed() ? true : undefined))
    await node.stop()
  })

  it("sends GOAWAY(FRAME_SIZE_ERROR) for an oversized frame and keeps serving others", async () => {
    const node = await startEmbeddedNode()
    const c = await rawClient(node.port)
    const header = Buffer.alloc(9)
    writeFrameHeader(header, 0, 20000, FrameType.DATA, 0, 1)
    c.socket.write(Buffer.concat([CLIENT_PREFACE, settingsFrame([]), header, Buffer.alloc(20000)]))
    const goaway = await c.waitFor(() => c.frames.find((f) => f.type === FrameType.GOAWAY))
    assert.strictEqual(goaway.payload.readUInt32BE(4), ErrorCode.FRAME_SIZE_ERROR)
    const clients = connect(node)
    await appendOk(clients.streams, uniqueStream(), any, [{}])
    clients.close()
    await node.stop()
  })

  it("refuses streams beyond SETTINGS_MAX_CONCURRENT_STREAMS with RST_STREAM(REFUSED_STREAM)", async () => {
    const node = await startEmbeddedNode({ maxConcurrentStreams: 2 })
    const s = uniqueStream()
    const c = await rawClient(node.port)
    const frames = [CLIENT_PREFACE, settingsFrame([])]
    for (const id of [1, 3, 5]) {
      frames.push(encodeFrame(FrameType.HEADERS, Flag.END_HEADERS, id, grpcRequestHeaders("/event_store.client.streams.Streams/Read")))
      frames.push(encodeFrame(FrameType.DATA, Flag.END_STREAM, id, subscriptionRequest(s)))
    }
    c.socket.write(Buffer.concat(frames))
    const rst = await c.waitFor(() => c.frames.find((f) => f.type === FrameType.RST_STREAM))
    assert.strictEqual(rst.streamId, 5)
    assert.strictEqual(rst.payload.readUInt32BE(0), ErrorCode.REFUSED_STREAM)
    // the two accepted subscriptions are confirmed
    await c.waitFor(() => c.frames.filter((f) => f.type === FrameType.DATA).length >= 2 ? true : undefined)
    assert.deepStrictEqual(
      [...new Set(c.frames.filter((f) => f.type === FrameType.DATA).map((f) => f.streamId))].sort(),
      [1, 3]
    )
    c.socket.destroy()
    await node.stop()
  })

  const readRequest = (stream: string, count: bigint) =>
    grpcFrame(Buffer.from(ReadReq.encode({
      options: readOptions({ streamOption: streamOption(stream), countOption: { $case: "count", value: count } })
    }).finish()))

  const messagesIn = (payload: Buffer) => {
    let pos = 0
    let n = 0
    while (pos < payload.length) {
      pos += 5 + payload.readUInt32BE(pos + 1)
      n++
    }
    assert.strictEqual(pos, payload.length, "DATA frames hold whole messages")
    return n
  }

  for (const framing of ["message", "coalesced"] as const) {
    it(`${framing} framing: ${framing === "message" ? "one DATA frame per message" : "several messages per DATA frame, within the frame size"}`, async () => {
      const node = await startEmbeddedNode({ readFraming: framing })
      const clients = connect(node)
      const s = uniqueStream(framing)
      await appendOk(clients.streams, s, any, Array.from({ length: 200 }, (_, i) => ({ data: { i, pad: "q".repeat(200) } })))
      const c = await rawClient(node.port)
      c.socket.write(Buffer.concat([
        CLIENT_PREFACE,
        settingsFrame([[0x4, 1 << 20]]),
        windowUpdateFrame(0, 1 << 20),
        encodeFrame(FrameType.HEADERS, Flag.END_HEADERS, 1, grpcRequestHeaders("/event_store.client.streams.Streams/Read")),
        encodeFrame(FrameType.DATA, Flag.END_STREAM, 1, readRequest(s, 1000n))
      ]))
      await c.waitFor(() => c.frames.find((f) => f.type === FrameType.HEADERS && (f.flags & Flag.END_STREAM) !== 0))
      const data = c.frames.filter((f) => f.type === FrameType.DATA && f.streamId === 1)
      const counts = data.map((f) => messagesIn(f.payload))
      assert.strictEqual(counts.reduce((a, b) => a + b, 0), 200)
      if (framing === "message") {
        assert.isTrue(counts.every((n) => n === 1))
      } else {
        assert.isBelow(data.length, 20)
        assert.isTrue(data.every((f) => f.payload.length <= 16384))
      }
      c.socket.destroy()
      clients.close()
      await node.stop()
    })
  }

  it("a SETTINGS change of INITIAL_WINDOW_SIZE resizes open streams' send windows; CONTINUATION is accepted", async () => {
    const node = await startEmbeddedNode()
    const clients = connect(node)
    const s = uniqueStream("settings")
    await appendOk(clients.streams, s, any, Array.from({ length: 20 }, () => ({})))
    const c = await rawClient(node.port)
    const block = grpcRequestHeaders("/event_store.client.streams.Streams/Read")
    c.socket.write(Buffer.concat([
      CLIENT_PREFACE,
      settingsFrame([[0x4, 0]]),
      encodeFrame(FrameType.HEADERS, 0, 1, block.subarray(0, 10)),
      encodeFrame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, block.subarray(10)),
      encodeFrame(FrameType.DATA, Flag.END_STREAM, 1, readRequest(s, 100n))
    ]))
    await c.waitFor(() => c.frames.find((f) => f.type === FrameType.HEADERS))
    await new Promise((r) => setTimeout(r, 100))
    assert.strictEqual(c.frames.filter((f) => f.type === FrameType.DATA).length, 0)
    c.socket.write(settingsFrame([[0x4, 1 << 20]]))
    await c.waitFor(() => c.frames.find((f) => f.type === FrameType.HEADERS && (f.flags & Flag.END_STREAM) !== 0))
    const messages = c.frames.filter((f) => f.type === FrameType.DATA).reduce((n, f) => n + messagesIn(f.payload), 0)
    assert.strictEqual(messages, 20)
    c.socket.destroy()
    clients.close()
    await node.stop()
  })

  it("a client with a 1 KiB stream window reads a large stream completely", async () => {
    const node = await startEmbeddedNode()
    const clients = connect(node)
    const s = uniqueStream("window")
    await appendOk(clients.streams, s, any, Array.from({ length: 300 }, (_, i) => ({ data: { i, pad: "p".repeat(400) } })))
    const { session, req } = openRead(node.port, { initialWindowSize: 1024 })
    const body = Buffer.from(ReadReq.encode({
      options: readOptions({ streamOption: streamOption(s), countOption: { $case: "count", value: 1000n } })
    }).finish())
    req.end(grpcFrame(body))
    const chunks: Array<Buffer> = []
    req.on("data", (d: Buffer) => chunks.push(d))
    const trailers = await new Promise<http2.IncomingHttpHeaders>((resolve) => req.once("trailers", resolve))
    await new Promise<void>((resolve) => req.once("close", resolve))
    assert.strictEqual(trailers["grpc-status"], "0")
    const all = Buffer.concat(chunks)
    let pos = 0
    let messages = 0
    while (pos < all.length) {
      pos += 5 + all.readUInt32BE(pos + 1)
      messages++
    }
    assert.strictEqual(pos, all.length)
    assert.strictEqual(messages, 300)
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
    const deadline = Date.now() + 3000
    while (nodeStats(node).activeReads > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    assert.strictEqual(nodeStats(node).activeReads, 0)
    assert.strictEqual(nodeStats(node).storeListeners, 0)
    session.close()
    await node.stop()
  })

  it("ends a call with DEADLINE_EXCEEDED when its grpc-timeout passes", async () => {
    const node = await startEmbeddedNode()
    const session = http2.connect(`http://127.0.0.1:${node.port}`)
    session.on("error", () => {})
    const started = Date.now()
    const req = session.request({
      ":method": "POST",
      ":path": "/event_store.client.streams.Streams/Read",
      "content-type": "application/grpc",
      te: "trailers",
      "grpc-timeout": "200m"
    })
    req.on("error", () => {})
    req.on("data", () => {})
    req.end(subscriptionRequest(uniqueStream()))
    const trailers = await new Promise<http2.IncomingHttpHeaders>((resolve) => req.once("trailers", resolve))
    assert.strictEqual(trailers["grpc-status"], "4")
    assert.strictEqual(trailers["grpc-message"], "Deadline exceeded")
    assert.isAtLeast(Date.now() - started, 150)
    const deadline = Date.now() + 3000
    while (nodeStats(node).activeReads > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    assert.strictEqual(nodeStats(node).activeReads, 0)
    session.close()
    await node.stop()
  })

  it("answers an unknown method with UNIMPLEMENTED and a Trailers-Only response", async () => {
    const node = await startEmbeddedNode()
    const client = new grpc.Client(`127.0.0.1:${node.port}`, grpc.credentials.createInsecure())
    const id = (b: Buffer) => b
    const error = await new Promise<grpc.ServiceError | null>((resolve) => {
      client.makeUnaryRequest("/no.Such/Method", id, id, Buffer.alloc(0), (e) => resolve(e))
    })
    assert.strictEqual(error?.code, grpc.status.UNIMPLEMENTED)
    client.close()
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

  it("stop() sends GOAWAY and ends open subscriptions", async () => {
    const node = await startEmbeddedNode()
    const session = http2.connect(`http://127.0.0.1:${node.port}`)
    session.on("error", () => {})
    const goaway = new Promise<number>((resolve) => session.once("goaway", (code: number) => resolve(code)))
    const req = session.request({
      ":method": "POST",
      ":path": "/event_store.client.streams.Streams/Read",
      "content-type": "application/grpc",
      te: "trailers"
    })
    req.on("error", () => {})
    req.on("data", () => {})
    req.end(subscriptionRequest(uniqueStream()))
    await new Promise<void>((resolve) => req.once("response", () => resolve()))
    const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => req.once("trailers", resolve))
    await node.stop()
    assert.strictEqual(await goaway, 0)
    assert.strictEqual((await trailers)["grpc-status"], "0")
    session.destroy()
  })
})
