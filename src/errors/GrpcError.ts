/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * Any other gRPC failure, kept with its status code, details text and trailing metadata
 * (each value as the string list grpc-js gave).
 *
 * @since 0.1.0
 * @category errors
 */
export class GrpcError extends Schema.TaggedError<GrpcError>("effect-esdb/GrpcError")("GrpcError", {
  code: Schema.Number,
  details: Schema.String,
  metadata: Schema.Record(Schema.String, Schema.Array(Schema.String))
}) {
  override get message(): string {
    return `gRPC status ${this.code}: ${this.details}`
  }
}
