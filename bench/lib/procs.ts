/**
 * Child processes of the benchmark: the node, the seeder and the workers.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { dirname, join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { type Framing, READY_PREFIX, type Sizes, type Variant } from "./common.ts"

export const benchDir = join(dirname(fileURLToPath(import.meta.url)), "..")
export const rootDir = join(benchDir, "..")
const here = benchDir
const root = rootDir
const nodeArgs = ["--experimental-strip-types", "--no-warnings"]
const log = (line: string) => process.stderr.write(`${line}\n`)

export interface Target {
  readonly framing: Framing
  readonly connectionString: string
  readonly cpuUrl: string | undefined
  readonly stop: () => Promise<void>
}

const children = new Set<ChildProcess>()
process.on("exit", () => {
  for (const child of children) child.kill("SIGTERM")
})
process.on("SIGINT", () => process.exit(130))

/** Starts bench/node.ts with a framing and options such as `--db` (or uses `external`, a connection string, as is). */
export const startNodeProcess = (framing: Framing, external: string | undefined, nodeOptions: ReadonlyArray<string> = []): Promise<Target> => {
  if (external !== undefined) {
    return Promise.resolve({ framing: "external", connectionString: external, cpuUrl: undefined, stop: async () => {} })
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, join(here, "node.ts"), framing, ...nodeOptions], {
      cwd: root,
      stdio: ["pipe", "pipe", "inherit"]
    })
    children.add(child)
    const lines = createInterface({ input: child.stdout! })
    const timer = setTimeout(() => reject(new Error("the node did not start within 30 s")), 30_000)
    child.on("exit", (code) => {
      children.delete(child)
      clearTimeout(timer)
      reject(new Error(`the node exited with ${code}`))
    })
    lines.on("line", (line) => {
      if (!line.startsWith(READY_PREFIX)) return
      clearTimeout(timer)
      const ready = JSON.parse(line.slice(READY_PREFIX.length)) as { connectionString: string; cpuUrl: string }
      resolve({
        framing,
        connectionString: ready.connectionString,
        cpuUrl: ready.cpuUrl,
        stop: () =>
          new Promise<void>((done) => {
            child.removeAllListeners("exit")
            child.on("exit", () => {
              children.delete(child)
              done()
            })
            child.stdin!.end()
            setTimeout(() => child.kill("SIGKILL"), 5_000).unref()
          })
      })
    })
  })
}

/** Runs a bench script in a child process; resolves with its stdout (stderr is echoed, indented). */
export const runChild = (script: string, childArgs: ReadonlyArray<string>, extraNodeArgs: ReadonlyArray<string> = []): Promise<string> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, ...extraNodeArgs, join(here, script), ...childArgs], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"]
    })
    children.add(child)
    let out = ""
    let err = ""
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString()
    })
    child.stderr!.on("data", (chunk: Buffer) => {
      err += chunk.toString()
    })
    const timer = setTimeout(() => child.kill("SIGKILL"), 180_000)
    child.on("exit", (code, signal) => {
      clearTimeout(timer)
      children.delete(child)
      if (err.trim() !== "") log(err.trimEnd().split("\n").map((l) => `    | ${l}`).join("\n"))
      if (code === 0) resolve(out)
      else reject(new Error(`${script} ${childArgs.slice(0, 3).join(" ")} exited with ${code ?? signal}: ${err.split("\n")[0] ?? ""}`))
    })
  })

/**
 * Seeds a target with what the read workloads of `sizes` need (plus 1,000,000 events with `rss`),
 * as events of one variant.
 */
export const seedTarget = async (target: Target, sizes: Sizes, rss: boolean, variant: Variant = "json") => {
  log(`seeding ${target.framing} node with ${variant} events${rss ? " (with the 1,000,000-event stream)" : ""}...`)
  const stream = sizes.readStream.events + sizes.readStream.warmup
  const all = Math.max(sizes.readAll.events + sizes.readAll.warmup, sizes.subscribeAll.events + sizes.subscribeAll.warmup, stream)
  await runChild("seed.ts", [target.connectionString, "--stream", String(stream), "--all", String(all), "--variant", variant, ...(rss ? ["--rss"] : [])])
}
