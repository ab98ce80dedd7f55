/**
 * The package as a user gets it: `npm pack`, the tarball installed into a fresh project (with the
 * effect it declares as a peer, and the node's optional peers), and a small program run there with
 * Node: an embedded node started from `effect-esdb/server`, a client from `EventStoreDB.layerConfig`
 * with the connection string read as `Config.Redacted`, an append and a read. Run by `.ci/run` as
 * its own step (`npx vitest run --config vitest.e2e.config.ts test/package`); the npm registry must
 * be reachable (installs use the npm cache first: `--prefer-offline`).
 */
import { execFileSync, spawnSync } from "node:child_process"
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

/** Streams through a client from `layerConfig` (a `Config.Redacted` connection string), then a JS projection's fate. */
const PROGRAM = `
import { Config, ConfigProvider, Effect, Layer } from "effect"
import { EventStoreDB, NewEvent, Projections, Streams } from "effect-esdb"
import { startEmbeddedNode } from "effect-esdb/server"

const node = await startEmbeddedNode({ insecure: true })
const program = Effect.gen(function*() {
  const streams = yield* Streams.Streams
  yield* streams.append("installed-1", NewEvent.json("Installed", { ok: true }), { currentVersion: "any" })
  const events = yield* streams.get("installed-1")
  const projections = yield* Projections.Projections
  yield* projections.create("count", "fromAll().when({ $init: function() { return { n: 0 } }, Installed: function(s) { s.n++; return s } })")
  // without quickjs-emscripten the projection faults at once, saying what to install
  let details = yield* projections.getStatistics("count")
  for (let i = 0; i < 100 && details.stateReason === "" && details.eventsProcessedAfterRestart === 0n; i++) {
    yield* Effect.sleep("50 millis")
    details = yield* projections.getStatistics("count")
  }
  if (details.stateReason !== "") return "read " + events.map((e) => e.type + ":" + e.streamPosition).join(",") + "; projection faulted: " + details.stateReason
  // awaitIdle reads $all with the default filter, a regular expression: the node needs re2js for it
  const idle = yield* Effect.result(projections.awaitIdle("count"))
  const projection = idle._tag === "Success" ? "state " + JSON.stringify(yield* projections.getState("count")) : idle.failure.message
  return "read " + events.map((e) => e.type + ":" + e.streamPosition).join(",") + "; projection: " + projection
})
const client = EventStoreDB.layerConfig({ connectionString: Config.Redacted("ESDB_URI") }).pipe(
  Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ ESDB_URI: node.connectionString })))
)
try {
  console.log((await Effect.runPromise(program.pipe(Effect.provide(client)))))
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
    // the embedded node runs without them: streams work, a JS projection faults saying what to
    // install, and the command says what it needs
    writeFileSync(join(app, "main.js"), PROGRAM)
    const node = (program: string) => execFileSync(process.execPath, [program], { cwd: app, encoding: "utf8", timeout: 60_000 })
    const bare = node("main.js")
    expect(bare).toContain("read Installed:0")
    expect(bare).toContain("projection faulted: the embedded node runs JS projections with the optional package quickjs-emscripten")
    const cli = spawnSync(process.execPath, [join(app, "node_modules/effect-esdb/dist/server/cli.js"), "--insecure"], {
      cwd: app,
      encoding: "utf8",
      timeout: 60_000
    })
    expect(cli.status).toBe(1)
    expect(cli.stderr).toContain("npm install @effect/platform-node")

    // the embedded node's optional peers
    const optionals = Object.keys(pkg.peerDependenciesMeta).map((name) => `${name}@${pkg.devDependencies[name]}`)
    install(optionals)
    const withNode = sizeOf(join(app, "node_modules"))
    const effectSize = sizeOf(join(app, "node_modules", "effect"))
    const ownSize = sizeOf(join(app, "node_modules", "effect-esdb"))
    console.log(
      `install size: client ${mb(clientOnly)} (effect itself ${mb(effectSize)}, so effect-esdb adds ${
        mb(clientOnly - effectSize)
      }, of which the package itself ${mb(ownSize)}); with the node's optional peers ${mb(withNode)} (+${mb(withNode - clientOnly)})`
    )
    // npm found no conflicting peers: `npm ls` fails on invalid or missing ones
    npm(["ls", "--all"], app)

    const out = node("main.js")
    expect(out).toContain("read Installed:0; projection: state {\"n\":1}")
  }, 300_000)
})
