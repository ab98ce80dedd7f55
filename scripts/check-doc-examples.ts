/**
 * Type-checks the examples of the documentation: every ```ts block of the doc comments under
 * `src/` (generated code excluded) and of README.md.
 *
 * Each block becomes one file in a temporary directory under the repository (so `effect` and the
 * other dependencies resolve from its node_modules; `effect-esdb`, `effect-esdb/server` and
 * `effect-esdb/eventsourcing` are mapped to `src/`), checked by `tsc` with the project's compiler options. A block is taken as it
 * is, with two conveniences so that examples can stay short:
 * - the names it uses without importing them are imported from `effect` and `effect-esdb` when
 *   they are exported there, and a few names the README's examples share (`streams`, `groups`,
 *   `projections`, `handle`, …) are declared;
 * - a block that uses `yield*` outside any generator is wrapped in `Effect.gen(function*() { … })`.
 *
 * Failures are reported with the block's origin (file and line). Run by `npm run typecheck:docs`
 * and by `.ci/run`; Markdown files named as arguments (relative to the repository) are checked
 * too.
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { join, relative } from "node:path"

const root = join(import.meta.dirname, "..")

interface Block {
  readonly origin: string
  readonly line: number
  readonly code: string
}

const walk = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return name === "generated" ? [] : walk(path)
    return path.endsWith(".ts") ? [path] : []
  })

/** The ```ts blocks of a Markdown text, or of the doc comments of a source file (` * ` stripped). */
const blocksOf = (origin: string, text: string, inComments: boolean): Array<Block> => {
  const lines = text.split("\n")
  const blocks: Array<Block> = []
  let open: { line: number; code: Array<string> } | undefined
  lines.forEach((raw, i) => {
    const line = inComments ? raw.replace(/^\s*\* ?/, "") : raw
    if (inComments && !/^\s*\*/.test(raw)) {
      open = undefined
      return
    }
    if (open === undefined) {
      if (/^\s*```ts\b/.test(line)) open = { line: i + 1, code: [] }
    } else if (/^\s*```\s*$/.test(line)) {
      blocks.push({ origin, line: open.line, code: open.code.join("\n") })
      open = undefined
    } else open.code.push(line)
  })
  return blocks
}

const effectExports = new Set([
  "Cause",
  "Config",
  "Console",
  "Context",
  "Duration",
  "Effect",
  "Equal",
  "Exit",
  "Fiber",
  "Layer",
  "Metric",
  "Option",
  "Redacted",
  "Schedule",
  "Schema",
  "Scope",
  "Stream"
])
const libraryExports = new Set(
  [...readFileSync(join(root, "src/index.ts"), "utf8").matchAll(/export (?:\* as (\w+)|\{([^}]*)\})/g)].flatMap((m) =>
    m[1] !== undefined
      ? [m[1]]
      : m[2]!.split(",").map((s) => s.trim().replace(/^type /, "").split(/\s+as\s+/).pop()!).filter((s) => s.length > 0)
  )
)

/** Names the README's examples share, declared when a block uses them without defining them. */
const shared: ReadonlyArray<readonly [string, string]> = [
  ["streams", "Streams.Streams"],
  ["groups", "PersistentSubscriptions.PersistentSubscriptions"],
  ["projections", "Projections.Projections"],
  ["connectionString", "string"],
  ["event3", "NewEvent"],
  ["position1", "bigint"],
  ["lastProcessed", "bigint"],
  ["billing", "PersistentSubscriptions.PersistentSubscription"],
  ["OrderCount", "Schema.Struct<{ readonly count: Schema.Number; readonly total: Schema.Number }>"],
  ["handle", "(event: RecordedEvent) => Effect.Effect<void, Error>"],
  ["bill", "(event: RecordedEvent) => Effect.Effect<void, Error>"],
  ["project", "(event: RecordedEvent) => Effect.Effect<void>"],
  ["saveProgress", "(commitPosition: bigint) => Effect.Effect<void>"]
]

const importedNames = (code: string): Set<string> =>
  new Set(
    [...code.matchAll(/^import\s+(?:type\s+)?(?:\*\s+as\s+(\w+)|\{([^}]*)\})\s+from/gm)].flatMap((m) =>
      m[1] !== undefined ? [m[1]] : m[2]!.split(",").map((s) => s.trim().replace(/^type /, "").split(/\s+as\s+/).pop()!)
    )
  )

