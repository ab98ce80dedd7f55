/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * A user of the node's internal user store, as `Users.details` reports it.
 *
 * @since 0.1.0
 * @category models
 */
export class UserDetails extends Schema.Class<UserDetails>("effect-esdb/UserDetails")({
  /** The login. */
  loginName: Schema.String,
  fullName: Schema.String,
  /** The groups (roles) the user belongs to, e.g. `$admins`, `$ops`. */
  groups: Schema.Array(Schema.String),
  /** Whether the user is disabled (refused authentication). */
  disabled: Schema.Boolean,
  /** When the user's record last changed (the node's time), when the node says. */
  lastUpdated: Schema.UndefinedOr(Schema.Date)
}) {}
