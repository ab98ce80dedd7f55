/**
 * The Monitoring service over real gRPC: Stats streams a real node's keys with measured values,
 * without credentials, every `refresh_time_period_in_ms` on the node's Clock, until cancelled.
 */
import * as grpc from "@grpc/grpc-js"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { readFileSync } from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import { MonitoringClient, type StatsResp } from "../../src/generated/monitoring.ts"
import { EmbeddedNode, type RunningNode, startEmbeddedNode } from "../../src/server/EmbeddedNode.ts"
import { eventuallyAsync } from "../support/eventually.ts"
import { appendOk, connect } from "./helpers.ts"

const client = (node: RunningNode) =>
  new MonitoringClient(
    node.insecure ? `${node.host}:${node.port}` : `localhost:${node.port}`,
    node.insecure ? grpc.credentials.createInsecure() : grpc.credentials.createSsl(readFileSync(node.caFile!))
  )

/** Opens a Stats call; `next()` resolves with the next message (or rejects with the call's error). */
const openStats = (m: MonitoringClient, refreshMs: bigint) => {
  const queue: Array<Map<string, string>> = []
  const waiting: Array<(v: Map<string, string>) => void> = []
  let failure: grpc.ServiceError | undefined
  const failed: Array<(e: grpc.ServiceError) => void> = []
  const call = m.stats({ useMetadata: false, refreshTimePeriodInMs: refreshMs })
  call.on("data", (r: StatsResp) => {
    const map = new Map(r.stats.map((e) => [e.key, e.value]))
    const w = waiting.shift()
    if (w !== undefined) w(map)
    else queue.push(map)
  })
  call.on("error", (e: grpc.ServiceError) => {
    failure = e
    for (const f of failed.splice(0)) f(e)
  })
  return {
    call,
    received: () => queue.length,
    next: () =>
      new Promise<Map<string, string>>((resolve, reject) => {
        const ready = queue.shift()
        if (ready !== undefined) return resolve(ready)
        if (failure !== undefined) return reject(failure)
        waiting.push(resolve)
        failed.push(reject)
      })
  }
}

describe("Monitoring.Stats", () => {
  it("streams a real node's keys with measured values, without credentials on a secure node", async () => {
    const node = await startEmbeddedNode({ insecure: false })
    const m = client(node)
    try {
      const s = openStats(m, 50n)
      const first = await s.next()
      assert.strictEqual(first.get("proc-id"), String(process.pid))
      assert.strictEqual(first.get("sys-totalMem"), String(os.totalmem()))
      assert.match(first.get("proc-startTime")!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/)
      assert.isAbove(Number(first.get("proc-mem")), 1_000_000)
      assert.isAbove(Number(first.get("es-checksum")), 0)
      assert.strictEqual(first.get("es-queue-StorageWriterQueue-queueName"), "StorageWriterQueue")
      assert.isAtLeast(Number(first.get("es-queue-StorageWriterQueue-totalItemsProcessed")), 6)
      assert.isAtLeast(Number(first.get("proc-tcp-connections")), 1)
      for (const key of ["proc-cpu", "sys-cpu", "sys-freeMem", "proc-gc-totalBytesInHeaps", "sys-loadavg-1m"]) {
        assert.isTrue(Number.isFinite(Number(first.get(key))), key)
      }
      assert.isTrue([...first.keys()].some((k) => /^sys-drive-.+-availableBytes$/.test(k)))
      // refreshed: a later collection (stats are collected at most once a second, as a real node's)
      const later = await s.next()
      assert.strictEqual(later.get("proc-id"), String(process.pid))
      s.call.cancel()
    } finally {
      m.close()
      await node.stop()
    }
  })

  it("a node stopping ends open Stats calls with OK", async () => {
    const node = await startEmbeddedNode({ insecure: true })
    const m = client(node)
    try {
      const s = openStats(m, 60_000n)
      await s.next()
      const ended = new Promise<void>((resolve) => s.call.on("end", () => resolve()))
      await node.stop()
      await ended
    } finally {
      m.close()
    }
  })

  it.effect("the refresh period runs on the node's Clock (a TestClock through EmbeddedNode.layer)", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      const m = client(node)
      const s = openStats(m, 3_600_000n)
      yield* Effect.promise(() => s.next())
      // an hour of the test clock passes: the second message comes
      yield* TestClock.adjust("1 hour")
      const second = yield* Effect.promise(() => s.next())
      assert.strictEqual(second.get("proc-id"), String(process.pid))
      yield* TestClock.adjust("1 hour")
      yield* Effect.promise(() => s.next())
      s.call.cancel()
      m.close()
    }).pipe(Effect.provide(EmbeddedNode.layer({ insecure: true }))), { timeout: 30_000 })

  it.effect("a client that stops reading: ticks are skipped while the previous message waits, nothing piles up on the node", () =>
    Effect.gen(function*() {
      const node = yield* EmbeddedNode
      const m = client(node)
      let received = 0
      let lastAt = Date.now()
      const call = m.stats({ useMetadata: false, refreshTimePeriodInMs: 3_600_000n })
      call.on("data", () => {
        received++
        lastAt = Date.now()
      })
      call.on("error", () => {})
      yield* Effect.promise(() => new Promise<void>((resolve) => call.once("data", () => resolve())))
      call.pause()
      // 3000 refresh periods pass while the client reads nothing (its buffers and the HTTP/2
      // windows hold a few hundred messages; the node holds at most one more)
      const ticks = 3000
      for (let i = 0; i < ticks; i++) yield* TestClock.adjust("1 hour")
      call.resume()
      // whatever was buffered (flow-control windows, one message on the node) arrives; then quiet
      yield* Effect.promise(() => eventuallyAsync("a second without a message", () => Date.now() - lastAt >= 1000, { intervalMs: 100 }))
      assert.isAbove(received, 1)
      assert.isBelow(received, ticks / 2, `${received} of ${ticks + 1} messages: ticks were not skipped`)
      // the call is alive (writing past backpressure would have had the transport reset it)
      const before = received
      yield* TestClock.adjust("1 hour")
      yield* Effect.promise(() => eventuallyAsync("a message after the client read again", () => received > before))
      call.cancel()
      m.close()
    }).pipe(Effect.provide(EmbeddedNode.layer({ insecure: true }))), { timeout: 60_000 })
})

