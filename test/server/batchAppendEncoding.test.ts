/**
 * The node's hand-written encoder of a successful batch's BatchAppendResp gives the bytes the
 * generated codec gives (framed with the gRPC prefix).
 */
import { assert, describe, it } from "@effect/vitest"
import { randomUUID } from "node:crypto"
import type { UUID } from "../../src/generated/shared.ts"
import { BatchAppendResp } from "../../src/generated/streams.ts"
import { encodeBatchAppendSuccess } from "../../src/server/codec/BatchAppendEncoding.ts"
import { frameMessage } from "../../src/server/transport/MessageFraming.ts"

const generated = (correlationId: UUID | undefined, streamName: Buffer, currentRevision: number, position: number) =>
  frameMessage(
    BatchAppendResp.encode({
      correlationId,
      streamIdentifier: { streamName },
      result: {
        $case: "success",
        value: {
          currentRevisionOption: currentRevision < 0
            ? { $case: "noStream", value: {} }
            : { $case: "currentRevision", value: BigInt(currentRevision) },
          positionOption: { $case: "position", value: { commitPosition: BigInt(position), preparePosition: BigInt(position) } }
        }
      },
      expectedStreamPosition: undefined
    }).finish()
  )

describe("encodeBatchAppendSuccess", () => {
  it("matches the generated codec for every id form, revision, position and stream name", () => {
    const ids: Array<UUID | undefined> = [
      undefined,
      { value: undefined },
      { value: { $case: "string", value: randomUUID() } },
      { value: { $case: "string", value: "" } },
      { value: { $case: "string", value: "not a uuid, ünïcode" } },
      { value: { $case: "structured", value: { mostSignificantBits: 0n, leastSignificantBits: 0n } } },
      { value: { $case: "structured", value: { mostSignificantBits: -1n, leastSignificantBits: 1n } } },
      { value: { $case: "structured", value: { mostSignificantBits: -(2n ** 63n), leastSignificantBits: 2n ** 63n - 1n } } },
      { value: { $case: "structured", value: { mostSignificantBits: 0x1234_5678_9abc_def0n, leastSignificantBits: -0x0fed_cba9_8765_4321n } } }
    ]
    const names = [Buffer.alloc(0), Buffer.from("s"), Buffer.from("stream-é-" + "x".repeat(200)), Buffer.alloc(70_000, 0x61)]
    const revisions = [-1, 0, 1, 127, 128, 16_383, 16_384, 2 ** 31, Number.MAX_SAFE_INTEGER]
    const positions = [0, 1, 127, 128, 300_000, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER]
    let cases = 0
    for (const id of ids) {
      for (const name of names) {
        for (const revision of revisions) {
          for (const position of positions) {
            const want = generated(id, name, revision, position)
            const got = encodeBatchAppendSuccess(id, name, revision, position)
            assert.isTrue(got.equals(want), `id ${JSON.stringify(id, (_, v) => typeof v === "bigint" ? `${v}n` : v)} name ${name.length} rev ${revision} pos ${position}`)
            cases++
          }
        }
      }
    }
    assert.strictEqual(cases, ids.length * names.length * revisions.length * positions.length)
  })
})
