/**
 * The Users service over real gRPC (raw grpc-js clients): users created through the API
 * authenticate, are refused once disabled or deleted, are kept in `$user-<login>` / `$users` as a
 * real node keeps them (hashed passwords only), survive a restart with `db`, and every error is
 * answered with a real node's status, text and trailers.
 */
import * as grpc from "@grpc/grpc-js"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { UsersClient, type DetailsResp } from "../../src/generated/users.ts"
import { type RunningNode, startEmbeddedNode } from "../../src/server/EmbeddedNode.ts"
import {
  allOption,
  any,
  append,
  appendOk,
  basicAuth,
  type Clients,
  connect,
  eventTypeOf,
  events,
  readAll,
  readOptions,
  streamOption,
  unary,
  uniqueStream
} from "./helpers.ts"

const usersClient = (node: RunningNode): UsersClient =>
  new UsersClient(`localhost:${node.port}`, grpc.credentials.createSsl(readFileSync(node.caFile!)))

type Unary = (req: any, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res: any) => void) => unknown
const call = (u: UsersClient, method: keyof UsersClient, request: unknown, md = new grpc.Metadata()) =>
  unary((u[method] as unknown as Unary).bind(u), request, md)

const details = (u: UsersClient, login: string, md: grpc.Metadata) =>
  new Promise<{ users: Array<NonNullable<DetailsResp["userDetails"]>>; error: grpc.ServiceError | undefined }>((resolve) => {
    const users: Array<NonNullable<DetailsResp["userDetails"]>> = []
    const s = u.details({ options: { loginName: login } }, md)
    s.on("data", (m: DetailsResp) => users.push(m.userDetails!))
    s.on("error", (error: grpc.ServiceError) => resolve({ users, error }))
    s.on("end", () => resolve({ users, error: undefined }))
  })

const canAppend = async (c: Clients, md: grpc.Metadata): Promise<grpc.ServiceError | undefined> =>
  append(c.streams, uniqueStream("u"), any, [{}], md).then(() => undefined, (e: grpc.ServiceError) => e)

const expectError = (
  error: grpc.ServiceError | undefined,
  code: grpc.status,
  details: string,
  trailers: Record<string, string>
) => {
  assert.isDefined(error, "expected an error")
  assert.strictEqual(error!.code, code)
  assert.strictEqual(error!.details, details)
  for (const [k, v] of Object.entries(trailers)) assert.deepStrictEqual(error!.metadata.get(k), [v], k)
}

