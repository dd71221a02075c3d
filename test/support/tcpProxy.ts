/**
 * A TCP proxy in front of a redis-server that can misbehave the way networks do
 * without closing anything: stop forwarding (a half-open connection), or hold back
 * replies. Each connection is named by the `CLIENT SETNAME rrq:<name>` ioredis sends
 * first, so a test can stall the command connection and leave the subscriber alone.
 */
import { createServer, type Server, Socket } from "node:net"

export type Direction = "both" | "replies"

interface Link {
  readonly client: Socket
  readonly upstream: Socket
  name: string
  /** Forwarding of this link is stopped in these directions (data is held, not dropped). */
  stalled: Direction | undefined
  /** Replies are released this long after they arrive. */
  delayMs: number
  readonly heldRequests: Array<Buffer>
  readonly heldReplies: Array<Buffer>
}

export interface TcpProxy {
  readonly url: string
  /** Connections opened so far (including closed ones), by name. */
  readonly opened: () => ReadonlyArray<string>
  /**
   * Stops forwarding on the links open now whose name matches (`undefined`: all), as a
   * network that drops packets would; links opened later work. Held data is never sent.
   */
  readonly blackhole: (match?: RegExp) => void
  /** Holds back replies (or both directions) on matching links until `release`. */
  readonly stall: (direction: Direction, match?: RegExp) => void
  /** Sends what `stall` held back and forwards normally again. */
  readonly release: () => void
  /** Delays every reply of matching links (open now or later) by `ms`. */
  readonly delayReplies: (ms: number, match?: RegExp) => void
  readonly close: () => Promise<void>
}

const nameOf = (data: Buffer): string | undefined => /rrq:([\w-]+)/.exec(data.toString("latin1"))?.[1]

export const startProxy = (targetPort: number): Promise<TcpProxy> => {
  const links = new Set<Link>()
  const opened: Array<string> = []
  const dead = new Set<Link>()
  let delay: { ms: number; match: RegExp | undefined } = { ms: 0, match: undefined }
  const matches = (link: Link, match: RegExp | undefined) => match === undefined || match.test(link.name)

  const server: Server = createServer((client) => {
    const upstream = new Socket()
    const link: Link = {
      client,
      upstream,
      name: "?",
      stalled: undefined,
      delayMs: 0,
      heldRequests: [],
      heldReplies: []
    }
    links.add(link)
    upstream.connect(targetPort, "127.0.0.1")
    client.on("data", (data) => {
      if (link.name === "?") {
        const name = nameOf(data)
        if (name !== undefined) {
          link.name = name
          opened.push(name)
          if (matches(link, delay.match)) link.delayMs = delay.ms
        }
      }
      if (dead.has(link)) return
      if (link.stalled === "both") link.heldRequests.push(data)
      else upstream.write(data)
    })
    upstream.on("data", (data) => {
      if (dead.has(link)) return
      if (link.stalled !== undefined) link.heldReplies.push(data)
      else if (link.delayMs > 0) {
        upstream.pause()
        setTimeout(() => {
          if (!dead.has(link)) client.write(data)
          upstream.resume()
        }, link.delayMs)
      } else client.write(data)
    })
    const end = () => {
      links.delete(link)
      client.destroy()
      upstream.destroy()
    }
    client.on("close", end)
    upstream.on("close", end)
    client.on("error", end)
    upstream.on("error", end)
  })

  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address ? address.port : 0
      resolve({
        url: `redis://127.0.0.1:${port}`,
        opened: () => [...opened],
        blackhole: (match) => {
          for (const link of links) if (matches(link, match)) dead.add(link)
        },
        stall: (direction, match) => {
          for (const link of links) if (matches(link, match)) link.stalled = direction
        },
        release: () => {
          for (const link of links) {
            link.stalled = undefined
            for (const d of link.heldRequests.splice(0)) link.upstream.write(d)
            for (const d of link.heldReplies.splice(0)) link.client.write(d)
          }
        },
        delayReplies: (ms, match) => {
          delay = { ms, match }
          for (const link of links) link.delayMs = matches(link, match) ? ms : 0
        },
        close: () =>
          new Promise<void>((done) => {
            for (const link of links) {
              link.client.destroy()
              link.upstream.destroy()
            }
            server.close(() => done())
          })
      })
    })
  })
}
