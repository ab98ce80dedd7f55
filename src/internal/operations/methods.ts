/**
 * The methods of `event_store.client.operations.Operations` as the transport takes them.
 *
 * @internal
 */
import {
  OperationsService,
  type ScavengeResp,
  type SetNodePriorityReq,
  type StartScavengeReq,
  type StopScavengeReq
} from "../../generated/operations.ts"
import type { Empty } from "../../generated/shared.ts"
import type { Method } from "../transport/Transport.ts"

/** `Operations.StartScavenge`. @internal */
export const StartScavenge: Method<StartScavengeReq, ScavengeResp> = OperationsService.startScavenge

/** `Operations.StopScavenge`. @internal */
export const StopScavenge: Method<StopScavengeReq, ScavengeResp> = OperationsService.stopScavenge

/** `Operations.Shutdown`. @internal */
export const Shutdown: Method<Empty, Empty> = OperationsService.shutdown

/** `Operations.MergeIndexes`. @internal */
export const MergeIndexes: Method<Empty, Empty> = OperationsService.mergeIndexes

/** `Operations.ResignNode`. @internal */
export const ResignNode: Method<Empty, Empty> = OperationsService.resignNode

/** `Operations.SetNodePriority`. @internal */
export const SetNodePriority: Method<SetNodePriorityReq, Empty> = OperationsService.setNodePriority

/** `Operations.RestartPersistentSubscriptions`. @internal */
export const RestartPersistentSubscriptions: Method<Empty, Empty> = OperationsService.restartPersistentSubscriptions
