/**
 * Scenario 7 — a secure node (TLS + authentication) with the official client.
 *
 * Real node behaviour (PROTOCOL.md §7): users admin/changeit ($admins) and ops/changeit ($ops);
 * bad credentials → UNAUTHENTICATED (the official client's AccessDeniedError); no credentials →
 * anonymous, denied on streams with PERMISSION_DENIED `access-denied` (AccessDeniedError);
 * default user-stream ACL lets every authenticated user in, stream `$acl` overrides it, admins bypass it;
 * Gossip.Read is allowed anonymously and is used for `+discover` connection strings.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  AccessDeniedError,
  jsonEvent,
  type KurrentDBClient,
  type ResolvedEvent
} from "@kurrent/kurrentdb-client"
import {
  asDiscover,
  BATCH_APPEND_PATH,
  collect,
  GOSSIP_READ_PATH,
  grpcCallLog,
  makeProbe,
  officialClient,
  rejectionOf,
  startNode,
  uniqueStream,
  type RunningNode,
  withClient,
  withUserInfo
} from "./_support.ts"

let node: RunningNode
let admin: KurrentDBClient
const log = grpcCallLog()

beforeAll(async () => {
  node = await startNode({ insecure: false })
  admin = officialClient(node.connectionString)
})

afterAll(async () => {
  await admin?.dispose()
  await node?.stop()
})

const events = (n: number) => Array.from({ length: n }, (_, i) => jsonEvent({ type: "e", data: { i } }))
const OPS = { credentials: { username: "ops", password: "changeit" } } as const

describe("secure node", () => {
  it("the connection string asks for TLS with the node's CA file and carries admin credentials", () => {
    expect(node.connectionString).toMatch(/tls=true/i)
    expect(node.connectionString).toMatch(/tlsCaFile=/i)
    expect(node.connectionString).toMatch(/^[a-z+]+:\/\/admin:changeit@/i)
  })

  it("with admin credentials: append (BatchAppend), read, metadata, delete all work over TLS", async () => {
    const stream = uniqueStream("secure-admin")
    const before = log.length
    const appended = await admin.appendToStream(stream, events(3), { streamState: "no_stream" })
    expect(appended.nextExpectedRevision).toBe(2n)
    expect(log.slice(before)).toContain(BATCH_APPEND_PATH)
    const read = await collect(admin.readStream(stream))
    expect(read.map((e) => e.event!.revision)).toEqual([0n, 1n, 2n])
    const all = await collect(admin.readAll({ maxCount: 10_000 }))
    expect(all.some((e) => e.event?.streamId === stream)).toBe(true)
    await admin.setStreamMetadata(stream, { maxCount: 2, custom: "x" })
    expect((await admin.getStreamMetadata(stream)).metadata).toEqual({ maxCount: 2, custom: "x" })
    await admin.deleteStream(stream)
  })

  it("with admin credentials: $all shows the default users' events", async () => {
    const all = await collect(admin.readAll({ maxCount: 10_000 }))
    const userEvents = all.filter((e) => e.event?.streamId === "$user-admin" || e.event?.streamId === "$user-ops")
    expect(userEvents.map((e) => e.event!.type).sort()).toEqual(["$UserCreated", "$UserCreated"])
  })

  it("with admin credentials: a subscription receives live events", async () => {
    const stream = uniqueStream("secure-sub")
    const probe = makeProbe<ResolvedEvent>()
    const subscription = admin.subscribeToStream(stream)
    probe.attach(subscription)
    try {
      await probe.waitFor("caughtUp", (p) => p.has("caughtUp"))
      await admin.appendToStream(stream, events(2))
      await probe.waitFor("2 events", (p) => p.events().length >= 2)
    } finally {
      await subscription.unsubscribe()
    }
  })

  it("per-call credentials of another user (ops) work on user streams", async () => {
    const stream = uniqueStream("secure-ops")
    const appended = await admin.appendToStream(stream, events(1), OPS)
    expect(appended.nextExpectedRevision).toBe(0n)
    const read = await collect(admin.readStream(stream, OPS))
    expect(read.length).toBe(1)
  })

  it("a stream $acl restricting reads to admin denies ops (AccessDeniedError) but not admin", async () => {
    const stream = uniqueStream("secure-acl")
    await admin.appendToStream(stream, events(1))
    await admin.setStreamMetadata(stream, { acl: { readRoles: ["admin"], writeRoles: ["admin"] } })
    await rejectionOf(collect(admin.readStream(stream, OPS)), AccessDeniedError)
    await rejectionOf(admin.appendToStream(stream, events(1), OPS), AccessDeniedError)
    expect((await collect(admin.readStream(stream))).length).toBe(1)
  })

  it("wrong credentials → AccessDeniedError for appends (BatchAppend and Append) and reads", async () => {
    const stream = uniqueStream("secure-badpass")
    await admin.appendToStream(stream, events(1))
    await withClient(withUserInfo(node.connectionString, "admin:wrong-password"), async (bad) => {
      await rejectionOf(bad.appendToStream(stream, events(1)), AccessDeniedError)
      await rejectionOf(collect(bad.readStream(stream)), AccessDeniedError)
      await rejectionOf(collect(bad.readAll({ maxCount: 1 })), AccessDeniedError)
    })
    await rejectionOf(
      admin.appendToStream(stream, events(1), { credentials: { username: "admin", password: "nope" } }),
      AccessDeniedError
    )
    await rejectionOf(
      collect(admin.readStream(stream, { credentials: { username: "nobody", password: "changeit" } })),
      AccessDeniedError
    )
    // nothing was written by the rejected calls
    expect((await collect(admin.readStream(stream))).length).toBe(1)
  })

  it("wrong credentials → the subscription errors with AccessDeniedError", async () => {
    await withClient(withUserInfo(node.connectionString, "admin:wrong-password"), async (bad) => {
      const probe = makeProbe<ResolvedEvent>()
      const subscription = bad.subscribeToStream(uniqueStream("secure-badsub"))
      probe.attach(subscription)
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("no error within 10 s")), 10_000)
        subscription.once("error", () => {
          clearTimeout(timer)
          resolve()
        })
      })
      const failure = probe.items.find((i) => i.kind === "error")
      expect(failure && failure.kind === "error" ? failure.error : undefined).toBeInstanceOf(AccessDeniedError)
      expect(probe.events()).toEqual([])
    })
  })

  it("no credentials (anonymous) → AccessDeniedError on user streams and on $all", async () => {
    const stream = uniqueStream("secure-anon")
    await admin.appendToStream(stream, events(1))
    await withClient(withUserInfo(node.connectionString, undefined), async (anon) => {
      await rejectionOf(anon.appendToStream(stream, events(1)), AccessDeniedError)
      await rejectionOf(collect(anon.readStream(stream)), AccessDeniedError)
      await rejectionOf(collect(anon.readAll({ maxCount: 1 })), AccessDeniedError)
    })
  })

  it("a +discover connection string connects through Gossip.Read and works", async () => {
    const discover = asDiscover(node.connectionString)
    expect(discover).toMatch(/^[a-z]+\+discover:\/\//)
    const before = log.length
    await withClient(discover, async (client) => {
      const stream = uniqueStream("secure-discover")
      const appended = await client.appendToStream(stream, events(2))
      expect(appended.nextExpectedRevision).toBe(1n)
      expect(log.slice(before)).toContain(GOSSIP_READ_PATH)
      // reads go through the native reader, which runs its own discovery
      const read = await collect(client.readStream(stream))
      expect(read.map((e) => e.event!.revision)).toEqual([0n, 1n])
    })
  })
})

describe("insecure node discovery", () => {
  let insecure: RunningNode
  beforeAll(async () => {
    insecure = await startNode({ insecure: true })
  })
  afterAll(async () => {
    await insecure?.stop()
  })

  it("a +discover connection string with tls=false connects through Gossip.Read", async () => {
    const before = log.length
    await withClient(asDiscover(insecure.connectionString), async (client) => {
      const stream = uniqueStream("insecure-discover")
      await client.appendToStream(stream, events(1))
      expect(log.slice(before)).toContain(GOSSIP_READ_PATH)
      expect((await collect(client.readStream(stream))).length).toBe(1)
    })
  })
})
