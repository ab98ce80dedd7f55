/**
 * A node child process on a database directory (bench/storageNode.ts) and its memory, read from
 * /proc: for bench/storage.ts and the storage tests.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { READY_PREFIX } from "./common.ts"

const benchDir = join(dirname(fileURLToPath(import.meta.url)), "..")

/** A running node child. */
export interface StorageNode {
  readonly pid: number
  readonly connectionString: string
  /** Milliseconds from spawn to listening. */
  readonly readyMs: number
  readonly stop: () => Promise<void>
}

/** Resident set size of a process in bytes (VmRSS), or its peak (VmHWM). */
export const rssOf = (pid: number, peak = false): number => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  const m = new RegExp(`^${peak ? "VmHWM" : "VmRSS"}:\\s+(\\d+) kB`, "m").exec(status)
  return m === null ? 0 : Number(m[1]) * 1024
}

/** Starts bench/storageNode.ts on `dir` (`-`: in memory). */
export const startStorageNode = (dir: string): Promise<StorageNode> =>
  new Promise((resolve, reject) => {
    const started = performance.now()
    const child: ChildProcess = spawn(process.execPath, ["--experimental-strip-types", "--no-warnings", join(benchDir, "storageNode.ts"), dir], {
      cwd: join(benchDir, ".."),
      stdio: ["pipe", "pipe", "inherit"]
    })
    const exited = new Promise<void>((done) => child.once("exit", () => done()))
    child.once("error", reject)
    child.once("exit", (code) => reject(new Error(`node exited with ${code}`)))
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (!line.startsWith(READY_PREFIX)) return
      const { connectionString } = JSON.parse(line.slice(READY_PREFIX.length)) as { connectionString: string }
      resolve({
        pid: child.pid!,
        connectionString,
        readyMs: performance.now() - started,
        stop: async () => {
          child.stdin!.end()
          const timer = setTimeout(() => child.kill("SIGKILL"), 10_000)
          await exited
          clearTimeout(timer)
        }
      })
    })
  })
