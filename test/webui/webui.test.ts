/**
 * The node's web UI in a real browser: Debian's `chromium`, headless, driven by playwright-core
 * with its `executablePath` (CHROMIUM, default /usr/bin/chromium). Data goes in through the client
 * (gRPC) and is seen in the page: a stream's events with their JSON pretty-printed, links shown as
 * links, a stream and `$all` followed live, a projection's state, a parked message replayed, and a
 * secure node's login and ACLs (what the gRPC API refuses a user, the UI refuses too). Screenshots
 * go to docs/webui/ (the README shows them) when WEBUI_SCREENSHOTS=1, else to a temporary folder.
 * Run by `.ci/run` as its own step, which installs chromium where missing; without a browser the
 * tests are skipped with a loud message.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Stream from "effect/Stream"
import { existsSync, mkdirSync, mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import * as https from "node:https"
import { readFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { type Browser, chromium, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { EventStoreDB, NewEvent, PersistentSubscriptions, Projections, Streams } from "../../src/index.ts"
import { DEFAULT_SERVER_VERSION, type RunningNode, startEmbeddedNode } from "../../src/server/EmbeddedNode.ts"

/** Polls generously: the page refreshes every 2 s, on a loaded machine. */
const poll = <A>(f: () => Promise<A> | A, options: { timeout?: number } = {}) => expect.poll(f, { timeout: 20_000, ...options })

const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium"
const haveBrowser = existsSync(executablePath)
if (!haveBrowser) {
  console.warn(`\n\n!!! ${executablePath} not found: the web UI browser tests are SKIPPED (apt-get install -y chromium, or set CHROMIUM) !!!\n\n`)
}
// the README's screenshots are refreshed only when asked (WEBUI_SCREENSHOTS=1): a plain run writes
// them to a temporary folder, so it leaves the work tree as it was
const shots = process.env["WEBUI_SCREENSHOTS"] === "1"
  ? resolve(import.meta.dirname, "../../docs/webui")
  : mkdtempSync(join(tmpdir(), "effect-esdb-webui-"))
const id = () => Math.random().toString(36).slice(2, 10)

let browser: Browser
let node: RunningNode
let client: ManagedRuntime.ManagedRuntime<EventStoreDB.Services, unknown>
const run = <A, E>(effect: Effect.Effect<A, E, EventStoreDB.Services>): Promise<A> => client.runPromise(effect)

const append = (stream: string, events: ReadonlyArray<NewEvent>) =>
  run(Effect.gen(function*() {
    const streams = yield* Streams.Streams
    return yield* streams.append(stream, events, { currentVersion: "any" })
  }))

const open = async (hash: string): Promise<Page> => {
  const page = await browser.newPage({ viewport: { width: 1100, height: 620 } })
  page.on("pageerror", (e) => console.error("page error:", e))
  await page.goto(`http://127.0.0.1:${node.port}/web/index.html#${hash}`)
  return page
}

