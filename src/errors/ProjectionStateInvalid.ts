/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * A projection's state or result did not decode with the Schema the caller gave
 * (`Projections.getState` / `getResult`): `reason` is the Schema's issue.
 *
 * @since 0.1.0
 * @category errors
 */
export class ProjectionStateInvalid extends Schema.TaggedError<ProjectionStateInvalid>("effect-esdb/ProjectionStateInvalid")(
  "ProjectionStateInvalid",
  { name: Schema.String, partition: Schema.String, reason: Schema.String }
) {
  override get message(): string {
    const where = this.partition === "" ? "" : ` (partition '${this.partition}')`
    return `The state of projection '${this.name}'${where} does not decode: ${this.reason}`
  }
}