describe("Users service (secure node)", () => {
  let node: RunningNode
  let c: Clients
  let u: UsersClient
  const admin = () => basicAuth("admin", "changeit")
  const ops = () => basicAuth("ops", "changeit")
  const create = (login: string, password: string, groups: Array<string> = [], md = admin()) =>
    call(u, "create", { options: { loginName: login, password, fullName: `${login} full`, groups } }, md)

  beforeAll(async () => {
    node = await startEmbeddedNode({ insecure: false })
    c = connect(node)
    u = usersClient(node)
  })
  afterAll(async () => {
    u.close()
    c.close()
    await node.stop()
  })

  it("a created user authenticates, is refused once disabled, and again accepted once enabled", async () => {
    const created = await create("alice", "s3cret")
    assert.isUndefined(created.error)
    assert.isUndefined(await canAppend(c, basicAuth("alice", "s3cret")))
    const wrong = await canAppend(c, basicAuth("alice", "nope"))
    assert.strictEqual(wrong?.code, grpc.status.UNAUTHENTICATED)

    assert.isUndefined((await call(u, "disable", { options: { loginName: "alice" } }, admin())).error)
    const refused = await canAppend(c, basicAuth("alice", "s3cret"))
    assert.strictEqual(refused?.code, grpc.status.UNAUTHENTICATED)
    assert.strictEqual(refused?.details, "Unauthenticated")
    const d = await details(u, "alice", admin())
    assert.isTrue(d.users[0]!.disabled)

    assert.isUndefined((await call(u, "enable", { options: { loginName: "alice" } }, admin())).error)
    assert.isUndefined(await canAppend(c, basicAuth("alice", "s3cret")))
  })

  it("keeps users as a real node does: $$$user-<l> ACL, $user-<l> with a PBKDF2 hash, $users entry; no clear password", async () => {
    await create("bob", "pa55word-bob", ["devs"])
    const all = await readAll(c.streams, { options: readOptions({ streamOption: allOption() }) }, admin())
    const written = events(all.messages).filter((e) => {
      const s = e.event!.streamIdentifier!.streamName.toString()
      return s.endsWith("user-bob") || (s === "$users" && e.event!.data.toString() === "bob")
    })
    assert.deepStrictEqual(
      written.map((e) => `${e.event!.streamIdentifier!.streamName}:${eventTypeOf(e.event)}`),
      ["$$$user-bob:$metadata", "$user-bob:$UserCreated", "$users:$User"]
    )
    const acl = JSON.parse(written[0]!.event!.data.toString())
    assert.deepStrictEqual(acl, { $acl: { $w: "$admins", $d: "$admins", $mw: "$admins" } })
    const record = JSON.parse(written[1]!.event!.data.toString())
    assert.deepStrictEqual(Object.keys(record), ["loginName", "fullName", "groups", "hash", "salt"])
    assert.strictEqual(record.loginName, "bob")
    assert.deepStrictEqual(record.groups, ["devs"])
    assert.strictEqual(Buffer.from(record.hash, "base64").length, 20)
    assert.strictEqual(Buffer.from(record.salt, "base64").length, 16)
    assert.notInclude(written[1]!.event!.data.toString(), "pa55word-bob")
    assert.notInclude(Buffer.from(record.hash, "base64").toString("latin1"), "pa55word-bob")
    // $user-bob is for admins only
    const asOps = await readAll(c.streams, { options: readOptions({ streamOption: streamOption("$user-bob") }) }, ops())
    assert.strictEqual(asOps.error?.code, grpc.status.PERMISSION_DENIED)
  })

  it("create: same password is a success, another one user-conflict", async () => {
    await create("carol", "one")
    assert.isUndefined((await create("carol", "one")).error)
    expectError((await create("carol", "two")).error, grpc.status.FAILED_PRECONDITION, "Conflict.", {
      exception: "user-conflict",
      "login-name": "carol"
    })
  })

  it("unknown users: user-not-found on every command", async () => {
    const notFound = { exception: "user-not-found", "login-name": "nobody" }
    const text = "User 'nobody' is not found."
    for (const [method, request] of [
      ["update", { options: { loginName: "nobody", fullName: "x", groups: [] } }],
      ["delete", { options: { loginName: "nobody" } }],
      ["enable", { options: { loginName: "nobody" } }],
      ["disable", { options: { loginName: "nobody" } }],
      ["resetPassword", { options: { loginName: "nobody", newPassword: "x" } }],
      ["changePassword", { options: { loginName: "nobody", currentPassword: "x", newPassword: "y" } }]
    ] as const) {
      expectError((await call(u, method, request, admin())).error, grpc.status.NOT_FOUND, text, notFound)
    }
    expectError((await details(u, "nobody", admin())).error, grpc.status.NOT_FOUND, text, notFound)
  })

  it("access: admin commands refused to ops and to anonymous callers, bad credentials unauthenticated", async () => {
    const denied = { exception: "access-denied" }
    expectError((await create("dave", "x", [], ops())).error, grpc.status.PERMISSION_DENIED, "Access Denied", denied)
    expectError((await create("dave", "x", [], new grpc.Metadata())).error, grpc.status.PERMISSION_DENIED, "Access Denied", denied)
    expectError((await details(u, "admin", new grpc.Metadata())).error, grpc.status.PERMISSION_DENIED, "Access Denied", denied)
    const bad = await create("dave", "x", [], basicAuth("admin", "wrong"))
    assert.strictEqual(bad.error?.code, grpc.status.UNAUTHENTICATED)
    // any authenticated user may read details
    const asOps = await details(u, "admin", ops())
    assert.isUndefined(asOps.error)
    assert.strictEqual(asOps.users[0]!.fullName, "KurrentDB Administrator")
  })

  it("without options: UNKNOWN after the access check, as the real handler dereferences them", async () => {
    const r = await call(u, "create", {}, admin())
    assert.strictEqual(r.error?.code, grpc.status.UNKNOWN)
    assert.strictEqual(r.error?.details, "Exception was thrown by handler.")
    const denied = await call(u, "create", {}, ops())
    assert.strictEqual(denied.error?.code, grpc.status.PERMISSION_DENIED)
  })

  it("change and reset password; update groups grants their access", async () => {
    await create("erin", "first")
    const wrongCurrent = await call(u, "changePassword", { options: { loginName: "erin", currentPassword: "bad", newPassword: "x" } }, basicAuth("erin", "first"))
    expectError(wrongCurrent.error, grpc.status.PERMISSION_DENIED, "Access Denied", { exception: "access-denied" })
    assert.isUndefined((await call(u, "changePassword", { options: { loginName: "erin", currentPassword: "first", newPassword: "second" } }, basicAuth("erin", "first"))).error)
    assert.strictEqual((await canAppend(c, basicAuth("erin", "first")))?.code, grpc.status.UNAUTHENTICATED)
    assert.isUndefined(await canAppend(c, basicAuth("erin", "second")))
    assert.isUndefined((await call(u, "resetPassword", { options: { loginName: "erin", newPassword: "third" } }, admin())).error)
    assert.strictEqual((await canAppend(c, basicAuth("erin", "second")))?.code, grpc.status.UNAUTHENTICATED)
    assert.isUndefined(await canAppend(c, basicAuth("erin", "third")))

    const readAllAs = () => readAll(c.streams, { options: readOptions({ streamOption: allOption(), countOption: { $case: "count", value: 1n } }) }, basicAuth("erin", "third"))
    assert.strictEqual((await readAllAs()).error?.code, grpc.status.PERMISSION_DENIED)
    assert.isUndefined((await call(u, "update", { options: { loginName: "erin", fullName: "Erin", groups: ["$admins"] } }, admin())).error)
    assert.isUndefined((await readAllAs()).error)
    const d = await details(u, "erin", admin())
    assert.strictEqual(d.users[0]!.fullName, "Erin")
    assert.deepStrictEqual(d.users[0]!.groups, ["$admins"])
    // the password notices
    const notices = await readAll(c.streams, { options: readOptions({ streamOption: streamOption("$users-password-notifications") }) }, admin())
    assert.isAtLeast(events(notices.messages).filter((e) => JSON.parse(e.event!.data.toString()).loginName === "erin").length, 3)
  })

  it("details of all users: sorted by login; a deleted user is gone and refused", async () => {
    await create("zed", "z")
    await create("frank", "f")
    const before = await details(u, "", admin())
    assert.isUndefined(before.error)
    const logins = before.users.map((x) => x.loginName)
    assert.deepStrictEqual(logins, [...logins].sort((a, b) => a.localeCompare(b, "en")))
    assert.includeMembers(logins, ["admin", "ops", "zed", "frank"])
    assert.isAbove(Number(before.users[0]!.lastUpdated!.ticksSinceEpoch), Date.UTC(2020, 0) * 10000)

    assert.isUndefined((await call(u, "delete", { options: { loginName: "frank" } }, admin())).error)
    assert.strictEqual((await canAppend(c, basicAuth("frank", "f")))?.code, grpc.status.UNAUTHENTICATED)
    const after = await details(u, "", admin())
    assert.notInclude(after.users.map((x) => x.loginName), "frank")
    assert.strictEqual((await details(u, "frank", admin())).error?.code, grpc.status.NOT_FOUND)
    // created again after its deletion
    assert.isUndefined((await create("frank", "g")).error)
    assert.isUndefined(await canAppend(c, basicAuth("frank", "g")))
  })
})

