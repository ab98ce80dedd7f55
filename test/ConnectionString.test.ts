import { assert, describe, it } from "@effect/vitest"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import { InvalidConnectionString } from "../src/errors/InvalidConnectionString.ts"
import {
  type ConnectionSettings,
  formatEndpoint,
  parseConnectionString,
  redactConnectionString,
  schemes
} from "../src/internal/ConnectionString.ts"

const ok = (input: string): ConnectionSettings => {
  const result = parseConnectionString(input)
  if (Result.isFailure(result)) return assert.fail(`expected ${input} to parse, got: ${result.failure.message}`)
  return result.success
}

/**
 * Parses an input that must fail, and checks the invariants every error has: the tag, a
 * position, the position repeated in the reason, and (for "Unexpected" errors) that the quoted
 * token really is at that position of the input.
 */
const bad = (input: string): InvalidConnectionString => {
  const result = parseConnectionString(input)
  if (Result.isSuccess(result)) return assert.fail(`expected ${input} to fail`)
  const error = result.failure
  assert.instanceOf(error, InvalidConnectionString)
  assert.strictEqual(error._tag, "InvalidConnectionString")
  assert.isNumber(error.position)
  assert.include(error.reason, `at position ${error.position}`)
  assert.strictEqual(error.message, `Invalid connection string: ${error.reason}`)
  assert.strictEqual(error.connectionString.length, input.length)
  const token = /^Unexpected "((?:[^"\\]|\\.)*)" at position (\d+)/.exec(error.reason)
  if (token !== null) {
    const text = JSON.parse(`"${token[1]}"`) as string
    assert.strictEqual(input.slice(error.position!, error.position! + text.length), text, "token at position")
  }
  return error
}

const expectError = (input: string, position: number, reason: string) => {
  const error = bad(input)
  assert.strictEqual(error.position, position)
  assert.strictEqual(error.reason, reason)
}

