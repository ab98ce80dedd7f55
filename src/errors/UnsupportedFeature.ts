/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The node does not offer this operation (its ServerFeatures do not list the method):
 * `requiredVersion` is the first KurrentDB version that does.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnsupportedFeature extends Schema.TaggedError<UnsupportedFeature>("effect-esdb/UnsupportedFeature")(
  "UnsupportedFeature",
  { feature: Schema.String, requiredVersion: Schema.String, serverVersion: Schema.optional(Schema.String) }
) {
  override get message(): string {
    return `${this.feature} needs KurrentDB ${this.requiredVersion} or later` +
      (this.serverVersion === undefined ? "" : ` (the node is ${this.serverVersion})`)
  }
}
