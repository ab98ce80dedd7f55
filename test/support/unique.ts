/**
 * Names no other test uses: every test that writes makes its own streams, groups and projections,
 * so tests of one file (and files sharing a node) never see each other's data.
 */
import { randomUUID } from "node:crypto"

/** 12 random hex digits, no dash (for a category, where a dash would split the name). */
export const uniqueId = (): string => randomUUID().replace(/-/g, "").slice(0, 12)

/** `prefix` followed by a dash and {@link uniqueId}, e.g. `orders-3f9a0c1b2d4e`. */
export const uniqueName = (prefix = "test"): string => `${prefix}-${uniqueId()}`

/** A stream name no other test uses (see {@link uniqueName}). */
export const uniqueStream: (prefix?: string) => string = uniqueName
