import * as grpc from "@grpc/grpc-js"
import { StreamsService } from "../../../src/generated/streams.ts"
const server = new grpc.Server()
server.addService(StreamsService as never, {
  append: (call: grpc.ServerReadableStream<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
    call.on("data", () => {})
    call.on("end", () => cb(null, { result: { $case: "success", value: { currentRevisionOption: { $case: "currentRevision", value: 1n }, positionOption: { $case: "position", value: { commitPosition: 1n, preparePosition: 1n } } } } }))
  }
} as never)
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (_e, port) => console.log(`esdb://127.0.0.1:${port}?tls=false`))
process.on("SIGTERM", () => process.exit(0))
