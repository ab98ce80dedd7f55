/**
 * An OS-level exclusive lock on the log file, held for the node's whole life.
 *
 * Node has no `flock`, so a child process holds it: util-linux `flock(1)` opens the log, takes
 * `LOCK_EX | LOCK_NB` on it, and waits on its stdin. The lock is on the log file itself, not on a
 * side file that could be deleted; it belongs to the child's open file, so a second node in the same
 * process is refused like one in another process; and it ends with the child, which ends when its
 * stdin closes: when the node closes the log, and when the node's process dies in any way (SIGKILL
 * included), since the kernel then closes the pipe.
 *
 * Measured on a loaded 2-vCPU machine: taking the lock costs 11 ms median (64 ms at worst over 20)
 * at start, the spawn; nothing after. `node:sqlite` takes its lock in 0.2 ms but only on a database
 * file of its own, which, once deleted, lets a second node in (src/server/README.md).
 *
 * @since 0.1.0
 */
import { spawn } from "node:child_process"
import { createInterface } from "node:readline"

/**
 * A held lock.
 *
 * @since 0.1.0
 * @category models
 */
export interface LogLock {
  /** Releases the lock; resolves once it is released. */
  readonly release: () => Promise<void>
}

/**
 * The log is locked by another node.
 *
 * @since 0.1.0
 * @category errors
 */
export class LogLockedError extends Error {
  /** The locked file. */
  readonly path: string
  constructor(path: string, detail: string) {
    super(`the database is in use: ${path} is locked by another node${detail}`)
    this.name = "LogLockedError"
    this.path = path
  }
}

const BUSY = 75

/**
 * Takes the exclusive lock on `path` (created if missing), or fails with {@link LogLockedError}
 * when another process, or another node in this process, holds it. `detail` is appended to the
 * error (e.g. which process the node's pid file names).
 *
 * @since 0.1.0
 * @category constructors
 */
export const lockFile = (path: string, detail: () => string = () => ""): Promise<LogLock> =>
  new Promise((resolve, reject) => {
    // -o: the command does not inherit the lock; flock itself holds it until `cat` sees stdin end
    const child = spawn("flock", ["--exclusive", "--nonblock", "--close", "--conflict-exit-code", String(BUSY), path, "-c", "echo locked; exec cat >/dev/null"], {
      stdio: ["pipe", "pipe", "pipe"]
    })
    let stderr = ""
    let locked = false
    const exited = new Promise<void>((done) => child.once("exit", () => done()))
    child.stderr!.setEncoding("utf8")
    child.stderr!.on("data", (chunk: string) => (stderr += chunk))
    child.stdin!.on("error", () => {})
    child.once("error", (error) => {
      reject(new Error(`cannot lock ${path}: flock(1) from util-linux is needed for a database directory (${error.message})`))
    })
    child.once("exit", (code) => {
      if (locked) return
      if (code === BUSY) reject(new LogLockedError(path, detail()))
      else reject(new Error(`cannot lock ${path}: flock exited with ${code}${stderr === "" ? "" : `: ${stderr.trim()}`}`))
    })
    const lines = createInterface({ input: child.stdout! })
    lines.once("line", (line) => {
      if (line !== "locked") return
      locked = true
      lines.close()
      // the lock must not keep the process alive by itself
      child.unref()
      ;(child.stdin as unknown as { unref?: () => void }).unref?.()
      ;(child.stdout as unknown as { unref?: () => void }).unref?.()
      ;(child.stderr as unknown as { unref?: () => void }).unref?.()
      let released: Promise<void> | undefined
      resolve({
        release: () => {
          if (released === undefined) {
            // waiting for the release keeps the process alive until it is done
            child.ref()
            child.stdin!.end()
            released = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : exited
          }
          return released
        }
      })
    })
  })
