// Benchmark only (bench/collab_compare.py): the y-websocket server, in memory, on 127.0.0.1.
// y-websocket 2.1.0's own server utilities (`y-websocket/bin/utils`: setupWSConnection,
// getYDoc), wired as its bin/server.cjs wires them, on `ws` 8; no persistence (YPERSISTENCE
// unset, y-leveldb not installed: .npmrc omits optional dependencies). The document "bench"
// (URL path /bench) is created from the Yjs update in the file named by argv[3] (the same
// flow state Minibase serves) before the server listens, so all servers in the comparison
// edit the same document. permessage-deflate is off (`perMessageDeflate: false`, also ws's
// server default), as for the other servers.
//
//   node server.mjs PORT SEED_FILE
// Prints "listening PORT" when ready; stops on SIGTERM/SIGINT.
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { createRequire } from 'node:module'
import { WebSocketServer } from 'ws'

// CommonJS like y-websocket/bin/utils itself, so that both use the same Yjs instance.
const require = createRequire(import.meta.url)
const Y = require('yjs')
const { setupWSConnection, getYDoc } = require('y-websocket/bin/utils')

const port = Number(process.argv[2])
const seed = new Uint8Array(readFileSync(process.argv[3]))

Y.applyUpdate(getYDoc('bench'), seed)

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false })
wss.on('connection', setupWSConnection)

const server = createServer((_request, response) => {
  response.writeHead(200, { 'Content-Type': 'text/plain' })
  response.end('okay')
})
server.on('upgrade', (request, socket, head) => {
  wss.handleUpgrade(request, socket, head, ws => wss.emit('connection', ws, request))
})

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => process.exit(0))
}

server.listen(port, '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`)
})
