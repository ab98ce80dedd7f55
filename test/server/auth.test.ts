import * as grpc from "@grpc/grpc-js"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { existsSync } from "node:fs"
import { isAbsolute } from "node:path"
import { type RunningNode, startEmbeddedNode } from "../../src/server/EmbeddedNode.ts"
import {
  allOption,
  any,
  append,
  appendOk,
  basicAuth,
  type Clients,
  connect,
  deleteStream,
  events,
  gossipRead,
  readAll,
  readOptions,
  streamOption,
  supportedMethods,
  uniqueStream
} from "./helpers.ts"

describe("secure node: TLS, authentication and default ACLs", () => {
  let node: RunningNode
  let c: Clients
  const admin = () => basicAuth("admin", "changeit")
  const ops = () => basicAuth("ops", "changeit")
  beforeAll(async () => {
    node = await startEmbeddedNode({ insecure: false })
    c = connect(node)
  })
  afterAll(async () => {
    c.close()
    await node.stop()
  })

  it("advertises a TLS connection string with the bundled CA", () => {
    assert.isFalse(node.insecure)
    assert.isDefined(node.caFile)
    assert.isTrue(isAbsolute(node.caFile!) && existsSync(node.caFile!))
    assert.strictEqual(node.connectionString, `esdb://admin:changeit@localhost:${node.port}?tls=true&tlsCaFile=${node.caFile}`)
  })

  it("admin may append and read", async () => {
    const s = uniqueStream()
    await appendOk(c.streams, s, any, [{}], admin())
    const { messages, error } = await readAll(c.streams, { options: readOptions({ streamOption: streamOption(s) }) }, admin())
    assert.isUndefined(error)
    assert.strictEqual(events(messages).length, 1)
  })

  it("no credentials: access denied on a user stream", async () => {
    const s = uniqueStream()
    const err = await append(c.streams, s, any, [{}]).then(() => undefined, (e: grpc.ServiceError) => e)
    assert.strictEqual(err?.code, grpc.status.PERMISSION_DENIED)
    assert.strictEqual(err?.details, "Access Denied")
    assert.deepStrictEqual(err?.metadata.get("exception"), ["access-denied"])
    const read = await readAll(c.streams, { options: readOptions({ streamOption: streamOption(s) }) })
    assert.strictEqual(read.error?.code, grpc.status.PERMISSION_DENIED)
  })

  it("bad credentials: unauthenticated, without trailers", async () => {
    const err = await append(c.streams, uniqueStream(), any, [{}], basicAuth("admin", "wrong"))
      .then(() => undefined, (e: grpc.ServiceError) => e)
    assert.strictEqual(err?.code, grpc.status.UNAUTHENTICATED)
    assert.deepStrictEqual(err?.metadata.get("exception"), [])
    const read = await readAll(c.streams, { options: readOptions({ streamOption: allOption() }) }, basicAuth("nobody", "x"))
    assert.strictEqual(read.error?.code, grpc.status.UNAUTHENTICATED)
  })

  it("ops may use user streams but not $-streams; admin may read $all and sees the startup writes", async () => {
    const s = uniqueStream()
    await appendOk(c.streams, s, any, [{}], ops())
    const denied = await readAll(c.streams, { options: readOptions({ streamOption: allOption() }) }, ops())
    assert.strictEqual(denied.error?.code, grpc.status.PERMISSION_DENIED)
    const all = await readAll(c.streams, { options: readOptions({ streamOption: allOption() }) }, admin())
    const streams = events(all.messages).map((e) => `${e.event!.streamIdentifier!.streamName}:${e.event!.metadata[0]!.value}`)
    assert.includeMembers(streams, ["$$$user-admin:$metadata", "$user-admin:$UserCreated", "$users:$User", "$$$user-ops:$metadata", "$user-ops:$UserCreated"])
    assert.isFalse(streams.some((x) => x.startsWith("$epoch-information")))
    assert.isAbove(Number(events(all.messages)[0]!.event!.commitPosition), 0)
  })

  it("stream $acl restricts users other than admins", async () => {
    const s = uniqueStream()
    await appendOk(c.streams, "$$" + s, any, [{ type: "$metadata", data: { $acl: { $r: "$admins", $w: ["$admins", "ops"] } } }], admin())
    await appendOk(c.streams, s, any, [{}], ops())
    const read = await readAll(c.streams, { options: readOptions({ streamOption: streamOption(s) }) }, ops())
    assert.strictEqual(read.error?.code, grpc.status.PERMISSION_DENIED)
    const del = await deleteStream(c.streams, s, any, ops())
    assert.isUndefined(del.error)
  })

  it("gossip and server features answer without credentials", async () => {
    const g = await gossipRead(c)
    assert.isUndefined(g.error)
    assert.strictEqual(g.response!.members[0]!.httpEndPoint!.port, node.port)
    const f = await supportedMethods(c)
    assert.isUndefined(f.error)
    assert.isAbove(f.response!.methods.length, 0)
  })
})

describe("insecure node", () => {
  let node: RunningNode
  let c: Clients
  beforeAll(async () => {
    node = await startEmbeddedNode({ insecure: true })
    c = connect(node)
  })
  afterAll(async () => {
    c.close()
    await node.stop()
  })

  it("allows everything, even with bad credentials; $all starts with the default users' streams", async () => {
    await appendOk(c.streams, uniqueStream(), any, [{}], basicAuth("who", "ever"))
    const all = await readAll(c.streams, { options: readOptions({ streamOption: allOption() }) })
    assert.isUndefined(all.error)
    // PROTOCOL.md §8: a fresh node's startup events, in this order, before anything a client wrote
    const first = events(all.messages).slice(0, 6).map((e) =>
      `${e.event!.streamIdentifier!.streamName.toString()} ${e.event!.metadata.find((m) => m.key === "type")?.value}`
    )
    assert.deepStrictEqual(first, [
      "$$$user-admin $metadata",
      "$user-admin $UserCreated",
      "$users $User",
      "$$$user-ops $metadata",
      "$user-ops $UserCreated",
      "$users $User"
    ])
  })
})

describe("bundled dev certificates", () => {
  it("the embedded copies equal the files", async () => {
    const { readFileSync } = await import("node:fs")
    const certs = await import("../../src/server/DevCerts.ts")
    const dir = new URL("../../src/server/certs/", import.meta.url)
    assert.strictEqual(certs.devCaCert, readFileSync(new URL("ca.crt", dir), "utf8"))
    assert.strictEqual(certs.devNodeCert, readFileSync(new URL("node.crt", dir), "utf8"))
    assert.strictEqual(certs.devNodeKey, readFileSync(new URL("node.key", dir), "utf8"))
  })
})