describe("ConnectionString", () => {
  describe("defaults", () => {
    it("applies every default", () => {
      const s = ok("esdb://localhost")
      assert.strictEqual(s.scheme, "esdb")
      assert.strictEqual(s.discover, false)
      assert.deepStrictEqual(s.hosts, [{ host: "localhost", port: 2113 }])
      assert.isUndefined(s.username)
      assert.isUndefined(s.password)
      assert.strictEqual(s.tls, true)
      assert.strictEqual(s.tlsVerifyCert, true)
      assert.isUndefined(s.tlsCaFile)
      assert.isUndefined(s.userCertFile)
      assert.isUndefined(s.userKeyFile)
      // the connection names itself (a UUID per connection) when the string does not
      assert.isUndefined(s.connectionName)
      assert.strictEqual(s.maxDiscoverAttempts, 10)
      assert.strictEqual(s.discoveryInterval, 100)
      assert.strictEqual(s.gossipTimeout, 5000)
      assert.strictEqual(s.nodePreference, "leader")
      assert.isUndefined(s.defaultDeadline)
      assert.isUndefined(s.keepAliveInterval)
      assert.isUndefined(s.keepAliveTimeout)
      assert.deepStrictEqual(s.warnings, [])
    })

    it("is pure: the same input always parses to the same value", () => {
      for (const input of ["esdb://a", "esdb://admin:changeit@a:1,b:2?NodePreference=follower&DefaultDeadline=5", "esdb://a?tls=false&ConnectionName=x"]) {
        const [first, second] = [ok(input), ok(input)]
        assert.deepStrictEqual({ ...first, password: undefined }, { ...second, password: undefined })
        assert.strictEqual(first.password && Redacted.value(first.password), second.password && Redacted.value(second.password))
      }
      assert.deepStrictEqual(bad("esdb://a?x=1"), bad("esdb://a?x=1"))
    })
  })

  describe("scheme", () => {
    it("accepts every scheme, case-insensitively, and normalizes it", () => {
      assert.strictEqual(schemes.length, 8)
      for (const scheme of schemes) {
        const s = ok(`${scheme}://node1`)
        assert.strictEqual(s.scheme, scheme)
        assert.strictEqual(s.discover, scheme.endsWith("+discover"))
        const upper = ok(`${scheme.toUpperCase()}://node1`)
        assert.strictEqual(upper.scheme, scheme)
      }
      assert.strictEqual(ok("KurrentDB+Discover://cluster.example.com").scheme, "kurrentdb+discover")
    })

    it("rejects an unknown scheme", () => {
      const e = bad("http://localhost:2113")
      assert.strictEqual(e.position, 0)
      assert.match(e.reason, /^Unexpected "http:\/\/" at position 0, expected kurrentdb:\/\/, kurrentdb\+discover:\/\/, .* esdb:\/\/ or esdb\+discover:\/\/$/)
    })

    it("rejects a missing scheme", () => {
      const e = bad("localhost:2113")
      assert.strictEqual(e.position, 0)
      assert.match(e.reason, /^Unexpected "localhost" at position 0, expected a scheme \(kurrentdb:\/\//)
    })

    it("rejects an empty string", () => {
      const e = bad("")
      assert.strictEqual(e.position, 0)
      assert.match(e.reason, /^Unexpected end of input at position 0, expected a scheme/)
    })

    it("never shows a password when the scheme is missing", () => {
      const e = bad("admin:s3cr3t@localhost")
      assert.notInclude(e.reason, "s3cr3t")
      assert.notInclude(e.connectionString, "s3cr3t")
      assert.strictEqual(e.connectionString, "admin:******@localhost")
    })

    it("skips surrounding white space but reports positions in the original input", () => {
      assert.deepStrictEqual(ok("  esdb://a:1?tls=false\n").hosts, [{ host: "a", port: 1 }])
      expectError("  esdb://a:x\n", 11, "Unexpected \"x\" at position 11, expected a port number")
    })
  })

  describe("hosts", () => {
    it("parses several hosts as gossip seeds", () => {
      const s = ok("esdb://admin:changeit@localhost:2111,localhost:2112,localhost:2113?NodePreference=follower")
      assert.strictEqual(s.discover, true)
      assert.deepStrictEqual(s.hosts, [
        { host: "localhost", port: 2111 },
        { host: "localhost", port: 2112 },
        { host: "localhost", port: 2113 }
      ])
      assert.strictEqual(s.nodePreference, "follower")
    })

    it("defaults the port and trims spaces around hosts", () => {
      assert.deepStrictEqual(ok("kdb://a, b:1 ,c").hosts, [
        { host: "a", port: 2113 },
        { host: "b", port: 1 },
        { host: "c", port: 2113 }
      ])
    })

    it("supports IPv6 addresses in brackets", () => {
      const s = ok("esdb://[::1]:2114,[fe80::1]?tls=false")
      assert.deepStrictEqual(s.hosts, [{ host: "::1", port: 2114 }, { host: "fe80::1", port: 2113 }])
      assert.strictEqual(formatEndpoint(s.hosts[0]!), "[::1]:2114")
      assert.strictEqual(formatEndpoint({ host: "127.0.0.1", port: 2113 }), "127.0.0.1:2113")
    })

    it("accepts a trailing slash before the query", () => {
      assert.strictEqual(ok("esdb://localhost:2113/?tls=false").tls, false)
      assert.strictEqual(ok("esdb://localhost:2113/").tls, true)
    })

    it("rejects a bad port", () => {
      expectError("esdb://localhost:x", 17, "Unexpected \"x\" at position 17, expected a port number")
      expectError("esdb://localhost:21x3", 19, "Unexpected \"x\" at position 19, expected a port number")
      expectError("esdb://localhost:", 17, "Unexpected end of input at position 17, expected a port number")
      expectError("esdb://a:,b", 9, "Unexpected \",\" at position 9, expected a port number")
      expectError("esdb://a:0", 9, "Unexpected \"0\" at position 9, expected a port number between 1 and 65535")
      expectError("esdb://a:65536?tls=false", 9, "Unexpected \"65536\" at position 9, expected a port number between 1 and 65535")
      expectError("esdb://a:1:2", 10, "Unexpected \":\" at position 10, expected a port number")
      expectError("esdb://a:-1", 9, "Unexpected \"-\" at position 9, expected a port number")
    })

    it("rejects missing hosts", () => {
      expectError("esdb://", 7, "Unexpected end of input at position 7, expected a host")
      expectError("esdb://?tls=false", 7, "Unexpected \"?\" at position 7, expected a host")
      expectError("esdb://admin:changeit@", 22, "Unexpected end of input at position 22, expected a host")
      expectError("esdb://a,,b", 9, "Unexpected \",\" at position 9, expected a host")
      expectError("esdb://a,", 9, "Unexpected end of input at position 9, expected a host")
      expectError("esdb://:2113", 7, "Unexpected \":\" at position 7, expected a host")
    })

    it("rejects bad host characters and unclosed IPv6 brackets", () => {
      expectError("esdb://exa$mple", 10, "Unexpected \"$\" at position 10, expected a host")
      expectError("esdb://a b", 8, "Unexpected \" \" at position 8, expected a host")
      expectError("esdb://[::1", 11, "Unexpected end of input at position 11, expected \"]\" closing the IPv6 address")
      expectError("esdb://[::g]", 10, "Unexpected \"g\" at position 10, expected an IPv6 address")
      expectError("esdb://[::1]x", 12, "Unexpected \"x\" at position 12, expected \":\" and a port number, \",\" or \"?\"")
    })

    it("rejects more than one host with +discover", () => {
      const e = bad("esdb+discover://a,b")
      assert.strictEqual(e.position, 17)
      assert.match(e.reason, /^Unexpected "," at position 17, expected a single host after esdb\+discover:\/\//)
      assert.strictEqual(bad("kurrentdb+discover://a:1,b:2").position, 24)
    })

    it("rejects a path", () => {
      expectError(
        "esdb://a/foo?tls=false",
        9,
        "Unexpected \"foo\" at position 9, expected \"?key=value\" or the end of the connection string"
      )
    })
  })

  describe("user info", () => {
    it("decodes the user name and keeps the password redacted", () => {
      const s = ok("esdb://admin:changeit@localhost")
      assert.strictEqual(s.username, "admin")
      assert.isTrue(Redacted.isRedacted(s.password))
      assert.strictEqual(Redacted.value(s.password!), "changeit")
      assert.notInclude(String(s.password), "changeit")
      assert.notInclude(JSON.stringify(s), "changeit")
      assert.notInclude(JSON.stringify(s.warnings), "changeit")
    })

    it("percent-decodes user name and password", () => {
      const s = ok("esdb://us%40er:p%40ss%3Aw%2Frd@localhost")
      assert.strictEqual(s.username, "us@er")
      assert.strictEqual(Redacted.value(s.password!), "p@ss:w/rd")
      // an unencoded "@" in the password: the last "@" before the query ends the user info
      assert.strictEqual(Redacted.value(ok("esdb://u:p@ss@localhost").password!), "p@ss")
      // "@" in a query value is not user info
      assert.strictEqual(ok("esdb://localhost?ConnectionName=a@b&tls=false").connectionName, "a@b")
    })

    it("requires both user name and password with Tls=true", () => {
      const e = bad("esdb://admin@localhost")
      assert.strictEqual(e.position, 7)
      assert.match(e.reason, /^Username and password are required with Tls=true: the user info at position 7 has a username but no password/)
      const p = bad("esdb://:s3cr3t@localhost")
      assert.strictEqual(p.position, 7)
      assert.match(p.reason, /has a password but no username/)
      assert.notInclude(p.reason, "s3cr3t")
      assert.notInclude(p.connectionString, "s3cr3t")
      assert.strictEqual(bad("esdb://admin:@localhost").position, 7)
      expectError("esdb://@localhost", 7, "Unexpected \"@\" at position 7, expected username:password before \"@\"")
    })

    it("accepts partial credentials with Tls=false (they are never sent)", () => {
      const s = ok("esdb://admin@localhost?Tls=false")
      assert.strictEqual(s.username, "admin")
      assert.isUndefined(s.password)
    })

    it("warns that credentials are not sent with Tls=false, without showing them", () => {
      const s = ok("esdb://admin:s3cr3t@localhost?Tls=false")
      assert.strictEqual(s.username, "admin")
      assert.deepStrictEqual(s.warnings, [
        "The credentials of the user info (position 7) are not sent because Tls=false: credentials only travel over TLS, " +
        "and an insecure node runs every call without authentication"
      ])
      assert.strictEqual(ok("esdb://admin@localhost?Tls=false").warnings.length, 1)
      assert.deepStrictEqual(ok("esdb://localhost?Tls=false").warnings, [])
      assert.deepStrictEqual(ok("esdb://admin:s3cr3t@localhost").warnings, [])
    })

    it("refuses escapes that are not UTF-8 like badly formed ones", () => {
      expectError("esdb://ad%FFmin:pw@localhost", 9, "Unexpected \"%FF\" at position 9, expected a percent-encoded username")
      const e = bad("esdb://admin:p%C3w@localhost")
      assert.strictEqual(e.reason, "Invalid percent-encoding in the password at position 14, expected %XX escapes of UTF-8")
      assert.strictEqual(ok("esdb://admin:p%C3%A9@localhost").password && Redacted.value(ok("esdb://admin:p%C3%A9@localhost").password!), "pé")
    })

    it("reports a bad password encoding without showing the password", () => {
      const input = "esdb://admin:top%zzsecret@localhost"
      const e = bad(input)
      assert.strictEqual(e.position, 16)
      assert.strictEqual(e.reason, "Invalid percent-encoding in the password at position 16, expected %XX escapes of UTF-8")
      assert.strictEqual(e.connectionString, "esdb://admin:************@localhost")
      assert.notInclude(e.message, "secret")
    })

    it("masks the password in every error's connectionString", () => {
      const e = bad("esdb://admin:hunter2@localhost:x")
      assert.strictEqual(e.connectionString, "esdb://admin:*******@localhost:x")
      assert.strictEqual(e.position, 31)
      assert.strictEqual(redactConnectionString("esdb://a:b@c?ConnectionName=x@y"), "esdb://a:*@c?ConnectionName=x@y")
      assert.strictEqual(redactConnectionString("esdb://c?ConnectionName=x:y@z"), "esdb://c?ConnectionName=x:y@z")
    })

    it("recognizes a password with an unencoded \"?\" instead of showing it in an error", () => {
      const s = ok("esdb://admin:pa?ss@localhost?tls=false")
      assert.strictEqual(Redacted.value(s.password!), "pa?ss")
      assert.strictEqual(s.tls, false)
      assert.deepStrictEqual(s.hosts, [{ host: "localhost", port: 2113 }])
      const e = bad("esdb://admin:pa?ss@localhost:x")
      assert.strictEqual(e.connectionString, "esdb://admin:*****@localhost:x")
      assert.notInclude(e.reason, "pa?ss")
    })

    it("rejects a bad user name encoding", () => {
      expectError("esdb://ad%zzmin:pw@localhost", 9, "Unexpected \"%zz\" at position 9, expected a percent-encoded username")
    })
  })

  describe("keys", () => {
    it("reads keys case-insensitively and ignores _ and - in them", () => {
      const s = ok(
        "esdb://a?TLS=false&tls_verify-cert=false&node_preference=random&MAX-DISCOVER-ATTEMPTS=3&discovery_interval=7"
      )
      assert.strictEqual(s.tls, false)
      assert.strictEqual(s.tlsVerifyCert, false)
      assert.strictEqual(s.nodePreference, "random")
      assert.strictEqual(s.maxDiscoverAttempts, 3)
      assert.strictEqual(s.discoveryInterval, 7)
    })

    it("keeps the first value of a repeated key, also when the case differs, and warns", () => {
      assert.strictEqual(ok("esdb://a?Tls=false&Tls=true").tls, false)
      const s = ok("esdb://a?Tls=false&TLS=true")
      assert.strictEqual(s.tls, false)
      assert.deepStrictEqual(s.warnings, ["TLS at position 19 repeats Tls (position 9); the first value is used"])
      // a later duplicate is not even validated
      assert.strictEqual(ok("esdb://a?Tls=false&tls=maybe").tls, false)
      assert.strictEqual(ok("esdb://a?tls=false&NodePreference=follower&node_preference=leader").nodePreference, "follower")
    })

    it("rejects one unknown key (singular message)", () => {
      const e = bad("esdb://a?tls=false&Foo=1")
      assert.strictEqual(e.position, 19)
      assert.match(e.reason, /^Unknown key "Foo" at position 19; expected one of Tls, TlsVerifyCert, TlsCaFile, /)
    })

    it("rejects several unknown keys, naming all of them (plural message)", () => {
      const e = bad("esdb://a?Foo=1&tls=false&Bar=2")
      assert.strictEqual(e.position, 9)
      assert.match(e.reason, /^Unknown keys "Foo" at position 9, "Bar" at position 25; expected one of /)
    })

    it("reports unknown keys before invalid values", () => {
      assert.match(bad("esdb://a?Tls=maybe&Foo=1").reason, /^Unknown key "Foo"/)
    })

    it("rejects a key without value or a value without key", () => {
      expectError("esdb://a?tls", 12, "Unexpected end of input at position 12, expected \"=\" and a value after tls")
      expectError("esdb://a?tls&x=1", 12, "Unexpected \"&\" at position 12, expected \"=\" and a value after tls")
      expectError("esdb://a?=1", 9, "Unexpected \"=\" at position 9, expected a key before \"=\"")
    })

    it("skips empty query segments", () => {
      assert.strictEqual(ok("esdb://a?&tls=false&").tls, false)
      assert.strictEqual(ok("esdb://a?").tls, true)
    })
  })

  describe("values", () => {
    it("reads booleans in any case", () => {
      assert.strictEqual(ok("esdb://a?Tls=FALSE").tls, false)
      assert.strictEqual(ok("esdb://a?Tls=True").tls, true)
      assert.strictEqual(ok("esdb://a?TlsVerifyCert=fAlSe").tlsVerifyCert, false)
    })

    it("rejects other boolean values", () => {
      expectError("esdb://a?Tls=yes", 13, "Unexpected \"yes\" at position 13, expected true or false")
      expectError("esdb://a?TlsVerifyCert=1", 23, "Unexpected \"1\" at position 23, expected true or false")
      expectError("esdb://a?Tls=", 13, "Unexpected end of input at position 13, expected true or false")
      expectError("esdb://a?Tls=&Tls=true", 13, "Unexpected \"&\" at position 13, expected true or false")
    })

    it("reads every integer key", () => {
      const s = ok(
        "esdb://a?MaxDiscoverAttempts=3&DiscoveryInterval=0&GossipTimeout=2&DefaultDeadline=2500&KeepAliveInterval=15000&KeepAliveTimeout=-1"
      )
      assert.strictEqual(s.maxDiscoverAttempts, 3)
      assert.strictEqual(s.discoveryInterval, 0)
      assert.strictEqual(s.gossipTimeout, 2000)
      assert.strictEqual(s.defaultDeadline, 2500)
      assert.strictEqual(s.keepAliveInterval, 15000)
      assert.strictEqual(s.keepAliveTimeout, -1)
      assert.deepStrictEqual(s.warnings, [])
      assert.strictEqual(ok("esdb://a?KeepAliveInterval=-1").keepAliveInterval, -1)
    })

    it("rejects integers with trailing garbage, decimals or signs where invalid", () => {
      expectError("esdb://a?MaxDiscoverAttempts=10abc", 31, "Unexpected \"abc\" at position 31, expected a positive integer")
      expectError("esdb://a?MaxDiscoverAttempts=1.5", 30, "Unexpected \".5\" at position 30, expected a positive integer")
      expectError("esdb://a?MaxDiscoverAttempts=0", 29, "Unexpected \"0\" at position 29, expected a positive integer")
      expectError("esdb://a?MaxDiscoverAttempts=-3", 29, "Unexpected \"-3\" at position 29, expected a positive integer")
      expectError("esdb://a?MaxDiscoverAttempts=", 29, "Unexpected end of input at position 29, expected a positive integer")
      expectError("esdb://a?MaxDiscoverAttempts=+3", 29, "Unexpected \"+3\" at position 29, expected a positive integer")
      expectError("esdb://a?MaxDiscoverAttempts=-", 30, "Unexpected end of input at position 30, expected a positive integer")
      expectError(
        "esdb://a?DiscoveryInterval=-1",
        27,
        "Unexpected \"-1\" at position 27, expected a non-negative integer (milliseconds)"
      )
      expectError(
        "esdb://a?DiscoveryInterval=99999999999",
        27,
        "Unexpected \"99999999999\" at position 27, expected a non-negative integer (milliseconds)"
      )
      expectError(
        "esdb://a?GossipTimeout=0",
        23,
        "Unexpected \"0\" at position 23, expected a positive integer (seconds, at most 2147483)"
      )
      expectError(
        "esdb://a?KeepAliveInterval=-2",
        27,
        "Unexpected \"-2\" at position 27, expected a positive integer (milliseconds, at most 2147483647) or -1 to disable"
      )
      expectError(
        "esdb://a?KeepAliveTimeout=0",
        26,
        "Unexpected \"0\" at position 26, expected a positive integer (milliseconds, at most 2147483647) or -1 to disable"
      )
    })

    it("reads GossipTimeout as seconds", () => {
      assert.strictEqual(ok("esdb://a?GossipTimeout=5").gossipTimeout, 5000)
      assert.strictEqual(ok("esdb://a?GossipTimeout=1").gossipTimeout, 1000)
    })

    it("requires DefaultDeadline > 0", () => {
      expectError("esdb://a?DefaultDeadline=0", 25, "Unexpected \"0\" at position 25, expected a positive integer (milliseconds)")
      expectError("esdb://a?DefaultDeadline=-1", 25, "Unexpected \"-1\" at position 25, expected a positive integer (milliseconds)")
    })

    it("warns when DefaultDeadline looks like seconds", () => {
      const s = ok("esdb+discover://admin:changeit@cluster1.example.com?DefaultDeadline=5")
      assert.strictEqual(s.defaultDeadline, 5)
      assert.strictEqual(s.warnings.length, 1)
      assert.strictEqual(
        s.warnings[0],
        "DefaultDeadline=5 (position 68) looks like seconds: DefaultDeadline is read as milliseconds, so this is 5 ms; write DefaultDeadline=5000 for 5 seconds"
      )
      assert.strictEqual(ok("esdb://a?DefaultDeadline=999").warnings.length, 1)
      assert.deepStrictEqual(ok("esdb://a?DefaultDeadline=1000").warnings, [])
      assert.deepStrictEqual(ok("esdb://a?DefaultDeadline=10000").warnings, [])
    })

    it("reads every node preference, case-insensitively, also read_only_replica", () => {
      assert.strictEqual(ok("esdb://a?NodePreference=leader").nodePreference, "leader")
      assert.strictEqual(ok("esdb://a?NodePreference=Follower").nodePreference, "follower")
      assert.strictEqual(ok("esdb://a?NodePreference=RANDOM").nodePreference, "random")
      assert.strictEqual(ok("esdb://a?NodePreference=readonlyreplica").nodePreference, "readonlyreplica")
      assert.strictEqual(ok("esdb://a?NodePreference=ReadOnlyReplica").nodePreference, "readonlyreplica")
      assert.strictEqual(ok("esdb://a?NodePreference=read_only_replica").nodePreference, "readonlyreplica")
    })

    it("rejects an unknown node preference", () => {
      expectError(
        "esdb://a?NodePreference=primary",
        24,
        "Unexpected \"primary\" at position 24, expected leader, follower, random or readonlyreplica"
      )
    })

    it("reads and percent-decodes text values", () => {
      const s = ok(
        "esdb://a?ConnectionName=my%20app+1&TlsCaFile=%2Fetc%2Fca.pem&UserCertFile=/c/user.crt&UserKeyFile=/c/user.key"
      )
      assert.strictEqual(s.connectionName, "my app+1")
      assert.strictEqual(s.tlsCaFile, "/etc/ca.pem")
      assert.strictEqual(s.userCertFile, "/c/user.crt")
      assert.strictEqual(s.userKeyFile, "/c/user.key")
    })

    it("rejects empty or badly encoded text values", () => {
      expectError("esdb://a?ConnectionName=", 24, "Unexpected end of input at position 24, expected a connection name")
      expectError("esdb://a?TlsCaFile=&Tls=true", 19, "Unexpected \"&\" at position 19, expected a file path")
      expectError(
        "esdb://a?TlsCaFile=/x%zz",
        21,
        "Unexpected \"%zz\" at position 21, expected a file path (percent-encoded)"
      )
    })

    it("requires UserCertFile and UserKeyFile together", () => {
      expectError(
        "esdb://a?UserCertFile=/c/user.crt",
        9,
        "UserCertFile at position 9 must be given together with UserKeyFile"
      )
      expectError(
        "esdb://a?tls=true&user_key_file=/c/user.key",
        18,
        "UserKeyFile at position 18 must be given together with UserCertFile"
      )
    })

    it("warns about TLS keys that Tls=false makes meaningless", () => {
      const s = ok("esdb://a?Tls=false&TlsCaFile=/ca.pem&TlsVerifyCert=false")
      assert.deepStrictEqual(s.warnings, [
        "TlsVerifyCert (position 37) is ignored because Tls=false",
        "TlsCaFile (position 19) is ignored because Tls=false"
      ])
    })

    it("accepts ThrowOnAppendFailure (official client key) with a warning, and validates it", () => {
      const s = ok("esdb://a?throwOnAppendFailure=false")
      assert.deepStrictEqual(s.warnings, [
        "ThrowOnAppendFailure (position 9) has no effect: failed appends are always typed errors"
      ])
      expectError("esdb://a?ThrowOnAppendFailure=no", 30, "Unexpected \"no\" at position 30, expected true or false")
    })
  })

  describe("seed README examples", () => {
    it("parses the documented examples", () => {
      const a = ok("esdb://127.0.0.1:2113?Tls=false&NodePreference=follower")
      assert.deepStrictEqual([a.tls, a.nodePreference, a.discover], [false, "follower", false])
      const b = ok("esdb://admin:changeit@localhost:2113")
      assert.deepStrictEqual([b.tls, b.username, b.discover], [true, "admin", false])
      const c = ok("esdb+discover://admin:changeit@cluster1.example.com?KeepAliveInterval=10000&KeepAliveTimeout=10000")
      assert.deepStrictEqual(
        [c.discover, c.hosts, c.keepAliveInterval, c.keepAliveTimeout],
        [true, [{ host: "cluster1.example.com", port: 2113 }], 10000, 10000]
      )
      const d = ok("esdb+discover://localhost:2113?Tls=false")
      assert.deepStrictEqual([d.discover, d.tls], [true, false])
    })
  })
})
