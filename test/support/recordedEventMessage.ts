/**
 * A `RecordedEvent` message as a node sends it inside a `ReadResp` (the streams and the persistent
 * services declare the same message, so one fixture serves the tests of both decoders).
 */
import type { ReadResp_ReadEvent_RecordedEvent } from "../../src/generated/streams.ts"

/** An `OrderCreated` JSON event of stream `order-1` at revision 7, with `overrides` applied. */
export const recordedEventMessage = (
  overrides: Partial<ReadResp_ReadEvent_RecordedEvent> = {}
): ReadResp_ReadEvent_RecordedEvent => ({
  id: { value: { $case: "string", value: "0c4410a2-995f-4017-a46f-2bba0d1fc00a" } },
  streamIdentifier: { streamName: Buffer.from("order-1") },
  streamRevision: 7n,
  preparePosition: 1234n,
  commitPosition: 1234n,
  metadata: [
    { key: "type", value: "OrderCreated" },
    { key: "created", value: "17645000000000000" },
    { key: "content-type", value: "application/json" }
  ],
  customMetadata: Buffer.from('{"m":1}'),
  data: Buffer.from('{"order":"123"}'),
  ...overrides
})
