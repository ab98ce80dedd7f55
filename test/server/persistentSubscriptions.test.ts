/**
 * The node's persistent-subscription groups: kept in `$persistentSubscriptionConfig`, so a node
 * started again on the same `--db` has them back as they were (settings, starts, deletions);
 * ServerFeatures lists the methods served, with the features `stream` and `all`, and not `Read`
 * (not served yet: UNIMPLEMENTED).
 */
import * as grpc from "@grpc/grpc-js"
import { afterEach, assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { PersistentSubscriptionsClient } from "../../src/generated/persistent.ts"
import { ServerFeaturesClient, type SupportedMethods } from "../../src/generated/serverfeatures.ts"
import { EventStoreDB, PersistentSubscriptions, Streams } from "../../src/index.ts"
import { startEmbeddedNode } from "../../src/server/EmbeddedNode.ts"
import { uniqueStream } from "./helpers.ts"

const dirs: Array<string> = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

const withGroups = <A, E>(
  connectionString: string,
  f: (ps: PersistentSubscriptions.PersistentSubscriptionsService) => Effect.Effect<A, E>
): Promise<A> =>
  Effect.runPromise(
    Effect.flatMap(PersistentSubscriptions.PersistentSubscriptions, f).pipe(
      Effect.provide(EventStoreDB.layer({ connectionString }))
    ) as Effect.Effect<A, unknown>
  )

describe("persistent subscription groups on a kept database", () => {
  it("survive a restart with their settings; a deleted group stays deleted", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effect-esdb-ps-"))
    dirs.push(dir)
    const stream = uniqueStream("ps-db")
    const first = await startEmbeddedNode({ db: dir, insecure: true })
    try {
      await withGroups(first.connectionString, (ps) =>
        Effect.gen(function*() {
          yield* ps.createToStream(stream, "kept", { from: 4n, settings: { maxRetryCount: 2, consumerStrategy: "Pinned" } })
          yield* ps.createToAll("kept-all", { from: "start", filterInclude: ["Order.*"], settings: { readBatchSize: 3 } })
          yield* ps.createToStream(stream, "gone")
          yield* ps.delete(stream, "gone")
        }))
    } finally {
      await first.stop()
    }
    const second = await startEmbeddedNode({ db: dir, insecure: true })
    try {
      const [kept, keptAll, gone, listed] = await withGroups(second.connectionString, (ps) =>
        Effect.all([
          ps.getInfo(stream, "kept"),
          ps.getInfo("$all", "kept-all"),
          Effect.flip(ps.getInfo(stream, "gone")),
          ps.listToStream(stream)
        ]))
      assert.strictEqual(kept.startFrom, "4")
      assert.strictEqual(kept.maxRetryCount, 2)
      assert.strictEqual(kept.consumerStrategy, "Pinned")
      assert.strictEqual(keptAll.startFrom, "C:0/P:0")
      assert.strictEqual(keptAll.readBatchSize, 3)
      assert.strictEqual(gone._tag, "SubscriptionNotFound")
      assert.deepStrictEqual(listed.map((i) => i.groupName), ["kept"])
      // the kept `$all` group still has its filter, and an update keeps it
      await withGroups(second.connectionString, (ps) => ps.updateToAll("kept-all", { settings: { readBatchSize: 4 } }))
      const config = await Effect.runPromise(
        Effect.flatMap(Streams.Streams, (streams) => streams.get("$persistentSubscriptionConfig", { backwards: true, limit: 1 })).pipe(
          Effect.provide(EventStoreDB.layer({ connectionString: second.connectionString }))
        )
      )
      const entries = (JSON.parse(new TextDecoder().decode(config[0]!.data)) as {
        Entries: Array<{ Stream: string; Group: string; ReadBatchSize: number; Filter: { Context: string; Data: Array<string> } | null }>
      }).Entries
      const entry = entries.find((e) => e.Stream === "$all" && e.Group === "kept-all")!
      assert.strictEqual(entry.ReadBatchSize, 4)
      assert.strictEqual(entry.Filter?.Context, "EventType")
      assert.match(entry.Filter?.Data[0] ?? "", /Order/)
    } finally {
      await second.stop()
    }
  })
})

describe("ServerFeatures", () => {
  it("lists the persistent-subscription methods served, with stream and all; Read is UNIMPLEMENTED and not listed", async () => {
    const node = await startEmbeddedNode({ insecure: true })
    const address = node.connectionString.replace(/^esdb:\/\//, "").replace(/\?.*$/, "")
    const features = new ServerFeaturesClient(address, grpc.credentials.createInsecure())
    const ps = new PersistentSubscriptionsClient(address, grpc.credentials.createInsecure())
    try {
      const methods = await new Promise<SupportedMethods>((resolve, reject) =>
        features.getSupportedMethods({}, (error, value) => (error ? reject(error) : resolve(value)))
      )
      const listed = methods.methods.filter((m) => m.serviceName === "event_store.client.persistent_subscriptions.persistentsubscriptions")
      assert.deepStrictEqual(
        listed.map((m) => m.methodName).sort(),
        ["create", "delete", "getinfo", "list", "replayparked", "restartsubsystem", "update"]
      )
      for (const m of listed) assert.deepStrictEqual(m.features, ["stream", "all"])
      const status = await new Promise<grpc.StatusObject>((resolve) => {
        const call = ps.read()
        call.on("error", () => {})
        call.on("status", resolve)
        call.end()
      })
      assert.strictEqual(status.code, grpc.status.UNIMPLEMENTED)
    } finally {
      features.close()
      ps.close()
      await node.stop()
    }
  })
})
