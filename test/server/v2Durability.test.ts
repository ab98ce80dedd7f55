/**
 * Multi-stream appends (v2 AppendSession and AppendRecords) on a node with `--db`: a SIGKILL in the
 * middle of them leaves every transaction whole or absent, in every stream it wrote, and every
 * acknowledged one is kept.
 */
import * as grpc from "@grpc/grpc-js"
import { afterEach, assert, describe, it } from "@effect/vitest"
import { randomUUID } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { SchemaFormat } from "../../src/generated/kurrentdb/protocol/v2/streams/shared.ts"
import { type AppendRecord, StreamsServiceClient } from "../../src/generated/kurrentdb/protocol/v2/streams/streams.ts"
import { StreamsClient } from "../../src/generated/streams.ts"
import { events, readAll, readOptions, streamOption, uniqueStream } from "./helpers.ts"
import { type CliNode, startCliNode } from "../support/cliNode.ts"

const dirs: Array<string> = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

const spawnNode = (dir: string, slowDiskMs = 0): Promise<CliNode> =>
  startCliNode(dir, { echoStderr: true, startTimeoutMs: 20_000, env: { EFFECT_ESDB_TEST_FLUSH_DELAY_MS: String(slowDiskMs) } })

const record = (id: string, stream?: string): AppendRecord => ({
  recordId: id,
  properties: {},
  schema: { format: SchemaFormat.SCHEMA_FORMAT_JSON, name: "T" },
  data: Buffer.from("{}"),
  stream
})

const idsOf = (messages: Parameters<typeof events>[0]) =>
  events(messages).map((e) => e.event!.id!.value!.$case === "string" ? e.event!.id!.value!.value : "")

describe("multi-stream appends with --db", () => {
  it("a SIGKILL leaves each transaction whole or absent in every stream it wrote; acknowledged ones are kept", async () => {
    const dir = mkdtempSync(join(tmpdir(), "effect-esdb-v2db-"))
    dirs.push(dir)
    const first = await spawnNode(dir, 3)
    const v2 = new StreamsServiceClient(`127.0.0.1:${first.port}`, grpc.credentials.createInsecure())
    const WORKERS = 6
    const streams = Array.from({ length: WORKERS }, () => [uniqueStream("x"), uniqueStream("y"), uniqueStream("z")])
    type Attempt = { readonly ids: Array<Array<string>>; acked: boolean }
    const attempts: Array<Array<Attempt>> = streams.map(() => [])
    let killed = false
    let acked = 0
    const session = (names: Array<string>, ids: Array<Array<string>>) =>
      new Promise<void>((resolve, reject) => {
        const call = v2.appendSession((error) => (error ? reject(error) : resolve()))
        names.forEach((stream, k) => call.write({ stream, records: ids[k]!.map((id) => record(id)) }))
        call.end()
      })
    const records = (names: Array<string>, ids: Array<Array<string>>) =>
      new Promise<void>((resolve, reject) => {
        // interleaved: x0 y0 z0 x1 y1 z1
        const list: Array<AppendRecord> = []
        for (let i = 0; i < ids[0]!.length; i++) names.forEach((stream, k) => list.push(record(ids[k]![i]!, stream)))
        v2.appendRecords({ records: list, checks: [] }, (error) => (error ? reject(error) : resolve()))
      })
    const worker = async (w: number) => {
      while (!killed) {
        const ids = streams[w]!.map(() => [randomUUID(), randomUUID()])
        const attempt: Attempt = { ids, acked: false }
        attempts[w]!.push(attempt)
        try {
          await (w % 2 === 0 ? session(streams[w]!, ids) : records(streams[w]!, ids))
          attempt.acked = true
          acked++
        } catch {
          return
        }
      }
    }
    const running = Array.from({ length: WORKERS }, (_, w) => worker(w))
    while (acked < 60) await new Promise((r) => setTimeout(r, 5))
    first.child.kill("SIGKILL")
    killed = true
    await Promise.all(running)
    v2.close()

    const second = await spawnNode(dir)
    const client = new StreamsClient(`127.0.0.1:${second.port}`, grpc.credentials.createInsecure())
    try {
      for (let w = 0; w < WORKERS; w++) {
        const stored: Array<Array<string>> = []
        for (const name of streams[w]!) {
          const { messages } = await readAll(client, {
            options: readOptions({ streamOption: streamOption(name), countOption: { $case: "count", value: 100_000n } })
          })
          stored.push(idsOf(messages))
        }
        const ackedAttempts = attempts[w]!.filter((a) => a.acked)
        for (let k = 0; k < 3; k++) {
          const ackedIds = ackedAttempts.flatMap((a) => a.ids[k]!)
          assert.deepStrictEqual(stored[k]!.slice(0, ackedIds.length), ackedIds, `worker ${w} stream ${k}`)
        }
        // the transaction in flight: in all three streams, or in none
        const inFlight = attempts[w]![ackedAttempts.length]
        const rests = stored.map((s, k) => s.slice(ackedAttempts.flatMap((a) => a.ids[k]!).length))
        const kept = rests.map((r) => r.length > 0)
        assert.isTrue(kept.every((x) => x === kept[0]), `worker ${w}: a transaction kept in some streams only`)
        if (kept[0]) rests.forEach((r, k) => assert.deepStrictEqual(r, inFlight?.ids[k], `worker ${w} stream ${k}`))
      }
    } finally {
      client.close()
      second.child.kill("SIGTERM")
      await new Promise((r) => second.child.once("exit", r))
    }
  }, 60_000)
})
