/**
 * Node options that change what clients see: the advertised endpoint gossip reports (a real
 * node's AdvertiseHostToClientAs / AdvertiseHttpPortToClientAs) and the version ServerFeatures
 * reports; and the command line that sets them.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type RunningNode, startEmbeddedNode } from "../../src/server/EmbeddedNode.ts"
import { cliNodeFlags } from "../../bench/lib/storageProcs.ts"
import { connect, gossipRead, supportedMethods } from "./helpers.ts"

const cli = new URL("../../src/server/cli.ts", import.meta.url).pathname

/** Runs the command line; `whileUp` runs once it listens, then the node is stopped. */
const run = (args: ReadonlyArray<string>, whileUp: (port: number) => Promise<void> = async () => {}) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ["--experimental-strip-types", "--no-warnings", cli, ...args], { stdio: ["pipe", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString()
      const match = /esdb:\/\/[^:]+:(\d+)/.exec(stdout)
      if (match !== null && !child.stdin.writableEnded) {
        void whileUp(Number(match[1])).finally(() => child.stdin.end("stop\n"))
      }
    })
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    child.on("exit", (code) => resolve({ code, stdout, stderr }))
  })

describe("node options", () => {
  it("advertiseHost/advertisePort and version change what gossip and ServerFeatures report", async () => {
    const node = await startEmbeddedNode({ advertiseHost: "node1.example.internal", advertisePort: 443, version: "25.1.3" })
    const c = connect(node)
    try {
      const gossip = await gossipRead(c)
      assert.deepStrictEqual(gossip.response!.members[0]!.httpEndPoint, { address: "node1.example.internal", port: 443 })
      const features = await supportedMethods(c)
      assert.strictEqual(features.response!.eventStoreServerVersion, "25.1.3")
    } finally {
      c.close()
      await node.stop()
    }
  })

  it("without them gossip reports the bound endpoint", async () => {
    const node = await startEmbeddedNode()
    const c = connect(node)
    try {
      assert.deepStrictEqual((await gossipRead(c)).response!.members[0]!.httpEndPoint, { address: "127.0.0.1", port: node.port })
    } finally {
      c.close()
      await node.stop()
    }
  })

  it("the command line takes --advertise-host, --advertise-port and --server-version, and refuses a bad version", async () => {
    let reported: unknown
    let version: string | undefined
    const ok = await run(["--insecure", "--port", "0", "--advertise-host", "a.example", "--advertise-port", "2113", "--server-version", "24.2.0"], async (port) => {
      const c = connect({ insecure: true, host: "127.0.0.1", port } as RunningNode)
      try {
        reported = (await gossipRead(c)).response?.members[0]?.httpEndPoint
        version = (await supportedMethods(c)).response?.eventStoreServerVersion
      } finally {
        c.close()
      }
    })
    assert.strictEqual(ok.code, 0, ok.stderr)
    assert.deepStrictEqual(reported, { address: "a.example", port: 2113 })
    assert.strictEqual(version, "24.2.0")
    const bad = await run(["--insecure", "--server-version", "latest"])
    assert.strictEqual(bad.code, 2)
    assert.include(bad.stderr, "invalid --server-version latest")
  }, 30_000)

  it("the command line takes --db-cache-bytes (the read cache of a --db node), lists it in --help, and refuses a bad value or one without --db", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effect-esdb-cache-flag-"))
    try {
      let served: number | undefined
      const ok = await run(["--insecure", "--port", "0", "--db", dir, "--db-cache-bytes", "1048576"], async (port) => {
        const c = connect({ insecure: true, host: "127.0.0.1", port } as RunningNode)
        try {
          served = (await gossipRead(c)).response?.members.length
        } finally {
          c.close()
        }
      })
      assert.strictEqual(ok.code, 0, ok.stderr)
      assert.strictEqual(served, 1)
      assert.include(ok.stderr, `data in ${dir} (read cache 1048576 bytes)`)
      const dflt = await run(["--insecure", "--port", "0", "--db", dir])
      assert.strictEqual(dflt.code, 0, dflt.stderr)
      assert.include(dflt.stderr, `data in ${dir} (read cache 33554432 bytes)`)
      const help = await run(["--help"])
      assert.match(help.stdout, /--db-cache-bytes <bytes> +with --db: bytes of the cache of event bodies .*\(default: 33554432\)/)
      const negative = await run(["--insecure", "--db", dir, "--db-cache-bytes=-1"])
      assert.strictEqual(negative.code, 2)
      assert.include(negative.stderr, "invalid --db-cache-bytes -1")
      const text = await run(["--insecure", "--db", dir, "--db-cache-bytes", "32MB"])
      assert.strictEqual(text.code, 2)
      assert.include(text.stderr, "invalid --db-cache-bytes 32MB")
      const withoutDb = await run(["--insecure", "--db-cache-bytes", "1024"])
      assert.strictEqual(withoutDb.code, 2)
      assert.include(withoutDb.stderr, "--db-cache-bytes needs --db")
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)

  it("the command line runs Node with the heap sizing of src/server/README.md, as its #! line and npm run server", () => {
    const flags = cliNodeFlags()
    assert.deepStrictEqual(flags, ["--max-semi-space-size=8", "--heap-growing-percent=100"])
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { scripts: Record<string, string> }
    assert.strictEqual(pkg.scripts["server"], `node --experimental-strip-types --no-warnings ${flags.join(" ")} src/server/cli.ts`)
  })
})
