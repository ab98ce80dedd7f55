/**
 * A secure node (TLS and users): the connection string's credentials and CA file, anonymous and
 * wrong-password calls, per-call credentials, and credentials never leaving over plain text.
 */
import { assert, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import { type Credentials, Streams } from "../../src/index.ts"
import { EmbeddedNode, newEvents, nodeLayer, spyNodeLayer, TestSpyNode, uniqueStream, withClient } from "./_support.ts"

const user = (username: string, password: string): Credentials => ({ username, password: Redacted.make(password) })

/** The node's connection string without its `user:password@`. */
const anonymous = (connectionString: string) => connectionString.replace(/\/\/[^@/]*@/, "//")

layer(nodeLayer({ insecure: false }), { excludeTestServices: true, timeout: "30 seconds" })("secure node", (it) => {
  it.effect("its connection string (admin credentials, TLS with the node's CA file) connects and works", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      assert.match(node.connectionString, /^esdb:\/\/admin:changeit@localhost:\d+\?tls=true&tlsCaFile=.+ca\.crt$/)
      const read = yield* withClient(
        node.connectionString,
        Effect.gen(function*() {
          const streams = yield* Streams.Streams
          const stream = uniqueStream("secure")
          yield* streams.append(stream, newEvents(3), { currentVersion: "no_stream" })
          yield* streams.setStreamMetadata(stream, { custom: true })
          return {
            positions: (yield* streams.get(stream)).map((e) => e.streamPosition),
            metadata: (yield* streams.getStreamMetadata(stream)).metadata
          }
        })
      )
      assert.deepStrictEqual(read, { positions: [0n, 1n, 2n], metadata: { custom: true } })
    }))

  it.effect("a certificate the client cannot verify fails fast with TlsFailed saying what to change, not retried", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      // without the node's CA the self-signed chain cannot be verified against the system roots
      const withoutCa = node.connectionString.replace(/&tlsCaFile=[^&]+/, "")
      const started = Date.now()
      const error = yield* withClient(
        withoutCa,
        Effect.flip(Effect.flatMap(Streams.Streams, (streams) => streams.append(uniqueStream("untrusted"), newEvents(1), { currentVersion: "any" }))),
        // retries would take seconds under this schedule: fast means not retried
        { retrySchedule: Schedule.spaced("10 seconds").pipe(Schedule.upTo({ times: 3 })) }
      )
      assert.strictEqual(error._tag, "TlsFailed")
      assert.match(error.message, /TlsCaFile/)
      assert.isBelow(Date.now() - started, 5000)
      const readError = yield* withClient(
        withoutCa,
        Effect.flip(Effect.flatMap(Streams.Streams, (streams) => streams.get("any-stream")))
      )
      assert.strictEqual(readError._tag, "TlsFailed")
    }))

  it.effect("tls=false against a TLS node fails fast with TlsFailed saying to use tls=true", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      const plain = anonymous(node.connectionString).replace(/\?.*$/, "?tls=false")
      const started = Date.now()
      const error = yield* withClient(
        plain,
        Effect.flip(Effect.flatMap(Streams.Streams, (streams) => streams.append(uniqueStream("plain"), newEvents(1), { currentVersion: "any" }))),
        { retrySchedule: Schedule.spaced("10 seconds").pipe(Schedule.upTo({ times: 3 })) }
      )
      assert.strictEqual(error._tag, "TlsFailed")
      assert.match(error.message, /tls=true/)
      assert.isBelow(Date.now() - started, 5000)
      const readError = yield* withClient(
        plain,
        Effect.flip(Effect.flatMap(Streams.Streams, (streams) => streams.get("any-stream"))),
        { retrySchedule: Schedule.spaced("10 seconds").pipe(Schedule.upTo({ times: 3 })) }
      )
      assert.strictEqual(readError._tag, "TlsFailed")
    }))

  it.effect("esdb+discover:// finds the node through gossip over TLS", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      const discover = node.connectionString.replace("esdb://", "esdb+discover://")
      const positions = yield* withClient(
        discover,
        Effect.gen(function*() {
          const streams = yield* Streams.Streams
          const stream = uniqueStream("secure-discover")
          yield* streams.append(stream, newEvents(2), { currentVersion: "no_stream" })
          return (yield* streams.get(stream)).map((e) => e.streamPosition)
        })
      )
      assert.deepStrictEqual(positions, [0n, 1n])
    }))

  it.effect("esdb+discover:// over TLS: seeds are dialled by address and the certificate checked against the cluster's name", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      // the bundled certificate names DNS:localhost and IP:127.0.0.1
      const resolved: Array<string> = []
      const resolveHost = (host: string) =>
        Effect.sync(() => {
          resolved.push(host)
          return ["127.0.0.1"]
        })
      const discover = node.connectionString.replace("esdb://", "esdb+discover://")
      assert.match(discover, /^esdb\+discover:\/\/admin:changeit@localhost:\d+\?/)
      const stream = uniqueStream("secure-resolved")
      yield* withClient(
        discover,
        Effect.flatMap(Streams.Streams, (streams) => streams.append(stream, newEvents(1), { currentVersion: "no_stream" })),
        { resolveHost }
      )
      assert.deepStrictEqual(resolved, ["localhost"])
      // a cluster name the certificate does not list is refused, although its address (127.0.0.1) is listed
      const other = discover.replace(/@localhost:/, "@cluster.test:") + "&maxDiscoverAttempts=1"
      const error = yield* Effect.flip(withClient(
        other,
        Effect.flatMap(Streams.Streams, (streams) => streams.get(stream)),
        { resolveHost, retrySchedule: Schedule.recurs(0) }
      ))
      assert.strictEqual(error._tag, "DiscoveryFailed")
      assert.include(error.message, "127.0.0.1:")
    }))

  it.effect("without credentials, a user stream is AccessDenied", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      const stream = uniqueStream("secure-anon")
      const errors = yield* withClient(
        anonymous(node.connectionString),
        Effect.gen(function*() {
          const streams = yield* Streams.Streams
          return [
            yield* Effect.flip(streams.append(stream, newEvents(1), { currentVersion: "any" })),
            yield* Effect.flip(streams.get(stream))
          ]
        })
      )
      assert.deepStrictEqual(errors.map((e) => e._tag), ["AccessDenied", "AccessDenied"])
    }))

  it.effect("a wrong password is Unauthenticated", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      const wrong = node.connectionString.replace("admin:changeit@", "admin:wrong@")
      const error = yield* withClient(
        wrong,
        Effect.flatMap(Streams.Streams, (streams) => Effect.flip(streams.get(uniqueStream("secure-wrong"))))
      )
      assert.strictEqual(error._tag, "Unauthenticated")
    }))

  it.effect("per-call credentials override the connection string's", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      const stream = uniqueStream("secure-per-call")
      const admin = user("admin", "changeit")
      // anonymous connection, admin for one call
      yield* withClient(
        anonymous(node.connectionString),
        Effect.gen(function*() {
          const streams = yield* Streams.Streams
          yield* streams.append(stream, newEvents(1), { currentVersion: "no_stream", credentials: admin })
          yield* streams.setStreamMetadata(stream, { $acl: { $r: "$admins", $w: "$admins" } }, { credentials: admin })
          assert.lengthOf(yield* streams.get(stream, { credentials: admin }), 1)
        })
      )
      // admin connection: ops (not in $admins) is denied by the stream's ACL, a bad password is rejected
      yield* withClient(
        node.connectionString,
        Effect.gen(function*() {
          const streams = yield* Streams.Streams
          assert.lengthOf(yield* streams.get(stream), 1)
          const denied = yield* Effect.flip(streams.get(stream, { credentials: user("ops", "changeit") }))
          assert.strictEqual(denied._tag, "AccessDenied")
          const rejected = yield* Effect.flip(streams.get(stream, { credentials: user("admin", "nope") }))
          assert.strictEqual(rejected._tag, "Unauthenticated")
        })
      )
    }))
})

