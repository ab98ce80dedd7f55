/**
 * classifyError on the v2 APIs' errors: the ErrorInfo reason and typed details of
 * `grpc-status-details-bin` decide the typed error (PROTOCOL.md §2, §9); unreadable details fall
 * back on the status.
 */
import { assert, describe, it } from "@effect/vitest"
import { Code } from "../src/generated/code.ts"
import * as V2 from "../src/generated/kurrentdb/protocol/v2/streams/errors.ts"
import { NotLeaderNodeErrorDetails } from "../src/generated/kurrent/rpc/errors.ts"
import { classifyError } from "../src/internal/transport/classifyError.ts"
import { type RpcFailure, v2Failure } from "../src/server/errors.ts"

const asGrpc = (f: RpcFailure) => ({ code: f.code, details: f.details, metadata: f.metadata.toHttp2Headers() })

const E = "kurrentdb.protocol.v2.streams.errors."

describe("classifyError: v2 errors", () => {
  it("STREAM_REVISION_CONFLICT → WrongCurrentVersion with the stream, expected and actual of the details", () => {
    const f = v2Failure(Code.FAILED_PRECONDITION, "conflict", "STREAM_REVISION_CONFLICT", "streams", {
      typeName: E + "StreamRevisionConflictErrorDetails",
      value: V2.StreamRevisionConflictErrorDetails.encode({ stream: "s", expectedRevision: -4n, actualRevision: -1n }).finish()
    })
    const e = classifyError(asGrpc(f))
    assert.strictEqual(e._tag, "WrongCurrentVersion")
    if (e._tag === "WrongCurrentVersion") assert.deepStrictEqual([e.stream, e.expected, e.actual], ["s", "exists", "no_stream"])
    const g = v2Failure(Code.FAILED_PRECONDITION, "conflict", "STREAM_REVISION_CONFLICT", "streams", {
      typeName: E + "StreamRevisionConflictErrorDetails",
      value: V2.StreamRevisionConflictErrorDetails.encode({ stream: "t", expectedRevision: 3n, actualRevision: 5n }).finish()
    })
    const h = classifyError(asGrpc(g))
    if (h._tag === "WrongCurrentVersion") assert.deepStrictEqual([h.stream, h.expected, h.actual], ["t", 3n, 5n])
    else assert.fail(h._tag)
  })

  it("STREAM_TOMBSTONED → StreamDeleted; the size errors → MaximumAppendSizeExceeded with the maximum", () => {
    const t = classifyError(asGrpc(v2Failure(Code.FAILED_PRECONDITION, "x", "STREAM_TOMBSTONED", "streams", {
      typeName: E + "StreamTombstonedErrorDetails",
      value: V2.StreamTombstonedErrorDetails.encode({ stream: "dead" }).finish()
    })))
    assert.deepStrictEqual([t._tag, "stream" in t ? t.stream : undefined], ["StreamDeleted", "dead"])
    const r = classifyError(asGrpc(v2Failure(Code.INVALID_ARGUMENT, "big", "APPEND_RECORD_SIZE_EXCEEDED", "streams", {
      typeName: E + "AppendRecordSizeExceededErrorDetails",
      value: V2.AppendRecordSizeExceededErrorDetails.encode({ stream: "s", recordId: "r", size: 10, maxSize: 5 }).finish()
    })))
    assert.deepStrictEqual([r._tag, "maximum" in r ? r.maximum : undefined], ["MaximumAppendSizeExceeded", 5])
    const x = classifyError(asGrpc(v2Failure(Code.ABORTED, "big", "APPEND_TRANSACTION_SIZE_EXCEEDED", "streams", {
      typeName: E + "AppendTransactionSizeExceededErrorDetails",
      value: V2.AppendTransactionSizeExceededErrorDetails.encode({ size: 10, maxSize: 7 }).finish()
    })))
    assert.deepStrictEqual([x._tag, "maximum" in x ? x.maximum : undefined], ["MaximumAppendSizeExceeded", 7])
  })

  it("APPEND_CONSISTENCY_VIOLATION → ConsistencyViolation listing every violation, states named", () => {
    const violation = (checkIndex: number, stream: string, expectedState: bigint, actualState: bigint): V2.ConsistencyViolation => ({
      checkIndex,
      type: { $case: "streamState", value: { stream, expectedState, actualState } }
    })
    const e = classifyError(asGrpc(v2Failure(Code.FAILED_PRECONDITION, "x", "APPEND_CONSISTENCY_VIOLATION", "streams", {
      typeName: E + "AppendConsistencyViolationErrorDetails",
      value: V2.AppendConsistencyViolationErrorDetails.encode({
        violations: [violation(0, "a", 2n, -5n), violation(1, "b", -1n, 4n), violation(3, "c", -2n, -6n), violation(4, "d", -6n, -1n)]
      }).finish()
    })))
    assert.strictEqual(e._tag, "ConsistencyViolation")
    if (e._tag !== "ConsistencyViolation") return
    assert.deepStrictEqual(e.violations, [
      { checkIndex: 0, stream: "a", expected: 2n, actual: "deleted" },
      { checkIndex: 1, stream: "b", expected: "no_stream", actual: 4n },
      { checkIndex: 3, stream: "c", expected: "any", actual: "tombstoned" },
      { checkIndex: 4, stream: "d", expected: "tombstoned", actual: "no_stream" }
    ])
  })

  it("BAD_REQUEST, STREAM_ALREADY_IN_APPEND_SESSION, APPEND_SESSION_NO_REQUESTS → InvalidArgument; NOT_LEADER_NODE → NodeIsNotLeader with the leader", () => {
    for (const [code, reason] of [
      [Code.INVALID_ARGUMENT, "BAD_REQUEST"],
      [Code.ABORTED, "STREAM_ALREADY_IN_APPEND_SESSION"],
      [Code.FAILED_PRECONDITION, "APPEND_SESSION_NO_REQUESTS"]
    ] as const) {
      assert.strictEqual(classifyError(asGrpc(v2Failure(code, "text", reason, "streams")))._tag, "InvalidArgument")
    }
    const n = classifyError(asGrpc(v2Failure(Code.FAILED_PRECONDITION, "x", "NOT_LEADER_NODE", "server", {
      typeName: "kurrent.rpc.NotLeaderNodeErrorDetails",
      value: NotLeaderNodeErrorDetails.encode({ currentLeader: { host: "node2", port: 2113, nodeId: undefined } }).finish()
    })))
    assert.deepStrictEqual(n, classifyError(n))
    assert.strictEqual(n._tag, "NodeIsNotLeader")
    if (n._tag === "NodeIsNotLeader") assert.deepStrictEqual(n.leader, { host: "node2", port: 2113 })
  })

  it("garbage in grpc-status-details-bin falls back on the status, typed details undecodable keep the error's kind", () => {
    const garbage = classifyError({ code: Code.FAILED_PRECONDITION, details: "x", metadata: { "grpc-status-details-bin": "////" } })
    assert.strictEqual(garbage._tag, "GrpcError")
    const f = v2Failure(Code.FAILED_PRECONDITION, "x", "STREAM_TOMBSTONED", "streams", { typeName: E + "StreamTombstonedErrorDetails", value: new Uint8Array([0xff]) })
    const e = classifyError(asGrpc(f), { stream: "ctx" })
    assert.deepStrictEqual([e._tag, "stream" in e ? e.stream : undefined], ["StreamDeleted", "ctx"])
  })
})
