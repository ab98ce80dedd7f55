/**
 * `Streams.delete` (soft delete) and `Streams.tombstone` (hard delete): one unary call each,
 * returning the commit position of the deletion.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { GrpcError } from "../../errors/GrpcError.ts"
import { NotFound } from "../../errors/NotFound.ts"
import { Code } from "../../generated/code.ts"
import type { DeleteReq, DeleteResp, TombstoneResp } from "../../generated/streams.ts"
import { expectedRevision, streamIdentifier } from "../convert.ts"
import type { CallError } from "../transport/CallError.ts"
import type { TransportShape } from "../transport/Transport.ts"
import type { WriteOptions } from "./append.ts"
import { type DeleteError, toDeleteError } from "./errors.ts"
import { Delete, Tombstone } from "./methods.ts"
import * as validate from "./validate.ts"

const commitPosition = (response: DeleteResp | TombstoneResp): Effect.Effect<bigint, CallError> =>
  response.positionOption?.$case === "position"
    ? Effect.succeed(response.positionOption.value.commitPosition)
    : Effect.fail(new GrpcError({ code: Code.UNKNOWN, details: "The deletion was acknowledged without a position", metadata: {} }))

/** @internal */
export const deleteStream = (kind: "delete" | "tombstone") =>
(
  transport: TransportShape,
  stream: string,
  options: WriteOptions
): Effect.Effect<bigint, DeleteError> =>
  Effect.suspend(() => {
    const problem = validate.streamName(stream) ?? validate.streamState(options.currentVersion)
    if (problem) return Effect.fail(problem)
    const request: DeleteReq = {
      options: { streamIdentifier: streamIdentifier(stream), expectedStreamRevision: expectedRevision(options.currentVersion) }
    }
    return transport.call({
      name: `Streams.${kind}`,
      kind: "write",
      options,
      context: { stream },
      attributes: { "db.collection.name": stream },
      narrow: (error) =>
        toDeleteError(
          error._tag === "WrongCurrentVersion" && error.actual === "no_stream" && options.currentVersion !== "no_stream"
            ? new NotFound({ stream })
            : error
        )
    }, (spec) => {
      const call: Effect.Effect<DeleteResp | TombstoneResp, CallError> = kind === "delete"
        ? transport.unary(Delete, request, spec)
        : transport.unary(Tombstone, request, spec)
      return Effect.flatMap(call, commitPosition)
    })
  })
