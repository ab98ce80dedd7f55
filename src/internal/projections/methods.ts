/**
 * The methods of `event_store.client.projections.Projections` as the transport takes them (the
 * generated codecs: none of these is on a hot path).
 *
 * @internal
 */
import {
  type CreateReq,
  type CreateResp,
  type DeleteReq,
  type DeleteResp,
  type DisableReq,
  type DisableResp,
  type EnableReq,
  type EnableResp,
  ProjectionsService,
  type ResetReq,
  type ResetResp,
  type ResultReq,
  type ResultResp,
  type StateReq,
  type StateResp,
  type StatisticsReq,
  type StatisticsResp,
  type UpdateReq,
  type UpdateResp
} from "../../generated/projections.ts"
import type { Empty } from "../../generated/shared.ts"
import type { Method } from "../transport/Transport.ts"

/** `Projections.Create`. @internal */
export const Create: Method<CreateReq, CreateResp> = ProjectionsService.create

/** `Projections.Update`. @internal */
export const Update: Method<UpdateReq, UpdateResp> = ProjectionsService.update

/** `Projections.Delete`. @internal */
export const Delete: Method<DeleteReq, DeleteResp> = ProjectionsService.delete

/** `Projections.Statistics` (server streaming: one reply per projection). @internal */
export const Statistics: Method<StatisticsReq, StatisticsResp> = ProjectionsService.statistics

/** `Projections.Disable` (`write_checkpoint` false: abort). @internal */
export const Disable: Method<DisableReq, DisableResp> = ProjectionsService.disable

/** `Projections.Enable`. @internal */
export const Enable: Method<EnableReq, EnableResp> = ProjectionsService.enable

/** `Projections.Reset`. @internal */
export const Reset: Method<ResetReq, ResetResp> = ProjectionsService.reset

/** `Projections.State`. @internal */
export const State: Method<StateReq, StateResp> = ProjectionsService.state

/** `Projections.Result`. @internal */
export const Result: Method<ResultReq, ResultResp> = ProjectionsService.result

/** `Projections.RestartSubsystem`. @internal */
export const RestartSubsystem: Method<Empty, Empty> = ProjectionsService.restartSubsystem
