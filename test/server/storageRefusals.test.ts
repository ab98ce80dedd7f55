/**
 * Refused means no trace (issue 15): an append refused because one of its events cannot be
 * stored leaves nothing behind, not after a later write, not after a restart; and appends refused
 * for their stream name keep no memory in the node.
 */
import * as grpc from "@grpc/grpc-js"
import { afterEach, assert, describe, it } from "@effect/vitest"
import { randomUUID } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { rssOf, startStorageNode } from "../../bench/lib/storageProcs.ts"
import { StreamsClient } from "../../src/generated/streams.ts"
import { startEmbeddedNode } from "../../src/server/EmbeddedNode.ts"
import { BadRequest } from "../../src/generated/shared.ts"
import { allOption, any, append, appendOk, batchSession, connect, events, proposed, readAll, readOptions, streamOption } from "./helpers.ts"

const dirs: Array<string> = []
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "effect-esdb-refusals-"))
  dirs.push(dir)
  return dir
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

const idsIn = (messages: Parameters<typeof events>[0]) =>
  events(messages).map((e) => (e.event!.id!.value!.$case === "string" ? e.event!.id!.value!.value : ""))

describe("a refused append leaves no trace", () => {
  it("[a normal event, an event whose type is 70,000 bytes] is refused whole: nothing after a later write, nothing after a restart", async () => {
    const dir = tempDir()
    const stream = `mixed-${randomUUID()}`
    const normal = randomUUID()
    let node = await startEmbeddedNode({ port: 0, insecure: true, db: dir })
    let c = connect(node)
    const refused = await append(c.streams, stream, any, [{ id: normal }, { type: "T".repeat(70_000) }]).then(() => undefined, (e: grpc.ServiceError) => e)
    // a clear typed error naming the limit of the log (a real node's log would hold it: README)
    assert.strictEqual(refused?.code, grpc.status.INVALID_ARGUMENT)
    assert.match(refused!.details, /type longer than 65535 bytes/)
    // an unrelated write: it must not carry the refused event with it
    await appendOk(c.streams, `other-${randomUUID()}`, any, [{}])
    const check = async () => {
      const read = await readAll(c.streams, { options: readOptions({ streamOption: streamOption(stream) }) })
      assert.isUndefined(read.error)
      assert.deepStrictEqual(idsIn(read.messages), [])
      assert.strictEqual(read.messages[0]?.content?.$case, "streamNotFound")
      const all = await readAll(c.streams, { options: readOptions({ streamOption: allOption("start"), countOption: { $case: "count", value: 10_000n } }) })
      assert.notInclude(idsIn(all.messages), normal)
    }
    await check()
    c.close()
    await node.stop()
    node = await startEmbeddedNode({ port: 0, insecure: true, db: dir })
    c = connect(node)
    await check()
    // the stream is writable from revision 0
    const written = await appendOk(c.streams, stream, { $case: "noStream", value: {} }, [{}])
    assert.deepStrictEqual(written.currentRevisionOption, { $case: "currentRevision", value: 0n })
    c.close()
    await node.stop()
  })

  it("over BatchAppend the same append is refused in-band (BadRequest naming the limit) and leaves nothing", async () => {
    const node = await startEmbeddedNode({ port: 0, insecure: true, db: tempDir() })
    const c = connect(node)
    const stream = `mixed-${randomUUID()}`
    const session = batchSession(c.streams)
    session.send({
      correlationId: { value: { $case: "string", value: randomUUID() } },
      options: {
        streamIdentifier: { streamName: Buffer.from(stream) },
        expectedStreamPosition: { $case: "any", value: {} },
        deadlineOption: { $case: "deadline21100", value: new Date(Date.now() + 10_000) }
      },
      proposedMessages: [proposed(), proposed({ type: "T".repeat(70_000) })],
      isFinal: true
    })
    const [resp] = await session.next()
    assert.strictEqual(resp?.result?.$case, "error")
    if (resp?.result?.$case === "error") {
      assert.strictEqual(resp.result.value.message, "BadRequest")
      assert.match(BadRequest.decode(resp.result.value.details!.value).message, /type longer than 65535 bytes/)
    }
    await session.end()
    await appendOk(c.streams, `other-${randomUUID()}`, any, [{}])
    const read = await readAll(c.streams, { options: readOptions({ streamOption: streamOption(stream) }) })
    assert.deepStrictEqual(idsIn(read.messages), [])
    c.close()
    await node.stop()
  })

  it("in memory the same append is refused too", async () => {
    const node = await startEmbeddedNode({ port: 0, insecure: true })
    const c = connect(node)
    const stream = `mixed-${randomUUID()}`
    const refused = await append(c.streams, stream, any, [{}, { type: "T".repeat(70_000) }]).then(() => undefined, (e: grpc.ServiceError) => e)
    assert.isDefined(refused)
    const read = await readAll(c.streams, { options: readOptions({ streamOption: streamOption(stream) }) })
    assert.deepStrictEqual(idsIn(read.messages), [])
    c.close()
    await node.stop()
  })

  it("200 appends to distinct 1 MB stream names are refused and the node's memory stays flat", { timeout: 180_000 }, async () => {
    const node = await startStorageNode(tempDir())
    const streams = new StreamsClient(node.connectionString.replace(/^esdb:\/\/([^?]+).*$/, "$1"), grpc.credentials.createInsecure(), {
      "grpc.max_send_message_length": 16 * 1024 * 1024
    })
    try {
      // warm up the paths a refusal takes
      const name = (i: number) => `${i}-`.padEnd(1024 * 1024, "n")
      for (let i = 0; i < 5; i++) await append(streams, name(i), any, [{}]).catch(() => undefined)
      const before = rssOf(node.pid)
      let refusals = 0
      for (let i = 5; i < 205; i++) {
        await append(streams, name(i), any, [{}]).then(() => undefined, () => refusals++)
      }
      const grown = rssOf(node.pid) - before
      assert.strictEqual(refusals, 200)
      // before: +440 MB (each refused name stayed in the index); garbage may not be returned at once
      assert.isBelow(grown, 200 * 1024 * 1024, `RSS grew by ${Math.round(grown / 1024 / 1024)} MB`)
    } finally {
      streams.close()
      await node.stop()
    }
  })
})
