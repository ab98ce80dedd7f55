/**
 * Where the `--db` node's memory goes under appends (issue 22; src/server/README.md): starts
 * `src/server/cli.ts --db` in a child with the given Node flags (default none: V8's defaults; the
 * command line's own are on its `#!` line), appends `--events` events of 200-byte JSON over gRPC
 * (Append RPC, 4 appenders, batches of 1,000, as bench/storage.ts), and prints the node's CPU per
 * appended event, its `process.memoryUsage()`, V8's heap spaces, VmRSS/VmHWM and its RSS by kind of
 * mapping (malloc's `brk` heap, anonymous, files); then restarts it and prints the same.
 * With `--expose-gc` among the flags it also prints the memory after a forced full collection;
 * `--signal-prof` sends SIGUSR2 to the node before and after the appends (for a `--import`ed
 * profiler); GC traces (`--trace-gc…`) go to stderr.
 *
 *   node --experimental-strip-types bench/rssProbe.ts [--events 1000000] [--flags "--max-semi-space-size=8"]
 *     [--env MALLOC_ARENA_MAX=2]… [--cli-args "--db-cache-bytes 0"] [--no-restart] [--signal-prof]
 */
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { open } from "./clients/floor.ts"
import { eventsOf, streamName } from "./lib/buildLog.ts"
import { parseAssignment, readPayload } from "./lib/common.ts"
import { rssOf } from "./lib/storageProcs.ts"

const argOf = (name: string): string | undefined => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? process.argv[i + 1] : undefined
}
const EVENTS = Number(argOf("--events") ?? 1_000_000)
const FLAGS = (argOf("--flags") ?? "").split(" ").filter((s) => s !== "")
const ENV = Object.fromEntries(process.argv.flatMap((a, i) => (process.argv[i - 1] === "--env" ? [parseAssignment(a)] : [])))
const CLI_ARGS = (argOf("--cli-args") ?? "").split(" ").filter((s) => s !== "")
const MB = (b: number) => Math.round(b / 1024 / 1024)

const startCli = (dir: string) =>
  new Promise<{ pid: number; connectionString: string; ask: (c: string) => Promise<any>; stop: () => Promise<void>; startMs: number }>((resolve, reject) => {
    const t = performance.now()
    const child = spawn(process.execPath, ["--experimental-strip-types", "--no-warnings", ...FLAGS, "src/server/cli.ts", "--insecure", "--port", "0", "--db", dir, ...CLI_ARGS], {
      cwd: join(import.meta.dirname, ".."),
      env: { ...process.env, ...ENV },
      stdio: ["pipe", "pipe", "inherit"]
    })
    const exited = new Promise<void>((done) => child.once("exit", () => done()))
    child.once("error", reject)
    const waiting: Array<(v: any) => void> = []
    let first = true
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (line.startsWith("[")) {
        process.stderr.write(`${line}\n`)
        return
      }
      if (first) {
        first = false
        resolve({
          pid: child.pid!,
          connectionString: line.trim(),
          startMs: performance.now() - t,
          ask: (c) => new Promise((r) => { waiting.push(r); child.stdin!.write(`${c}\n`) }),
          stop: async () => { child.stdin!.write("stop\n"); await exited }
        })
        return
      }
      if (line.startsWith("{")) waiting.shift()?.(JSON.parse(line))
    })
  })

/** RSS by kind of mapping: the brk heap (malloc's main arena), anonymous mappings, files. */
const smaps = (pid: number) => {
  const text = readFileSync(`/proc/${pid}/smaps`, "utf8")
  const out = { brk: 0, anon: 0, file: 0, anonBig: 0 }
  let kind: keyof typeof out = "anon"
  let size = 0
  for (const line of text.split("\n")) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line)
    if (head !== null) {
      const [a, b] = line.split(" ")[0]!.split("-").map((h) => parseInt(h, 16)) as [number, number]
      size = b - a
      const name = head[1]!.trim()
      kind = name === "[heap]" ? "brk" : name === "" ? (size >= 32 * 1024 * 1024 ? "anonBig" : "anon") : "file"
      continue
    }
    const m = /^Rss:\s+(\d+) kB/.exec(line)
    if (m !== null) out[kind] += Number(m[1]) * 1024
  }
  return { brk: MB(out.brk), anonSmall: MB(out.anon), anonBig: MB(out.anonBig), file: MB(out.file) }
}

