/**
 * The node's v2 streams service seen on the wire (PROTOCOL.md §9): each error's status code,
 * ErrorInfo reason and details; ServerFeatures listing the methods by version; a hostile session
 * bounded by MaxAppendSize; nothing written by a refused request.
 */
import * as grpc from "@grpc/grpc-js"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Code } from "../../src/generated/code.ts"
import { SchemaFormat } from "../../src/generated/kurrentdb/protocol/v2/streams/shared.ts"
import {
  type AppendRecord,
  type AppendRecordsRequest,
  type AppendRequest,
  StreamsServiceClient
} from "../../src/generated/kurrentdb/protocol/v2/streams/streams.ts"
import { v2ErrorOf } from "../../src/internal/transport/classifyError.ts"
import { toTrailers } from "../../src/internal/transport/grpcStatus.ts"
import { type RunningNode, startEmbeddedNode } from "../../src/server/EmbeddedNode.ts"
import { connect, uniqueStream } from "./helpers.ts"

const record = (over: Partial<AppendRecord> = {}): AppendRecord => ({
  properties: {},
  schema: { format: SchemaFormat.SCHEMA_FORMAT_JSON, name: "T" },
  data: Buffer.from("{}"),
  ...over
})

let node: RunningNode
let v2: StreamsServiceClient

beforeAll(async () => {
  node = await startEmbeddedNode({ insecure: true, maxAppendSize: 64 * 1024 })
  v2 = new StreamsServiceClient(`${node.host}:${node.port}`, grpc.credentials.createInsecure())
})
afterAll(async () => {
  v2.close()
  await node.stop()
})

const session = (requests: ReadonlyArray<AppendRequest>) =>
  new Promise<{ error: grpc.ServiceError | null; response: unknown }>((resolve) => {
    const call = v2.appendSession((error, response) => resolve({ error, response }))
    for (const r of requests) call.write(r)
    call.end()
  })

const records = (request: AppendRecordsRequest) =>
  new Promise<{ error: grpc.ServiceError | null; response: unknown }>((resolve) => {
    v2.appendRecords(request, (error, response) => resolve({ error, response }))
  })

const reasonOf = (error: grpc.ServiceError | null) => [error?.code, v2ErrorOf(toTrailers(error?.metadata))?.reason]

describe("v2 streams errors", () => {
  it("no requests: FAILED_PRECONDITION APPEND_SESSION_NO_REQUESTS", async () => {
    assert.deepStrictEqual(reasonOf((await session([])).error), [Code.FAILED_PRECONDITION, "APPEND_SESSION_NO_REQUESTS"])
  })

  it("bad requests: INVALID_ARGUMENT BAD_REQUEST (expected revision -3, no records, empty schema name, unspecified format, bad record id)", async () => {
    const s = uniqueStream("bad")
    for (const request of [
      { stream: s, records: [record()], expectedRevision: -3n },
      { stream: s, records: [] },
      { stream: "", records: [record()] },
      { stream: s, records: [record({ schema: { format: SchemaFormat.SCHEMA_FORMAT_JSON, name: "" } })] },
      { stream: s, records: [record({ schema: { format: SchemaFormat.SCHEMA_FORMAT_UNSPECIFIED, name: "T" } })] },
      { stream: s, records: [record({ recordId: "not-a-uuid" })] }
    ]) {
      const { error } = await session([request])
      assert.deepStrictEqual(reasonOf(error), [Code.INVALID_ARGUMENT, "BAD_REQUEST"], JSON.stringify(request, (_k, v) => typeof v === "bigint" ? String(v) : v))
    }
    const check = await records({ records: [record({ stream: s })], checks: [{ type: { $case: "streamState", value: { stream: s, expectedState: -2n } } }] })
    assert.deepStrictEqual(reasonOf(check.error), [Code.INVALID_ARGUMENT, "BAD_REQUEST"])
    const missing = await records({ records: [record()], checks: [] })
    assert.deepStrictEqual(reasonOf(missing.error), [Code.INVALID_ARGUMENT, "BAD_REQUEST"])
  })

  it("the same stream twice: ABORTED STREAM_ALREADY_IN_APPEND_SESSION, nothing written", async () => {
    const s = uniqueStream("dup")
    const { error } = await session([{ stream: s, records: [record()] }, { stream: s.toUpperCase(), records: [record()] }])
    assert.deepStrictEqual(reasonOf(error), [Code.ABORTED, "STREAM_ALREADY_IN_APPEND_SESSION"])
    const again = await session([{ stream: s, records: [record()], expectedRevision: -1n }])
    assert.isNull(again.error)
  })

  it("a revision conflict: FAILED_PRECONDITION STREAM_REVISION_CONFLICT; expected revision 0 is sent and checked", async () => {
    const s = uniqueStream("rev")
    assert.isNull((await session([{ stream: s, records: [record()], expectedRevision: -1n }])).error)
    const zero = await session([{ stream: s, records: [record()], expectedRevision: 0n }])
    assert.isNull(zero.error)
    const { error } = await session([{ stream: s, records: [record()], expectedRevision: 0n }])
    assert.deepStrictEqual(reasonOf(error), [Code.FAILED_PRECONDITION, "STREAM_REVISION_CONFLICT"])
  })

  it("a record over MaxAppendEventSize or a transaction over MaxAppendSize; a hostile session is cut at the limit", async () => {
    const s = uniqueStream("size")
    const { error } = await session([
      { stream: s, records: [record({ data: Buffer.alloc(40 * 1024), schema: { format: SchemaFormat.SCHEMA_FORMAT_BYTES, name: "B" } })] },
      { stream: s + "-b", records: [record({ data: Buffer.alloc(40 * 1024), schema: { format: SchemaFormat.SCHEMA_FORMAT_BYTES, name: "B" } })] }
    ])
    assert.deepStrictEqual(reasonOf(error), [Code.ABORTED, "APPEND_TRANSACTION_SIZE_EXCEEDED"])
    // a session that never ends: answered as soon as it passes the limit, the rest unread
    const hostile = await new Promise<grpc.ServiceError | null>((resolve) => {
      const call = v2.appendSession((e) => resolve(e))
      let i = 0
      const pump = () => {
        while (i < 10_000) {
          const ok = call.write({ stream: `${s}-h${i++}`, records: [record({ data: Buffer.alloc(1024) })] })
          if (!ok) return call.once("drain", pump)
        }
      }
      pump()
    })
    assert.deepStrictEqual(reasonOf(hostile), [Code.ABORTED, "APPEND_TRANSACTION_SIZE_EXCEEDED"])
  })
})

describe("ServerFeatures by version", () => {
  it("26.1 lists appendsession and appendrecords; 25.1 appendsession only; 24.10 neither", async () => {
    for (const [version, expected] of [
      ["26.1.0", ["appendrecords", "appendsession"]],
      ["25.1.0", ["appendsession"]],
      ["24.10.0", []]
    ] as const) {
      const n = await startEmbeddedNode({ insecure: true, version })
      const c = connect(n)
      try {
        const methods = await new Promise<Array<string>>((resolve, reject) =>
          c.features.getSupportedMethods({}, (e, r) =>
            e ? reject(e) : resolve(r.methods.filter((m) => m.serviceName === "kurrentdb.protocol.v2.streams.streamsservice").map((m) => m.methodName).sort()))
        )
        assert.deepStrictEqual(methods, [...expected])
      } finally {
        c.close()
        await n.stop()
      }
    }
  })
})