layer(nodeLayer({ insecure: false }), { excludeTestServices: true, timeout: "30 seconds" })("per-call credentials on writes", (it) => {
  it.effect("appends with per-call credentials report the same typed errors", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      const admin = user("admin", "changeit")
      yield* withClient(
        anonymous(node.connectionString),
        Effect.gen(function*() {
          const streams = yield* Streams.Streams
          const stream = uniqueStream("per-call-errors")
          const [a, b] = newEvents(2)
          const position = yield* streams.append(stream, [a!, b!], { currentVersion: "no_stream", credentials: admin })
          // idempotent
          assert.strictEqual(yield* streams.append(stream, [a!, b!], { currentVersion: "no_stream", credentials: admin }), position)
          const wrong = yield* Effect.flip(streams.append(stream, newEvents(1), { currentVersion: 0n, credentials: admin }))
          assert.strictEqual(wrong._tag, "WrongCurrentVersion")
          if (wrong._tag === "WrongCurrentVersion") {
            assert.strictEqual(wrong.stream, stream)
            assert.strictEqual(wrong.expected, 0n)
            assert.strictEqual(wrong.actual, 1n)
          }
          const missing = yield* Effect.flip(
            streams.append(uniqueStream("per-call-missing"), newEvents(1), { currentVersion: "exists", credentials: admin })
          )
          assert.strictEqual(missing._tag, "WrongCurrentVersion")
          if (missing._tag === "WrongCurrentVersion") assert.strictEqual(missing.actual, "no_stream")
          yield* streams.tombstone(stream, { currentVersion: "any", credentials: admin })
          const deleted = yield* Effect.flip(streams.append(stream, newEvents(1), { currentVersion: "any", credentials: admin }))
          assert.strictEqual(deleted._tag, "StreamDeleted")
        })
      )
    }))
})

layer(spyNodeLayer, { excludeTestServices: true, timeout: "30 seconds" })("insecure connection", (it) => {
  it.effect("credentials (from the string or per call) are never sent without TLS", () =>
    Effect.gen(function*() {
      const node = yield* TestSpyNode
      const withUser = node.connectionString.replace("esdb://", "esdb://admin:changeit@")
      yield* withClient(
        withUser,
        Effect.gen(function*() {
          const streams = yield* Streams.Streams
          const stream = uniqueStream("plain")
          yield* streams.append(stream, newEvents(1), { currentVersion: "no_stream", credentials: user("ops", "changeit") })
          yield* streams.get(stream)
          yield* streams.get(stream, { credentials: user("admin", "changeit") })
          yield* streams.delete(stream, { currentVersion: "any" })
        })
      )
      assert.isAtLeast(node.authorizationHeaders.length, 4)
      assert.deepStrictEqual(node.authorizationHeaders.filter((h) => h !== undefined), [])
    }))
})
