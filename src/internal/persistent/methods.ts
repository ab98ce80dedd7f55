/**
 * The methods of `event_store.client.persistent_subscriptions.PersistentSubscriptions` as the
 * transport takes them: the generated codecs, but for `Read` (the consumer's hot path): its acks
 * and nacks encoded by hand, its replies decoded by hand straight into events.
 *
 * @internal
 */
import {
  type CreateReq,
  type CreateResp,
  type DeleteReq,
  type DeleteResp,
  type GetInfoReq,
  type GetInfoResp,
  type ListReq,
  type ListResp,
  PersistentSubscriptionsService,
  type ReadReq,
  type ReplayParkedReq,
  type ReplayParkedResp,
  type TruncateParkedReq,
  type TruncateParkedResp,
  type UpdateReq,
  type UpdateResp
} from "../../generated/persistent.ts"
import type { Empty } from "../../generated/shared.ts"
import { encodePersistentReadReq } from "../codec/ReadReqEncoder.ts"
import { decodePersistentReadResp, type PersistentReadMessage } from "../codec/ReadRespDecoder.ts"
import type { Method } from "../transport/Transport.ts"

/** `PersistentSubscriptions.Create`. @internal */
export const Create: Method<CreateReq, CreateResp> = PersistentSubscriptionsService.create

/** `PersistentSubscriptions.Update`. @internal */
export const Update: Method<UpdateReq, UpdateResp> = PersistentSubscriptionsService.update

/** `PersistentSubscriptions.Delete`. @internal */
export const Delete: Method<DeleteReq, DeleteResp> = PersistentSubscriptionsService.delete

/** `PersistentSubscriptions.GetInfo`. @internal */
export const GetInfo: Method<GetInfoReq, GetInfoResp> = PersistentSubscriptionsService.getInfo

/** `PersistentSubscriptions.List`. @internal */
export const List: Method<ListReq, ListResp> = PersistentSubscriptionsService.list

/** `PersistentSubscriptions.ReplayParked`. @internal */
export const ReplayParked: Method<ReplayParkedReq, ReplayParkedResp> = PersistentSubscriptionsService.replayParked

/** `PersistentSubscriptions.TruncateParked`. @internal */
export const TruncateParked: Method<TruncateParkedReq, TruncateParkedResp> = PersistentSubscriptionsService.truncateParked

/** `PersistentSubscriptions.RestartSubsystem`. @internal */
export const RestartSubsystem: Method<Empty, Empty> = PersistentSubscriptionsService.restartSubsystem

/**
 * `PersistentSubscriptions.Read` (duplex): acks and nacks encoded by {@link encodePersistentReadReq},
 * replies decoded by {@link decodePersistentReadResp}. @internal
 */
export const Read: Method<ReadReq, PersistentReadMessage> = {
  path: PersistentSubscriptionsService.read.path,
  requestSerialize: encodePersistentReadReq,
  responseDeserialize: decodePersistentReadResp
}