const uses = (code: string, name: string): boolean => new RegExp(`(?<![\\w.$])${name}\\b`).test(code)

const toModule = (block: Block): string => {
  const lines = block.code.split("\n")
  const imports = lines.filter((l) => /^import\s/.test(l))
  let body = lines.filter((l) => !/^import\s/.test(l)).join("\n")
  const imported = importedNames(block.code)
  const needed = (name: string) => !imported.has(name) && uses(body, name)
  const prelude: Array<string> = []
  const declared = shared.filter(([name]) => needed(name) && !new RegExp(`(const|let)\\s+${name}\\b`).test(body))
  const typeText = declared.map(([, type]) => type).join(" ")
  const fromEffect = [...effectExports].filter((n) => needed(n) || (!imported.has(n) && uses(typeText, n)))
  const fromLibrary = [...libraryExports].filter((n) => needed(n) || (!imported.has(n) && uses(typeText, n)))
  if (fromEffect.length > 0) prelude.push(`import { ${fromEffect.join(", ")} } from "effect"`)
  if (fromLibrary.length > 0) prelude.push(`import { ${fromLibrary.join(", ")} } from "effect-esdb"`)
  for (const [name, type] of declared) prelude.push(`declare const ${name}: ${type}`)
  if (/\byield\*/.test(body) && !/function\s*\*/.test(body)) {
    if (!fromEffect.includes("Effect") && !imported.has("Effect")) prelude.push(`import { Effect } from "effect"`)
    body = `export const example = Effect.gen(function*() {\n${body}\n})`
  }
  return [...imports, ...prelude, body, "export {}", ""].join("\n")
}

// more Markdown files may be named on the command line (the script's own test does)
const markdown = ["README.md", ...process.argv.slice(2)]
const blocks: Array<Block> = [
  ...walk(join(root, "src")).flatMap((file) => blocksOf(relative(root, file), readFileSync(file, "utf8"), true)),
  ...markdown.flatMap((file) => blocksOf(file, readFileSync(join(root, file), "utf8"), false))
]
if (blocks.length < 10) {
  console.error(`doc examples: only ${blocks.length} blocks found; the extraction is broken`)
  process.exit(1)
}

const dir = mkdtempSync(join(root, ".doc-examples-"))
try {
  const origins = new Map<string, Block>()
  blocks.forEach((block, i) => {
    const name = `${String(i).padStart(3, "0")}_${block.origin.replace(/[/.]/g, "_")}_L${block.line}.ts`
    origins.set(name, block)
    writeFileSync(join(dir, name), toModule(block))
  })
  const base = JSON.parse(readFileSync(join(root, "tsconfig.json"), "utf8")) as { compilerOptions: Record<string, unknown> }
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        ...base.compilerOptions,
        noEmit: true,
        paths: {
          "effect-esdb": [join(root, "src/index.ts")],
          "effect-esdb/server": [join(root, "src/server/index.ts")],
          "effect-esdb/eventsourcing": [join(root, "src/eventsourcing/index.ts")]
        }
      },
      include: ["*.ts"]
    })
  )
  try {
    execFileSync(join(root, "node_modules/.bin/tsc"), ["-p", join(dir, "tsconfig.json")], { stdio: "pipe" })
    console.log(`doc examples: ${blocks.length} blocks type-check`)
  } catch (error) {
    const output = String((error as { stdout?: Buffer }).stdout ?? error).replaceAll(`${relative(root, dir)}/`, "")
    const failing = new Set<string>()
    for (const line of output.split("\n")) {
      const m = /^(\S+\.ts)\((\d+),\d+\)/.exec(line)
      if (m !== null && origins.has(m[1]!)) failing.add(m[1]!)
    }
    console.error(output)
    for (const name of failing) {
      const block = origins.get(name)!
      console.error(`${name}: the example at ${block.origin}:${block.line}\n${toModule(block)}`)
    }
    console.error(`doc examples: ${failing.size} of ${blocks.length} blocks do not type-check`)
    process.exitCode = 1
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
