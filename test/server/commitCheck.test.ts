/**
 * The commit check against PROTOCOL.md §1's table (IndexWriter.CheckCommit): each expected state
 * against a new, a live, a soft-deleted and a tombstoned stream, and idempotency by event id.
 */
import { assert, describe, it } from "@effect/vitest"
import { checkCommit, type CommitDecision, type StreamState } from "../../src/server/storage/CommitCheck.ts"
import type { Expected } from "../../src/server/storage/Records.ts"

/** A stream whose events 0..last have ids `e0`, `e1`, … at positions 1000 + n. */
const stream = (last: number, overrides: Partial<StreamState> = {}): StreamState => ({
  tombstoned: false,
  last,
  softDeleted: false,
  metastreamHasEvents: false,
  eventAt: (n) => (n >= 0 && n <= last ? { eventId: `e${n}`, eventNumber: n, position: 1000 + n } : undefined),
  recent: (id) => {
    const n = Number(id.slice(1))
    return id.startsWith("e") && n >= 0 && n <= last ? { eventNumber: n, position: 1000 + n } : undefined
  },
  ...overrides
})

const N = 4
const cases = {
  "new stream": stream(-1),
  "live stream at rev N": stream(N),
  "soft-deleted (last rev N)": stream(N, { softDeleted: true }),
  "tombstoned": stream(N, { tombstoned: true })
}
const any: Expected = { _tag: "Any" }
const noStream: Expected = { _tag: "NoStream" }
const exists: Expected = { _tag: "StreamExists" }
const exact = (r: number): Expected => ({ _tag: "Revision", revision: BigInt(r) })

const ok = (softDeleted = false): CommitDecision => ({ _tag: "Ok", softDeleted })
const wev = (current: number): CommitDecision => ({ _tag: "WrongExpectedVersion", currentRevision: current })
const deleted: CommitDecision = { _tag: "StreamDeleted" }
const fresh = ["new-1", "new-2"]

describe("the commit check (PROTOCOL.md §1)", () => {
  it("decides each expected state against each stream state as the table says", () => {
    // | Expected | New stream | Live stream at rev N | Soft-deleted (last rev N) | Tombstoned |
    const table: Array<[string, Expected, Record<keyof typeof cases, CommitDecision>]> = [
      ["any", any, { "new stream": ok(), "live stream at rev N": ok(), "soft-deleted (last rev N)": ok(true), "tombstoned": deleted }],
      ["no_stream", noStream, { "new stream": ok(), "live stream at rev N": wev(N), "soft-deleted (last rev N)": ok(true), "tombstoned": deleted }],
      ["stream_exists", exists, { "new stream": wev(-1), "live stream at rev N": ok(), "soft-deleted (last rev N)": deleted, "tombstoned": deleted }],
      ["exact N", exact(N), { "new stream": wev(-1), "live stream at rev N": ok(), "soft-deleted (last rev N)": ok(true), "tombstoned": deleted }],
      ["exact N-1", exact(N - 1), { "new stream": wev(-1), "live stream at rev N": wev(N), "soft-deleted (last rev N)": wev(N), "tombstoned": deleted }],
      ["exact N+1", exact(N + 1), { "new stream": wev(-1), "live stream at rev N": wev(N), "soft-deleted (last rev N)": wev(N), "tombstoned": deleted }]
    ]
    for (const [label, expected, row] of table) {
      for (const [state, decision] of Object.entries(row)) {
        assert.deepStrictEqual(checkCommit(cases[state as keyof typeof cases], expected, fresh), decision, `${label} on ${state}`)
      }
    }
  })

  it("stream_exists on an empty stream succeeds when only its metastream has events", () => {
    assert.deepStrictEqual(checkCommit(stream(-1, { metastreamHasEvents: true }), exists, fresh), ok())
  })

  it("any / stream_exists: all ids recently committed in the stream → the original write's result; only some → WEV", () => {
    const live = stream(N)
    for (const expected of [any, exists]) {
      assert.deepStrictEqual(checkCommit(live, expected, ["e1", "e2"]), { _tag: "Idempotent", currentRevision: 2, position: 1002 })
      assert.deepStrictEqual(checkCommit(live, expected, ["e1", "new"]), wev(N))
      // the first id unknown: a new write
      assert.deepStrictEqual(checkCommit(live, expected, ["new", "e1"]), ok())
    }
  })

  it("no_stream / exact below the end: the ids at expected+1… all equal → idempotent, else WEV", () => {
    const live = stream(N)
    assert.deepStrictEqual(checkCommit(live, noStream, ["e0", "e1"]), { _tag: "Idempotent", currentRevision: 1, position: 1001 })
    assert.deepStrictEqual(checkCommit(live, exact(1), ["e2", "e3"]), { _tag: "Idempotent", currentRevision: 3, position: 1003 })
    assert.deepStrictEqual(checkCommit(live, exact(1), ["e2", "x"]), wev(N))
    assert.deepStrictEqual(checkCommit(live, exact(1), ["x"]), wev(N))
    // past the end: WEV
    assert.deepStrictEqual(checkCommit(live, exact(3), ["e4", "e5"]), wev(N))
  })

  it("an empty write decides like any other", () => {
    assert.deepStrictEqual(checkCommit(stream(N), exact(N), []), ok())
    assert.deepStrictEqual(checkCommit(stream(N), exact(1), []), wev(N))
    assert.deepStrictEqual(checkCommit(stream(N, { softDeleted: true }), noStream, []), ok(true))
  })
})
