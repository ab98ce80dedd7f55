import { defineConfig } from "vitest/config"

const [major = 0] = process.versions.node.split(".").map(Number)
if (major < 22) {
  throw new Error(`These tests need Node 22 or newer (this is ${process.version}): run them through npx.`)
}

/** The install test (test/package) and the web UI in a browser (test/webui): each its own step of .ci/run. */
export default defineConfig({
  test: {
    include: ["test/package/**/*.test.ts", "test/webui/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000
  }
})