const report = async (label: string, node: { pid: number; ask: (c: string) => Promise<any> }) => {
  const mem = (await node.ask("mem")).mem
  const out = { label, rss: MB(rssOf(node.pid)), peak: MB(rssOf(node.pid, true)), heapUsed: MB(mem.heapUsed), heapTotal: MB(mem.heapTotal), external: MB(mem.external), arrayBuffers: MB(mem.arrayBuffers), ...smaps(node.pid) }
  process.stdout.write(`${JSON.stringify(out)}\n`)
  const heap = (await node.ask("heap")).heap as Record<string, { size: number; used: number }>
  process.stdout.write(`  spaces: ${Object.entries(heap).filter(([, v]) => v.size > 0).map(([k, v]) => `${k} ${MB(v.used)}/${MB(v.size)}`).join(", ")}\n`)
  return out
}

const main = async () => {
  const dir = mkdtempSync(join(tmpdir(), "effect-esdb-rss-"))
  try {
    let node = await startCli(dir)
    await report("empty", node)
    const client = await open(node.connectionString, { appendRpc: "append" })
    const PROF = process.argv.includes("--signal-prof")
    if (PROF) {
      process.kill(node.pid, "SIGUSR2")
      await new Promise((r) => setTimeout(r, 500))
    }
    const cpu0 = (await node.ask("cpu")).cpu
    const t = performance.now()
    const streams = Math.ceil(EVENTS / 1000)
    for (let k = 0; k < streams; k += 4) {
      await Promise.all([k, k + 1, k + 2, k + 3].filter((s) => s < streams).map((s) => {
        const total = eventsOf(s, EVENTS, streams)
        return client.appendBatches(streamName(s), Math.ceil(total / 1000), (b) => Array.from({ length: Math.min(1000, total - b * 1000) }, (_, j) => readPayload(b * 1000 + j)))
      }))
    }
    const seconds = (performance.now() - t) / 1000
    const cpu1 = (await node.ask("cpu")).cpu
    if (PROF) {
      process.kill(node.pid, "SIGUSR2")
      await new Promise((r) => setTimeout(r, 3000))
    }
    await client.close()
    const us = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / EVENTS
    process.stdout.write(`${JSON.stringify({ appended: EVENTS, seconds: +seconds.toFixed(1), nodeCpuUsPerEvent: +us.toFixed(2), userUs: +((cpu1.user - cpu0.user) / EVENTS).toFixed(2), load: (await import("node:fs")).readFileSync("/proc/loadavg", "utf8").trim() })}\n`)
    await report("after appends", node)
    await new Promise((r) => setTimeout(r, 2000))
    await report("after appends +2s", node)
    await new Promise((r) => setTimeout(r, 10000))
    await report("after appends +12s", node)
    if (FLAGS.includes("--expose-gc")) {
      const m = (await node.ask("gc")).mem
      process.stdout.write(`${JSON.stringify({ label: "after forced gc", rss: MB(rssOf(node.pid)), heapUsed: MB(m.heapUsed), heapTotal: MB(m.heapTotal), external: MB(m.external), arrayBuffers: MB(m.arrayBuffers) })}\n`)
    }
    await node.stop()
    if (!process.argv.includes("--no-restart")) {
      node = await startCli(dir)
      process.stdout.write(`${JSON.stringify({ restartListeningMs: Math.round(node.startMs) })}\n`)
      await report("after restart", node)
      await new Promise((r) => setTimeout(r, 2000))
      await report("after restart +2s", node)
      await node.stop()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1) })
