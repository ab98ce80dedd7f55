/**
 * `npm run server -- --cluster 3`: the command line starts an embedded cluster, prints every member
 * as a gossip seed, and its side channel kills a member (the cluster elects another leader).
 */
import { assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { MemberInfo_VNodeState } from "../../src/generated/gossip.ts"
import type { RunningNode } from "../../src/server/EmbeddedNode.ts"
import { connect, gossipRead } from "./helpers.ts"

const cli = new URL("../../src/server/cli.ts", import.meta.url).pathname

describe("the command line's --cluster", () => {
  it("--help documents --cluster and --read-only-replicas", async () => {
    const out = await new Promise<string>((resolve) => {
      const child = spawn(process.execPath, ["--experimental-strip-types", "--no-warnings", cli, "--help"])
      let text = ""
      child.stdout.on("data", (d: Buffer) => (text += d.toString()))
      child.on("exit", () => resolve(text))
    })
    assert.match(out, /--cluster <n>/)
    assert.match(out, /--read-only-replicas <n>/)
  })

  it("starts a cluster of 3: gossip lists them, one Leader; `kill <i>` makes another leader", async () => {
    const child = spawn(process.execPath, ["--experimental-strip-types", "--no-warnings", cli, "--cluster", "3", "--port", "0"], {
      stdio: ["pipe", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    const lines: Array<string> = []
    const waiting: Array<() => void> = []
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString()
      let nl: number
      while ((nl = stdout.indexOf("\n")) >= 0) {
        lines.push(stdout.slice(0, nl))
        stdout = stdout.slice(nl + 1)
        for (const w of waiting.splice(0)) w()
      }
    })
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve))
    const line = async (test: (l: string) => boolean): Promise<string> => {
      for (;;) {
        const found = lines.find(test)
        if (found !== undefined) return found
        await new Promise<void>((resolve) => waiting.push(resolve))
      }
    }
    try {
      const seeds = await line((l) => l.startsWith("esdb://"))
      const ports = [...seeds.matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]))
      assert.strictEqual(ports.length, 3, seeds)
      const c = connect({ insecure: true, host: "127.0.0.1", port: ports[0]! } as RunningNode)
      let leader: number
      try {
        const members = (await gossipRead(c)).response!.members
        assert.deepStrictEqual(members.map((m) => m.httpEndPoint?.port), ports)
        leader = members.findIndex((m) => m.state === MemberInfo_VNodeState.Leader)
        assert.isAtLeast(leader, 0)
      } finally {
        c.close()
      }
      child.stdin.write(`kill ${leader}\n`)
      const answer = JSON.parse(await line((l) => l.startsWith(`{"ok":"kill`))) as { leader: number }
      assert.notStrictEqual(answer.leader, leader)
      child.stdin.end("stop\n")
      assert.strictEqual(await exited, 0, stderr)
    } finally {
      child.kill()
    }
  }, 30_000)
})
