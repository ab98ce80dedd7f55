/**
 * Persistent-subscription groups, managed by the official client: create, get info, list, update,
 * delete, for `$all` and for a stream (PROTOCOL.md §4).
 *
 * Real node behaviour:
 * - ServerFeatures lists the service's methods with the features `stream` and `all`, so the
 *   client uses gRPC for `$all` groups, listing and restarting (instead of refusing or HTTP);
 * - GetInfo reports the settings as created (the client sends its defaults), `start_from` as
 *   `0`/`-1`/N or `C:x/P:y`;
 * - an existing group → ALREADY_EXISTS `persistent-subscription-exists`
 *   (PersistentSubscriptionExistsError); a missing one → NOT_FOUND
 *   `persistent-subscription-does-not-exist` (PersistentSubscriptionDoesNotExistError);
 * - a start after the end of `$all` → INTERNAL `persistent-subscription-failed`;
 * - a read batch not smaller than the history buffer → the same, with the ArgumentOutOfRange
 *   message of the real node's group (create and update).
 */
import { describe, expect, it } from "vitest"
import {
  END,
  jsonEvent,
  type KurrentDBClient,
  PersistentSubscriptionDoesNotExistError,
  PersistentSubscriptionExistsError,
  PersistentSubscriptionFailedError,
  persistentSubscriptionToAllSettingsFromDefaults,
  persistentSubscriptionToStreamSettingsFromDefaults,
  START,
  streamNameFilter,
  UNBOUNDED
} from "@kurrent/kurrentdb-client"
import { rejectionOf, uniqueStream, useNode } from "./_support.ts"

let client: KurrentDBClient

useNode({ insecure: true }, (_n, c) => {
  client = c
})

describe("persistent subscriptions to a stream", () => {
  it("create, get info, list, update, delete, with the errors of a real node", async () => {
    const stream = uniqueStream("ps-stream")
    const group = uniqueStream("group")
    await client.appendToStream(stream, [jsonEvent({ type: "e", data: {} }), jsonEvent({ type: "e", data: {} })])
    await client.createPersistentSubscriptionToStream(
      stream,
      group,
      persistentSubscriptionToStreamSettingsFromDefaults({ startFrom: START, maxRetryCount: 3, consumerStrategyName: "Pinned" })
    )
    const info = await client.getPersistentSubscriptionToStreamInfo(stream, group)
    expect(info.eventSource).toBe(stream)
    expect(info.groupName).toBe(group)
    expect(info.connections).toEqual([])
    expect(info.settings.startFrom).toBe(START)
    expect(info.settings.maxRetryCount).toBe(3)
    expect(info.settings.consumerStrategyName).toBe("Pinned")
    expect(info.settings.messageTimeout).toBe(30_000)
    expect(info.settings.checkPointAfter).toBe(2_000)
    expect(info.settings.checkPointLowerBound).toBe(10)
    expect(info.settings.checkPointUpperBound).toBe(1000)
    expect(info.settings.maxSubscriberCount).toBe(UNBOUNDED)
    expect(info.settings.historyBufferSize).toBe(500)
    expect(info.stats.lastKnownEventRevision).toBe(1n)

    await rejectionOf(
      client.createPersistentSubscriptionToStream(stream, group, persistentSubscriptionToStreamSettingsFromDefaults()),
      PersistentSubscriptionExistsError
    )

    const listed = await client.listPersistentSubscriptionsToStream(stream)
    expect(listed.map((i) => i.groupName)).toEqual([group])
    const all = await client.listAllPersistentSubscriptions()
    expect(all.some((i) => i.eventSource === stream && i.groupName === group)).toBe(true)
    await rejectionOf(client.listPersistentSubscriptionsToStream(uniqueStream("none")), PersistentSubscriptionDoesNotExistError)

    await client.updatePersistentSubscriptionToStream(
      stream,
      group,
      persistentSubscriptionToStreamSettingsFromDefaults({ startFrom: END, maxRetryCount: 7 })
    )
    const updated = await client.getPersistentSubscriptionToStreamInfo(stream, group)
    expect(updated.settings.startFrom).toBe(END)
    expect(updated.settings.maxRetryCount).toBe(7)
    expect(updated.settings.consumerStrategyName).toBe("RoundRobin")

    // nothing is parked: replaying (over gRPC, as ServerFeatures lists it) has nothing to do
    await client.replayParkedMessagesToStream(stream, group)
    await client.replayParkedMessagesToStream(stream, group, { stopAt: 10 })

    await client.deletePersistentSubscriptionToStream(stream, group)
    await rejectionOf(client.replayParkedMessagesToStream(stream, group), PersistentSubscriptionDoesNotExistError)
    await rejectionOf(client.getPersistentSubscriptionToStreamInfo(stream, group), PersistentSubscriptionDoesNotExistError)
    await rejectionOf(client.deletePersistentSubscriptionToStream(stream, group), PersistentSubscriptionDoesNotExistError)
    await rejectionOf(
      client.updatePersistentSubscriptionToStream(stream, group, persistentSubscriptionToStreamSettingsFromDefaults()),
      PersistentSubscriptionDoesNotExistError
    )
  })

  it("a revision start is reported as that revision", async () => {
    const stream = uniqueStream("ps-rev")
    const group = uniqueStream("group")
    await client.createPersistentSubscriptionToStream(
      stream,
      group,
      persistentSubscriptionToStreamSettingsFromDefaults({ startFrom: 5n })
    )
    expect((await client.getPersistentSubscriptionToStreamInfo(stream, group)).settings.startFrom).toBe(5n)
  })
})

