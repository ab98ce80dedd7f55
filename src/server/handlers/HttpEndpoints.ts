/**
 * The node's HTTP/1.1 endpoints, served beside gRPC on the same port as a real node serves them
 * (KurrentDB's `PingController`, `InfoController`, `StatController`, `GossipController`):
 * `GET /ping`, `/info`, `/stats` (the measured stats of StatsCollector.ts, grouped as a real
 * node groups them; `/stats/<group>/…`, `?group=false`) and `/gossip`, as JSON.
 *
 * @since 0.1.0
 */
import type * as http from "node:http"
import type { Auth } from "../Auth.ts"
import { groupStats, type StatsGroup } from "../monitoring/StatsCollector.ts"

/**
 * What the endpoints report.
 *
 * @since 0.1.0
 * @category models
 */
export interface HttpEndpointsContext {
  readonly auth: Auth
  readonly instanceId: string
  readonly endpoint: () => { readonly host: string; readonly port: number }
  readonly version: string
  readonly insecure: boolean
  /** Records in the log. */
  readonly records: () => number
  /**
   * A cluster member's view of the cluster (src/server/cluster), for `/gossip` and `/info`'s state;
   * default: this node alone, the Leader.
   */
  readonly members?: (() => ReadonlyArray<{
    readonly instanceId?: string | undefined
    readonly state: string
    readonly isAlive: boolean
    readonly host: string
    readonly port: number
  }>) | undefined
  /** The node's stats at a time (ms), flat, with their measured values (StatsCollector.ts). */
  readonly stats: (nowMs: number) => ReadonlyMap<string, number | string>
  /** Do user projections run? (`/info`'s `features.projections`) */
  readonly projections?: (() => boolean) | undefined
  /** Serves the other paths (the HTTP API and web UI, src/server/http); without it they answer 404. */
  readonly otherwise?: ((req: http.IncomingMessage, res: http.ServerResponse) => void) | undefined
}

const json = (res: http.ServerResponse, status: number, body: unknown): void => {
  const text = JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) })
  res.end(text)
}

/**
 * The request handler of the HTTP/1.1 endpoints.
 *
 * @since 0.1.0
 * @category handlers
 */
export const makeHttpEndpoints = (ctx: HttpEndpointsContext) => (req: http.IncomingMessage, res: http.ServerResponse): void => {
  const path = (req.url ?? "/").split("?")[0]!
  const known = path === "/ping" || path === "/info" || path === "/stats" || path.startsWith("/stats/") || path === "/gossip"
  if (!known && ctx.otherwise !== undefined) return ctx.otherwise(req, res)
  // a body is never expected: drop whatever comes
  req.resume()
  if (!known) {
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8" })
    res.end("Not Found")
    return
  }
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { allow: "GET", "content-type": "text/plain; charset=utf-8" })
    res.end("Method Not Allowed")
    return
  }
  if (path.startsWith("/stats/")) return stats(ctx, req, res, path)
  switch (path) {
    case "/ping":
      return json(res, 200, { msgTypeId: 80, text: "Ping request successfully handled" })
    case "/info":
      return json(res, 200, {
        dbVersion: ctx.version,
        esVersion: ctx.version,
        state: (ctx.members?.().find((m) => m.instanceId === ctx.instanceId)?.state ?? "leader").toLowerCase(),
        // ClusterVNode: `["projections"] = RunProjections != ProjectionType.None || DevMode`
        features: { projections: ctx.projections?.() ?? false, userManagement: true, atomPub: ctx.otherwise !== undefined },
        authentication: ctx.insecure ? null : { type: "internal", properties: {} }
      })
    case "/stats":
      return stats(ctx, req, res, path)
    default: {
      const { host, port } = ctx.endpoint()
      const cluster = ctx.members?.()
      if (cluster !== undefined) {
        return json(res, 200, {
          members: cluster.map((m) => ({
            instanceId: m.instanceId,
            timeStamp: new Date().toISOString(),
            state: m.state,
            isAlive: m.isAlive,
            httpEndPointIp: m.host,
            httpEndPointPort: m.port,
            isReadOnlyReplica: m.state === "ReadOnlyReplica" || m.state === "PreReadOnlyReplica" || m.state === "ReadOnlyLeaderless"
          })),
          serverIp: host,
          serverPort: port
        })
      }
      return json(res, 200, {
        members: [{
          instanceId: ctx.instanceId,
          timeStamp: new Date().toISOString(),
          state: "Leader",
          isAlive: true,
          httpEndPointIp: host,
          httpEndPointPort: port,
          isReadOnlyReplica: false
        }],
        serverIp: host,
        serverPort: port
      })
    }
  }
}

/**
 * `GET /stats[/group/…][?group=false]`, as a real node's `StatController` answers it: the stats
 * grouped by their `-`-separated names (`StatsContainer.Group`), values as measured (numbers as
 * JSON numbers); `group=false` gives them flat; a path selects a group (404 when there is none;
 * with `group=false`, 400 "Dynamic stats selection works only with grouping enabled").
 */
const stats = (ctx: HttpEndpointsContext, req: http.IncomingMessage, res: http.ServerResponse, path: string): void => {
  const query = new URLSearchParams((req.url ?? "").split("?")[1] ?? "")
  const group = query.get("group")?.toLowerCase() !== "false"
  const selected = path.slice("/stats".length).split("/").filter((p) => p !== "")
  if (!group && selected.length > 0) {
    res.writeHead(400, { "content-type": "text/plain; charset=utf-8" })
    res.end("Dynamic stats selection works only with grouping enabled")
    return
  }
  const flat = ctx.stats(Date.now())
  if (!group) return json(res, 200, Object.fromEntries(flat))
  let body: StatsGroup | number | string = groupStats(flat)
  for (const name of selected) {
    const next: StatsGroup | number | string | undefined = typeof body === "object" ? body[name] : undefined
    if (next === undefined || typeof next !== "object") {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" })
      res.end("Not Found")
      return
    }
    body = next
  }
  return json(res, 200, body)
}
