/**
 * The embedded cluster (src/server/cluster), measured in one process (client and members):
 *
 * - appends acknowledged: `--appends` single-event appends from `--callers` concurrent raw gRPC
 *   callers, on a single node in memory, a single node with `--db` on the same file system the
 *   cluster's members use (`/dev/shm` when there is one), and the leader of a 3-member cluster
 *   (acknowledged once 2 members fsynced); interleaved A, B, C over `--rounds` rounds, medians of
 *   wall time and of the process's CPU per append (`process.cpuUsage()`: the client, and every
 *   member, share the process);
 * - failover: the leader killed, until another member is elected, and until it is Leader (its
 *   epoch held by a majority), `--rounds` times, each killed member restarted (truncated if need
 *   be, caught up) after it;
 * - catch-up: a member stopped while `--appends` appends are made, then restarted: until it
 *   follows with every record.
 *
 *   node --experimental-strip-types --no-warnings bench/cluster.ts [--appends 3000] [--callers 16]
 *        [--rounds 3] [--out bench/results/cluster.json]
 */
import { randomUUID } from "node:crypto"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { startEmbeddedCluster } from "../src/server/cluster/EmbeddedCluster.ts"
import { type RunningNode, startEmbeddedNode } from "../src/server/EmbeddedNode.ts"
import { any, append, connect } from "../test/server/helpers.ts"

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const appends = arg("--appends", 3000)
const callers = arg("--callers", 16)
const rounds = arg("--rounds", 3)
const outIndex = process.argv.indexOf("--out")
const out = outIndex >= 0 ? process.argv[outIndex + 1]! : "bench/results/cluster.json"
const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const quiet = () => {}

/** `n` appends from `callers` concurrent callers: wall ms and process CPU µs per append. */
const run = async (node: RunningNode, n: number) => {
  const c = connect(node)
  let started = 0
  const cpu = process.cpuUsage()
  const t = performance.now()
  await Promise.all(Array.from({ length: callers }, async (_, k) => {
    while (started < n) {
      started++
      const resp = await append(c.streams, `bench-${k}`, any, [{ id: randomUUID(), data: { payload: "x".repeat(100) } }])
      if (resp.result?.$case !== "success") throw new Error("append failed")
    }
  }))
  const ms = performance.now() - t
  const used = process.cpuUsage(cpu)
  c.close()
  return { ms, cpuUsPerAppend: (used.user + used.system) / n }
}

const shm = existsSync("/dev/shm") ? "/dev/shm" : tmpdir()
const dbDir = mkdtempSync(join(shm, "bench-cluster-node-"))
const load: { before: Array<number>; after?: Array<number> } = { before: loadavg() }
const memory = await startEmbeddedNode({ logger: quiet })
const file = await startEmbeddedNode({ db: dbDir, logger: quiet })
const cluster = await startEmbeddedCluster({ nodes: 3, logger: quiet })
const leaderNode = () => cluster.node(cluster.leader()!)!
const results: Record<string, Array<{ ms: number; cpuUsPerAppend: number }>> = { memory: [], file: [], cluster: [] }
await run(memory, 200)
await run(file, 200)
await run(leaderNode(), 200)
for (let r = 0; r < rounds; r++) {
  results.memory!.push(await run(memory, appends))
  results.file!.push(await run(file, appends))
  results.cluster!.push(await run(leaderNode(), appends))
}
const summary = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, {
  appendsPerSecond: Math.round(appends / (median(v.map((x) => x.ms)) / 1000)),
  cpuUsPerAppend: Math.round(median(v.map((x) => x.cpuUsPerAppend)))
}]))

const failovers: Array<{ electedMs: number; leaderMs: number; restartMs: number }> = []
for (let r = 0; r < rounds; r++) {
  const first = cluster.leader()!
  const t = performance.now()
  await cluster.kill(first)
  const electedMs = performance.now() - t
  while (cluster.members()[cluster.leader()!]!.state !== "Leader") await new Promise((resolve) => setTimeout(resolve, 1))
  const leaderMs = performance.now() - t
  const t2 = performance.now()
  await cluster.restart(first)
  failovers.push({ electedMs, leaderMs, restartMs: performance.now() - t2 })
}

const catchUps: Array<{ records: number; ms: number }> = []
for (let r = 0; r < rounds; r++) {
  const leader = cluster.leader()!
  const down = [0, 1, 2].find((i) => i !== leader)!
  await cluster.stop(down)
  await run(leaderNode(), appends)
  const t = performance.now()
  await cluster.restart(down)
  while (cluster.store(down)!.log.length < cluster.store(leader)!.log.length) await new Promise((resolve) => setTimeout(resolve, 1))
  catchUps.push({ records: cluster.store(leader)!.log.length, ms: performance.now() - t })
}
load.after = loadavg()

await memory.stop()
await file.stop()
await cluster.close()
rmSync(dbDir, { recursive: true, force: true })

const report = {
  date: new Date().toISOString(),
  loadavg: load,
  appends,
  callers,
  rounds,
  summary,
  results,
  failover: {
    electedMsMedian: Math.round(median(failovers.map((f) => f.electedMs))),
    leaderMsMedian: Math.round(median(failovers.map((f) => f.leaderMs))),
    leaderMsMax: Math.round(Math.max(...failovers.map((f) => f.leaderMs))),
    restartMsMedian: Math.round(median(failovers.map((f) => f.restartMs))),
    rounds: failovers
  },
  catchUp: catchUps
}
writeFileSync(out, JSON.stringify(report, null, 2) + "\n")
console.log(JSON.stringify({ summary, failover: report.failover, catchUp: catchUps, loadavg: load }, null, 2))
