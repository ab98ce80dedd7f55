/**
 * `npm run server -- --cluster 3`: the command line starts an embedded cluster (secure unless
 * `--insecure`, as a single node), prints every member
 * as a gossip seed, and its side channel kills a member (the cluster elects another leader).
 */
import { assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { MemberInfo_VNodeState } from "../../src/generated/gossip.ts"
import type { RunningNode } from "../../src/server/EmbeddedNode.ts"
import { connect, gossipRead } from "./helpers.ts"

const cli = new URL("../../src/server/cli.ts", import.meta.url).pathname

/** Runs the command line with `args`; `line` waits for a stdout line that passes `test`. */
const runCli = (args: ReadonlyArray<string>) => {
  const child = spawn(process.execPath, ["--experimental-strip-types", "--no-warnings", cli, ...args], {
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
  return { child, line, exited, stderr: () => stderr }
}

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


  it("starts a secure cluster of 3 by default (as a single node): TLS seeds with credentials, gossip lists them, one Leader; `kill <i>` makes another leader", async () => {
    const { child, exited, line, stderr } = runCli(["--cluster", "3", "--port", "0"])
    try {
      const seeds = await line((l) => l.startsWith("esdb://"))
      assert.match(seeds, /^esdb:\/\/admin:changeit@localhost:\d+,localhost:\d+,localhost:\d+\?tls=true&tlsCaFile=.+ca\.crt$/)
      const caFile = seeds.slice(seeds.indexOf("tlsCaFile=") + "tlsCaFile=".length)
      const ports = [...seeds.matchAll(/localhost:(\d+)/g)].map((m) => Number(m[1]))
      assert.strictEqual(ports.length, 3, seeds)
      const c = connect({ insecure: false, host: "127.0.0.1", port: ports[0]!, caFile } as RunningNode)
      let leader: number
      try {
        const members = (await gossipRead(c)).response!.members
        assert.deepStrictEqual(members.map((m) => m.httpEndPoint?.port), ports)
        assert.deepStrictEqual(members.map((m) => m.httpEndPoint?.address), ["localhost", "localhost", "localhost"])
        leader = members.findIndex((m) => m.state === MemberInfo_VNodeState.Leader)
        assert.isAtLeast(leader, 0)
      } finally {
        c.close()
      }
      child.stdin.write(`kill ${leader}\n`)
      const answer = JSON.parse(await line((l) => l.startsWith(`{"ok":"kill`))) as { leader: number }
      assert.notStrictEqual(answer.leader, leader)
      child.stdin.end("stop\n")
      assert.strictEqual(await exited, 0, stderr())
      assert.match(stderr(), /TLS on/)
    } finally {
      child.kill()
    }
  }, 30_000)

  it("--insecure: cleartext seeds on the bound host", async () => {
    const { child, exited, line, stderr } = runCli(["--cluster", "3", "--port", "0", "--insecure"])
    try {
      const seeds = await line((l) => l.startsWith("esdb://"))
      assert.match(seeds, /^esdb:\/\/127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+\?tls=false$/)
      const port = Number(/127\.0\.0\.1:(\d+)/.exec(seeds)![1])
      const c = connect({ insecure: true, host: "127.0.0.1", port } as RunningNode)
      try {
        const members = (await gossipRead(c)).response!.members
        assert.deepStrictEqual(members.map((m) => m.httpEndPoint?.address), ["127.0.0.1", "127.0.0.1", "127.0.0.1"])
      } finally {
        c.close()
      }
      child.stdin.end("stop\n")
      assert.strictEqual(await exited, 0, stderr())
      assert.match(stderr(), /TLS off \(insecure\)/)
    } finally {
      child.kill()
    }
  }, 30_000)
})
