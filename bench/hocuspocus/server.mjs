// Benchmark only (bench/collab_compare.py): an in-memory Hocuspocus server on 127.0.0.1.
// No persistence extension: documents live in memory only. Every document starts from the
// Yjs update in the file named by argv[3] (the same flow state Minibase serves), so all
// servers in the comparison edit the same document.
//
//   node server.mjs PORT SEED_FILE
// Prints "listening PORT" when ready; stops on SIGTERM/SIGINT.
import { readFileSync } from 'node:fs'
import { Server } from '@hocuspocus/server'

const port = Number(process.argv[2])
const seed = new Uint8Array(readFileSync(process.argv[3]))

const server = new Server({
  name: 'bench',
  address: '127.0.0.1',
  port,
  quiet: true,
  stopOnSignals: true,
  async onAuthenticate () {
    return {} // allow all: the load generator sends a token message, as providers do
  },
  async onLoadDocument () {
    return seed // applied by Hocuspocus to the new document
  }
})

await server.listen()
console.log(`listening ${server.address.port}`)
