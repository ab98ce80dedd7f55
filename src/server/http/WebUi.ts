/**
 * The node's web UI: static files (src/server/http/ui: one HTML page, one script module, one
 * style sheet; no bundler) served at `/web/…`, with `/` redirected to `/web/index.html` as a real
 * node does. The files are read once, at start; the page's script reads the node through its HTTP
 * API, with the user's credentials, so it sees and does only what that user may.
 *
 * @since 0.1.0
 */
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { extname } from "node:path"
import { fileURLToPath } from "node:url"
import type { HttpExchange } from "./HttpExchange.ts"
import { methodNotAllowed, text } from "./HttpExchange.ts"

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml"
}

/** The UI's files by name, read from the `ui` folder beside this module (in src/ and in dist/). */
const loadFiles = (): ReadonlyMap<string, Buffer> => {
  const files = new Map<string, Buffer>()
  const dir = fileURLToPath(new URL("./ui/", import.meta.url))
  if (!existsSync(dir)) return files
  for (const name of readdirSync(dir)) if (TYPES[extname(name)] !== undefined) files.set(name, readFileSync(dir + name))
  return files
}

/**
 * The handler of `/` and `/web/…`: answers and returns true for paths it serves.
 *
 * @since 0.1.0
 * @category handlers
 */
export const makeWebUi = () => {
  const files = loadFiles()
  return (ex: HttpExchange): boolean => {
    const [root, name, ...rest] = ex.segments
    if (root !== undefined && root !== "web") return false
    ex.req.resume()
    if (ex.req.method !== "GET" && ex.req.method !== "HEAD") return methodNotAllowed(ex.res, "GET"), true
    if (root === undefined || name === undefined) {
      ex.res.writeHead(302, { location: "/web/index.html", "content-length": 0 })
      ex.res.end()
      return true
    }
    const body = rest.length === 0 ? files.get(name) : undefined
    if (body === undefined) return text(ex.res, 404, "Not Found"), true
    ex.res.writeHead(200, {
      "content-type": TYPES[extname(name)]!,
      "content-length": body.length,
      "cache-control": "no-cache",
      "x-content-type-options": "nosniff",
      "content-security-policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"
    })
    ex.res.end(ex.req.method === "HEAD" ? undefined : body)
    return true
  }
}
