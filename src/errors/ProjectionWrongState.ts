/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The projection (or the projection subsystem) is not in a state that allows the operation: for
 * example deleting a projection that is still running (the node's "received OperationFailed"),
 * or restarting the subsystem while it is not started. `reason` is the node's text.
 *
 * @since 0.1.0
 * @category errors
 */
export class ProjectionWrongState extends Schema.TaggedError<ProjectionWrongState>("effect-esdb/ProjectionWrongState")(
  "ProjectionWrongState",
  { name: Schema.String, reason: Schema.String }
) {
  override get message(): string {
    return this.name === ""
      ? `The projection subsystem is in the wrong state: ${this.reason}`
      : `Projection '${this.name}' is in the wrong state: ${this.reason}`
  }
}