describe("HTTP /stats", () => {
  const get = (node: RunningNode, path: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.get({ host: node.host, port: node.port, path }, (res) => {
        let body = ""
        res.setEncoding("utf8")
        res.on("data", (chunk: string) => (body += chunk))
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }))
      })
      req.on("error", reject)
    })

  it("answers the measured stats grouped by their names as a real node, flat with group=false, one group by path", async () => {
    const node = await startEmbeddedNode({ insecure: true })
    try {
      const first = JSON.parse((await get(node, "/stats")).body)
      // grouped (StatsContainer.Group): proc-gc-totalBytesInHeaps → proc.gc.totalBytesInHeaps
      assert.strictEqual(first.proc.id, process.pid)
      assert.isAbove(first.proc.mem, 0)
      assert.isNumber(first.proc.cpu)
      assert.isAbove(first.proc.gc.totalBytesInHeaps, 0)
      assert.isAbove(first.proc.threadsCount, 0)
      assert.isNumber(first.proc.diskIo.readOps)
      assert.isNumber(first.proc.tcp.connections)
      assert.match(first.proc.startTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/)
      assert.strictEqual(first.sys.totalMem, os.totalmem())
      assert.isNumber(first.sys.loadavg["1m"])
      assert.isNumber(first.sys.cpu)
      assert.isAbove(first.es.checksum, 0)
      assert.strictEqual(first.es.queue.StorageWriterQueue.queueName, "StorageWriterQueue")
      const processed = first.es.queue.StorageWriterQueue.totalItemsProcessed
      assert.isAbove(processed, 0)
      // measured, not constant: the writer's figures move with writes (after the one-second memo)
      const c = connect(node)
      await appendOk(c.streams, "stats-test", { $case: "any", value: {} }, [{ data: { k: 1 } }])
      c.close()
      const later = await eventuallyAsync(
        "the stats to move",
        async () => JSON.parse((await get(node, "/stats")).body),
        { timeoutMs: 10_000, intervalMs: 200, until: (s) => s.es.queue.StorageWriterQueue.totalItemsProcessed > processed }
      )
      assert.isAbove(later.es.checksum, first.es.checksum)
      const flat = JSON.parse((await get(node, "/stats?group=false")).body)
      assert.strictEqual(flat["proc-id"], process.pid)
      assert.strictEqual(flat["es-queue-StorageWriterQueue-queueName"], "StorageWriterQueue")
      const proc = JSON.parse((await get(node, "/stats/proc/gc")).body)
      assert.deepStrictEqual(Object.keys(proc).sort(), Object.keys(later.proc.gc).sort())
      assert.strictEqual((await get(node, "/stats/nothing")).status, 404)
      const refused = await get(node, "/stats/proc?group=false")
      assert.strictEqual(refused.status, 400)
      assert.strictEqual(refused.body, "Dynamic stats selection works only with grouping enabled")
    } finally {
      await node.stop()
    }
  })
})
