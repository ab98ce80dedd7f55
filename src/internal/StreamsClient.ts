/**
 * The grpc-js client of `event_store.client.streams.Streams` used by the connection: the
 * generated one, except that Read replies go through the hand-written {@link decodeReadResp}.
 *
 * @internal
 */
import * as grpc from "@grpc/grpc-js"
import { type ReadReq, StreamsService, type StreamsClient as GeneratedStreamsClient } from "../generated/streams.ts"
import { decodeReadResp, type ReadMessage } from "./ReadRespDecoder.ts"

/** The Streams service definition with the fast Read decoder. @internal */
export const StreamsServiceDefinition = {
  ...StreamsService,
  read: { ...StreamsService.read, responseDeserialize: decodeReadResp }
} as const

/** @internal */
export interface StreamsClient extends Omit<GeneratedStreamsClient, "read"> {
  read(request: ReadReq, metadata: grpc.Metadata, options?: Partial<grpc.CallOptions>): grpc.ClientReadableStream<ReadMessage>
}

/** @internal */
export const StreamsClient = grpc.makeGenericClientConstructor(
  StreamsServiceDefinition,
  "event_store.client.streams.Streams"
) as unknown as new(address: string, credentials: grpc.ChannelCredentials, options?: Partial<grpc.ClientOptions>) => StreamsClient
