// Manual benchmark (not a test): node in a child process, raw grpc-js client here.
// npx node test/server/perf/readBench.ts [message|coalesced] [events]
import * as grpc from "@grpc/grpc-js"
import { spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import { readFileSync } from "node:fs"
import { StreamsClient, type ReadResp } from "../../../src/generated/streams.ts"

const framing = process.argv[2] ?? "message"
const total = Number(process.argv[3] ?? 200000)
const child = spawn(process.execPath, [...(process.env.PROF ? ["--cpu-prof", "--cpu-prof-dir=/tmp/prof"] : []), "--experimental-strip-types", "--no-warnings", ...(process.env.TRIVIAL ? ["test/server/perf/trivialServer.ts"] : ["src/server/cli.ts", "--port", "0", "--insecure", "--read-framing", framing])], { stdio: ["ignore", "pipe", "inherit"] })
const conn: string = await new Promise((resolve) => child.stdout.once("data", (d) => resolve(String(d).trim())))
const port = /:(\d+)\?/.exec(conn)![1]
const cpu = () => {
  const f = readFileSync(`/proc/${child.pid}/stat`, "utf8").split(") ")[1]!.split(" ")
  return (Number(f[11]) + Number(f[12])) * 10 // ms (100 Hz)
}
const client = new StreamsClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { "grpc-node.flow_control_window": 4 * 1024 * 1024 } as never)
const stream = "bench-" + randomUUID()
const data = Buffer.from(JSON.stringify({ payload: "x".repeat(170) }))
// fill with BatchAppend
if (!process.env.TRIVIAL) {
  const call = client.batchAppend()
  let pending = 0
  let done: () => void = () => {}
  call.on("data", () => { if (--pending === 0) done() })
  const finished = new Promise<void>((r) => (done = r))
  for (let i = 0; i < total; i += 1000) {
    pending++
    call.write({
      correlationId: { value: { $case: "string", value: randomUUID() } },
      options: { streamIdentifier: { streamName: Buffer.from(stream) }, expectedStreamPosition: { $case: "any", value: {} } },
      proposedMessages: Array.from({ length: Math.min(1000, total - i) }, () => ({
        id: { value: { $case: "string", value: randomUUID() } },
        metadata: [{ key: "type", value: "Bench" }, { key: "content-type", value: "application/json" }],
        customMetadata: Buffer.alloc(0),
        data
      })),
      isFinal: true
    })
  }
  await finished
  call.end()
}
const read = async (label: string, options: object) => {
  const c0 = cpu()
  const t0 = performance.now()
  let n = 0
  await new Promise<void>((resolve, reject) => {
    const call = client.read({ options: { readDirection: 0, resolveLinks: false, uuidOption: { content: { $case: "string", value: {} } }, filterOption: { $case: "noFilter", value: {} }, ...options } as never })
    call.on("data", (m: ReadResp) => {
      if (m.content?.$case === "event") {
        n++
        if (n === total && (options as { countOption: { $case: string } }).countOption.$case === "subscription") { call.cancel(); resolve() }
      }
    })
    call.on("end", resolve)
    call.on("error", (e: grpc.ServiceError) => (e.code === grpc.status.CANCELLED ? resolve() : reject(e)))
  })
  const ms = performance.now() - t0
  const serverMs = cpu() - c0
  console.log(`${framing} ${label}: ${n} events in ${ms.toFixed(0)} ms = ${(n / ms * 1000).toFixed(0)}/s; server CPU ${(serverMs * 1000 / n).toFixed(2)} µs/event`)
}
for (let i = 0; i < (process.env.SKIP_READS ? 0 : 3); i++) {
  await read("read", { streamOption: { $case: "stream", value: { streamIdentifier: { streamName: Buffer.from(stream) }, revisionOption: { $case: "start", value: {} } } }, countOption: { $case: "count", value: BigInt(total) } })
}
if (!process.env.SKIP_READS) await read("subscribe", { streamOption: { $case: "stream", value: { streamIdentifier: { streamName: Buffer.from(stream) }, revisionOption: { $case: "start", value: {} } } }, countOption: { $case: "subscription", value: {} } })
if (!process.env.SKIP_READS) await read("$all read", { streamOption: { $case: "all", value: { allOption: { $case: "start", value: {} } } }, countOption: { $case: "count", value: BigInt(total) } })
// appends
{
  const c0 = cpu()
  const t0 = performance.now()
  const N = Number(process.env.APPENDS ?? 2000)
  for (let i = 0; i < N; i++) {
    await new Promise<void>((resolve, reject) => {
      const call = client.append((e) => (e ? reject(e) : resolve()))
      call.write({ content: { $case: "options", value: { streamIdentifier: { streamName: Buffer.from("ap-" + stream) }, expectedStreamRevision: { $case: "any", value: {} } } } })
      call.write({ content: { $case: "proposedMessage", value: { id: { value: { $case: "string", value: randomUUID() } }, metadata: [{ key: "type", value: "T" }, { key: "content-type", value: "application/json" }], customMetadata: Buffer.alloc(0), data } } })
      call.end()
    })
  }
  const ms = performance.now() - t0
  const f = readFileSync(`/proc/${child.pid}/stat`, "utf8").split(") ")[1]!.split(" ")
  console.log(`server utime ${Number(f[11]) * 10} ms, stime ${Number(f[12]) * 10} ms (cumulative)`)
  console.log(`append x${N}: ${(N / ms * 1000).toFixed(0)} ops/s, server CPU ${((cpu() - c0) * 1000 / N).toFixed(0)} µs/op`)
}
if (!process.env.TRIVIAL) {
  const N = Number(process.env.APPENDS ?? 2000)
  const call = client.batchAppend()
  let resolveOne: () => void = () => {}
  call.on("data", () => resolveOne())
  const c0 = cpu()
  const t0 = performance.now()
  for (let i = 0; i < N; i++) {
    const done = new Promise<void>((r) => (resolveOne = r))
    call.write({
      correlationId: { value: { $case: "string", value: randomUUID() } },
      options: { streamIdentifier: { streamName: Buffer.from("ba-" + stream) }, expectedStreamPosition: { $case: "any", value: {} }, deadlineOption: { $case: "deadline21100", value: new Date(Date.now() + 10000) } },
      proposedMessages: [{ id: { value: { $case: "string", value: randomUUID() } }, metadata: [{ key: "type", value: "T" }, { key: "content-type", value: "application/json" }], customMetadata: Buffer.alloc(0), data }],
      isFinal: true
    })
    await done
  }
  const ms = performance.now() - t0
  console.log(`batch append x${N}: ${(N / ms * 1000).toFixed(0)} ops/s, server CPU ${((cpu() - c0) * 1000 / N).toFixed(0)} µs/op`)
  call.end()
}
client.close()
child.kill("SIGTERM")
