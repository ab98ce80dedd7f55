/**
 * The Operations service over real gRPC: scavenges (Started / InProgress / Stopped /
 * scavenge-not-found, their `$scavenges` events), the calls a single node answers with Empty,
 * access for admins and ops only, and Shutdown stopping the node (also under
 * `EmbeddedNode.layer`).
 */
import * as grpc from "@grpc/grpc-js"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { OperationsClient, ScavengeResp_ScavengeResult } from "../../src/generated/operations.ts"
import { UsersClient } from "../../src/generated/users.ts"
import { EmbeddedNode, type RunningNode, startEmbeddedNode } from "../../src/server/EmbeddedNode.ts"
import { eventuallyAsync } from "../support/eventually.ts"
import {
  basicAuth,
  type Clients,
  connect,
  eventTypeOf,
  events,
  readAll,
  readOptions,
  streamOption,
  supportedMethods,
  unary
} from "./helpers.ts"

type Unary = (req: any, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res: any) => void) => unknown
const credentialsOf = (node: RunningNode) =>
  node.insecure ? grpc.credentials.createInsecure() : grpc.credentials.createSsl(readFileSync(node.caFile!))
const addressOf = (node: RunningNode) => (node.insecure ? `${node.host}:${node.port}` : `localhost:${node.port}`)
const opsClient = (node: RunningNode) => new OperationsClient(addressOf(node), credentialsOf(node))
const call = (o: OperationsClient | UsersClient, method: string, request: unknown, md = new grpc.Metadata()) =>
  unary(((o as any)[method] as Unary).bind(o), request, md)

const admin = () => basicAuth("admin", "changeit")
const ops = () => basicAuth("ops", "changeit")

const readStream = async (c: Clients, stream: string, resolveLinks = false) => {
  const r = await readAll(c.streams, { options: readOptions({ streamOption: streamOption(stream), resolveLinks }) }, admin())
  if (r.error !== undefined) throw r.error
  return events(r.messages)
}


describe("Operations: scavenges", () => {
  let node: RunningNode
  let slow: RunningNode
  let c: Clients
  let o: OperationsClient
  let os: OperationsClient
  beforeAll(async () => {
    node = await startEmbeddedNode({ insecure: false })
    // a scavenge that lasts (an hour on the node's clock) until stopped
    slow = await startEmbeddedNode({ insecure: false, scavengeDelayMs: 3_600_000 })
    c = connect(node)
    o = opsClient(node)
    os = opsClient(slow)
  })
  afterAll(async () => {
    o.close()
    os.close()
    c.close()
    await node.stop()
    await slow.stop()
  })

  it("a scavenge starts, completes, and is logged in $scavenges-<id> and linked from $scavenges", async () => {
    const started = await call(o, "startScavenge", { options: { threadCount: 1, startFromChunk: 0 } }, admin())
    assert.isUndefined(started.error)
    assert.strictEqual(started.response.scavengeResult, ScavengeResp_ScavengeResult.Started)
    const id: string = started.response.scavengeId
    assert.match(id, /^[0-9a-f-]{36}$/)
    const stream = `$scavenges-${id}`
    await eventuallyAsync("the completed event", async () => (await readStream(c, stream)).length === 2)
    const logged = await readStream(c, stream)
    assert.deepStrictEqual(logged.map((e) => eventTypeOf(e.event)), ["$scavengeStarted", "$scavengeCompleted"])
    const startedData = JSON.parse(logged[0]!.event!.data.toString())
    assert.deepStrictEqual(startedData, { scavengeId: id, nodeEndpoint: `localhost:${node.port}` })
    const completed = JSON.parse(logged[1]!.event!.data.toString())
    assert.strictEqual(completed.scavengeId, id)
    assert.strictEqual(completed.result, "Success")
    assert.strictEqual(completed.spaceSaved, 0)
    assert.match(completed.timeTaken, /^\d\d:\d\d:\d\d(\.\d{7})?$/)
    const meta = JSON.parse((await readStream(c, `$$${stream}`))[0]!.event!.data.toString())
    assert.deepStrictEqual(meta, { $maxAge: 2592000, $acl: { $r: "$ops", $w: [], $d: [], $mr: [], $mw: [] } })
    assert.deepStrictEqual(JSON.parse((await readStream(c, "$$$scavenges"))[0]!.event!.data.toString()), meta)
    const links = (await readStream(c, "$scavenges", true)).filter((e) => e.link !== undefined && e.event!.streamIdentifier!.streamName.toString() === stream)
    assert.deepStrictEqual(links.map((e) => eventTypeOf(e.event)), ["$scavengeStarted", "$scavengeCompleted"])
    // the node's scavenge is over: stopping it is scavenge-not-found with an empty id
    const stop = await call(o, "stopScavenge", { options: { scavengeId: id } }, admin())
    assert.strictEqual(stop.error?.code, grpc.status.NOT_FOUND)
    assert.strictEqual(stop.error?.details, "Scavenge id was invalid.")
    assert.deepStrictEqual(stop.error?.metadata.get("exception"), ["scavenge-not-found"])
    assert.deepStrictEqual(stop.error?.metadata.get("scavenge-id"), [""])
  })

  it("one scavenge at a time: InProgress with the running id; stop of another id names the running one; stop of 'current' stops it", async () => {
    const first = await call(os, "startScavenge", { options: { threadCount: 2, startFromChunk: 0 } }, ops())
    assert.strictEqual(first.response.scavengeResult, ScavengeResp_ScavengeResult.Started)
    const id: string = first.response.scavengeId
    const again = await call(os, "startScavenge", { options: { threadCount: 1, startFromChunk: 0 } }, admin())
    assert.deepStrictEqual(again.response, { scavengeId: id, scavengeResult: ScavengeResp_ScavengeResult.InProgress })
    const other = await call(os, "stopScavenge", { options: { scavengeId: "not-this-one" } }, admin())
    assert.strictEqual(other.error?.code, grpc.status.NOT_FOUND)
    assert.deepStrictEqual(other.error?.metadata.get("scavenge-id"), [id])
    const stopped = await call(os, "stopScavenge", { options: { scavengeId: "current" } }, admin())
    assert.deepStrictEqual(stopped.response, { scavengeId: id, scavengeResult: ScavengeResp_ScavengeResult.Stopped })
    const sc = connect(slow)
    try {
      const logged = await readStream(sc, `$scavenges-${id}`)
      assert.deepStrictEqual(logged.map((e) => eventTypeOf(e.event)), ["$scavengeStarted", "$scavengeCompleted"])
      assert.strictEqual(JSON.parse(logged[1]!.event!.data.toString()).result, "Stopped")
    } finally {
      sc.close()
    }
    // a new one may start
    const next = await call(os, "startScavenge", { options: { threadCount: 1, startFromChunk: 0 } }, admin())
    assert.strictEqual(next.response.scavengeResult, ScavengeResp_ScavengeResult.Started)
    assert.notStrictEqual(next.response.scavengeId, id)
    assert.strictEqual((await call(os, "stopScavenge", { options: { scavengeId: next.response.scavengeId } }, admin())).response.scavengeResult, ScavengeResp_ScavengeResult.Stopped)
  })

  it("without options: UNKNOWN", async () => {
    for (const method of ["startScavenge", "stopScavenge"]) {
      const r = await call(o, method, {}, admin())
      assert.strictEqual(r.error?.code, grpc.status.UNKNOWN, method)
      assert.strictEqual(r.error?.details, "Exception was thrown by handler.")
    }
  })

  it("access: admins and ops only", async () => {
    const u = new UsersClient(addressOf(node), credentialsOf(node))
    try {
      assert.isUndefined((await call(u, "create", { options: { loginName: "plain", password: "p", fullName: "Plain", groups: [] } }, admin())).error)
    } finally {
      u.close()
    }
    for (const [method, request] of [
      ["startScavenge", { options: { threadCount: 1, startFromChunk: 0 } }],
      ["stopScavenge", { options: { scavengeId: "current" } }],
      ["shutdown", {}],
      ["mergeIndexes", {}],
      ["resignNode", {}],
      ["setNodePriority", { priority: 1 }],
      ["restartPersistentSubscriptions", {}]
    ] as const) {
      for (const md of [basicAuth("plain", "p"), new grpc.Metadata()]) {
        const r = await call(o, method, request, md)
        assert.strictEqual(r.error?.code, grpc.status.PERMISSION_DENIED, method)
        assert.strictEqual(r.error?.details, "Access Denied")
        assert.deepStrictEqual(r.error?.metadata.get("exception"), ["access-denied"])
      }
      assert.strictEqual((await call(o, method, request, basicAuth("admin", "bad"))).error?.code, grpc.status.UNAUTHENTICATED)
    }
  })

  it("merge indexes, resign, node priority and restarting persistent subscriptions answer Empty", async () => {
    for (const [method, request] of [
      ["mergeIndexes", {}],
      ["resignNode", {}],
      ["setNodePriority", { priority: 5 }],
      ["restartPersistentSubscriptions", {}]
    ] as const) {
      const r = await call(o, method, request, ops())
      assert.isUndefined(r.error, method)
      assert.deepStrictEqual(r.response, {})
    }
  })
})

