/**
 * Captures the warnings effect-esdb logs when it retries, resumes or reconnects (Recovery.ts), so
 * that a test can show that nothing was silent.
 */
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import { CurrentLogAnnotations } from "effect/References"

/** One captured warning: its text and its annotations. */
export interface Warning {
  readonly text: string
  readonly annotations: Readonly<Record<string, unknown>>
}

/** A logger that keeps every warning logged through it. */
export interface RecoveryLog {
  readonly warnings: Array<Warning>
  /** Runs `effect` (and the fibers it forks) with this logger as the only one. */
  readonly capture: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** The warnings of one operation and action (`resume`, `reconnect`, `retry`). */
  readonly of: (operation: string, action: string) => Array<Warning>
}

const textOf = (message: unknown): string =>
  Array.isArray(message) ? message.map((m) => String(m)).join(" ") : String(message)

/** Makes a {@link RecoveryLog}. */
export const recoveryLog = (): RecoveryLog => {
  const warnings: Array<Warning> = []
  const logger = Logger.make((options) => {
    if (options.logLevel !== "Warn") return
    const annotations = options.fiber.getRef(CurrentLogAnnotations)
    warnings.push({ text: textOf(options.message), annotations: { ...annotations } })
  })
  return {
    warnings,
    capture: (effect) => Effect.provideService(effect, Logger.CurrentLoggers, new Set([logger])),
    of: (operation, action) =>
      warnings.filter((w) => w.annotations["operation"] === operation && w.annotations["action"] === action)
  }
}
