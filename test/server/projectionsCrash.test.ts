/**
 * Issue 16: emitted events are not duplicated after a crash. A node process with `--db` runs a
 * projection that emits one event per source event while it catches up over thousands of events;
 * it is killed (SIGKILL) at random points and restarted. At the end the output stream holds each
 * emitted event exactly once: on restart the projection resumes from its last checkpoint and, as
 * a real node's EmittedStream does (src/KurrentDB.Projections.V1/Services/Processing/Emitting/
 * EmittedStream.cs: ReadStreamEventsBackwardCompleted, CollectAlreadyCommittedEvents,
 * SubmitWriteEventsInRecoveryLoop), reads back the events already in the stream stamped after that
 * checkpoint and passes over the same writes instead of writing them again.
 */
import { afterAll, describe, expect, it } from "vitest"
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { jsonEvent, KurrentDBClient } from "@kurrent/kurrentdb-client"
import { eventuallyAsync } from "../support/eventually.ts"

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const startNodeProcess = async (db: string): Promise<{ child: ChildProcessWithoutNullStreams; connectionString: string }> => {
  const child = spawn(process.execPath, ["--experimental-strip-types", "--no-warnings", "src/server/cli.ts", "--port", "0", "--insecure", "--db", db], {
    stdio: ["pipe", "pipe", "pipe"]
  })
  child.stderr.on("data", () => {})
  const connectionString = await new Promise<string>((resolve, reject) => {
    let buffered = ""
    child.stdout.setEncoding("utf8")
    child.stdout.on("data", (d: string) => {
      buffered += d
      const nl = buffered.indexOf("\n")
      if (nl >= 0) resolve(buffered.slice(0, nl).trim())
    })
    child.once("exit", (code) => reject(new Error(`the node exited (${code})`)))
  })
  return { child, connectionString }
}

const kill = (child: ChildProcessWithoutNullStreams) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill("SIGKILL")
  })

const readAllOf = async (client: KurrentDBClient, stream: string): Promise<Array<{ n: number; causedBy: unknown }>> => {
  const out: Array<{ n: number; causedBy: unknown }> = []
  try {
    for await (const e of client.readStream<{ type: string; data: { n: number }; metadata: Record<string, unknown> }>(stream)) {
      const metadata = e.event?.metadata as unknown
      const m = metadata instanceof Uint8Array ? JSON.parse(Buffer.from(metadata).toString("utf8")) : metadata as Record<string, unknown>
      out.push({ n: (e.event!.data as { n: number }).n, causedBy: m["$causedBy"] })
    }
  } catch (error) {
    if (!String(error).includes("not found")) throw error
  }
  return out
}

describe("emitted events after a crash", () => {
  const dir = mkdtempSync(join(tmpdir(), "esdb-projcrash-"))
  let current: ChildProcessWithoutNullStreams | undefined
  afterAll(async () => {
    if (current !== undefined) await kill(current)
    rmSync(dir, { recursive: true, force: true })
  })

  it("a projection killed at random points while catching up emits each event exactly once", async () => {
    const N = 6000
    let node = await startNodeProcess(dir)
    current = node.child
    let client = KurrentDBClient.connectionString(node.connectionString)
    for (let i = 0; i < N; i += 500) {
      await client.appendToStream("src", Array.from({ length: 500 }, (_, k) => jsonEvent({ type: "E", data: { n: i + k } })))
    }
    await client.createProjection(
      "emitter",
      `fromStream('src').when({ E: function(s, e) { emit('out', 'Seen', { n: e.data.n }); return s } })`,
      { emitEnabled: true }
    )
    // kill while it catches up, at random points, and restart
    const kills: Array<{ at: number; written: number }> = []
    for (let round = 0; round < 4; round++) {
      await sleep(150 + Math.floor(Math.random() * 900))
      await client.dispose()
      await kill(node.child)
      node = await startNodeProcess(dir)
      current = node.child
      client = KurrentDBClient.connectionString(node.connectionString)
      kills.push({ at: round, written: (await readAllOf(client, "out")).length })
    }
    // caught up at last
    await eventuallyAsync("the projection caught up", async () => {
      const status = await client.getProjectionStatus("emitter")
      expect(status.projectionStatus).toBe("Running")
      return (await readAllOf(client, "out")).length >= N && status.progress === 100
    }, { timeoutMs: 60_000, intervalMs: 200 })
    // nothing more is written after it caught up (a duplicate would come with the rest)
    await sleep(300)
    const out = await readAllOf(client, "out")
    const ns = out.map((e) => e.n)
    expect(new Set(ns).size).toBe(N)

    expect(ns.length, `kills: ${JSON.stringify(kills)}`).toBe(N)
    expect(ns).toEqual(Array.from({ length: N }, (_, i) => i))
    expect(new Set(out.map((e) => e.causedBy)).size).toBe(N)
    await client.dispose()
  }, 120_000)
})