describe("ServerFeatures", () => {
  it("advertises the Users, Operations and Monitoring methods as a real node does (lowercased, no features)", async () => {
    const node = await startEmbeddedNode({ insecure: true })
    const c = connect(node)
    try {
      const { response } = await supportedMethods(c)
      const listed = response!.methods.filter((m) => /\.(users|operations|monitoring)$/.test(m.serviceName))
      assert.sameDeepMembers(listed.map((m) => ({ ...m })), [
        ...["create", "update", "delete", "disable", "enable", "details", "changepassword", "resetpassword"]
          .map((methodName) => ({ methodName, serviceName: "event_store.client.users.users", features: [] })),
        ...["startscavenge", "stopscavenge", "shutdown", "mergeindexes", "resignnode", "setnodepriority", "restartpersistentsubscriptions"]
          .map((methodName) => ({ methodName, serviceName: "event_store.client.operations.operations", features: [] })),
        { methodName: "stats", serviceName: "event_store.client.monitoring.monitoring", features: [] }
      ])
    } finally {
      c.close()
      await node.stop()
    }
  })
})

describe("Operations: shutdown", () => {
  it("answers Empty, then the node stops (stopped resolves, new calls fail)", async () => {
    const node = await startEmbeddedNode({ insecure: true })
    const o = opsClient(node)
    try {
      const r = await call(o, "shutdown", {})
      assert.isUndefined(r.error)
      assert.deepStrictEqual(r.response, {})
      await node.stopped
      const after = await call(o, "mergeIndexes", {}, new grpc.Metadata())
      assert.strictEqual(after.error?.code, grpc.status.UNAVAILABLE)
    } finally {
      o.close()
      await node.stop()
    }
  })

  it.effect("under EmbeddedNode.layer: the layer's node sees the shutdown, and its scope closes cleanly", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      const o = opsClient(node)
      const r = yield* Effect.promise(() => call(o, "shutdown", {}))
      o.close()
      assert.isUndefined(r.error)
      yield* Effect.promise(() => node.stopped)
    }).pipe(Effect.provide(EmbeddedNode.layer({ insecure: true }))), { timeout: 30_000 })
})
