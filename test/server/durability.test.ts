/**
 * A node started with `--db` keeps its data: every acknowledged write survives a SIGKILL, a torn or
 * corrupt tail is cut on restart, and streams, metadata, deletes and users come back as they were.
 */
import * as grpc from "@grpc/grpc-js"
import { afterEach, assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync, statSync, write, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { StreamsClient } from "../../src/generated/streams.ts"
import { type RunningNode, startEmbeddedNode } from "../../src/server/EmbeddedNode.ts"
import { LOG_FILE } from "../../src/server/storage/FileLog.ts"
import {
  allOption,
  any,
  append,
  appendOk,
  basicAuth,
  batchSession,
  connect,
  deleteStream,
  events,
  noStream,
  proposed,
  readAll,
  readOptions,
  revision,
  streamOption,
  subscribe,
  tombstoneStream,
  uniqueStream
} from "./helpers.ts"
import { type CliNode, startCliNode } from "../support/cliNode.ts"

const dirs: Array<string> = []
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "effect-esdb-db-"))
  dirs.push(dir)
  return dir
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

const cli = new URL("../../src/server/cli.ts", import.meta.url).pathname

/**
 * Starts `cli.ts --insecure --port 0 --db <dir>` in a child process; resolves with its port.
 * `slowDiskMs` delays each flush, so that a kill finds writes queued and not yet durable.
 */
const spawnNode = (dir: string, slowDiskMs = 0, extraArgs: ReadonlyArray<string> = []): Promise<CliNode> =>
  startCliNode(dir, { args: extraArgs, echoStderr: true, startTimeoutMs: 20_000, env: { EFFECT_ESDB_TEST_FLUSH_DELAY_MS: String(slowDiskMs) } })

const idsOf = (messages: Parameters<typeof events>[0]) => events(messages).map((e) => e.event!.id!.value!.$case === "string" ? e.event!.id!.value!.value : "")

const readStreamIds = async (streams: StreamsClient, stream: string) => {
  const { messages, error } = await readAll(streams, { options: readOptions({ streamOption: streamOption(stream), countOption: { $case: "count", value: 100_000n } }) })
  assert.isUndefined(error)
  return idsOf(messages)
}

