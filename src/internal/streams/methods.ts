/**
 * The methods of `event_store.client.streams.Streams` as the transport takes them: the generated
 * codecs, except on the measured hot paths (Read replies, BatchAppend requests and replies),
 * where the hand-written codecs of internal/codec run.
 *
 * @internal
 */
import {
  type AppendReq,
  type AppendResp,
  BatchAppendResp,
  type DeleteReq,
  type DeleteResp,
  type ReadReq,
  StreamsService,
  type TombstoneReq,
  type TombstoneResp
} from "../../generated/streams.ts"
import { type AppendSuccess, readAppendSuccess } from "../codec/BatchAppendReply.ts"
import { decodeReadResp, type ReadMessage } from "../codec/ReadRespDecoder.ts"
import type { Method } from "../transport/Transport.ts"

/** `Streams.Read`, replies decoded by {@link decodeReadResp}. @internal */
export const Read: Method<ReadReq, ReadMessage> = {
  path: StreamsService.read.path,
  requestSerialize: StreamsService.read.requestSerialize,
  responseDeserialize: decodeReadResp
}

/** `Streams.Append` (client streaming). @internal */
export const Append: Method<AppendReq, AppendResp> = StreamsService.append

/** `Streams.Delete`. @internal */
export const Delete: Method<DeleteReq, DeleteResp> = StreamsService.delete

/** `Streams.Tombstone`. @internal */
export const Tombstone: Method<TombstoneReq, TombstoneResp> = StreamsService.tombstone

/**
 * `Streams.BatchAppend`: requests are encoded beforehand by `encodeBatchAppendReq` (so they are
 * passed through), the common reply (success, string correlation id) is read by hand.
 *
 * @internal
 */
export const BatchAppend: Method<Buffer, BatchAppendResp | AppendSuccess> = {
  path: StreamsService.batchAppend.path,
  requestSerialize: (bytes) => bytes,
  responseDeserialize: (bytes) => readAppendSuccess(bytes) ?? BatchAppendResp.decode(bytes)
}
