import { defineConfig } from "vitest/config"

const [major = 0] = process.versions.node.split(".").map(Number)
if (major < 22) {
  throw new Error(`Conformance tests need Node 22 or newer (this is ${process.version}): run them through npm.`)
}

export default defineConfig({
  test: {
    include: ["test/conformance/**/*.test.ts"],
    // the JSON report lets .ci/run print a plain "N passed, N failed" line
    reporters: ["default", ["json", { outputFile: "test-results/conformance.json" }]],
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})
