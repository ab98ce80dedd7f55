/**
 * Node options that change what clients see: the advertised endpoint gossip reports (a real
 * node's AdvertiseHostToClientAs / AdvertiseHttpPortToClientAs) and the version ServerFeatures
 * reports; and the command line that sets them.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { type RunningNode, startEmbeddedNode } from "../../src/server/EmbeddedNode.ts"
import { connect, gossipRead, supportedMethods } from "./helpers.ts"

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
    const cli = new URL("../../src/server/cli.ts", import.meta.url).pathname
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
})
