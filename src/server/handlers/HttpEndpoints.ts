/**
 * The node's HTTP/1.1 endpoints, served beside gRPC on the same port as a real node serves them
 * (KurrentDB's `PingController`, `InfoController`, `StatController`, `GossipController`):
 * `GET /ping`, `/info`, `/stats` and `/gossip`, as JSON.
 *
 * @since 0.1.0
 */
import type * as http from "node:http"
import type { Auth } from "../Auth.ts"

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
  /** Do user projections run? (`/info`'s `features.projections`) */
  readonly projections?: (() => boolean) | undefined
  /** Serves the other paths (the HTTP API and web UI, src/server/http); without it they answer 404. */
  readonly otherwise?: ((req: http.IncomingMessage, res: http.ServerResponse) => void) | undefined
}

const startedAt = new Date()

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
  const known = path === "/ping" || path === "/info" || path === "/stats" || path === "/gossip"
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
    case "/stats": {
      const memory = process.memoryUsage()
      const cpu = process.cpuUsage()
      return json(res, 200, {
        proc: {
          startTime: startedAt.toISOString(),
          id: process.pid,
          mem: memory.rss,
          cpu: (cpu.user + cpu.system) / 1000,
          threadsCount: 1,
          gcStats: { totalBytesInHeaps: memory.heapUsed }
        },
        sys: { loadavg: {}, freeMem: 0 },
        es: {
          checksum: ctx.records(),
          queue: {}
        }
      })
    }
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
