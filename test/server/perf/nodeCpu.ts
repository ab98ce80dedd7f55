// Manual benchmark (not a test): node CPU per single-event BatchAppend round trip, driven by the
// raw node:http2 client bench/results/tmp/rawexp.ts in a child process.
// N=20000 npx node test/server/perf/nodeCpu.ts
import { startEmbeddedNode } from "../../../src/server/EmbeddedNode.ts"
import { spawn } from "node:child_process"
const node = await startEmbeddedNode({ port: 2199 })
const N = process.env.N ?? "20000"
// warm
const run = () => new Promise<string>((resolve) => {
  const child = spawn(process.execPath, ["--experimental-strip-types", "--no-warnings", "bench/results/tmp/rawexp.ts", "127.0.0.1:2199", "raw"], { env: { ...process.env, N }, stdio: ["ignore", "pipe", "inherit"] })
  let out = ""
  child.stdout.on("data", (d) => {
    out += d
    if (out.includes("\n")) {
      child.kill()
      resolve(out)
    }
  })
})
await run()
const c0 = process.cpuUsage()
const out = await run()
const c = process.cpuUsage(c0)
const n = Number(N) + 1000
console.log(out.trim(), `| node user ${(c.user / n).toFixed(1)} sys ${(c.system / n).toFixed(1)} µs/op`)
await node.stop()
