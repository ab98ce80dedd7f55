import * as grpc from "@grpc/grpc-js"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll } from "vitest"
import { GossipClient, GossipService } from "../src/generated/gossip.ts"
import {
  basicAuthorization,
  callMetadata,
  channelCredentials,
  channelOptions
} from "../src/internal/transport/ChannelConfig.ts"
import { type ConnectionSettings, parseConnectionString } from "../src/internal/ConnectionString.ts"

const settingsOf = (input: string): ConnectionSettings => {
  const result = parseConnectionString(input)
  if (Result.isFailure(result)) return assert.fail(result.failure.message)
  return result.success
}

const hasOpenssl = (() => {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
})()

// --- certificates, made with the openssl CLI in a temporary directory -------------------------

let dir = ""
const file = (name: string) => join(dir, name)
const pem = (name: string) => readFileSync(file(name))

const openssl = (...args: Array<string>) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" })
const makeCa = (name: string) =>
  openssl(
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", "2", "-subj", `/CN=${name}`
  )
const makeCert = (name: string, ca: string, san: string) => {
  openssl(
    "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`
  )
  writeFileSync(file(`${name}.ext`), `subjectAltName=${san}\n`)
  openssl(
    "x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.crt`, "-CAkey", `${ca}.key`, "-CAcreateserial",
    "-out", `${name}.crt`, "-days", "2", "-extfile", `${name}.ext`
  )
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "effect-esdb-tls-"))
  writeFileSync(file("garbage.pem"), "this is not a certificate\n")
  mkdirSync(file("a-directory"))
  if (!hasOpenssl) return
  makeCa("caA")
  makeCa("caB")
  makeCert("server", "caA", "DNS:localhost,IP:127.0.0.1")
  makeCert("stranger", "caB", "DNS:other.example")
  makeCert("user", "caA", "DNS:user")
  makeCert("intruder", "caB", "DNS:intruder")
})

afterAll(() => {
  if (dir !== "") rmSync(dir, { recursive: true, force: true })
})

// --- a tiny gRPC server (the Gossip service) that records what it receives ----------------------

interface TestServer {
  readonly port: number
  readonly seen: Array<grpc.Metadata>
  readonly close: () => void
}

const startServer = (credentials: grpc.ServerCredentials): Promise<TestServer> =>
  new Promise((resolve, reject) => {
    const server = new grpc.Server()
    const seen: Array<grpc.Metadata> = []
    server.addService(GossipService, {
      read: (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<{ members: [] }>) => {
        seen.push(call.metadata)
        callback(null, { members: [] })
      }
    })
    server.bindAsync("127.0.0.1:0", credentials, (error, port) => {
      if (error !== null) reject(error)
      else resolve({ port, seen, close: () => server.forceShutdown() })
    })
  })

const tlsServer = (cert: string, requireClientCert = false) =>
  startServer(
    grpc.ServerCredentials.createSsl(
      requireClientCert ? pem("caA.crt") : null,
      [{ private_key: pem(`${cert}.key`), cert_chain: pem(`${cert}.crt`) }],
      requireClientCert
    )
  )

/** One Gossip/Read call; resolves with the error (or null) after closing the client. */
const call = (
  host: string,
  port: number,
  credentials: grpc.ChannelCredentials,
  options: grpc.ChannelOptions,
  metadata = new grpc.Metadata()
): Promise<grpc.ServiceError | null> =>
  new Promise((resolve) => {
    const client = new GossipClient(`${host}:${port}`, credentials, options)
    client.read({}, metadata, { deadline: Date.now() + 5000 }, (error) => {
      client.close()
      resolve(error)
    })
  })

const withServer = <A>(start: () => Promise<TestServer>, f: (server: TestServer) => Effect.Effect<A, unknown>) =>
  Effect.acquireUseRelease(Effect.promise(start), f, (server) => Effect.sync(server.close))

const q = (path: string) => encodeURIComponent(path)

