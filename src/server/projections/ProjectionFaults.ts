/**
 * The reasons a projection engine faults with, worded as the real node words them: emitting
 * without `emit_enabled`, running past a time limit, a host-side failure of the sandbox, and the
 * optional QuickJS package missing.
 *
 * @since 0.1.0
 */
/**
 * Fault reason when a handler emits without `emitEnabled` (the real node's message).
 *
 * @since 0.1.0
 * @category constants
 */
export const EMIT_NOT_ALLOWED = "'emit' is not allowed by the projection/configuration/mode"

/**
 * The real node's text when a script runs past its limit (its missing closing parenthesis included).
 *
 * @since 0.1.0
 * @category constructors
 */
export const timeLimitReason = (compiling: boolean, tookMs: number, allowedMs: number): string =>
  `Projection script took too long to ${compiling ? "compile" : "execute"} (took: ${timeSpan(tookMs)}, allowed: ${timeSpan(allowedMs)}`

/**
 * The reason a JS projection faults with when the optional peer dependency `quickjs-emscripten`
 * is not installed.
 *
 * @since 0.1.0
 * @category constants
 */
export const QUICKJS_MISSING =
  "the embedded node runs JS projections with the optional package quickjs-emscripten, which is not installed: npm install quickjs-emscripten@^0.32.0"

/** A duration in .NET's constant TimeSpan format (`c`): `hh:mm:ss.fffffff`. */
const timeSpan = (ms: number): string => {
  const ticks = Math.round(ms * 10_000)
  const totalSeconds = Math.floor(ticks / 10_000_000)
  const fraction = String(ticks % 10_000_000).padStart(7, "0")
  const hours = Math.floor(totalSeconds / 3600)
  const minutes = Math.floor(totalSeconds / 60) % 60
  const seconds = totalSeconds % 60
  const two = (n: number) => String(n).padStart(2, "0")
  return `${two(hours)}:${two(minutes)}:${two(seconds)}.${fraction}`
}

/** A host-side exception out of the sandbox (the WASM code exhausted Node's stack, or aborted). */
export const hostFailure = (e: unknown): string =>
  e instanceof RangeError
    ? "The projection exceeded the sandbox's stack"
    : `The projection runtime failed: ${e instanceof Error ? e.message : String(e)}`
