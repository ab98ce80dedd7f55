/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * `Projections.awaitIdle`'s schedule ended before the projection reached the commit position:
 * `target` is that position, `position` the last one the projection reported (`-1` when it had
 * none), `status` its last status.
 *
 * @since 0.1.0
 * @category errors
 */
export class ProjectionIdleTimeout extends Schema.TaggedError<ProjectionIdleTimeout>("effect-esdb/ProjectionIdleTimeout")(
  "ProjectionIdleTimeout",
  { name: Schema.String, target: Schema.BigInt, position: Schema.BigInt, status: Schema.String }
) {
  override get message(): string {
    return `Projection '${this.name}' did not reach commit position ${this.target} in time ` +
      `(last position ${this.position}, status ${this.status})`
  }
}
