/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * A projection of that name already exists. Released servers answer a duplicate create with
 * UNKNOWN "Envelope callback expected Updated, received Conflict instead", newer ones with
 * ALREADY_EXISTS "Duplicate projection names : x": both become this error.
 *
 * @since 0.1.0
 * @category errors
 */
export class ProjectionAlreadyExists extends Schema.TaggedError<ProjectionAlreadyExists>(
  "effect-esdb/ProjectionAlreadyExists"
)("ProjectionAlreadyExists", { name: Schema.String }) {
  override get message(): string {
    return `Projection '${this.name}' already exists`
  }
}
