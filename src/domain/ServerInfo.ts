/**
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * A gRPC method the node serves, with the features it reports for it (e.g. Streams `read` with
 * `all`, `position`, `events`; PersistentSubscriptions `create` with `stream`, `all`).
 *
 * @since 0.1.0
 * @category models
 */
export class SupportedMethod extends Schema.Class<SupportedMethod>("effect-esdb/SupportedMethod")({
  /** The service's name as the node reports it, e.g. `event_store.client.streams.streams`. */
  serviceName: Schema.String,
  /** The method's name, e.g. `batchappend`. */
  methodName: Schema.String,
  features: Schema.Array(Schema.String)
}) {}

/**
 * What the node reports of itself (`ServerFeatures.getSupportedMethods`): its version and the
 * methods it serves. A node without the ServerFeatures service (older than 21.10) reports
 * nothing: `reported` is false and `version` empty.
 *
 * @since 0.1.0
 * @category models
 */
export class ServerInfo extends Schema.Class<ServerInfo>("effect-esdb/ServerInfo")({
  /** The node's version, e.g. `24.10.0`; empty when not reported. */
  version: Schema.String,
  methods: Schema.Array(SupportedMethod),
  /** Whether the node answered ServerFeatures at all. */
  reported: Schema.Boolean
}) {
  /**
   * Whether the node serves a method (and, when given, reports a feature of it), by names
   * compared without case and with the service's package optional (`"streams"` matches
   * `event_store.client.streams.streams`). Undefined when the node reports nothing.
   */
  supports(service: string, method: string, feature?: string): boolean | undefined {
    if (!this.reported) return undefined
    const s = service.toLowerCase()
    const m = method.toLowerCase()
    const f = feature?.toLowerCase()
    return this.methods.some((x) => {
      const name = x.serviceName.toLowerCase()
      return (name === s || name.endsWith(`.${s}`)) && x.methodName.toLowerCase() === m &&
        (f === undefined || x.features.some((g) => g.toLowerCase() === f))
    })
  }
}
