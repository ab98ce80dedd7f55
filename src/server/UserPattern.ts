/**
 * Regular expressions supplied by users (`$all` read and subscription filters, persistent
 * subscription filters), compiled once and matched in linear time. They run on the node's event
 * loop, so a backtracking engine would let one pattern such as `(a+)+$` stall every client for
 * seconds; `re2js` (a JavaScript port of RE2: automata, no backtracking) matches in time linear in
 * the subject and the pattern's size, and needs no V8 flag, so the node behaves the same embedded
 * in a user's process and from the command line.
 *
 * RE2 syntax is that of JavaScript and .NET for what filters use (classes, anchors, alternation,
 * repetition, groups, inline flags such as `(?i)`); it has no backreferences and no lookaround.
 * One lookaround form is kept, because clients build exclusion filters with it (this project's
 * client sends `^(?!(?:\$.+|PersistentConfig\d+)$)` by default): a whole pattern `^(?!B)` is
 * matched as "`^(?:B)` does not match", which is what it means. Any other backreference or
 * lookaround is refused with a {@link PatternError} (answered INVALID_ARGUMENT) rather than run
 * by a backtracking engine. The compiled program is capped at
 * {@link MAX_PATTERN_INSTRUCTIONS} instructions (the matching cost per character grows with it)
 * and the pattern at {@link MAX_PATTERN_LENGTH} characters.
 *
 * @since 0.1.0
 */
import { createRequire } from "node:module"
import type { RE2JS } from "re2js"

/**
 * Longest pattern accepted, in characters.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_PATTERN_LENGTH = 1000

/**
 * Largest compiled program accepted (RE2 instructions): `[a-z]{900}` fits, `[a-z]{1000}` does not.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_PATTERN_INSTRUCTIONS = 1000

/**
 * A pattern that cannot be used, with the reason.
 *
 * @since 0.1.0
 * @category errors
 */
export class PatternError {
  readonly _tag = "PatternError"
  /** The pattern as given. */
  readonly pattern: string
  /** Why it is refused. */
  readonly reason: string
  constructor(pattern: string, reason: string) {
    this.pattern = pattern
    this.reason = reason
  }
  /** The text a node answers with (INVALID_ARGUMENT). */
  get message(): string {
    return `Invalid regular expression '${this.pattern.length > 100 ? this.pattern.slice(0, 100) + "…" : this.pattern}': ${this.reason}`
  }
}

/**
 * An unanchored matcher: true when the pattern matches anywhere in the subject.
 *
 * @since 0.1.0
 * @category models
 */
export type PatternMatcher = (subject: string) => boolean

/**
 * Compiles a user-supplied pattern for linear-time matching.
 *
 * @since 0.1.0
 * @category constructors
 */
export const compilePattern = (pattern: string): PatternMatcher | PatternError => {
  if (pattern.length > MAX_PATTERN_LENGTH) {
    return new PatternError(pattern, `longer than ${MAX_PATTERN_LENGTH} characters`)
  }
  const excluded = negativeLookaheadBody(pattern)
  if (excluded !== undefined) {
    const inner = compileRe2(pattern, `^(?:${excluded})`)
    return inner instanceof PatternError ? inner : memoized((subject) => !inner(subject))
  }
  const test = compileRe2(pattern, pattern)
  return test instanceof PatternError ? test : memoized(test)
}

/** Subjects remembered per pattern, and the longest remembered (bounds a filter's memory to about 64 KiB). */
const MEMO_ENTRIES = 256
const MEMO_MAX_SUBJECT = 128

/**
 * Remembers recent answers: a filter sees the same event types and stream names again and again,
 * and a remembered answer costs a map lookup instead of an automaton run (about 1 µs).
 */
const memoized = (test: PatternMatcher): PatternMatcher => {
  let seen = new Map<string, boolean>()
  return (subject) => {
    if (subject.length > MEMO_MAX_SUBJECT) return test(subject)
    const known = seen.get(subject)
    if (known !== undefined) return known
    const answer = test(subject)
    if (seen.size >= MEMO_ENTRIES) seen = new Map()
    seen.set(subject, answer)
    return answer
  }
}

/**
 * `B` when the whole pattern is `^(?!B)` (the `)` closing the lookahead is the last character),
 * else undefined. Escapes and character classes are skipped when pairing parentheses.
 */
const negativeLookaheadBody = (pattern: string): string | undefined => {
  if (!pattern.startsWith("^(?!") || !pattern.endsWith(")")) return undefined
  let depth = 0
  let inClass = false
  for (let i = 1; i < pattern.length; i++) {
    const c = pattern[i]
    if (c === "\\") {
      i++
      continue
    }
    if (inClass) {
      if (c === "]") inClass = false
      continue
    }
    if (c === "[") {
      inClass = true
      // a `]` right after `[` or `[^` is a literal
      if (pattern[i + 1] === "^") i++
      if (pattern[i + 1] === "]") i++
    } else if (c === "(") depth++
    else if (c === ")") {
      depth--
      if (depth === 0) return i === pattern.length - 1 ? pattern.slice(4, i) : undefined
    }
  }
  return undefined
}

/** re2js, an optional peer dependency of the package, loaded on the node's first regular expression. */
let re2js: typeof RE2JS | undefined
const loadRe2js = (): typeof RE2JS | undefined => {
  if (re2js === undefined) {
    try {
      re2js = (createRequire(import.meta.url)("re2js") as { RE2JS: typeof RE2JS }).RE2JS
    } catch {
      return undefined
    }
  }
  return re2js
}

const compileRe2 = (pattern: string, source: string): PatternMatcher | PatternError => {
  const engine = loadRe2js()
  if (engine === undefined) {
    return new PatternError(
      pattern,
      "the embedded node matches regular expressions with the optional package re2js, which is not installed: npm install re2js@^2.10.0"
    )
  }
  let re: RE2JS
  try {
    re = engine.compile(source)
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e)
    return new PatternError(
      pattern,
      /\\[1-9]|\\k<|\(\?(?:[=!]|<[=!])/.test(pattern)
        ? `${reason} (backreferences and lookaround are not supported: patterns are matched in linear time)`
        : reason
    )
  }
  const size = (re.re2() as { prog?: { numInst?: () => number } }).prog?.numInst?.() ?? 0
  if (size > MAX_PATTERN_INSTRUCTIONS) {
    return new PatternError(pattern, `too complex (${size} instructions compiled, at most ${MAX_PATTERN_INSTRUCTIONS})`)
  }
  return (subject) => re.test(subject)
}