describe.skipIf(!haveBrowser)("web UI in headless chromium", () => {
  beforeAll(async () => {
    mkdirSync(shots, { recursive: true })
    browser = await chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-gpu"] })
    node = await startEmbeddedNode({ insecure: true })
    client = ManagedRuntime.make(EventStoreDB.layer({ connectionString: node.connectionString }) as Layer.Layer<EventStoreDB.Services, unknown>)
  })
  afterAll(async () => {
    await client?.dispose()
    await browser?.close()
    await node?.stop()
  })

  it("shows a stream's events (type, number, time, JSON pretty-printed), its metadata, and links as links", async () => {
    const stream = `order-${id()}`
    await append(stream, [
      NewEvent.json("OrderCreated", { order: 42, lines: [{ sku: "A-1", qty: 2 }] }),
      new NewEvent({ type: "OrderPaid", data: JSON.stringify({ amount: 9.5 }), metadata: JSON.stringify({ by: "ui-test" }) }),
      new NewEvent({ type: "Note", data: "plain text", contentType: "application/octet-stream" })
    ])
    await run(Effect.gen(function*() {
      const streams = yield* Streams.Streams
      yield* streams.setStreamMetadata(stream, { $maxCount: 100 })
    }))
    // a link to the first event
    await append(`links-${stream}`, [new NewEvent({ type: "$>", data: `0@${stream}`, contentType: "application/octet-stream" })])

    const page = await open(`/streams/${stream}`)
    const rows = page.locator("[data-testid=event]")
    await poll(() => rows.count()).toBe(3)
    expect(await rows.nth(0).getAttribute("data-type")).toBe("Note")
    expect(await rows.nth(2).getAttribute("data-type")).toBe("OrderCreated")
    const data = await page.locator("[data-testid=data]").allTextContents()
    expect(data[2]).toContain(`"sku": "A-1"`)
    expect(data[0]).toBe("plain text")
    expect(await page.locator("#metadata").textContent()).toContain(`"$maxCount": 100`)
    await page.screenshot({ path: join(shots, "stream.png") })

    const links = await open(`/streams/links-${stream}`)
    const target = links.locator("[data-testid=link-target]")
    await poll(() => target.count()).toBe(1)
    expect(await target.textContent()).toBe(`0@${stream}`)
    await target.click()
    await poll(() => links.locator("[data-testid=event]").getAttribute("data-type")).toBe("OrderCreated")
    await page.close()
    await links.close()
  })

  it("pages a stream both ways", async () => {
    const stream = `paged-${id()}`
    await append(stream, Array.from({ length: 45 }, (_, i) => NewEvent.json(`E${i}`, { i })))
    const page = await open(`/streams/${stream}`)
    const first = () => page.locator("[data-testid=event]").first().getAttribute("data-type")
    await expect.poll(first).toBe("E44")
    await page.click("#page-older")
    await expect.poll(first).toBe("E24")
    await page.click("#page-older")
    await expect.poll(first).toBe("E4")
    await page.click("#page-newer")
    await expect.poll(first).toBe("E24")
    await page.close()
  })

  it("follows a stream and $all live", async () => {
    const stream = `live-${id()}`
    await append(stream, [NewEvent.json("Before", {})])
    const page = await open(`/streams/${stream}`)
    const all = await open(`/streams/$all`)
    for (const p of [page, all]) {
      await poll(() => p.locator("[data-testid=event]").count()).toBeGreaterThan(0)
      await p.check("#follow")
      await poll(() => p.locator("#follow-status").textContent()).toContain("following")
    }
    await append(stream, [NewEvent.json("Followed", { live: true })])
    for (const p of [page, all]) {
      await poll(() => p.locator("[data-testid=event]").first().getAttribute("data-type"), { timeout: 15_000 }).toBe("Followed")
    }
    await all.screenshot({ path: join(shots, "all.png") })
    await page.close()
    await all.close()
  })

  it("reads a projection's state and result by partition, and disables and enables it", async () => {
    const category = `cart${id()}`
    const name = `count-${category}`
    await append(`${category}-1`, [NewEvent.json("Added", { n: 1 }), NewEvent.json("Added", { n: 2 })])
    await append(`${category}-2`, [NewEvent.json("Added", { n: 3 })])
    await run(Effect.gen(function*() {
      const projections = yield* Projections.Projections
      yield* projections.create(
        name,
        `fromCategory('${category}').foreachStream().when({ $init: function() { return { count: 0 } }, Added: function(s, e) { s.count += e.body.n; return s } })`
      )
      yield* projections.awaitIdle(name)
    }))
    const page = await open(`/projections/${name}`)
    await poll(() => page.locator("#projection-status").textContent()).toBe("Running")
    expect(await page.locator("#query").textContent()).toContain("foreachStream")
    await page.fill("#partition", `${category}-1`)
    await page.locator("#partition").dispatchEvent("change")
    await poll(() => page.locator("#state").textContent()).toContain(`"count": 3`)
    await page.fill("#partition", `${category}-2`)
    await page.locator("#partition").dispatchEvent("change")
    await poll(() => page.locator("#result").textContent()).toContain(`"count": 3`)
    await page.screenshot({ path: join(shots, "projection.png") })
    await page.click("#command-disable")
    await poll(() => page.locator("#projection-status").textContent()).toBe("Stopped")
    await page.click("#command-enable")
    await poll(() => page.locator("#projection-status").textContent()).toBe("Running")

    const list = await open("/projections")
    await poll(() => list.locator("#projections").textContent()).toContain(name)
    await list.close()
    await page.close()
  })

  it("shows a group's parked messages and replays them", async () => {
    const stream = `parked-${id()}`
    const group = `g-${id()}`
    await append(stream, [NewEvent.json("ToPark", { a: 1 }), NewEvent.json("ToPark", { a: 2 })])
    await run(Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      yield* ps.createToStream(stream, group, { from: "start" })
      yield* Effect.scoped(Effect.flatMap(ps.readToStream(stream, group, { bufferSize: 2, ackDelay: 0 }), (sub) =>
        sub.events.pipe(Stream.tap((e) => sub.nack(e, "park", "bad")), Stream.take(2), Stream.runDrain)))
    }))
    const page = await open("/subscriptions")
    const row = page.locator("#subscriptions tr", { hasText: group })
    await poll(() => row.locator("[data-testid=parked-count]").textContent()).toBe("2")
    await page.screenshot({ path: join(shots, "subscriptions.png") })
    // the parked messages are a stream, shown by the stream browser
    await row.locator("[data-testid=parked-count]").click()
    await poll(() => page.locator("[data-testid=event]").count()).toBe(2)
    await page.goBack()
    await page.locator("#subscriptions tr", { hasText: group }).locator("[data-testid=replay]").click()
    await poll(() => page.locator("#subscriptions-message").textContent()).toContain("Replaying")
    // a consumer gets the replayed messages, and nothing is left parked
    const replayed = await run(Effect.gen(function*() {
      const ps = yield* PersistentSubscriptions.PersistentSubscriptions
      return yield* Effect.scoped(Effect.flatMap(ps.readToStream(stream, group, { bufferSize: 2, ackDelay: 0 }), (sub) =>
        sub.events.pipe(Stream.tap((e) => sub.ack(e)), Stream.take(2), Stream.map((e) => e.streamPosition), Stream.runCollect)))
    }))
    expect(Array.from(replayed).sort()).toEqual([0n, 1n])
    await poll(() => page.locator("#subscriptions tr", { hasText: group }).locator("[data-testid=parked-count]").textContent(), {
      timeout: 10_000
    }).toBe("0")
    await page.close()
  })

  it("shows the dashboard: version, uptime, stats", async () => {
    const page = await open("/")
    await poll(() => page.locator("#version").textContent()).toBe(DEFAULT_SERVER_VERSION)
    expect(await page.locator("#uptime").textContent()).toMatch(/\d+h \d+m \d+s/)
    expect(await page.locator("#stats").textContent()).toContain("proc.startTime")
    expect(await page.locator("#members").textContent()).toContain("Leader")
    await page.screenshot({ path: join(shots, "dashboard.png") })
    await page.close()
  })
})

