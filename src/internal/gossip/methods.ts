/**
 * The method of `event_store.client.gossip.Gossip` as the transport takes it.
 *
 * @internal
 */
import { type ClusterInfo, GossipService } from "../../generated/gossip.ts"
import type { Empty } from "../../generated/shared.ts"
import type { Method } from "../transport/Transport.ts"

/** `Gossip.Read`. @internal */
export const Read: Method<Empty, ClusterInfo> = GossipService.read
