/**
 * Consuming persistent-subscription groups with the official client, for `$all` and for a stream
 * (PROTOCOL.md §4, `PersistentSubscription.cs` of the real node):
 * - events arrive with `retryCount` 0, acked ones are not delivered again;
 * - nack retry delivers again with `retryCount` + 1; skip and stop drop the message (a real node's
 *   `StopSubscription` does nothing); park writes a `$>` to
 *   `$persistentsubscription-<stream>::<group>-parked` with the reason
 *   "Client explicitly NAK'ed message.\n<reason>";
 * - a message not acked within `messageTimeout` is retried, then parked once its retry count
 *   reaches `maxRetryCount` ("Reached retry count of N");
 * - replaying parked messages delivers the parked event through its link in the parked stream,
 *   with retry count 0, and GetInfo's parked count drops to 0;
 * - GetInfo shows the connected consumer.
 */
import { describe, expect, it } from "vitest"
import {
  jsonEvent,
  type KurrentDBClient,
  PARK,
  type PersistentSubscriptionToAll,
  type PersistentSubscriptionToStream,
  persistentSubscriptionToAllSettingsFromDefaults,
  persistentSubscriptionToStreamSettingsFromDefaults,
  RETRY,
  SKIP,
  START,
  STOP,
  streamNameFilter
} from "@kurrent/kurrentdb-client"
import { eventuallyAsync, uniqueStream, useNode } from "./_support.ts"

let client: KurrentDBClient

useNode({ insecure: true }, (_n, c) => {
  client = c
})

type Kind = "stream" | "all"

const setup = async (kind: Kind, events: number, settings: { messageTimeout?: number; maxRetryCount?: number } = {}) => {
  const stream = uniqueStream(`ps-read-${kind}`)
  const group = uniqueStream("g")
  await client.appendToStream(stream, Array.from({ length: events }, (_, i) => jsonEvent({ type: "e", data: { i } })))
  if (kind === "stream") {
    await client.createPersistentSubscriptionToStream(
      stream,
      group,
      persistentSubscriptionToStreamSettingsFromDefaults({ startFrom: START, ...settings })
    )
  } else {
    await client.createPersistentSubscriptionToAll(
      group,
      persistentSubscriptionToAllSettingsFromDefaults({ startFrom: START, ...settings }),
      { filter: streamNameFilter({ prefixes: [stream] }) }
    )
  }
  const source = kind === "stream" ? stream : "$all"
  const subscribe = (): PersistentSubscriptionToStream | PersistentSubscriptionToAll =>
    kind === "stream"
      ? client.subscribeToPersistentSubscriptionToStream(stream, group, { bufferSize: 1 })
      : client.subscribeToPersistentSubscriptionToAll(group, { bufferSize: 1 })
  const info = () =>
    kind === "stream" ? client.getPersistentSubscriptionToStreamInfo(stream, group) : client.getPersistentSubscriptionToAllInfo(group)
  const replay = () =>
    kind === "stream" ? client.replayParkedMessagesToStream(stream, group) : client.replayParkedMessagesToAll(group)
  const parkedStream = `$persistentsubscription-${source}::${group}-parked`
  return { stream, group, subscribe, info, replay, parkedStream }
}

const reasonOf = (metadata: unknown): string => {
  const parsed = metadata instanceof Uint8Array ? JSON.parse(Buffer.from(metadata).toString("utf8")) as unknown : metadata
  return (parsed as { Reason: string }).Reason
}

const parkedCount = async (info: () => Promise<{ stats: { parkedMessageCount: bigint } }>) => (await info()).stats.parkedMessageCount

for (const kind of ["stream", "all"] as const) {
  describe(`persistent subscription to ${kind === "all" ? "$all" : "a stream"}: reading`, () => {
    it("read, ack, nack retry / skip / stop / park, replay parked", async () => {
      const { info, parkedStream, replay, subscribe } = await setup(kind, 5)
      const subscription = subscribe()
      const seen: Array<[bigint | undefined, number, string | undefined]> = []
      let connections = 0
      const parked: Array<{ type?: string; data?: unknown; metadata?: unknown } | undefined> = []
      for await (const e of subscription) {
        const n = e.event?.revision
        seen.push([n, e.retryCount, e.link?.streamId])
        if (n === 0n) {
          connections = (await info()).connections.length
          await subscription.ack(e)
        } else if (n === 1n && e.retryCount === 0) await subscription.nack(RETRY, "again", e)
        else if (n === 1n) await subscription.ack(e)
        else if (n === 2n) await subscription.nack(SKIP, "skip", e)
        else if (n === 3n) await subscription.nack(STOP, "stop", e)
        else if (n === 4n && e.link === undefined) {
          await subscription.nack(PARK, "poison", e)
          await eventuallyAsync("the poison message parked", () => parkedCount(info), { until: (n) => n === 1n })
          expect(await parkedCount(info)).toBe(1n)
          for await (const p of client.readStream(parkedStream)) parked.push(p.event)
          await replay()
        } else {
          await subscription.ack(e)
          break
        }
      }
      await subscription.unsubscribe()
      expect(connections).toBe(1)
      expect(seen).toEqual([
        [0n, 0, undefined],
        [1n, 0, undefined],
        [1n, 1, undefined],
        [2n, 0, undefined],
        [3n, 0, undefined],
        [4n, 0, undefined],
        // replayed: the parked event, through its link in the parked stream
        [4n, 0, parkedStream]
      ])
      // the parked stream held one `$>` to the event; replaying moved its `$tb` past it
      expect(parked.map((e) => e?.type)).toEqual(["$>"])
      expect(reasonOf(parked[0]!.metadata)).toBe("Client explicitly NAK'ed message.\npoison")
      await eventuallyAsync("the parked message replayed", () => parkedCount(info), { until: (n) => n === 0n })
      expect(await parkedCount(info)).toBe(0n)
    })

    it("a message timeout retries with retryCount + 1, then parks at maxRetryCount", async () => {
      const { info, parkedStream, subscribe } = await setup(kind, 1, { messageTimeout: 100, maxRetryCount: 1 })
      const subscription = subscribe()
      const seen: Array<[bigint | undefined, number]> = []
      for await (const e of subscription) {
        seen.push([e.event?.revision, e.retryCount])
        if (seen.length === 2) break
      }
      expect(seen).toEqual([[0n, 0], [0n, 1]])
      await eventuallyAsync("the timed-out message parked", () => parkedCount(info), { until: (n) => n === 1n })
      await subscription.unsubscribe()
      expect(await parkedCount(info)).toBe(1n)
      const parked = []
      for await (const e of client.readStream(parkedStream)) parked.push(e.event)
      expect(reasonOf(parked[0]!.metadata)).toBe("Reached retry count of 1")
    })
  })
}
