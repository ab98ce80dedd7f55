import * as grpc from "@grpc/grpc-js"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as http2 from "node:http2"
import { ReadReq, type ReadResp } from "../../src/generated/streams.ts"
import { EmbeddedNode, nodeStats, startEmbeddedNode } from "../../src/server/EmbeddedNode.ts"
import { eventuallyAsync } from "../support/eventually.ts"
import {
  allOption,
  any,
  appendOk,
  batchSession,
  connect,
  events,
  readAll,
  readOptions,
  streamOption,
  subscribe,
  supportedMethods,
  uniqueStream
} from "./helpers.ts"

layer(EmbeddedNode.layer(), { excludeTestServices: true })("EmbeddedNode.layer", (it) => {
  it.effect("provides a running node", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      assert.isTrue(node.insecure)
      assert.isAbove(node.port, 0)
      const c = connect(node)
      const { response } = yield* Effect.promise(() => supportedMethods(c))
      c.close()
      assert.isAbove(response!.methods.length, 0)
      const usage = node.cpuUsage()
      assert.isAbove(usage.user, 0)
    }))
})

describe("node lifecycle", () => {
  it("stop ends open subscriptions and batch appends, and is idempotent", async () => {
    const node = await startEmbeddedNode()
    const c = connect(node)
    const sub = subscribe(c.streams, { options: readOptions({ streamOption: allOption("end"), countOption: { $case: "subscription", value: {} } }) })
    await sub.waitFor((ms) => ms.some((m) => m.content?.$case === "caughtUp"))
    const batch = batchSession(c.streams)
    batch.send({ correlationId: { value: { $case: "string", value: crypto.randomUUID() } }, options: { streamIdentifier: { streamName: Buffer.from(uniqueStream()) }, expectedStreamPosition: { $case: "any", value: {} } }, proposedMessages: [], isFinal: true })
    await batch.next()
    const started = Date.now()
    await Promise.all([node.stop(), node.stop()])
    await node.stop()
    assert.isBelow(Date.now() - started, 900)
    await sub.waitEnd()
    assert.strictEqual(nodeStats(node).activeReads, 0)
    assert.strictEqual(nodeStats(node).storeListeners, 0)
    c.close()
  })

  it("coalesced framing delivers the same messages as message framing", async () => {
    const results: Array<Array<ReadResp>> = []
    for (const readFraming of ["message", "coalesced"] as const) {
      const node = await startEmbeddedNode({ readFraming })
      const c = connect(node)
      const s = "same-stream"
      for (let i = 0; i < 5; i++) await appendOk(c.streams, s, any, Array.from({ length: 200 }, (_, j) => ({ id: `00000000-0000-4000-8000-${String(i * 1000 + j).padStart(12, "0")}`, data: { i, j, pad: "p".repeat(j) } })))
      const { messages, error } = await readAll(c.streams, { options: readOptions({ streamOption: streamOption(s), controlOption: { compatibility: 1 } }) })
      assert.isUndefined(error)
      // a subscription in coalesced mode also flushes promptly when live
      const sub = subscribe(c.streams, { options: readOptions({ streamOption: streamOption(s, "end"), countOption: { $case: "subscription", value: {} } }) })
      await sub.waitFor((ms) => ms.some((m) => m.content?.$case === "caughtUp"))
      await appendOk(c.streams, s, any, [{ type: "Live" }])
      await sub.waitFor((ms) => events(ms).length === 1)
      sub.call.cancel()
      results.push(messages.map((m) => {
        if (m.content?.$case !== "event") return m
        const e = m.content.value.event!
        // created differs between the two nodes
        return { content: { ...m.content, value: { ...m.content.value, event: { ...e, metadata: e.metadata.filter((x) => x.key !== "created") } } } } as ReadResp
      }))
      c.close()
      await node.stop()
    }
    assert.strictEqual(results[0]!.length, 1001)
    assert.deepStrictEqual(results[1], results[0])
  })

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`the command prints the connection string and a start line, and on ${signal} stops gracefully with a stop line`, async () => {
      const child = spawn(process.execPath, ["--experimental-strip-types", "--no-warnings", "src/server/cli.ts", "--port", "0", "--insecure", "--read-framing", "coalesced"], { stdio: ["ignore", "pipe", "pipe"] })
      let stderr = ""
      child.stderr.on("data", (d) => (stderr += String(d)))
      const line = await new Promise<string>((resolve, reject) => {
        child.stdout.once("data", (d) => resolve(String(d).trim()))
        child.once("exit", (code) => reject(new Error(`exited ${code}`)))
      })
      assert.match(line, /^esdb:\/\/127\.0\.0\.1:\d+\?tls=false$/)
      const port = Number(/:(\d+)\?/.exec(line)![1])
      const node = { host: "127.0.0.1", port, insecure: true } as Parameters<typeof connect>[0]
      const c = connect(node)
      await appendOk(c.streams, "cli-stream", any, [{}])
      // a subscription open when the node stops ends as on a real node: UNAVAILABLE
      const sub = c.streams.read({ options: readOptions({ streamOption: streamOption("cli-stream"), countOption: { $case: "subscription", value: {} } }) })
      // served: the node confirmed the subscription
      const confirmed = new Promise<void>((resolve) => sub.once("data", () => resolve()))
      sub.on("data", () => {})
      const ended = new Promise<grpc.StatusObject>((resolve) => sub.on("status", resolve))
      sub.on("error", () => {})
      await confirmed
      const code = await new Promise<number | null>((resolve) => {
        child.once("exit", resolve)
        child.kill(signal)
      })
      assert.strictEqual(code, 0)
      assert.strictEqual((await ended).code, grpc.status.UNAVAILABLE)
      c.close()
      assert.match(stderr, new RegExp(`listening on 127\\.0\\.0\\.1:${port}, TLS off \\(insecure\\), data in memory, projections none, reporting server version 26\\.1\\.0`))
      assert.include(stderr, `effect-esdb-server stopped (127.0.0.1:${port})`)
    })
  }

  it("the command's --help describes every flag with its default", async () => {
    const child = spawn(process.execPath, ["--experimental-strip-types", "--no-warnings", "src/server/cli.ts", "--help"], { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    child.stdout.on("data", (d) => (stdout += String(d)))
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve))
    assert.strictEqual(code, 0)
    for (const flag of ["--port", "--host", "--insecure", "--db", "--run-projections", "--start-standard-projections", "--read-framing", "--max-connections", "--max-pending-connections", "--idle-timeout-ms", "--max-append-size", "--max-receive-message-size", "--advertise-host", "--advertise-port", "--server-version"]) {
      assert.match(stdout, new RegExp(`^  ${flag} .*\\(default: [^)]+\\)?$`, "m"), flag)
    }
    assert.match(stdout, /--port <n> .*\(default: 2113\)/)
    assert.match(stdout, /--max-connections <n> .*\(default: 1000\)/)
  })

  it("the command answers cpu usage on stdin and stops on request", async () => {
    const child = spawn(process.execPath, ["--experimental-strip-types", "--no-warnings", "src/server/cli.ts", "--port", "0", "--insecure"], { stdio: ["pipe", "pipe", "pipe"] })
    const lines: Array<string> = []
    const waiters: Array<() => void> = []
    let buffered = ""
    child.stdout.setEncoding("utf8")
    child.stdout.on("data", (d: string) => {
      buffered += d
      const parts = buffered.split("\n")
      buffered = parts.pop()!
      lines.push(...parts)
      for (const w of waiters.splice(0)) w()
    })
    const line = async (n: number) => {
      while (lines.length < n) await new Promise<void>((r) => waiters.push(r))
      return lines[n - 1]!
    }
    assert.match(await line(1), /^esdb:\/\//)
    child.stdin.write("cpu\n")
    const usage = JSON.parse(await line(2)) as { cpu: { user: number; system: number } }
    assert.isAbove(usage.cpu.user, 0)
    const code = await new Promise<number | null>((resolve) => {
      child.once("exit", resolve)
      child.stdin.write("stop\n")
    })
    assert.strictEqual(code, 0)
  })

  it("the command refuses unknown flags", async () => {
    const child = spawn(process.execPath, ["--experimental-strip-types", "--no-warnings", "src/server/cli.ts", "--nope"], { stdio: ["ignore", "pipe", "pipe"] })
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve))
    assert.strictEqual(code, 2)
  })

  it("ignores a requires-leader header of any value", async () => {
    const node = await startEmbeddedNode()
    const c = connect(node)
    for (const value of ["true", "false", "garbage"]) {
      const md = new grpc.Metadata()
      md.set("requires-leader", value)
      const s = uniqueStream()
      await appendOk(c.streams, s, any, [{}], md)
      const { messages, error } = await readAll(c.streams, { options: readOptions({ streamOption: streamOption(s) }) }, md)
      assert.isUndefined(error)
      assert.strictEqual(events(messages).length, 1)
    }
    c.close()
    await node.stop()
  })
})