describe("a node with --db", () => {
  it("keeps every acknowledged append exactly once across a SIGKILL, and no part of an unacknowledged one", async () => {
    const dir = tempDir()
    const first = await spawnNode(dir, 15)
    const streams = new StreamsClient(`127.0.0.1:${first.port}`, grpc.credentials.createInsecure())
    const WORKERS = 8
    const EVENTS_PER_APPEND = 3
    interface Attempt {
      readonly ids: ReadonlyArray<string>
      acked: boolean
    }
    const attempts: Array<Array<Attempt>> = Array.from({ length: WORKERS }, () => [])
    const names = Array.from({ length: WORKERS }, (_, w) => uniqueStream(`kill${w}`))
    let acked = 0
    let killed = false
    // half the workers append over Append, half over one BatchAppend session each (the official
    // clients' path)
    const batchWorker = async (w: number) => {
      const session = batchSession(streams)
      while (!killed) {
        const ids = Array.from({ length: EVENTS_PER_APPEND }, () => randomUUID())
        const attempt: Attempt = { ids, acked: false }
        attempts[w]!.push(attempt)
        session.send({
          correlationId: { value: { $case: "string", value: randomUUID() } },
          options: {
            streamIdentifier: { streamName: Buffer.from(names[w]!) },
            expectedStreamPosition: { $case: "any", value: {} },
            deadlineOption: { $case: "deadline21100", value: new Date(Date.now() + 10_000) }
          },
          proposedMessages: ids.map((id) => proposed({ id })),
          isFinal: true
        })
        const [resp] = await session.next()
        if (resp === undefined) return
        if (resp.result?.$case !== "success") throw new Error(`unexpected ${resp.result?.$case}`)
        attempt.acked = true
        acked++
      }
      session.call.cancel()
    }
    const worker = async (w: number) => {
      if (w >= WORKERS / 2) return batchWorker(w)
      for (let n = 0; !killed; n++) {
        const ids = Array.from({ length: EVENTS_PER_APPEND }, () => randomUUID())
        const attempt: Attempt = { ids, acked: false }
        attempts[w]!.push(attempt)
        try {
          const resp = await append(streams, names[w]!, n === 0 ? noStream : revision(n * EVENTS_PER_APPEND - 1), ids.map((id) => ({ id })))
          if (resp.result?.$case !== "success") throw new Error(`unexpected ${resp.result?.$case}`)
          attempt.acked = true
          acked++
        } catch {
          return
        }
      }
    }
    const running = Array.from({ length: WORKERS }, (_, w) => worker(w))
    while (acked < 100) await new Promise((r) => setTimeout(r, 5))
    first.child.kill("SIGKILL")
    killed = true
    await Promise.all(running)
    streams.close()

    const second = await spawnNode(dir)
    const client = new StreamsClient(`127.0.0.1:${second.port}`, grpc.credentials.createInsecure())
    try {
      let inFlightKept = 0
      for (let w = 0; w < WORKERS; w++) {
        const stored = await readStreamIds(client, names[w]!)
        const ackedAttempts = attempts[w]!.filter((a) => a.acked)
        const ackedIds = ackedAttempts.flatMap((a) => a.ids)
        // every acknowledged append, in order, exactly once
        assert.deepStrictEqual(stored.slice(0, ackedIds.length), ackedIds, `stream ${w}`)
        // after them: nothing, or the one append in flight when the node died, whole
        const rest = stored.slice(ackedIds.length)
        const inFlight = attempts[w]![ackedAttempts.length]
        if (rest.length > 0) {
          assert.deepStrictEqual(rest, inFlight?.ids, `stream ${w}: partial or foreign events after the acknowledged ones`)
          inFlightKept++
        }
      }
      // and exactly once in $all too
      const { messages } = await readAll(client, { options: readOptions({ streamOption: allOption(), countOption: { $case: "count", value: 1_000_000n } }) })
      const all = idsOf(messages)
      const wanted = new Set(attempts.flat().flatMap((a) => a.ids))
      const counts = new Map<string, number>()
      for (const id of all) if (wanted.has(id)) counts.set(id, (counts.get(id) ?? 0) + 1)
      for (const a of attempts.flat().filter((x) => x.acked)) for (const id of a.ids) assert.strictEqual(counts.get(id), 1)
      assert.isAtMost(inFlightKept, WORKERS)
      // the restarted node goes on where the log ended
      const stored0 = await readStreamIds(client, names[0]!)
      const next = await append(client, names[0]!, revision(stored0.length - 1), [{}])
      assert.strictEqual(next.result?.$case, "success")
    } finally {
      client.close()
      second.child.kill("SIGTERM")
      await new Promise((r) => second.child.once("exit", r))
    }
  }, 60_000)

  it("makes a write readable only once it is durable, while the writer already decides with it", async () => {
    const dir = tempDir()
    const node = await startEmbeddedNode({ db: dir, dbFlushDelayMs: 400 })
    const c = connect(node)
    try {
      const s = uniqueStream("visible")
      const ids: Array<string> = [randomUUID(), randomUUID()]
      const live = subscribe(c.streams, {
        options: readOptions({ streamOption: streamOption(s, "end"), countOption: { $case: "subscription", value: {} } })
      })
      await live.waitFor((ms) => ms.some((m) => m.content?.$case === "caughtUp"))
      const first = appendOk(c.streams, s, noStream, ids.map((id) => ({ id })))
      await new Promise((r) => setTimeout(r, 150))
      // a live subscription is not told either
      assert.deepStrictEqual(idsOf(live.messages), [])
      // not durable yet: neither the stream nor $all shows it
      const early = await readAll(c.streams, { options: readOptions({ streamOption: streamOption(s) }) })
      assert.strictEqual(early.messages[0]?.content?.$case, "streamNotFound")
      const tail = await readAll(c.streams, { options: readOptions({ streamOption: allOption("end"), readDirection: 1, countOption: { $case: "count", value: 20n } }) })
      assert.isFalse(idsOf(tail.messages).some((id) => ids.includes(id)))
      // but the next write is decided after it: expecting revision 1 succeeds
      const second = appendOk(c.streams, s, revision(1), [{}])
      const [a, b] = await Promise.all([first, second])
      assert.deepStrictEqual(a.currentRevisionOption, { $case: "currentRevision", value: 1n })
      assert.deepStrictEqual(b.currentRevisionOption, { $case: "currentRevision", value: 2n })
      // acknowledged means readable
      assert.deepStrictEqual((await readStreamIds(c.streams, s)).slice(0, 2), ids)
      assert.strictEqual((await readStreamIds(c.streams, s)).length, 3)
      // and the subscription gets them once durable
      await live.waitFor((ms) => idsOf(ms).length === 3)
      assert.deepStrictEqual(idsOf(live.messages).slice(0, 2), ids)
      live.call.cancel()
    } finally {
      c.close()
      await node.stop()
    }
  })

  const appendAndStop = async (dir: string, appends: number) => {
    const node = await startEmbeddedNode({ db: dir })
    const c = connect(node)
    const stream = uniqueStream("torn")
    const ids: Array<Array<string>> = []
    for (let i = 0; i < appends; i++) {
      const batch = [randomUUID(), randomUUID()]
      ids.push(batch)
      await appendOk(c.streams, stream, any, batch.map((id) => ({ id, data: { i, pad: "x".repeat(100) } })))
    }
    c.close()
    await node.stop()
    return { stream, ids }
  }

  const restartAndRead = async (dir: string, stream: string) => {
    const node = await startEmbeddedNode({ db: dir })
    const c = connect(node)
    try {
      const ids = await readStreamIds(c.streams, stream)
      const extra = randomUUID()
      await appendOk(c.streams, stream, any, [{ id: extra }])
      return { ids, extra }
    } finally {
      c.close()
      await node.stop()
    }
  }

  it("cuts a torn last record (a crash in the middle of a write) and goes on after it", async () => {
    const dir = tempDir()
    const { stream, ids } = await appendAndStop(dir, 3)
    const file = join(dir, LOG_FILE)
    const size = statSync(file).size
    writeFileSync(file, readFileSync(file).subarray(0, size - 7))
    const after = await restartAndRead(dir, stream)
    // the last append lost its second record: the whole append is gone, not half of it
    assert.deepStrictEqual(after.ids, ids.slice(0, 2).flat())
    // the cut was made on disk: what was written after it is read back
    const again = await restartAndRead(dir, stream)
    assert.deepStrictEqual(again.ids, [...ids.slice(0, 2).flat(), after.extra])
  })

  it("cuts a corrupt last record (checksum mismatch) and garbage after the last record", async () => {
    const dir = tempDir()
    const { stream, ids } = await appendAndStop(dir, 3)
    const file = join(dir, LOG_FILE)
    const bytes = readFileSync(file)
    bytes[bytes.length - 20] = bytes[bytes.length - 20]! ^ 0xff
    writeFileSync(file, bytes)
    const after = await restartAndRead(dir, stream)
    assert.deepStrictEqual(after.ids, ids.slice(0, 2).flat())

    writeFileSync(file, Buffer.concat([readFileSync(file), Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])]))
    const again = await restartAndRead(dir, stream)
    assert.deepStrictEqual(again.ids, [...ids.slice(0, 2).flat(), after.extra])
  })

  it("refuses a directory held by another live node", async () => {
    const dir = tempDir()
    const child = await spawnNode(dir)
    try {
      let error: unknown
      await startEmbeddedNode({ db: dir }).then((n) => n.stop(), (e: unknown) => (error = e))
      assert.match(String(error), new RegExp(`the database is in use: .* is locked by another node \\(process ${child.child.pid}`))
    } finally {
      child.child.kill("SIGKILL")
      await new Promise((r) => child.child.once("exit", r))
    }
  }, 30_000)

  it("holds an OS lock for its whole life: deleting the lock file lets no second node in; a SIGKILL frees it", async () => {
    const dir = tempDir()
    const first = await spawnNode(dir)
    const client = new StreamsClient(`127.0.0.1:${first.port}`, grpc.credentials.createInsecure())
    const stream = uniqueStream("locked")
    try {
      await appendOk(client, stream, noStream, [{}])
      rmSync(join(dir, "lock"))
      let error: unknown
      await startEmbeddedNode({ db: dir }).then((n) => n.stop(), (e: unknown) => (error = e))
      assert.match(String(error), /the database is in use: .* is locked by another node/)
      // the first node still writes, alone
      await appendOk(client, stream, revision(0), [{}])
    } finally {
      client.close()
      first.child.kill("SIGKILL")
      await new Promise((r) => first.child.once("exit", r))
    }
    // the lock died with the process: a node starts at once, and finds both events
    const node = await startEmbeddedNode({ db: dir })
    const c = connect(node)
    try {
      assert.strictEqual((await readStreamIds(c.streams, stream)).length, 2)
      // a second node in the same process is refused too
      let error: unknown
      await startEmbeddedNode({ db: dir }).then((n) => n.stop(), (e: unknown) => (error = e))
      assert.match(String(error), /is locked by another node/)
    } finally {
      c.close()
      await node.stop()
    }
  }, 30_000)

  it("starts over a stale lock file naming a live unrelated process (pid 1)", async () => {
    const dir = tempDir()
    writeFileSync(join(dir, "lock"), "1")
    const node = await startEmbeddedNode({ db: dir })
    const c = connect(node)
    try {
      await appendOk(c.streams, uniqueStream("stale"), noStream, [{}])
    } finally {
      c.close()
      await node.stop()
    }
  })

  it("refuses to start on a log damaged in its middle, naming the offset; --salvage keeps every intact record and moves the damage aside", async () => {
    const dir = tempDir()
    const node = await startEmbeddedNode({ db: dir })
    const c = connect(node)
    const WORKERS = 10
    const ids: Array<Array<string>> = Array.from({ length: WORKERS }, () => [])
    const names = Array.from({ length: WORKERS }, (_, w) => uniqueStream(`damaged${w}`))
    await Promise.all(names.map(async (name, w) => {
      for (let i = 0; i < 100; i++) {
        const id = randomUUID()
        await appendOk(c.streams, name, any, [{ id, data: { i, pad: "x".repeat(100) } }])
        ids[w]!.push(id)
      }
    }))
    c.close()
    await node.stop()
    // one bit flipped in the middle of the log: in the id of an event acknowledged half way
    const file = join(dir, LOG_FILE)
    const bytes = readFileSync(file)
    const victim = ids[5]![50]!
    const at = bytes.indexOf(Buffer.from(victim, "latin1"))
    assert.isAbove(at, bytes.length / 4)
    assert.isBelow(at, (bytes.length * 3) / 4)
    bytes[at + 3] = bytes[at + 3]! ^ 0x01
    writeFileSync(file, bytes)

    const logged: Array<string> = []
    let error: unknown
    await startEmbeddedNode({ db: dir, logger: (line) => logged.push(line) }).then((n) => n.stop(), (e: unknown) => (error = e))
    assert.match(String(error), /events\.log is damaged at offset (\d+): \d+ bytes cannot be read \(a checksum mismatch\) and valid records follow/)
    const offset = Number(/at offset (\d+)/.exec(String(error))![1])
    assert.isAtMost(offset, at)
    assert.match(String(error), /start the node with --salvage/)
    // nothing cut, nothing logged as done
    assert.deepStrictEqual(readFileSync(file), bytes)
    assert.deepStrictEqual(logged, [])

    // the CLI refuses too (exit code 1, the message on stderr)
    const refused = spawn(process.execPath, ["--experimental-strip-types", "--no-warnings", cli, "--insecure", "--port", "0", "--db", dir], { stdio: ["ignore", "ignore", "pipe"] })
    let refusedStderr = ""
    refused.stderr!.on("data", (chunk: Buffer) => (refusedStderr += chunk.toString()))
    const code = await new Promise((r) => refused.once("exit", r))
    assert.strictEqual(code, 1)
    assert.include(refusedStderr, `damaged at offset ${offset}`)

    // --salvage: every intact record is kept, the damaged bytes are moved aside, and it is logged
    const salvaged = await spawnNode(dir, 0, ["--salvage"])
    const client = new StreamsClient(`127.0.0.1:${salvaged.port}`, grpc.credentials.createInsecure())
    try {
      for (let w = 0; w < WORKERS; w++) {
        const stored = await readStreamIds(client, names[w]!)
        assert.deepStrictEqual(stored, ids[w]!.filter((id) => id !== victim), `stream ${w}`)
      }
      assert.match(salvaged.stderr(), new RegExp(`salvaged: \\d+ damaged bytes at offset ${offset} \\(a checksum mismatch\\) moved to .*events\\.log\\.damaged-${offset}`))
      assert.isTrue(readFileSync(join(dir, `${LOG_FILE}.damaged-${offset}`)).includes(bytes.subarray(at, at + 36)))
    } finally {
      client.close()
      salvaged.child.kill("SIGTERM")
      await new Promise((r) => salvaged.child.once("exit", r))
    }
    // and the next start needs no flag
    const again = await startEmbeddedNode({ db: dir, logger: (line) => logged.push(line) })
    await again.stop()
    assert.deepStrictEqual(logged, [])
  }, 60_000)

  it("answers a full disk as a real node does: the waiting write gets UNAVAILABLE, the node logs it and stops; what was acknowledged is kept", async () => {
    const dir = tempDir()
    let full = false
    const logged: Array<string> = []
    let fatal: Error | undefined
    const node = await startEmbeddedNode({
      db: dir,
      logger: (line) => logged.push(line),
      onFatal: (error) => (fatal = error),
      dbWrite: (fd, buffer, offset, length, position, callback) => {
        if (!full) return write(fd, buffer, offset, length, position, callback)
        // a full disk: part of the buffer is written, then ENOSPC
        write(fd, buffer, offset, Math.min(length, 10), position, (error) => {
          if (error !== null) return callback(error, 0)
          const enospc = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC", errno: -28, syscall: "write" })
          callback(enospc, 0)
        })
      }
    })
    const c = connect(node)
    const stream = uniqueStream("full")
    const kept = randomUUID()
    try {
      await appendOk(c.streams, stream, noStream, [{ id: kept }])
      full = true
      const error = await append(c.streams, stream, revision(0), [{}]).then(() => undefined, (e: grpc.ServiceError) => e)
      assert.strictEqual(error?.code, grpc.status.UNAVAILABLE)
      assert.match(error!.details, /its log failed \(ENOSPC: no space left on device, write\)/)
      // a write decided meanwhile is refused the same way, not "Exception was thrown by handler."
      const meanwhile = await append(c.streams, stream, any, [{}]).then(() => undefined, (e: grpc.ServiceError) => e)
      assert.strictEqual(meanwhile?.code, grpc.status.UNAVAILABLE)
      // logged, and the node stopped on its own
      await node.stopped
      assert.match(String(fatal), /ENOSPC/)
      assert.isTrue(logged.some((line) => /a write failed \(ENOSPC: no space left on device, write\)/.test(line)))
      assert.isTrue(logged.some((line) => /the node stops: its log failed \(ENOSPC/.test(line)))
      const after = await append(c.streams, stream, any, [{}]).then(() => undefined, (e: grpc.ServiceError) => e)
      assert.strictEqual(after?.code, grpc.status.UNAVAILABLE)
    } finally {
      c.close()
      await node.stop()
    }
    // a restart (disk freed) keeps the acknowledged event, cuts the torn part of the failed write and logs the cut
    logged.length = 0
    const again = await startEmbeddedNode({ db: dir, logger: (line) => logged.push(line) })
    const c2 = connect(again)
    try {
      assert.deepStrictEqual(await readStreamIds(c2.streams, stream), [kept])
      assert.isTrue(logged.some((line) => /cut 10 bytes at offset \d+, a torn tail/.test(line)))
    } finally {
      c2.close()
      await again.stop()
    }
  })

  it("refuses to start on a full disk, logs it and releases the log", async () => {
    const dir = tempDir()
    const logged: Array<string> = []
    const enospc = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" })
    let error: unknown
    await startEmbeddedNode({ db: dir, logger: (line) => logged.push(line), dbWrite: (_fd, _b, _o, _l, _p, callback) => callback(enospc, 0) })
      .then((n) => n.stop(), (e: unknown) => (error = e))
    assert.match(String(error), /ENOSPC/)
    assert.isTrue(logged.some((line) => /a write failed \(ENOSPC/.test(line)))
    // the lock was released: the next start (disk freed) works
    const node = await startEmbeddedNode({ db: dir })
    await node.stop()
  })

  it("restarts with streams, metadata, truncation, deletes and users as they were", async () => {
    const dir = tempDir()
    const admin = basicAuth("admin", "changeit")
    const json = (value: unknown) => ({ type: "$metadata", rawData: Buffer.from(JSON.stringify(value)) })
    const [a, b, cs, d] = [uniqueStream("acl"), uniqueStream("tomb"), uniqueStream("soft"), uniqueStream("tb")]

    let node: RunningNode = await startEmbeddedNode({ db: dir, insecure: false })
    let c = connect(node)
    await appendOk(c.streams, a, noStream, [{}, {}, {}], admin)
    const aMeta = { "$maxCount": 2, "$acl": { "$r": "$admins" }, custom: "kept" }
    await appendOk(c.streams, "$$" + a, any, [json(aMeta)], admin)
    await appendOk(c.streams, b, noStream, [{}, {}], admin)
    assert.isUndefined((await tombstoneStream(c.streams, b, any, admin)).error)
    await appendOk(c.streams, cs, noStream, [{}, {}], admin)
    assert.isUndefined((await deleteStream(c.streams, cs, any, admin)).error)
    const dIds = [randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()]
    await appendOk(c.streams, d, noStream, dIds.map((id) => ({ id })), admin)
    await appendOk(c.streams, "$$" + d, any, [json({ "$tb": 3 })], admin)
    const empty = await appendOk(c.streams, uniqueStream("empty"), noStream, [], admin)
    const last = await appendOk(c.streams, uniqueStream("last"), noStream, [{}], admin)
    c.close()
    await node.stop()

    node = await startEmbeddedNode({ db: dir, insecure: false })
    c = connect(node)
    try {
      const read = (stream: string, auth = admin) =>
        readAll(c.streams, { options: readOptions({ streamOption: streamOption(stream) }) }, auth)
      // users: admin still logs in; ops is not an admin; a wrong password is refused
      const aEvents = events((await read(a)).messages)
      assert.deepStrictEqual(aEvents.map((e) => e.event!.streamRevision), [1n, 2n])
      assert.strictEqual((await read(a, basicAuth("ops", "changeit"))).error?.code, grpc.status.PERMISSION_DENIED)
      assert.strictEqual((await read(a, basicAuth("admin", "wrong"))).error?.code, grpc.status.UNAUTHENTICATED)
      const meta = events((await read("$$" + a)).messages)
      assert.deepStrictEqual(JSON.parse(meta[0]!.event!.data.toString()), aMeta)
      // tombstoned stays tombstoned
      const tomb = await read(b)
      assert.deepStrictEqual(tomb.error?.metadata.get("exception"), ["stream-deleted"])
      // soft-deleted reads as not found, and an append continues its numbering
      const soft = await read(cs)
      assert.strictEqual(soft.messages[0]?.content?.$case, "streamNotFound")
      const continued = await appendOk(c.streams, cs, any, [{}], admin)
      assert.deepStrictEqual(continued.currentRevisionOption, { $case: "currentRevision", value: 2n })
      // $tb truncation
      assert.deepStrictEqual(idsOf((await read(d)).messages), dIds.slice(3))
      // the default users were not written again
      const all = await readAll(c.streams, { options: readOptions({ streamOption: allOption(), countOption: { $case: "count", value: 100_000n } }) }, admin)
      const userCreated = events(all.messages).filter((e) => e.event!.streamIdentifier!.streamName.toString() === "$user-admin")
      assert.strictEqual(userCreated.length, 1)
      // positions go on after the old ones (the empty append's position included)
      const lastPosition = last.positionOption?.$case === "position" ? last.positionOption.value.commitPosition : 0n
      const emptyPosition = empty.positionOption?.$case === "position" ? empty.positionOption.value.commitPosition : 0n
      assert.isAbove(Number(lastPosition), Number(emptyPosition))
      const after = await appendOk(c.streams, uniqueStream("after"), noStream, [{}], admin)
      assert.isAbove(Number(after.positionOption?.$case === "position" ? after.positionOption.value.commitPosition : 0n), Number(lastPosition))
      // and the idempotency of a kept write still holds
      const again = await appendOk(c.streams, d, any, dIds.map((id) => ({ id })), admin)
      assert.deepStrictEqual(again.currentRevisionOption, { $case: "currentRevision", value: 4n })
    } finally {
      c.close()
      await node.stop()
    }
  })
})
