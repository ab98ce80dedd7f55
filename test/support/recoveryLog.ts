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
  /** How many warnings have this action, of this operation when given. */
  readonly count: (action: string, operation?: string) => number
}

/** What a {@link RecoveryLog} keeps besides warnings, and whether it echoes them. */
export interface RecoveryLogOptions {
  /** Keep errors too (the fault scenarios report them). */
  readonly errors?: boolean | undefined
  /** Echo each kept line to stderr (`npm run faults` with EFFECT_ESDB_FAULTS_VERBOSE). */
  readonly echo?: boolean | undefined
}

const textOf = (message: unknown): string =>
  Array.isArray(message) ? message.map((m) => String(m)).join(" ") : String(message)

/** Makes a {@link RecoveryLog}. */
export const recoveryLog = (settings: RecoveryLogOptions = {}): RecoveryLog => {
  const warnings: Array<Warning> = []
  const logger = Logger.make((options) => {
    if (options.logLevel !== "Warn" && !(settings.errors === true && options.logLevel === "Error")) return
    const annotations = options.fiber.getRef(CurrentLogAnnotations)
    const text = textOf(options.message)
    if (settings.echo === true) process.stderr.write(`${text}\n`)
    warnings.push({ text, annotations: { ...annotations } })
  })
  return {
    warnings,
    capture: (effect) => Effect.provideService(effect, Logger.CurrentLoggers, new Set([logger])),
    of: (operation, action) =>
      warnings.filter((w) => w.annotations["operation"] === operation && w.annotations["action"] === action),
    count: (action, operation) =>
      warnings.filter((w) => w.annotations["action"] === action && (operation === undefined || w.annotations["operation"] === operation))
        .length
  }
}
