/**
 * The node's UUID text parsing: the canonical fast path and .NET's other `Guid.Parse` forms.
 */
import { assert, describe, it } from "@effect/vitest"
import { randomUUID } from "node:crypto"
import { isCanonicalUuid, parseUuidString } from "../../src/server/codec/Uuid.ts"

describe("Uuid", () => {
  it("accepts canonical text as is and nothing else as canonical", () => {
    for (let i = 0; i < 200; i++) {
      const id = randomUUID()
      assert.isTrue(isCanonicalUuid(id))
      assert.strictEqual(parseUuidString(id), id)
    }
    const id = "0123abcd-4567-89ef-abcd-0123456789ef"
    assert.isTrue(isCanonicalUuid(id))
    for (const bad of [
      id.toUpperCase(),
      id.slice(1),
      `${id}0`,
      id.replace("-", "x"),
      "0123abcd4-567-89ef-abcd-0123456789ef",
      id.replace("f", "g"),
      id.replace("a", "/"),
      id.replace("a", ":"),
      id.replace("a", "`"),
      ""
    ]) assert.isFalse(isCanonicalUuid(bad), bad)
  })

  it("parses the other forms into canonical text and refuses malformed ones", () => {
    const id = "0123abcd-4567-89ef-abcd-0123456789ef"
    assert.strictEqual(parseUuidString(id.toUpperCase()), id)
    assert.strictEqual(parseUuidString(` ${id} `), id)
    assert.strictEqual(parseUuidString(`{${id}}`), id)
    assert.strictEqual(parseUuidString(`(${id})`), id)
    assert.strictEqual(parseUuidString(id.replace(/-/g, "")), id)
    for (const bad of [id.slice(1), id.replace("f", "g"), "0123abcd4-567-89ef-abcd-0123456789ef", "", "{}"]) {
      assert.isUndefined(parseUuidString(bad), bad)
    }
  })
})