describe("ChannelConfig", () => {
  describe("channelOptions", () => {
    it("sets message size, flow-control window, user agent, no channelz and default keepalive", () => {
      const options = channelOptions(settingsOf("esdb://localhost"))
      assert.deepStrictEqual(options, {
        "grpc.max_receive_message_length": 17 * 1024 * 1024,
        "grpc-node.flow_control_window": 256 * 1024,
        "grpc.primary_user_agent": "effect-esdb/0.1.0",
        "grpc.enable_channelz": 0,
        "grpc.keepalive_time_ms": 10_000,
        "grpc.keepalive_timeout_ms": 10_000
      })
    })

    it("takes the flow-control window from the connection options", () => {
      assert.strictEqual(channelOptions(settingsOf("esdb://localhost"), 4 * 1024 * 1024)["grpc-node.flow_control_window"], 4 * 1024 * 1024)
    })

    it("takes keepalive from the connection string", () => {
      const options = channelOptions(settingsOf("esdb://localhost?KeepAliveInterval=30000&KeepAliveTimeout=5000"))
      assert.strictEqual(options["grpc.keepalive_time_ms"], 30_000)
      assert.strictEqual(options["grpc.keepalive_timeout_ms"], 5_000)
    })

    it("disables keepalive with KeepAliveInterval=-1 and waits the longest timer with KeepAliveTimeout=-1", () => {
      const off = channelOptions(settingsOf("esdb://localhost?KeepAliveInterval=-1&KeepAliveTimeout=5000"))
      assert.isFalse("grpc.keepalive_time_ms" in off)
      assert.isFalse("grpc.keepalive_timeout_ms" in off)
      const noTimeout = channelOptions(settingsOf("esdb://localhost?KeepAliveTimeout=-1"))
      assert.strictEqual(noTimeout["grpc.keepalive_time_ms"], 10_000)
      assert.strictEqual(noTimeout["grpc.keepalive_timeout_ms"], 2_147_483_647)
    })
  })

  describe("callMetadata", () => {
    const decode = (header: grpc.MetadataValue | undefined) => {
      const value = String(header)
      assert.match(value, /^Basic /)
      return Buffer.from(value.slice(6), "base64").toString("utf8")
    }

    it("sends connection-name and requires-leader", () => {
      const settings = settingsOf("esdb://localhost?ConnectionName=billing&Tls=false")
      const leader = callMetadata(settings, { requiresLeader: true })
      assert.deepStrictEqual(leader.get("connection-name"), ["billing"])
      assert.deepStrictEqual(leader.get("requires-leader"), ["true"])
      assert.deepStrictEqual(callMetadata(settings, { requiresLeader: false }).get("requires-leader"), ["false"])
    })

    it("sends Basic authorization over TLS", () => {
      const metadata = callMetadata(settingsOf("esdb://admin:chan%3Ageit@localhost"), { requiresLeader: true })
      assert.strictEqual(decode(metadata.get("authorization")[0]), "admin:chan:geit")
    })

    it("lets per-call credentials override the connection string's", () => {
      const metadata = callMetadata(settingsOf("esdb://admin:changeit@localhost"), {
        requiresLeader: false,
        credentials: { username: "ops", password: Redacted.make("s3cret") }
      })
      assert.strictEqual(decode(metadata.get("authorization")[0]), "ops:s3cret")
      assert.strictEqual(basicAuthorization({ username: "a", password: Redacted.make("b") }), "Basic YTpi")
    })

    it("never sends authorization over an insecure channel", () => {
      const settings = settingsOf("esdb://admin:changeit@localhost?Tls=false")
      assert.deepStrictEqual(callMetadata(settings, { requiresLeader: true }).get("authorization"), [])
      const perCall = callMetadata(settings, {
        requiresLeader: true,
        credentials: { username: "ops", password: Redacted.make("s3cret") }
      })
      assert.deepStrictEqual(perCall.get("authorization"), [])
    })

    it("sends no authorization without credentials", () => {
      assert.deepStrictEqual(callMetadata(settingsOf("esdb://localhost"), { requiresLeader: true }).get("authorization"), [])
    })
  })

  describe("channelCredentials", () => {
    it.live("is insecure with Tls=false, and the metadata reaches the node without authorization", () =>
      withServer(() => startServer(grpc.ServerCredentials.createInsecure()), (server) =>
        Effect.gen(function*() {
          const settings = settingsOf("esdb://admin:changeit@127.0.0.1?Tls=false&ConnectionName=plain")
          const credentials = yield* channelCredentials(settings, { rootCertificates: "ignored" })
          assert.isFalse(credentials._isSecure())
          const error = yield* Effect.promise(() =>
            call("127.0.0.1", server.port, credentials, channelOptions(settings), callMetadata(settings, { requiresLeader: true }))
          )
          assert.isNull(error)
          const seen = server.seen[0]!
          assert.deepStrictEqual(seen.get("connection-name"), ["plain"])
          assert.deepStrictEqual(seen.get("requires-leader"), ["true"])
          assert.deepStrictEqual(seen.get("authorization"), [])
          assert.match(String(seen.get("user-agent")[0]), /^effect-esdb\/0\.1\.0 grpc-node-js\//)
        })))

    describe.skipIf(!hasOpenssl)("over TLS (certificates made with openssl)", () => {
      it.live("verifies the node with TlsCaFile and sends Basic authorization", () =>
        withServer(() => tlsServer("server"), (server) =>
          Effect.gen(function*() {
            const settings = settingsOf(`esdb://admin:changeit@localhost?TlsCaFile=${q(file("caA.crt"))}`)
            const credentials = yield* channelCredentials(settings)
            assert.isTrue(credentials._isSecure())
            const error = yield* Effect.promise(() =>
              call("localhost", server.port, credentials, channelOptions(settings), callMetadata(settings, { requiresLeader: false }))
            )
            assert.isNull(error)
            const auth = String(server.seen[0]!.get("authorization")[0])
            assert.strictEqual(auth, `Basic ${Buffer.from("admin:changeit").toString("base64")}`)
          })))

      it.live("uses explicit root certificates when there is no TlsCaFile", () =>
        withServer(() => tlsServer("server"), (server) =>
          Effect.gen(function*() {
            const settings = settingsOf("esdb://localhost")
            const good = yield* channelCredentials(settings, { rootCertificates: pem("caA.crt") })
            assert.isNull(yield* Effect.promise(() => call("localhost", server.port, good, channelOptions(settings))))
            const asString = yield* channelCredentials(settings, { rootCertificates: pem("caA.crt").toString("utf8") })
            assert.isNull(yield* Effect.promise(() => call("localhost", server.port, asString, channelOptions(settings))))
            // the system roots do not know the test CA
            const system = yield* channelCredentials(settings)
            const error = yield* Effect.promise(() => call("localhost", server.port, system, channelOptions(settings)))
            assert.strictEqual(error?.code, grpc.status.UNAVAILABLE)
          })))

      it.live("lets TlsCaFile override the explicit root certificates", () =>
        withServer(() => tlsServer("server"), (server) =>
          Effect.gen(function*() {
            const right = settingsOf(`esdb://localhost?TlsCaFile=${q(file("caA.crt"))}`)
            const wrongExplicit = yield* channelCredentials(right, { rootCertificates: pem("caB.crt") })
            assert.isNull(yield* Effect.promise(() => call("localhost", server.port, wrongExplicit, channelOptions(right))))

            const wrong = settingsOf(`esdb://localhost?TlsCaFile=${q(file("caB.crt"))}`)
            const rightExplicit = yield* channelCredentials(wrong, { rootCertificates: pem("caA.crt") })
            const error = yield* Effect.promise(() => call("localhost", server.port, rightExplicit, channelOptions(wrong)))
            assert.strictEqual(error?.code, grpc.status.UNAVAILABLE)
          })))

      it.live("accepts a CA bundle with several certificates", () =>
        withServer(() => tlsServer("server"), (server) =>
          Effect.gen(function*() {
            writeFileSync(file("bundle.pem"), Buffer.concat([pem("caB.crt"), pem("caA.crt")]))
            const settings = settingsOf(`esdb://localhost?TlsCaFile=${q(file("bundle.pem"))}`)
            const credentials = yield* channelCredentials(settings)
            assert.isNull(yield* Effect.promise(() => call("localhost", server.port, credentials, channelOptions(settings))))
          })))

      it.live("presents the user certificate from UserCertFile/UserKeyFile", () =>
        withServer(() => tlsServer("server", true), (server) =>
          Effect.gen(function*() {
            const ca = `TlsCaFile=${q(file("caA.crt"))}`
            const withUser = settingsOf(
              `esdb://localhost?${ca}&UserCertFile=${q(file("user.crt"))}&UserKeyFile=${q(file("user.key"))}`
            )
            const credentials = yield* channelCredentials(withUser)
            assert.isNull(yield* Effect.promise(() => call("localhost", server.port, credentials, channelOptions(withUser))))

            // the files win over explicit material (here a certificate the node does not trust)
            const overridden = yield* channelCredentials(withUser, {
              certChain: pem("intruder.crt"),
              privateKey: pem("intruder.key")
            })
            assert.isNull(yield* Effect.promise(() => call("localhost", server.port, overridden, channelOptions(withUser))))

            const withoutUser = settingsOf(`esdb://localhost?${ca}`)
            const anonymous = yield* channelCredentials(withoutUser)
            const refused = yield* Effect.promise(() => call("localhost", server.port, anonymous, channelOptions(withoutUser)))
            assert.strictEqual(refused?.code, grpc.status.UNAVAILABLE)

            // explicit material is used when there are no files (the seed client dropped it)
            const explicit = yield* channelCredentials(withoutUser, {
              certChain: pem("user.crt"),
              privateKey: pem("user.key")
            })
            assert.isNull(yield* Effect.promise(() => call("localhost", server.port, explicit, channelOptions(withoutUser))))
          })))

      it.live("TlsVerifyCert=false accepts an untrusted certificate for another host name", () =>
        withServer(() => tlsServer("stranger"), (server) =>
          Effect.gen(function*() {
            const verifying = settingsOf("esdb://127.0.0.1")
            const strict = yield* channelCredentials(verifying)
            const error = yield* Effect.promise(() => call("127.0.0.1", server.port, strict, channelOptions(verifying)))
            assert.strictEqual(error?.code, grpc.status.UNAVAILABLE)

            const lax = settingsOf("esdb://127.0.0.1?TlsVerifyCert=false")
            const credentials = yield* channelCredentials(lax)
            assert.isTrue(credentials._isSecure())
            assert.isNull(yield* Effect.promise(() => call("127.0.0.1", server.port, credentials, channelOptions(lax))))
          })))

      it.effect("fails when a CA file holds no certificate", () =>
        Effect.gen(function*() {
          const path = file("garbage.pem")
          const error = yield* Effect.flip(channelCredentials(settingsOf(`esdb://localhost?TlsCaFile=${q(path)}`)))
          assert.strictEqual(error._tag, "InvalidConnectionString")
          assert.strictEqual(
            error.reason,
            `TlsCaFile "${path}" contains no PEM certificate (expected "-----BEGIN CERTIFICATE-----")`
          )
          assert.strictEqual(error.connectionString, `TlsCaFile=${path}`)
          const explicit = yield* Effect.flip(channelCredentials(settingsOf("esdb://localhost"), { rootCertificates: "nope" }))
          assert.match(explicit.reason, /^rootCertificates contains no PEM certificate/)
        }))

      it.effect("fails when a user key is not a key", () =>
        Effect.gen(function*() {
          const settings = settingsOf(
            `esdb://localhost?UserCertFile=${q(file("user.crt"))}&UserKeyFile=${q(file("garbage.pem"))}`
          )
          const error = yield* Effect.flip(channelCredentials(settings))
          assert.match(error.reason, /^The TLS certificates were rejected \(system roots|UserCertFile/)
          assert.include(error.reason, `UserKeyFile "${file("garbage.pem")}"`)
        }))
    })

    it.effect("fails naming the key, the file and the reason when a file cannot be read", () =>
      Effect.gen(function*() {
        const missing = join(tmpdir(), "effect-esdb-no-such-dir", "ca.pem")
        const error = yield* Effect.flip(channelCredentials(settingsOf(`esdb://localhost?TlsCaFile=${q(missing)}`)))
        assert.strictEqual(error._tag, "InvalidConnectionString")
        assert.strictEqual(error.reason, `Failed to read TlsCaFile "${missing}": the file does not exist`)
        assert.strictEqual(error.connectionString, `TlsCaFile=${missing}`)

        const key = yield* Effect.flip(
          channelCredentials(settingsOf(`esdb://localhost?UserCertFile=${q(file("garbage.pem"))}&UserKeyFile=${q(missing)}`))
        )
        assert.strictEqual(key.reason, `Failed to read UserKeyFile "${missing}": the file does not exist`)

        const directory = yield* Effect.flip(
          channelCredentials(settingsOf(`esdb://localhost?TlsCaFile=${q(file("a-directory"))}`))
        )
        assert.strictEqual(directory.reason, `Failed to read TlsCaFile "${file("a-directory")}": it is a directory`)
      }))

    it.effect("does not read certificate files with Tls=false", () =>
      Effect.gen(function*() {
        const settings = settingsOf("esdb://localhost?Tls=false&TlsCaFile=/no/such/ca.pem")
        const credentials = yield* channelCredentials(settings)
        assert.isFalse(credentials._isSecure())
      }))

    it.effect("requires the user certificate and key together", () =>
      Effect.gen(function*() {
        const base = settingsOf("esdb://localhost")
        const onlyKey = yield* Effect.flip(channelCredentials(base, { privateKey: "key" }))
        assert.strictEqual(
          onlyKey.reason,
          "privateKey was given without a user certificate (UserCertFile or certChain): a user certificate and its key must come together"
        )
        const onlyCert = yield* Effect.flip(channelCredentials(base, { certChain: "cert" }))
        assert.strictEqual(
          onlyCert.reason,
          "certChain was given without its private key (UserKeyFile or privateKey): a user certificate and its key must come together"
        )
      }))
  })
})
