/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * No projection of that name exists (the node's NOT_FOUND "Projection 'x' not found").
 *
 * @since 0.1.0
 * @category errors
 */
export class ProjectionNotFound extends Schema.TaggedError<ProjectionNotFound>("effect-esdb/ProjectionNotFound")(
  "ProjectionNotFound",
  { name: Schema.String }
) {
  override get message(): string {
    return `Projection '${this.name}' not found`
  }
}