describe("Users with db", () => {
  it("records of earlier versions (password base64 in `hash`) are re-hashed on start and still let their user in", async () => {
    const dir = mkdtempSync(join(tmpdir(), "esdb-users-"))
    try {
      let node = await startEmbeddedNode({ insecure: false, db: dir })
      let c = connect(node)
      const admin = basicAuth("admin", "changeit")
      const legacy = { loginName: "legacy", fullName: "L", salt: Buffer.from("legacy").toString("base64"), hash: Buffer.from("old-pw").toString("base64"), groups: [] }
      await appendOk(c.streams, "$user-legacy", any, [{ type: "$UserCreated", data: legacy }], admin)
      await appendOk(c.streams, "$users", any, [{ type: "$User", rawData: Buffer.from("legacy") }], admin)
      c.close()
      await node.stop()
      node = await startEmbeddedNode({ insecure: false, db: dir })
      c = connect(node)
      try {
        assert.isUndefined(await canAppend(c, basicAuth("legacy", "old-pw")))
        const read = await readAll(c.streams, { options: readOptions({ streamOption: streamOption("$user-legacy") }) }, admin)
        const last = events(read.messages).at(-1)!
        assert.strictEqual(eventTypeOf(last.event), "$UserUpdated")
        const record = JSON.parse(last.event!.data.toString())
        assert.strictEqual(Buffer.from(record.hash, "base64").length, 20)
        assert.notInclude(last.event!.data.toString(), Buffer.from("old-pw").toString("base64"))
      } finally {
        c.close()
        await node.stop()
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("a deleted default user is created again on the next start, as a real node does on becoming leader", async () => {
    const dir = mkdtempSync(join(tmpdir(), "esdb-users-"))
    try {
      let node = await startEmbeddedNode({ insecure: false, db: dir })
      const u = usersClient(node)
      assert.isUndefined((await call(u, "delete", { options: { loginName: "ops" } }, basicAuth("admin", "changeit"))).error)
      let c = connect(node)
      assert.strictEqual((await canAppend(c, basicAuth("ops", "changeit")))?.code, grpc.status.UNAUTHENTICATED)
      c.close()
      u.close()
      await node.stop()
      node = await startEmbeddedNode({ insecure: false, db: dir })
      c = connect(node)
      try {
        assert.isUndefined(await canAppend(c, basicAuth("ops", "changeit")))
      } finally {
        c.close()
        await node.stop()
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("survive a restart; the log holds no clear password", async () => {
    const dir = mkdtempSync(join(tmpdir(), "esdb-users-"))
    try {
      let node = await startEmbeddedNode({ insecure: false, db: dir })
      let u = usersClient(node)
      const created = await call(u, "create", { options: { loginName: "kept", password: "kept-pw-123", fullName: "Kept", groups: [] } }, basicAuth("admin", "changeit"))
      assert.isUndefined(created.error)
      u.close()
      await node.stop()
      for (const f of readdirSync(dir)) {
        const bytes = readFileSync(join(dir, f))
        assert.strictEqual(bytes.indexOf("kept-pw-123"), -1, f)
        assert.strictEqual(bytes.indexOf(Buffer.from("kept-pw-123").toString("base64")), -1, f)
      }
      node = await startEmbeddedNode({ insecure: false, db: dir })
      const c = connect(node)
      try {
        assert.isUndefined(await canAppend(c, basicAuth("kept", "kept-pw-123")))
        assert.isUndefined(await canAppend(c, basicAuth("admin", "changeit")))
        assert.strictEqual((await canAppend(c, basicAuth("kept", "other")))?.code, grpc.status.UNAUTHENTICATED)
      } finally {
        c.close()
        await node.stop()
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
