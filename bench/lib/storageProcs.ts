/**
 * The node's command line (`src/server/cli.ts`, run with the Node flags of its `#!` line, as
 * `npm run server` and the package bin run it) in a child process on a database directory, and its
 * memory, read from /proc: for bench/storage.ts and the storage tests.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..")
const cli = join(root, "src", "server", "cli.ts")

/**
 * The Node flags of the command line's `#!/usr/bin/env -S node …` line (the V8 heap sizing the
 * node runs with; src/server/README.md says why).
 */
export const cliNodeFlags = (): ReadonlyArray<string> => {
  const first = readFileSync(cli, "utf8").split("\n", 1)[0]!
  const m = /^#!\/usr\/bin\/env (?:-S )?node((?: --\S+)*)\s*$/.exec(first)
  if (m === null) throw new Error(`unexpected first line of ${cli}: ${first}`)
  return m[1]!.split(" ").filter((s) => s !== "")
}

/** A running node child. */
export interface StorageNode {
  readonly pid: number
  readonly connectionString: string
  /** Milliseconds from spawn to listening. */
  readonly readyMs: number
  /** The node process's `process.memoryUsage()`. */
  readonly memoryUsage: () => Promise<NodeJS.MemoryUsage>
  /** The node process's `process.cpuUsage()`. */
  readonly cpuUsage: () => Promise<NodeJS.CpuUsage>
  readonly stop: () => Promise<void>
}

/** Resident set size of a process in bytes (VmRSS), or its peak (VmHWM). */
export const rssOf = (pid: number, peak = false): number => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  const m = new RegExp(`^${peak ? "VmHWM" : "VmRSS"}:\\s+(\\d+) kB`, "m").exec(status)
  return m === null ? 0 : Number(m[1]) * 1024
}

/**
 * Starts the command line, insecure on any free port, on `dir` (`-`: in memory), with the Node
 * flags of its `#!` line (`nodeFlags` replaces them) and `args` added.
 */
export const startStorageNode = (
  dir: string,
  options: { readonly nodeFlags?: ReadonlyArray<string>; readonly args?: ReadonlyArray<string> } = {}
): Promise<StorageNode> =>
  new Promise((resolve, reject) => {
    const started = performance.now()
    const child: ChildProcess = spawn(
      process.execPath,
      [
        "--experimental-strip-types",
        "--no-warnings",
        ...(options.nodeFlags ?? cliNodeFlags()),
        cli,
        "--insecure",
        "--port",
        "0",
        ...(dir === "-" ? [] : ["--db", dir]),
        ...(options.args ?? [])
      ],
      { cwd: root, stdio: ["pipe", "pipe", "pipe"] }
    )
    let stderr = ""
    child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4096)))
    const exited = new Promise<void>((done) => child.once("exit", () => done()))
    child.once("error", reject)
    child.once("exit", (code) => reject(new Error(`node exited with ${code}: ${stderr}`)))
    // side channel (cli.ts): one JSON line answers each `cpu` / `mem` line written to stdin
    const answers: Array<(line: Record<string, unknown>) => void> = []
    const ask = (command: string) =>
      new Promise<Record<string, unknown>>((answer) => {
        answers.push(answer)
        child.stdin!.write(`${command}\n`)
      })
    let first = true
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (!first) {
        if (line.startsWith("{")) answers.shift()?.(JSON.parse(line) as Record<string, unknown>)
        return
      }
      first = false
      resolve({
        pid: child.pid!,
        connectionString: line.trim(),
        readyMs: performance.now() - started,
        memoryUsage: async () => (await ask("mem"))["mem"] as NodeJS.MemoryUsage,
        cpuUsage: async () => (await ask("cpu"))["cpu"] as NodeJS.CpuUsage,
        stop: async () => {
          child.stdin!.end("stop\n")
          const timer = setTimeout(() => child.kill("SIGKILL"), 10_000)
          await exited
          clearTimeout(timer)
        }
      })
    })
  })
