/**
 * The node runs on `node:http2` and shares only the neutral wire module (src/wire) and the
 * generated messages with the client: no file under src/server imports grpc-js or the client's
 * private helpers (src/internal).
 */
import { assert, describe, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"
import { join, relative, resolve } from "node:path"

const root = resolve(import.meta.dirname, "../..")
const serverDir = join(root, "src/server")

const sources = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []
  )

const importsOf = (file: string): Array<string> =>
  Array.from(readFileSync(file, "utf8").matchAll(/(?:from|import)\s*\(?\s*["']([^"']+)["']/g), (m) => m[1]!)

describe("src/server imports", () => {
  it("no file imports @grpc/grpc-js or src/internal", () => {
    const files = sources(serverDir)
    assert.isAbove(files.length, 20)
    const offending: Array<string> = []
    for (const file of files) {
      for (const spec of importsOf(file)) {
        const target = spec.startsWith(".") ? relative(root, resolve(file, "..", spec)) : spec
        if (spec.startsWith("@grpc/") || target.startsWith("src/internal/") || target === "src/internal") {
          offending.push(`${relative(root, file)} imports ${spec}`)
        }
      }
    }
    assert.deepStrictEqual(offending, [])
  })

  it("handlers never import each other", () => {
    const handlers = join(serverDir, "handlers")
    const offending: Array<string> = []
    for (const file of sources(handlers)) {
      for (const spec of importsOf(file)) {
        if (spec.startsWith("./")) offending.push(`${relative(root, file)} imports ${spec}`)
      }
    }
    assert.deepStrictEqual(offending, [])
  })

  it("handlers authorize through Auth.authorize only", () => {
    const offending: Array<string> = []
    for (const file of sources(join(serverDir, "handlers"))) {
      const text = readFileSync(file, "utf8")
      for (const m of text.matchAll(/\.(authenticate|canAccessStream|isOperator|isAdmin)\(/g)) offending.push(`${relative(root, file)} calls ${m[1]}`)
    }
    assert.deepStrictEqual(offending, [])
  })
})
