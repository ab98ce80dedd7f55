/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The TLS settings of the connection do not match the node: its certificate cannot be verified
 * with the configured root certificates, or the connection string says `tls=false` while the node
 * speaks TLS (or the other way round). Retrying cannot help, so it is not retried: `reason` says
 * which setting to change.
 *
 * @since 0.1.0
 * @category errors
 */
export class TlsFailed extends Schema.TaggedError<TlsFailed>("effect-esdb/TlsFailed")("TlsFailed", {
  reason: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {
  override get message(): string {
    return this.reason
  }
}
