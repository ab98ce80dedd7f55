/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The scavenge to stop is not the one running (the node's NOT_FOUND `scavenge-not-found`
 * "Scavenge id was invalid."). `running` is the id of the scavenge that runs, when one does.
 *
 * @since 0.1.0
 * @category errors
 */
export class ScavengeNotFound extends Schema.TaggedError<ScavengeNotFound>("effect-esdb/ScavengeNotFound")(
  "ScavengeNotFound",
  { scavengeId: Schema.String, running: Schema.UndefinedOr(Schema.String) }
) {
  override get message(): string {
    return this.running === undefined
      ? `Scavenge '${this.scavengeId}' is not running (no scavenge runs)`
      : `Scavenge '${this.scavengeId}' is not running (scavenge '${this.running}' is)`
  }
}
