/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The projection is faulted (`Projections.awaitIdle` met it): `reason` is its fault reason as
 * the node reports it (`stateReason`), e.g. the message a handler threw.
 *
 * @since 0.1.0
 * @category errors
 */
export class ProjectionFaulted extends Schema.TaggedError<ProjectionFaulted>("effect-esdb/ProjectionFaulted")(
  "ProjectionFaulted",
  { name: Schema.String, reason: Schema.String }
) {
  override get message(): string {
    return `Projection '${this.name}' is faulted: ${this.reason}`
  }
}
