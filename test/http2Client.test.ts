/**
 * The client's own HTTP/2 transport (src/internal/http2), against Node's `http2` server
 * (nghttp2) as the reference implementation: HPACK with Huffman strings and a dynamic table,
 * flow control both ways, trailers, resets, GOAWAY, keepalive and connection failures.
 */
import { assert, describe, it } from "@effect/vitest"
import * as http2 from "node:http2"
import * as net from "node:net"
import type { AddressInfo } from "node:net"
import { ClientSession } from "../src/internal/http2/ClientSession.ts"
import { type CallStatus, duplex } from "../src/internal/http2/GrpcCall.ts"
import { encodeHeaders, HpackDecoder } from "../src/internal/http2/Hpack.ts"

/** A node:http2 server on a free port; `handler` gets each stream. */
const withServer = async (
  handler: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void,
  test: (port: number) => Promise<void>,
  settings?: http2.Settings
) => {
  const server = http2.createServer(settings === undefined ? {} : { settings })
  server.on("stream", (stream, headers) => {
    // streams the tests reset end with an error event on the server side
    stream.on("error", () => {})
    handler(stream, headers)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  try {
    await test((server.address() as AddressInfo).port)
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

const frame = (payload: Buffer) => {
  const out = Buffer.alloc(5 + payload.length)
  out.writeUInt32BE(payload.length, 1)
  payload.copy(out, 5)
  return out
}

/** Runs one call: sends `requests`, half-closes, and collects the replies and the status. */
const call = (session: ClientSession, requests: ReadonlyArray<Buffer>) =>
  new Promise<{ replies: Array<Buffer>; status: CallStatus }>((resolve) => {
    const replies: Array<Buffer> = []
    const c = duplex<Buffer, Buffer>(session, {
      path: "/test.Echo/Call",
      headers: [["x-test", "yes"]],
      userAgent: "test",
      encode: (b) => b,
      decode: (b) => Buffer.from(b)
    }, {
      onMessage: (m) => replies.push(m),
      onStatus: (status) => resolve({ replies, status })
    })
    for (const r of requests) c.write(r)
    c.end()
  })

describe("HPACK against nghttp2", () => {
  it("sends authorization as never indexed", () => {
    const headers: Array<readonly [string, string]> = [[":path", "/x"], ["authorization", "Basic YWRtaW4="], ["long", "v".repeat(300)]]
    const block = encodeHeaders(headers)
    assert.deepStrictEqual(new HpackDecoder().decode(block), headers.flat())
    // never indexed (0001), name index 23 (authorization) = 0x1f 0x08
    assert.ok(block.includes(Buffer.from([0x1f, 0x08])))
  })

  it("decodes nghttp2's header blocks: every byte value Huffman-coded, indexed across responses", async () => {
    const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join("").trim()
    const high = Array.from({ length: 128 }, (_, i) => String.fromCharCode(128 + i)).join("")
    await withServer((stream) => {
      stream.respond({ ":status": 200, "content-type": "application/grpc", "x-printable": printable, "x-high": high, "x-same": "repeated-value" }, { waitForTrailers: true })
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0", "x-trailer": printable.split("").reverse().join("") }))
      stream.end()
    }, async (port) => {
      const session = new ClientSession({ host: "127.0.0.1", port })
      for (let i = 0; i < 3; i++) {
        const { status } = await call(session, [])
        assert.strictEqual(status.code, 0)
        assert.deepStrictEqual(status.metadata["x-printable"], [printable])
        assert.deepStrictEqual(status.metadata["x-high"], [high])
        assert.deepStrictEqual(status.metadata["x-same"], ["repeated-value"])
        assert.deepStrictEqual(status.metadata["x-trailer"], [printable.split("").reverse().join("")])
      }
      session.close()
    })
  })
})

describe("ClientSession and GrpcCall", () => {
  it("respects a small server window when sending, and refills its own when receiving 12 MiB", async () => {
    await withServer((stream, headers) => {
      let received = 0
      stream.on("data", (chunk: Buffer) => {
        received += chunk.length
      })
      stream.on("end", () => {
        stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true })
        const big = frame(Buffer.alloc(1024 * 1024, 7))
        for (let i = 0; i < 12; i++) stream.write(big)
        stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0", "x-received": String(received), "x-header": String(headers["x-test"]) }))
        stream.end()
      })
    }, async (port) => {
      const session = new ClientSession({ host: "127.0.0.1", port })
      const requests = Array.from({ length: 100 }, (_, i) => Buffer.alloc(1024 + i, i))
      const { replies, status } = await call(session, requests)
      assert.strictEqual(status.code, 0)
      assert.deepStrictEqual(status.metadata["x-received"], [String(requests.reduce((n, r) => n + 5 + r.length, 0))])
      assert.deepStrictEqual(status.metadata["x-header"], ["yes"])
      assert.strictEqual(replies.length, 12)
      assert.ok(replies.every((r) => r.length === 1024 * 1024 && r[0] === 7 && r[r.length - 1] === 7))
      session.close()
    }, { initialWindowSize: 1000, maxFrameSize: 16_384 })
  })

  it("reports a trailers-only failure with its percent-decoded message and metadata", async () => {
    await withServer((stream) => {
      stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "9", "grpc-message": "Leader%20is%20elsewhere", "leader-endpoint-host": "10.0.0.2" }, { endStream: true })
    }, async (port) => {
      const session = new ClientSession({ host: "127.0.0.1", port })
      const { status } = await call(session, [Buffer.from("x")])
      assert.strictEqual(status.code, 9)
      assert.strictEqual(status.details, "Leader is elsewhere")
      assert.deepStrictEqual(status.metadata["leader-endpoint-host"], ["10.0.0.2"])
      session.close()
    })
  })

  it("maps a non-200 HTTP status, a refused stream and a reset to gRPC codes", async () => {
    let n = 0
    await withServer((stream) => {
      n++
      if (n === 1) stream.respond({ ":status": 503 }, { endStream: true })
      else if (n === 2) stream.close(http2.constants.NGHTTP2_REFUSED_STREAM)
      else stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR)
    }, async (port) => {
      const session = new ClientSession({ host: "127.0.0.1", port })
      assert.strictEqual((await call(session, [])).status.code, 14)
      const refused = (await call(session, [])).status
      assert.deepStrictEqual([refused.code, refused.details], [14, "Stream refused by server"])
      assert.strictEqual((await call(session, [])).status.code, 13)
      session.close()
    })
  })

  it("fails calls with UNAVAILABLE when nothing listens, and proves the request was never sent", async () => {
    const server = net.createServer()
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const port = (server.address() as AddressInfo).port
    await new Promise<void>((resolve) => server.close(() => resolve()))
    const session = new ClientSession({ host: "127.0.0.1", port })
    const { status } = await call(session, [Buffer.from("x")])
    assert.strictEqual(status.code, 14)
    assert.match(status.details, /^No connection established\. Last error: .*ECONNREFUSED/)
    assert.isFalse(session.usable)
  })

  it("drops a connection whose keepalive PING goes unanswered, and one that sends garbage", async () => {
    const sockets: Array<net.Socket> = []
    const silent = net.createServer((socket) => {
      sockets.push(socket)
      socket.on("data", () => {})
    })
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve))
    const session = new ClientSession({ host: "127.0.0.1", port: (silent.address() as AddressInfo).port, keepAliveMs: 30, keepAliveTimeoutMs: 30 })
    const { status } = await call(session, [Buffer.from("x")])
    assert.strictEqual(status.code, 14)
    assert.match(status.details, /Keepalive timeout/)

    const garbage = net.createServer((socket) => {
      sockets.push(socket)
      socket.end(Buffer.alloc(64, 0xff))
    })
    await new Promise<void>((resolve) => garbage.listen(0, "127.0.0.1", resolve))
    const other = new ClientSession({ host: "127.0.0.1", port: (garbage.address() as AddressInfo).port })
    const failed = (await call(other, [Buffer.from("x")])).status
    assert.strictEqual(failed.code, 14)
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => silent.close(() => resolve()))
    await new Promise<void>((resolve) => garbage.close(() => resolve()))
  })

  it("refuses streams above a GOAWAY's last stream id and stops opening new ones", async () => {
    let opened = 0
    let sessionRef: http2.Http2Session | undefined
    await withServer((stream) => {
      opened++
      sessionRef = stream.session
      if (opened === 1) {
        // let the client open a second stream, then GOAWAY naming only the first
        setTimeout(() => {
          sessionRef!.goaway(http2.constants.NGHTTP2_NO_ERROR, 1)
          stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "0" }, { endStream: true })
        }, 50)
      }
    }, async (port) => {
      const session = new ClientSession({ host: "127.0.0.1", port })
      const first = call(session, [])
      await new Promise((resolve) => setTimeout(resolve, 10))
      const second = call(session, [])
      const [a, b] = await Promise.all([first, second])
      assert.strictEqual(a.status.code, 0)
      assert.deepStrictEqual([b.status.code, b.status.details], [14, "Stream refused by server"])
      assert.isFalse(session.usable)
    })
  })
})
