/**
 * The client Users service against a secure embedded node: every operation, its typed errors as a
 * real node answers them (UserNotFound, UserAlreadyExists, AccessDenied), users created through
 * the API authenticating and refused once disabled, bad input refused before any call.
 */
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { type Credentials, Streams, UserDetails, Users } from "../../src/index.ts"
import { newEvents, nodeWithClient, uniqueStream } from "./_support.ts"

const as = (username: string, password: string): { readonly credentials: Credentials } => ({
  credentials: { username, password: Redacted.make(password) }
})

const login = () => uniqueStream("user").replace(/-/g, "")

/** An append as the given user: succeeds, or fails with the error's tag. */
const appendAs = (username: string, password: string) =>
  Effect.gen(function*() {
    const streams = yield* Streams.Streams
    return yield* streams.append(uniqueStream("by-user"), newEvents(1), { currentVersion: "any", ...as(username, password) }).pipe(
      Effect.as("ok" as const),
      Effect.catch((error) => Effect.succeed(error._tag))
    )
  })

layer(nodeWithClient({ insecure: false }), { excludeTestServices: true, timeout: "60 seconds" })("Users", (it) => {
  it.effect("create, details, list; a second create is UserAlreadyExists unless the password is the same", () =>
    Effect.gen(function*() {
      const users = yield* Users.Users
      const name = login()
      yield* users.create({ loginName: name, password: Redacted.make("pw-1"), fullName: "Test User", groups: ["$ops", "team"] })
      const details = yield* users.details(name)
      assert.instanceOf(details, UserDetails)
      assert.strictEqual(details.loginName, name)
      assert.strictEqual(details.fullName, "Test User")
      assert.deepStrictEqual(details.groups, ["$ops", "team"])
      assert.isFalse(details.disabled)
      assert.instanceOf(details.lastUpdated, Date)
      assert.isBelow(Math.abs(details.lastUpdated!.getTime() - Date.now()), 5 * 60_000)

      const all = Array.from(yield* Stream.runCollect(users.list()))
      const logins = all.map((u) => u.loginName)
      assert.includeMembers(logins, ["admin", "ops", name])
      assert.deepStrictEqual(logins, [...logins].sort())

      const again = yield* Effect.flip(users.create({ loginName: name, password: "other" }))
      assert.strictEqual(again._tag, "UserAlreadyExists")
      assert.strictEqual(again._tag === "UserAlreadyExists" && again.loginName, name)
      // a real node answers the same login with the same password as a success
      yield* users.create({ loginName: name, password: "pw-1", fullName: "Test User", groups: ["$ops", "team"] })
    }))

  it.effect("a user created through the API authenticates, is refused once disabled, and again accepted once enabled", () =>
    Effect.gen(function*() {
      const users = yield* Users.Users
      const name = login()
      assert.strictEqual(yield* appendAs(name, "secret"), "Unauthenticated")
      yield* users.create({ loginName: name, password: "secret" })
      assert.strictEqual(yield* appendAs(name, "secret"), "ok")
      assert.strictEqual(yield* appendAs(name, "wrong"), "Unauthenticated")
      yield* users.disable(name)
      assert.isTrue((yield* users.details(name)).disabled)
      assert.strictEqual(yield* appendAs(name, "secret"), "Unauthenticated")
      yield* users.enable(name)
      assert.strictEqual(yield* appendAs(name, "secret"), "ok")
      yield* users.delete(name)
      assert.strictEqual(yield* appendAs(name, "secret"), "Unauthenticated")
      assert.strictEqual((yield* Effect.flip(users.details(name)))._tag, "UserNotFound")
    }))

  it.effect("changePassword needs the current password (AccessDenied otherwise); resetPassword does not", () =>
    Effect.gen(function*() {
      const users = yield* Users.Users
      const name = login()
      yield* users.create({ loginName: name, password: "first" })
      const wrong = yield* Effect.flip(users.changePassword(name, "not-it", "second"))
      assert.strictEqual(wrong._tag, "AccessDenied")
      yield* users.changePassword(name, Redacted.make("first"), Redacted.make("second"))
      assert.strictEqual(yield* appendAs(name, "first"), "Unauthenticated")
      assert.strictEqual(yield* appendAs(name, "second"), "ok")
      // the user itself may change its own password
      yield* users.changePassword(name, "second", "third", as(name, "second"))
      assert.strictEqual(yield* appendAs(name, "third"), "ok")
      yield* users.resetPassword(name, "fourth")
      assert.strictEqual(yield* appendAs(name, "third"), "Unauthenticated")
      assert.strictEqual(yield* appendAs(name, "fourth"), "ok")
      yield* users.update(name, { fullName: "Renamed", groups: ["g"] })
      const details = yield* users.details(name)
      assert.strictEqual(details.fullName, "Renamed")
      assert.deepStrictEqual(details.groups, ["g"])
      assert.strictEqual(yield* appendAs(name, "fourth"), "ok")
    }))

  it.effect("every operation on a missing login fails with UserNotFound naming it", () =>
    Effect.gen(function*() {
      const users = yield* Users.Users
      const name = login()
      const errors = yield* Effect.all([
        Effect.flip(users.update(name, { fullName: "x", groups: [] })),
        Effect.flip(users.delete(name)),
        Effect.flip(users.enable(name)),
        Effect.flip(users.disable(name)),
        Effect.flip(users.details(name)),
        Effect.flip(users.changePassword(name, "a", "b")),
        Effect.flip(users.resetPassword(name, "b"))
      ])
      for (const error of errors) {
        assert.strictEqual(error._tag, "UserNotFound")
        assert.strictEqual(error._tag === "UserNotFound" && error.loginName, name)
      }
    }))

  it.effect("a user who is not an admin is refused the commands with AccessDenied, and may read details", () =>
    Effect.gen(function*() {
      const users = yield* Users.Users
      const name = login()
      yield* users.create({ loginName: name, password: "pw" })
      const denied = yield* Effect.all([
        Effect.flip(users.create({ loginName: login(), password: "x" }, as(name, "pw"))),
        Effect.flip(users.disable("ops", as(name, "pw"))),
        Effect.flip(users.resetPassword("admin", "x", as(name, "pw")))
      ])
      assert.deepStrictEqual(denied.map((e) => e._tag), ["AccessDenied", "AccessDenied", "AccessDenied"])
      assert.strictEqual((yield* users.details(name, as(name, "pw"))).loginName, name)
      // anonymous (wrong password) calls are Unauthenticated
      assert.strictEqual((yield* Effect.flip(users.details(name, as(name, "nope"))))._tag, "Unauthenticated")
    }))

  it.effect("bad input is an InvalidArgument, before any call", () =>
    Effect.gen(function*() {
      const users = yield* Users.Users
      const errors = yield* Effect.all([
        Effect.flip(users.create({ loginName: " ", password: "x" })),
        Effect.flip(users.create({ loginName: "someone", password: "" })),
        Effect.flip(users.create({ loginName: "someone", password: "x", groups: [""] })),
        Effect.flip(users.details("")),
        Effect.flip(users.changePassword("admin", "changeit", "")),
        Effect.flip(users.resetPassword("", "x"))
      ])
      assert.deepStrictEqual(errors.map((e) => e._tag), Array(6).fill("InvalidArgument"))
      // nothing was created
      assert.strictEqual((yield* Effect.flip(users.details("someone")))._tag, "UserNotFound")
    }))
})