describe("persistent subscriptions to $all", () => {
  it("create (with a filter), get info, list, update, delete over gRPC", async () => {
    const group = uniqueStream("all-group")
    await client.createPersistentSubscriptionToAll(
      group,
      persistentSubscriptionToAllSettingsFromDefaults({ startFrom: START, extraStatistics: true }),
      { filter: streamNameFilter({ prefixes: ["order-"] }) }
    )
    const info = await client.getPersistentSubscriptionToAllInfo(group)
    expect(info.eventSource).toBe("$all")
    expect(info.settings.startFrom).toBe(START)
    expect(info.settings.extraStatistics).toBe(true)
    expect(info.stats.lastKnownEventPosition).toBeDefined()

    await rejectionOf(
      client.createPersistentSubscriptionToAll(group, persistentSubscriptionToAllSettingsFromDefaults()),
      PersistentSubscriptionExistsError
    )
    const toAll = await client.listPersistentSubscriptionsToAll()
    expect(toAll.map((i) => i.groupName)).toContain(group)
    expect(toAll.every((i) => i.eventSource === "$all")).toBe(true)

    const { position } = await client.appendToStream(uniqueStream("order"), jsonEvent({ type: "e", data: {} }))
    await client.updatePersistentSubscriptionToAll(
      group,
      persistentSubscriptionToAllSettingsFromDefaults({ startFrom: position!, readBatchSize: 5 })
    )
    const updated = await client.getPersistentSubscriptionToAllInfo(group)
    expect(updated.settings.startFrom).toEqual(position)
    expect(updated.settings.readBatchSize).toBe(5)

    await client.restartPersistentSubscriptionSubsystem()
    expect((await client.getPersistentSubscriptionToAllInfo(group)).settings.readBatchSize).toBe(5)

    await client.replayParkedMessagesToAll(group)

    await client.deletePersistentSubscriptionToAll(group)
    await rejectionOf(client.getPersistentSubscriptionToAllInfo(group), PersistentSubscriptionDoesNotExistError)
    await rejectionOf(client.replayParkedMessagesToAll(group), PersistentSubscriptionDoesNotExistError)
    await rejectionOf(client.deletePersistentSubscriptionToAll(group), PersistentSubscriptionDoesNotExistError)
  })

  it("the default start is the end; a start past the end of $all is refused", async () => {
    const group = uniqueStream("all-end")
    await client.createPersistentSubscriptionToAll(group, persistentSubscriptionToAllSettingsFromDefaults())
    expect((await client.getPersistentSubscriptionToAllInfo(group)).settings.startFrom).toBe(END)
    const error = await rejectionOf(
      client.createPersistentSubscriptionToAll(
        uniqueStream("all-far"),
        persistentSubscriptionToAllSettingsFromDefaults({ startFrom: { commit: 1n << 50n, prepare: 1n << 50n } })
      ),
      PersistentSubscriptionFailedError
    )
    expect(error.message).toMatch(/commit position must be less than or equal/)
  })

  it("a read batch not smaller than the history buffer: PersistentSubscriptionFailedError on create and update", async () => {
    const stream = uniqueStream("ps-batch")
    const group = uniqueStream("group")
    const reason = "Specified argument was out of the range of valid values. (Parameter 'ReadBatchSize may not be greater than or equal to BufferSize')"
    const onCreate = await rejectionOf(
      client.createPersistentSubscriptionToStream(
        stream,
        group,
        persistentSubscriptionToStreamSettingsFromDefaults({ readBatchSize: 100, historyBufferSize: 100 })
      ),
      PersistentSubscriptionFailedError
    )
    expect(onCreate.message).toContain(reason)
    await client.createPersistentSubscriptionToStream(stream, group, persistentSubscriptionToStreamSettingsFromDefaults())
    const onUpdate = await rejectionOf(
      client.updatePersistentSubscriptionToStream(
        stream,
        group,
        persistentSubscriptionToStreamSettingsFromDefaults({ readBatchSize: 500 })
      ),
      PersistentSubscriptionFailedError
    )
    expect(onUpdate.message).toContain(reason)
    expect((await client.getPersistentSubscriptionToStreamInfo(stream, group)).settings.readBatchSize).toBe(20)
  })
})
