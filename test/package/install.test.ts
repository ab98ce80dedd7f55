/**
 * The package as a user gets it: `npm pack`, the tarball installed into a fresh project (with the
 * effect it declares as a peer, and the node's optional peers), and a small program run there with
 * Node: an embedded node started from `effect-esdb/server`, a client from `EventStoreDB.layerConfig`
 * with the connection string read as `Config.Redacted`, an append and a read. Run by `.ci/run` as
 * its own step (`npx vitest run --config vitest.e2e.config.ts test/package`); the npm registry must
 * be reachable (installs use the npm cache first: `--prefer-offline`).
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { afterAll, describe, expect, it } from "vitest"

const root = resolve(import.meta.dirname, "../..")
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  version: string
  devDependencies: Record<string, string>
  peerDependencies: Record<string, string>
  peerDependenciesMeta: Record<string, { optional?: boolean }>
}
const work = mkdtempSync(join(tmpdir(), "effect-esdb-install-"))
afterAll(() => rmSync(work, { recursive: true, force: true }))

const npm = (args: ReadonlyArray<string>, cwd: string): string =>
  execFileSync("npm", [...args], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 240_000 })

/** Bytes of the files under a directory. */
const sizeOf = (dir: string): number => {
  let total = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) total += sizeOf(path)
    else if (entry.isFile()) total += statSync(path).size
  }
  return total
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`

const PROGRAM = `
import { Config, ConfigProvider, Effect, Layer, Redacted } from "effect"
import { EventStoreDB, NewEvent, Streams } from "effect-esdb"
import { startEmbeddedNode } from "effect-esdb/server"

const node = await startEmbeddedNode({ insecure: true })
const program = Effect.gen(function*() {
  const streams = yield* Streams.Streams
  yield* streams.append("installed-1", NewEvent.json("Installed", { ok: true }), { currentVersion: "no_stream" })
  const events = yield* streams.get("installed-1")
  return events.map((e) => e.type + ":" + e.streamPosition).join(",")
})
const client = EventStoreDB.layerConfig({ connectionString: Config.Redacted("ESDB_URI") }).pipe(
  Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ ESDB_URI: node.connectionString })))
)
try {
  console.log("read " + (await Effect.runPromise(program.pipe(Effect.provide(client)))))
} finally {
  await node.stop()
}
`

describe("the packed package, installed into a fresh project", () => {
  it("installs the client without the node's optional dependencies, and runs a program against the embedded node", () => {
    const packed = JSON.parse(npm(["pack", "--json", "--pack-destination", work], root)) as Array<
      { filename: string; files: Array<{ path: string }> }
    >
    const tarball = join(work, packed[0]!.filename)
    const files = packed[0]!.files.map((f) => f.path)
    expect(files).toContain("LICENSE")
    expect(files).toContain("dist/index.js")
    expect(files).toContain("dist/server/http/ui/index.html")
    // source maps carry their sources (src/ is not shipped)
    const map = JSON.parse(execFileSync("tar", ["-xzOf", tarball, "package/dist/index.js.map"], { encoding: "utf8" })) as {
      sourcesContent?: Array<string>
    }
    expect(map.sourcesContent?.[0]).toContain("effect-esdb")

    const app = join(work, "app")
    execFileSync("mkdir", ["-p", app])
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }))
    const install = (specs: ReadonlyArray<string>) =>
      npm(["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", ...specs], app)
    // the client: the package and its peer effect, nothing else
    install([tarball, `effect@${pkg.devDependencies.effect}`])
    const clientOnly = sizeOf(join(app, "node_modules"))
    for (const optional of Object.keys(pkg.peerDependenciesMeta)) {
      expect(() => statSync(join(app, "node_modules", optional)), optional).toThrow()
    }
    // the embedded node's optional peers
    const optionals = Object.keys(pkg.peerDependenciesMeta).map((name) => `${name}@${pkg.devDependencies[name]}`)
    install(optionals)
    const withNode = sizeOf(join(app, "node_modules"))
    const effectSize = sizeOf(join(app, "node_modules", "effect"))
    console.log(
      `install size: client ${mb(clientOnly)} (effect itself ${mb(effectSize)}, so effect-esdb adds ${
        mb(clientOnly - effectSize)
      }); with the node's optional peers ${mb(withNode)} (+${mb(withNode - clientOnly)})`
    )
    // npm found no conflicting peers: `npm ls` fails on invalid or missing ones
    npm(["ls", "--all"], app)

    writeFileSync(join(app, "main.js"), PROGRAM)
    const out = execFileSync(process.execPath, ["main.js"], { cwd: app, encoding: "utf8", timeout: 60_000 })
    expect(out).toContain("read Installed:0")
  }, 300_000)
})
