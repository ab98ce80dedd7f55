/**
 * The SQL database of the event-sourcing examples, as an `@effect/sql-pg` client layer:
 *
 * - `DATABASE_URL` set (e.g. `postgres://postgres@127.0.0.1:5432/postgres`): that PostgreSQL;
 * - otherwise PGlite (PostgreSQL compiled to WASM, `@electric-sql/pglite`), in memory, served on
 *   a loopback port by its socket server (`@electric-sql/pglite-socket`), so that the very same
 *   driver and SQL run against it as against a real server. PGlite serves one connection at a
 *   time, so the pool has one connection.
 */
import { PGlite } from "@electric-sql/pglite"
import { PGLiteSocketServer } from "@electric-sql/pglite-socket"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import * as net from "node:net"

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

/** PGlite in memory behind its socket server on a loopback port, for the layer's lifetime. */
export const pglite: Layer.Layer<SqlClient.SqlClient, SqlError> = Layer.unwrap(
  Effect.gen(function*() {
    const { port } = yield* Effect.acquireRelease(
      Effect.promise(async () => {
        const db = await PGlite.create()
        const port = await freePort()
        const server = new PGLiteSocketServer({ db, port, host: "127.0.0.1" })
        await server.start()
        return { db, server, port }
      }),
      ({ db, server }) => Effect.promise(async () => {
        await server.stop()
        await db.close()
      })
    )
    return PgClient.layer({ host: "127.0.0.1", port, username: "postgres", database: "postgres", maxConnections: 1 })
  })
)

/** `DATABASE_URL`'s PostgreSQL when set, PGlite otherwise. */
export const database: Layer.Layer<SqlClient.SqlClient, SqlError> = process.env["DATABASE_URL"]
  ? PgClient.layer({ url: Redacted.make(process.env["DATABASE_URL"]) })
  : pglite
