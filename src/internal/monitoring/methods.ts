/**
 * The methods of `event_store.client.monitoring.Monitoring` as the transport takes them.
 *
 * @internal
 */
import { MonitoringService, type StatsReq, type StatsResp } from "../../generated/monitoring.ts"
import type { Method } from "../transport/Transport.ts"

/** `Monitoring.Stats` (server streaming: a sample at once, then one per refresh period). @internal */
export const Stats: Method<StatsReq, StatsResp> = MonitoringService.stats
