/**
 * The node's command line (`src/server/cli.ts --insecure --db <dir>`) in a child process, for
 * tests that kill it (SIGKILL, SIGTERM) and start it again on the same directory.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createInterface } from "node:readline"

const cli = new URL("../../src/server/cli.ts", import.meta.url).pathname

/** How to start one node. */
export interface CliNodeOptions {
  /** The port (default 0: one the system picks; the node prints it). */
  readonly port?: number | undefined
  /** More flags after `--db <dir>`. */
  readonly args?: ReadonlyArray<string> | undefined
  /** Environment added to the test's (the CLI's test knobs: `EFFECT_ESDB_TEST_*`). */
  readonly env?: Readonly<Record<string, string>> | undefined
  /** Copy the node's stderr to the test's (default: kept only). */
  readonly echoStderr?: boolean | undefined
  /** How long it may take to print its connection string (default 30 s). */
  readonly startTimeoutMs?: number | undefined
  /** Called with the child as soon as it exists (to kill it when the test ends). */
  readonly track?: ((child: ChildProcess) => void) | undefined
}

/** A started node. */
export interface CliNode {
  readonly child: ChildProcess
  /** The port it listens on. */
  readonly port: number
  /** What it has written to stderr so far. */
  readonly stderr: () => string
}

/** Starts the node on `dir`; resolves once it prints its connection string, fails if it exits first. */
export const startCliNode = (dir: string, options: CliNodeOptions = {}): Promise<CliNode> =>
  new Promise((resolve, reject) => {
    const args = ["--insecure", "--port", String(options.port ?? 0), "--db", dir, ...(options.args ?? [])]
    const child = spawn(process.execPath, ["--experimental-strip-types", "--no-warnings", cli, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...options.env }
    })
    options.track?.(child)
    let stderr = ""
    child.stderr!.setEncoding("utf8")
    child.stderr!.on("data", (chunk: string) => {
      stderr += chunk
      if (options.echoStderr === true) process.stderr.write(chunk)
    })
    const timer = setTimeout(() => reject(new Error("the node did not start")), options.startTimeoutMs ?? 30_000)
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`the node exited with ${code}: ${stderr}`))
    })
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const match = /^esdb:\/\/[^:]+:(\d+)/.exec(line)
      if (match === null) return
      clearTimeout(timer)
      resolve({ child, port: Number(match[1]), stderr: () => stderr })
    })
  })

/** Resolves once `child` has exited (at once if it already has). */
export const exited = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once("exit", () => resolve())
  })
