/**
 * A read model for the projector tests: per stream, the number of events and the sum of their
 * `i`; and a journal of every application (no uniqueness on purpose, so that an event applied
 * twice shows as two rows).
 */
import * as Effect from "effect/Effect"
import * as SqlClient from "effect/sql/SqlClient"
import type { RecordedEvent } from "../../src/index.ts"

export const readModel = (prefix: string) => {
  const totals = `${prefix}_totals`
  const journal = `${prefix}_journal`
  return {
    setup: Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS ${totals} (stream text PRIMARY KEY, events int NOT NULL, total bigint NOT NULL)`)
      yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS ${journal} (event_id text NOT NULL)`)
    }),
    handler: (event: RecordedEvent) =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const i = (JSON.parse(event.dataText) as { i: number }).i
        yield* sql.unsafe(
          `INSERT INTO ${totals} (stream, events, total) VALUES ($1, 1, $2)
           ON CONFLICT (stream) DO UPDATE SET events = ${totals}.events + 1, total = ${totals}.total + excluded.total`,
          [event.streamName, i]
        )
        yield* sql.unsafe(`INSERT INTO ${journal} (event_id) VALUES ($1)`, [event.id])
      }),
    totals: Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql.unsafe<{ stream: string; events: number; total: string }>(
        `SELECT stream, events, total::text AS total FROM ${totals} ORDER BY stream`
      )
      return rows.map((row) => ({ stream: row.stream, events: Number(row.events), total: row.total }))
    }),
    journal: Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const [row] = yield* sql.unsafe<{ applied: string; distinct_ids: string }>(
        `SELECT count(*)::text AS applied, count(DISTINCT event_id)::text AS distinct_ids FROM ${journal}`
      )
      return { applied: Number(row!.applied), distinct: Number(row!.distinct_ids) }
    })
  }
}