/** One HTTPS request to a secure node (its bundled CA): the status and body. */
const request = (secure: RunningNode, path: string, options: { user?: string; method?: string; body?: string; headers?: Record<string, string> } = {}) =>
  new Promise<{ status: number; body: string; headers: Record<string, unknown> }>((resolve, reject) => {
    const req = https.request({
      host: "localhost",
      port: secure.port,
      path,
      method: options.method ?? "GET",
      ca: readFileSync(secure.caFile!),
      headers: {
        ...(options.user === undefined ? {} : { authorization: `Basic ${Buffer.from(options.user).toString("base64")}` }),
        ...options.headers
      }
    }, (res) => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (c) => (body += c))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }))
    })
    req.on("error", reject)
    req.end(options.body)
  })

describe("a secure node's HTTP API and UI: the node's authentication and ACLs", () => {
  let secure: RunningNode
  beforeAll(async () => {
    secure = await startEmbeddedNode({ insecure: false })
  })
  afterAll(() => secure?.stop())

  it("refuses what the gRPC API refuses the same user", async () => {
    const admin = "admin:changeit"
    const ops = "ops:changeit"
    const post = (stream: string, user: string | undefined, body: string, expected = "-2") =>
      request(secure, `/streams/${stream}`, {
        method: "POST",
        body,
        ...(user === undefined ? {} : { user }),
        headers: { "content-type": "application/vnd.eventstore.events+json", "es-expectedversion": expected }
      })
    const event = (type: string) => JSON.stringify([{ eventId: crypto.randomUUID(), eventType: type, data: { x: 1 } }])
    // anonymous: a Basic challenge; wrong password: refused
    const anonymous = await request(secure, "/streams/a-1")
    expect(anonymous.status).toBe(401)
    expect(anonymous.headers["www-authenticate"]).toContain("Basic")
    expect((await request(secure, "/streams/a-1", { user: "admin:wrong" })).status).toBe(401)
    expect((await post("a-1", undefined, event("X"))).status).toBe(401)
    // writes and reads as admin; ES-ExpectedVersion checked
    expect((await post("a-1", admin, event("X"), "-1")).status).toBe(201)
    const wrong = await post("a-1", admin, event("X"), "-1")
    expect(wrong.status).toBe(400)
    expect(wrong.headers["es-currentversion"]).toBe("0")
    // a stream only admins may read: ops is refused there (403) and on $all, allowed elsewhere
    expect((await request(secure, "/streams/%24%24a-1", {
      method: "POST",
      user: admin,
      body: JSON.stringify([{ eventId: crypto.randomUUID(), eventType: "$metadata", data: { $acl: { $r: "$admins", $w: "$admins" } } }]),
      headers: { "content-type": "application/vnd.eventstore.events+json" }
    })).status).toBe(201)
    expect((await request(secure, "/streams/a-1", { user: ops })).status).toBe(403)
    expect((await post("a-1", ops, event("Y"))).status).toBe(403)
    expect((await request(secure, "/streams/%24all", { user: ops })).status).toBe(403)
    expect((await request(secure, "/streams/a-1", { user: admin })).status).toBe(200)
    expect((await request(secure, "/streams/b-1", { user: ops })).status).toBe(404)
    // persistent subscriptions and projections: users, as over gRPC; replaying parked: operators
    expect((await request(secure, "/subscriptions")).status).toBe(401)
    expect((await request(secure, "/subscriptions", { user: ops })).status).toBe(200)
    expect((await request(secure, "/projections/any")).status).toBe(401)
    expect((await request(secure, "/subscriptions/a-1/none/replayParked", { method: "POST", user: ops })).status).toBe(404)
  })

  it.skipIf(!haveBrowser)("asks for credentials in the page and shows what the user may see", async () => {
    const b = await chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-gpu"] })
    try {
      await request(secure, "/streams/visible-1", {
        method: "POST",
        user: "admin:changeit",
        body: JSON.stringify([{ eventId: crypto.randomUUID(), eventType: "Seen", data: { ok: true } }]),
        headers: { "content-type": "application/vnd.eventstore.events+json" }
      })
      const context = await b.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1100, height: 620 } })
      const page = await context.newPage()
      await page.goto(`https://localhost:${secure.port}/web/index.html#/streams/visible-1`)
      await page.locator("#login-user").waitFor()
      await page.fill("#login-user", "ops")
      await page.fill("#login-password", "changeit")
      await page.click("#login-submit")
      await poll(() => page.locator("[data-testid=event]").getAttribute("data-type")).toBe("Seen")
      // ops may not read $all: the page says so
      await page.goto(`https://localhost:${secure.port}/web/index.html#/streams/$all`)
      await poll(() => page.locator("[data-testid=error]").textContent()).toContain("403")
    } finally {
      await b.close()
    }
  })
})
