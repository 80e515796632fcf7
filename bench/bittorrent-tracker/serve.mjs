// gst-mesh
// Copyright (C) 2026 gst-mesh developers
// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Serves the pinned bittorrent-tracker (package.json) as a WebSocket-only
// tracker on 127.0.0.1, for bench/tracker-load.py --tracker
// bittorrent-tracker. Its bin/cmd.js cannot be used as is: it has no way to
// set the per-swarm peer cap or the largest message, and without --quiet it
// logs every announce to stdout (a cost mesh-tracker's run does not pay in
// the same way), while with --quiet it does not print the port it got.
//
// Settings made equal to mesh-tracker's defaults where the package has one:
// peers per swarm 10,000 (--max-swarm-peers; the package's LRU keeps 1,000
// and silently evicts the oldest), largest message 65,536 bytes
// (--max-message-size; ws's default is 100 MiB). No HTTP or UDP tracker,
// no /stats page. Node's single thread owns everything here.
//
// Usage: node serve.mjs [PORT] (0, the default: any free port). Prints
// "ws://127.0.0.1:PORT/announce" once listening; warnings (a bad message,
// an answer to a peer that left) are counted, not logged, and the count is
// printed on stderr at SIGTERM.

// the server alone: the package's index also loads the WebRTC client and
// its native module, which the tracker does not need
import Server from 'bittorrent-tracker/server'

const MAX_SWARM_PEERS = 10000
const MAX_MESSAGE_SIZE = 65536

const port = Number(process.argv[2] || 0)
const warnings = new Map()

const server = new Server({
  http: false,
  udp: false,
  stats: false,
  ws: { maxPayload: MAX_MESSAGE_SIZE },
  peersCacheLength: MAX_SWARM_PEERS
})

server.on('warning', err => {
  const key = String((err && err.message) || err).slice(0, 60)
  if (warnings.has(key) || warnings.size < 32) {
    warnings.set(key, (warnings.get(key) || 0) + 1)
  }
})
server.on('error', err => {
  console.error(`bittorrent-tracker error: ${err.message}`)
})

server.listen(port, '127.0.0.1', () => {
  console.log(`ws://127.0.0.1:${server.ws.address().port}/announce`)
})

process.on('SIGTERM', () => {
  console.error(JSON.stringify({ warnings: Object.fromEntries(warnings) }))
  process.exit(0)
})
