/**
 * scripts/check-doc-examples.ts: the examples of the doc comments and README type-check, and the
 * check fails, naming the example, when one does not.
 */
import { execFile } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { join, relative } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"

const root = join(import.meta.dirname, "..")

const check = (...extra: Array<string>) =>
  Effect.callback<{ readonly code: number; readonly output: string }>((resume) => {
    execFile(
      process.execPath,
      ["--experimental-strip-types", "--no-warnings", join(root, "scripts/check-doc-examples.ts"), ...extra],
      { cwd: root },
      (error, stdout, stderr) => resume(Effect.succeed({ code: error === null ? 0 : Number(error.code ?? 1), output: stdout + stderr }))
    )
  })

describe("doc examples", () => {
  it.live("every ts block of the doc comments and README type-checks; a broken one fails the check, named", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(root, ".doc-examples-test-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      const good = join(dir, "good.md")
      const broken = join(dir, "broken.md")
      writeFileSync(good, "```ts\nconst streams = yield* Streams.Streams\nyield* streams.getCommitPosition()\n```\n")
      writeFileSync(broken, "text\n\n```ts\nconst streams = yield* Streams\n```\n")
      const ok = yield* check(relative(root, good))
      assert.strictEqual(ok.code, 0, ok.output)
      assert.match(ok.output, /doc examples: \d+ blocks type-check/)
      const failed = yield* check(relative(root, broken))
      assert.strictEqual(failed.code, 1)
      assert.include(failed.output, `the example at ${relative(root, broken)}:3`)
      assert.match(failed.output, /1 of \d+ blocks do not type-check/)
    }), { timeout: 120_000 })
})