describe("robustness", () => {
  it("survives garbage bytes, cancellations mid-read and abrupt disconnects", async () => {
    const node = await startEmbeddedNode({ readFraming: "coalesced" })
    const c = connect(node)
    const s = uniqueStream("robust")
    await appendOk(c.streams, s, any, Array.from({ length: 3000 }, () => ({ data: { pad: "z".repeat(500) } })))
    const raw = new grpc.Client(`127.0.0.1:${node.port}`, grpc.credentials.createInsecure())
    const id = (b: Buffer) => b
    const garbage = Buffer.from([0xff, 0xff, 0xff, 0x0f, 0x0a, 0x99])
    const codes: Array<number> = []
    await new Promise<void>((resolve) => {
      raw.makeUnaryRequest("/event_store.client.streams.Streams/Delete", id, id, garbage, (e) => {
        codes.push(e?.code ?? 0)
        resolve()
      })
    })
    await new Promise<void>((resolve) => {
      const call = raw.makeServerStreamRequest("/event_store.client.streams.Streams/Read", id, id, garbage)
      call.on("data", () => {})
      call.on("error", (e: grpc.ServiceError) => {
        codes.push(e.code)
        resolve()
      })
      call.on("end", resolve)
    })
    await new Promise<void>((resolve) => {
      const call = raw.makeClientStreamRequest("/event_store.client.streams.Streams/Append", id, id, (e) => {
        codes.push(e?.code ?? 0)
        resolve()
      })
      call.write(garbage)
      call.end()
    })
    assert.strictEqual(codes.length, 3)
    assert.isTrue(codes.every((code) => code !== 0))
    // cancel big reads and subscriptions at random points
    for (let i = 0; i < 20; i++) {
      const sub = subscribe(c.streams, { options: readOptions({ streamOption: streamOption(s), countOption: i % 2 === 0 ? { $case: "count", value: 10_000n } : { $case: "subscription", value: {} } }) })
      await sub.waitFor((ms) => ms.length > i * 10, 5000).catch(() => {})
      sub.call.cancel()
    }
    // an abruptly closed connection in the middle of a subscription (raw HTTP/2, then destroy)
    const session = http2.connect(`http://127.0.0.1:${node.port}`)
    session.on("error", () => {})
    const body = Buffer.from(ReadReq.encode({ options: readOptions({ streamOption: streamOption(s), countOption: { $case: "subscription", value: {} } }) }).finish())
    const frame = Buffer.alloc(5 + body.length)
    frame.writeUInt32BE(body.length, 1)
    body.copy(frame, 5)
    const req = session.request({ ":method": "POST", ":path": "/event_store.client.streams.Streams/Read", "content-type": "application/grpc", te: "trailers" })
    req.on("error", () => {})
    req.end(frame)
    await new Promise<void>((resolve) => req.once("data", () => resolve()))
    assert.strictEqual(nodeStats(node).activeReads, 1)
    session.destroy()
    raw.close()
    await eventuallyAsync("the node freed the reads and their listeners", () => nodeStats(node).activeReads === 0 && nodeStats(node).storeListeners === 0)
    assert.strictEqual(nodeStats(node).activeReads, 0)
    assert.strictEqual(nodeStats(node).storeListeners, 0)
    // still serving
    const { messages } = await readAll(c.streams, { options: readOptions({ streamOption: streamOption(s), countOption: { $case: "count", value: 1n } }) })
    assert.strictEqual(events(messages).length, 1)
    c.close()
    await node.stop()
  })
})
