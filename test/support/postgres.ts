/**
 * A real PostgreSQL server for the event-sourcing tests and the benchmark: Debian's PostgreSQL
 * (`apt-get install postgresql`; `.ci/run` installs it where missing), initialised with initdb in
 * a temporary folder and started on a loopback port, stopped and removed after.
 *
 * PostgreSQL refuses to run as root: when the tests run as root (CI), initdb and the server run
 * as the `postgres` user (or `nobody`) through `runuser`, and the folder is handed to that user.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as PgClient from "@effect/sql-pg/PgClient"
import type * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import { freePort } from "../client/_support.ts"

/** A running server. */
export interface PostgresServer {
  readonly host: string
  readonly port: number
  readonly user: string
  readonly database: string
  readonly stop: () => void
}

/** The folder of PostgreSQL's programs (`initdb`, `pg_ctl`), or `undefined` when it is not installed. */
export const postgresBin = (): string | undefined => {
  const root = "/usr/lib/postgresql"
  if (existsSync(root)) {
    const versions = readdirSync(root).filter((v) => existsSync(join(root, v, "bin", "initdb"))).sort((a, b) => Number(b) - Number(a))
    if (versions[0] !== undefined) return join(root, versions[0], "bin")
  }
  const which = spawnSync("sh", ["-c", "command -v initdb"], { encoding: "utf8" })
  const found = which.stdout.trim()
  return found === "" ? undefined : join(found, "..")
}

const userId = (name: string): { uid: number; gid: number } | undefined => {
  const result = spawnSync("id", ["-u", name], { encoding: "utf8" })
  if (result.status !== 0) return undefined
  const gid = spawnSync("id", ["-g", name], { encoding: "utf8" })
  return { uid: Number(result.stdout.trim()), gid: Number(gid.stdout.trim()) }
}

/**
 * Starts PostgreSQL in a temporary folder on a free loopback port. `durable: false` (the tests'
 * default) turns fsync off; the benchmark keeps PostgreSQL's defaults.
 */
export const startPostgres = async (options: { readonly durable?: boolean } = {}): Promise<PostgresServer> => {
  const bin = postgresBin()
  if (bin === undefined) throw new Error("PostgreSQL is not installed (apt-get install postgresql)")
  const dir = mkdtempSync(join(tmpdir(), "effect-esdb-pg-"))
  const data = join(dir, "data")
  let runAs: Array<string> = []
  if (process.getuid?.() === 0) {
    const name = userId("postgres") !== undefined ? "postgres" : "nobody"
    const ids = userId(name)!
    chownSync(dir, ids.uid, ids.gid)
    chmodSync(dir, 0o700)
    runAs = ["runuser", "-u", name, "--"]
  }
  const run = (program: string, args: Array<string>) => {
    const [command, ...rest] = [...runAs, join(bin, program), ...args]
    execFileSync(command!, rest, { stdio: ["ignore", "pipe", "pipe"], cwd: dir })
  }
  run("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync", "--no-instructions"])
  const port = await freePort()
  const settings = [
    `-p ${port}`,
    `-k ${dir}`,
    "-c listen_addresses=127.0.0.1",
    ...(options.durable === true ? [] : ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"])
  ].join(" ")
  run("pg_ctl", ["-D", data, "-o", settings, "-l", join(dir, "log"), "-w", "-t", "60", "start"])
  let stopped = false
  return {
    host: "127.0.0.1",
    port,
    user: "postgres",
    database: "postgres",
    stop: () => {
      if (stopped) return
      stopped = true
      try {
        run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"])
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }
  }
}

/** The `@effect/sql-pg` client of a server. */
export const pgLayer = (
  server: Pick<PostgresServer, "host" | "port" | "user" | "database">,
  options: { readonly maxConnections?: number } = {}
): Layer.Layer<SqlClient.SqlClient, SqlError> =>
  PgClient.layer({
    host: server.host,
    port: server.port,
    username: server.user,
    database: server.database,
    maxConnections: options.maxConnections ?? 4
  })

/** A PostgreSQL server for the layer's lifetime, and its `@effect/sql-pg` client. */
export const postgresLayer = (
  options: { readonly durable?: boolean; readonly maxConnections?: number } = {}
): Layer.Layer<SqlClient.SqlClient, SqlError> =>
  Layer.unwrap(
    Effect.map(
      Effect.acquireRelease(Effect.promise(() => startPostgres(options)), (server) => Effect.sync(() => server.stop())),
      (server) => pgLayer(server, options)
    )
  )
