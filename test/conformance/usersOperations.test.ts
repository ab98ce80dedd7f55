/**
 * Users and Operations with the official client (`@kurrent/kurrentdb-client` 1.3.1). The client's
 * public API has no user, operation or stats calls, but it ships their generated gRPC clients
 * (`generated/kurrentdb/protocols/v1/usermanagement_grpc_pb.js`, `operations_grpc_pb.js`) and maps
 * their errors (`LoginNotFoundError`, `LoginConflictError`, `ScavengeNotFoundError`,
 * `AccessDeniedError`): the calls here go through the client's own channel, credentials and error
 * conversion (`Client.execute`, `callArguments`, `convertToCommandError`), as its other calls do.
 * A user created this way authenticates the client's public calls, and is refused once disabled.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createRequire } from "node:module"
import {
  AccessDeniedError,
  convertToCommandError,
  jsonEvent,
  type KurrentDBClient,
  LoginConflictError,
  LoginNotFoundError,
  ScavengeNotFoundError
} from "@kurrent/kurrentdb-client"
import { collect, eventuallyAsync, officialClient, rejectionOf, type RunningNode, startNode, uniqueStream } from "./_support.ts"

const requireCjs = createRequire(import.meta.url)
const generated = "@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/"
const usersGrpc = requireCjs(generated + "usermanagement_grpc_pb.js") as any
const usersPb = requireCjs(generated + "usermanagement_pb.js") as any
const opsGrpc = requireCjs(generated + "operations_grpc_pb.js") as any
const opsPb = requireCjs(generated + "operations_pb.js") as any

type Credentials = { readonly username: string; readonly password: string }

/** One unary call through the official client's machinery; errors converted as it converts them. */
const invoke = <A>(client: KurrentDBClient, Client: unknown, method: string, request: unknown, credentials?: Credentials): Promise<A> => {
  const c = client as any
  return c.execute(Client, method, (grpcClient: any) =>
    new Promise<A>((resolve, reject) => {
      grpcClient[method](request, ...c.callArguments({ credentials }), (error: Error | null, response: A) => {
        if (error) reject(convertToCommandError(error))
        else resolve(response)
      })
    }))
}

const createReq = (login: string, password: string, groups: Array<string> = []) => {
  const options = new usersPb.CreateReq.Options()
  options.setLoginName(login)
  options.setPassword(password)
  options.setFullName(`${login} full`)
  options.setGroupsList(groups)
  return new usersPb.CreateReq().setOptions(options)
}
const loginReq = (Req: any, login: string) => {
  const options = new Req.Options()
  options.setLoginName(login)
  return new Req().setOptions(options)
}
const startScavengeReq = () => {
  const options = new opsPb.StartScavengeReq.Options()
  options.setThreadCount(1)
  options.setStartFromChunk(0)
  return new opsPb.StartScavengeReq().setOptions(options)
}
const stopScavengeReq = (id: string) => {
  const options = new opsPb.StopScavengeReq.Options()
  options.setScavengeId(id)
  return new opsPb.StopScavengeReq().setOptions(options)
}

let node: RunningNode
let admin: KurrentDBClient

beforeAll(async () => {
  node = await startNode({ insecure: false })
  admin = officialClient(node.connectionString)
})
afterAll(async () => {
  await admin.dispose()
  await node.stop()
})

describe("Users through the official client's gRPC clients", () => {
  it("a created user authenticates the client's calls; once disabled it is refused (AccessDeniedError)", async () => {
    await invoke(admin, usersGrpc.UsersClient, "create", createReq("grace", "hopper"))
    const grace = { username: "grace", password: "hopper" }
    const stream = uniqueStream("grace")
    const written = await admin.appendToStream(stream, jsonEvent({ type: "T", data: {} }), { credentials: grace })
    expect(written.success).toBe(true)

    await invoke(admin, usersGrpc.UsersClient, "disable", loginReq(usersPb.DisableReq, "grace"))
    await rejectionOf(admin.appendToStream(stream, jsonEvent({ type: "T", data: {} }), { credentials: grace }), AccessDeniedError)

    await invoke(admin, usersGrpc.UsersClient, "enable", loginReq(usersPb.EnableReq, "grace"))
    const again = await admin.appendToStream(stream, jsonEvent({ type: "T", data: {} }), { credentials: grace })
    expect(again.success).toBe(true)
  })

  it("errors: LoginNotFoundError, LoginConflictError, AccessDeniedError with the client's fields", async () => {
    const notFound = await rejectionOf(invoke(admin, usersGrpc.UsersClient, "disable", loginReq(usersPb.DisableReq, "nobody")), LoginNotFoundError)
    expect(notFound.LoginName).toBe("nobody")
    await invoke(admin, usersGrpc.UsersClient, "create", createReq("henry", "one"))
    const conflict = await rejectionOf(invoke(admin, usersGrpc.UsersClient, "create", createReq("henry", "two")), LoginConflictError)
    expect(conflict.LoginName).toBe("henry")
    await rejectionOf(
      invoke(admin, usersGrpc.UsersClient, "create", createReq("ivy", "x"), { username: "ops", password: "changeit" }),
      AccessDeniedError
    )
  })
})

describe("Operations through the official client's gRPC client", () => {
  it("start, stop of an unknown id (ScavengeNotFoundError), access for ops, denied to others", async () => {
    const started: any = await invoke(admin, opsGrpc.OperationsClient, "startScavenge", startScavengeReq())
    expect(started.getScavengeResult()).toBe(opsPb.ScavengeResp.ScavengeResult.STARTED)
    expect(started.getScavengeId()).toMatch(/^[0-9a-f-]{36}$/)
    const missing = await rejectionOf(invoke(admin, opsGrpc.OperationsClient, "stopScavenge", stopScavengeReq("nope")), ScavengeNotFoundError)
    expect(typeof missing.scavengeId).toBe("string")

    const opsStarted: any = await invoke(admin, opsGrpc.OperationsClient, "startScavenge", startScavengeReq(), { username: "ops", password: "changeit" })
    expect([opsPb.ScavengeResp.ScavengeResult.STARTED, opsPb.ScavengeResp.ScavengeResult.IN_PROGRESS]).toContain(opsStarted.getScavengeResult())

    // the scavenge's events, read with the client's public API
    const id: string = started.getScavengeId()
    let types: Array<string> = []
    const readLog = async () => {
      types = (await collect(admin.readStream(`$scavenges-${id}`))).map((e) => e.event!.type)
      return types.length === 2
    }
    await eventuallyAsync("the scavenge's two events", readLog, { intervalMs: 25 })
    expect(types).toEqual(["$scavengeStarted", "$scavengeCompleted"])
    const completed = (await collect(admin.readStream(`$scavenges-${id}`)))[1]!.event!.data as Record<string, unknown>
    expect(completed).toMatchObject({ scavengeId: id, result: "Success", spaceSaved: 0 })

    await invoke(admin, usersGrpc.UsersClient, "create", createReq("judy", "j"))
    await rejectionOf(
      invoke(admin, opsGrpc.OperationsClient, "startScavenge", startScavengeReq(), { username: "judy", password: "j" }),
      AccessDeniedError
    )
  })
})

describe("Shutdown through the official client's gRPC client", () => {
  it("answers, then the node stops", async () => {
    const other = await startNode({ insecure: false })
    const client = officialClient(other.connectionString)
    try {
      await invoke(client, opsGrpc.OperationsClient, "shutdown", new (requireCjs(generated + "shared_pb.js") as any).Empty())
      await other.stopped
    } finally {
      await client.dispose()
      await other.stop()
    }
  })
})
