/**
 * `event_store.client.server_features.ServerFeatures`: lists every method the node serves, with
 * lowercased method and service names and the features of PROTOCOL.md §6.
 *
 * @since 0.1.0
 */
import type { SupportedMethod, SupportedMethods } from "../../generated/serverfeatures.ts"
import type { Empty } from "../../generated/shared.ts"
import type { ServerCall, ServiceDefinition, ServiceImplementation, UnaryCallback } from "../transport/ServerCall.ts"

/**
 * The supported-method entries of some service definitions (paths `/package.Service/Method`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const supportedMethodsOf = (services: ReadonlyArray<ServiceDefinition>): Array<SupportedMethod> => {
  const methods: Array<SupportedMethod> = []
  for (const service of services) {
    for (const key of Object.keys(service)) {
      const path = service[key]!.path
      const slash = path.lastIndexOf("/")
      const serviceName = path.slice(1, slash)
      const methodName = path.slice(slash + 1)
      if (!serviceName.includes("client") && !serviceName.includes("kurrentdb.protocol")) continue
      const features: Array<string> = []
      if (serviceName.endsWith(".PersistentSubscriptions")) features.push("stream", "all")
      else if (serviceName === "event_store.client.streams.Streams" && methodName.includes("Read")) {
        features.push("position", "events")
      } else if (serviceName === "event_store.client.streams.Streams" && methodName === "BatchAppend") {
        features.push("deadline_duration")
      } else if (serviceName.endsWith(".Projections") && methodName === "Create") features.push("track_emitted_streams")
      methods.push({ methodName: methodName.toLowerCase(), serviceName: serviceName.toLowerCase(), features })
    }
  }
  return methods
}

/**
 * The ServerFeatures service implementation.
 *
 * @since 0.1.0
 * @category handlers
 */
export const makeServerFeaturesHandler = (
  version: string,
  services: () => ReadonlyArray<ServiceDefinition>
): ServiceImplementation => ({
  getSupportedMethods: (_call: ServerCall<Empty, SupportedMethods>, callback: UnaryCallback<SupportedMethods>) => {
    callback(null, { methods: supportedMethodsOf(services()), eventStoreServerVersion: version })
  }
})
