/**
 * One unary Users call on one user: validated login, the span's attributes, the login in the
 * errors. Shared by the operations' modules.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type { CallSpec } from "../transport/Calls.ts"
import type { CallError } from "../transport/CallError.ts"
import type { CallOptions } from "../transport/Options.ts"
import type { TransportShape } from "../transport/Transport.ts"
import * as validate from "./validate.ts"

/**
 * A password: plain, or Redacted (kept out of logs).
 *
 * @since 0.1.0
 * @category models
 */
export type Password = string | Redacted.Redacted<string>

/** The password's text. @internal */
export const reveal = (password: Password): string => Redacted.isRedacted(password) ? Redacted.value(password) : password

/** @internal */
export const command = <A, E>(
  transport: TransportShape,
  name: string,
  loginName: string,
  options: CallOptions | undefined,
  narrow: (error: CallError) => E,
  attempt: (spec: CallSpec) => Effect.Effect<A, CallError>
): Effect.Effect<void, E> =>
  transport.call({
    name,
    kind: "write",
    options,
    attributes: { "esdb.user.name": loginName },
    narrow
  }, attempt).pipe(Effect.asVoid)

/** The first problem of a login and passwords, if any. @internal */
export const problemOf = (loginName: string, ...passwords: ReadonlyArray<readonly [Password, string]>) => {
  const login = validate.loginName(loginName)
  if (login) return login
  for (const [password, what] of passwords) {
    const problem = validate.password(reveal(password), what)
    if (problem) return problem
  }
  return undefined
}
