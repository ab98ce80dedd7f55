/**
 * The method of `event_store.client.server_features.ServerFeatures` as the transport takes it.
 *
 * @internal
 */
import { ServerFeaturesService, type SupportedMethods } from "../../generated/serverfeatures.ts"
import type { Empty } from "../../generated/shared.ts"
import type { Method } from "../transport/Transport.ts"

/** `ServerFeatures.GetSupportedMethods`. @internal */
export const GetSupportedMethods: Method<Empty, SupportedMethods> = ServerFeaturesService.getSupportedMethods
