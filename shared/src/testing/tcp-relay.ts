import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface TcpRelayTarget {
  host?: string;
  port: number;
}

/** One client connection and its upstream twin. */
interface Pair {
  client: Socket;
  upstream: Socket | null;
  /** Held by a black hole: nothing moves either way, and nothing is closed. */
  held: boolean;
}

/**
 * A TCP relay on 127.0.0.1 between a client and a server (test support), that can turn into a
 * network black hole: `blackHole()` stops every connection from moving bytes either way and never
 * closes them, so each side sees a healthy socket that never answers, as after a failover or a
 * dropped route. New connections in a black hole are accepted (the kernel does that) and held
 * too. `heal()` lets new connections through again; the held ones stay dead, as a connection
 * whose path is gone does, unless `resumeHeld` asks for their bytes to arrive late after all
 * (what TCP retransmission does once a route comes back).
 */
export class TcpRelay {
  readonly port: number;
  readonly #server: Server;
  readonly #target: Required<TcpRelayTarget>;
  readonly #pairs = new Set<Pair>();
  #blackHole = false;

  private constructor(server: Server, port: number, target: Required<TcpRelayTarget>) {
    this.#server = server;
    this.port = port;
    this.#target = target;
    server.on('connection', (socket) => this.#accept(socket));
  }

  /** Listens on a free port of 127.0.0.1 and relays every connection to `target`. */
  static async start(target: TcpRelayTarget): Promise<TcpRelay> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (!address || typeof address !== 'object') throw new Error('the relay has no port');
    return new TcpRelay(server, address.port, { host: target.host ?? '127.0.0.1', port: target.port });
  }

  /** `redis://127.0.0.1:<port>`: the relay's address for a Redis client. */
  get redisUrl(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Connections open now (held ones included). */
  get connections(): number {
    return this.#pairs.size;
  }

  /** Connections held by the black hole. */
  get held(): number {
    return [...this.#pairs].filter((p) => p.held).length;
  }

  get blackHoled(): boolean {
    return this.#blackHole;
  }

  /** From now on no byte moves on any connection, open or new; none is closed. */
  blackHole(): void {
    this.#blackHole = true;
    for (const pair of this.#pairs) this.#hold(pair);
  }

  /** New connections flow again; held ones stay dead unless `resumeHeld` lets their bytes through late. */
  heal({ resumeHeld = false } = {}): void {
    this.#blackHole = false;
    if (!resumeHeld) return;
    for (const pair of this.#pairs) {
      if (!pair.held) continue;
      pair.held = false;
      if (pair.upstream === null) this.#connectUpstream(pair);
      else pair.upstream.resume();
      pair.client.resume();
    }
  }

  /** Closes every open connection at once (both sides see it end), as a middlebox that drops its flows does. */
  dropConnections(): void {
    for (const pair of this.#pairs) this.#drop(pair);
  }

  /** Closes the listener and every connection; safe to call twice. */
  async close(): Promise<void> {
    this.dropConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    const pair: Pair = { client, upstream: null, held: false };
    this.#pairs.add(pair);
    client.on('error', () => this.#drop(pair));
    client.on('close', () => this.#end(pair, 'client'));
    client.on('data', (chunk: Buffer) => {
      // A chunk read just before the hold is kept back with the rest (pause stops reading, not this event).
      if (pair.held || pair.upstream === null) client.unshift(chunk);
      else pair.upstream.write(chunk);
    });
    if (this.#blackHole) return this.#hold(pair);
    this.#connectUpstream(pair);
  }

  #connectUpstream(pair: Pair): void {
    const upstream = createConnection({ host: this.#target.host, port: this.#target.port });
    pair.upstream = upstream;
    upstream.on('error', () => this.#drop(pair));
    upstream.on('close', () => this.#end(pair, 'upstream'));
    upstream.on('data', (chunk: Buffer) => {
      if (pair.held) upstream.unshift(chunk);
      else pair.client.write(chunk);
    });
  }

  #hold(pair: Pair): void {
    pair.held = true;
    pair.client.pause();
    pair.upstream?.pause();
  }

  /** One side closed: close the other, unless the pair is held (a black hole passes no FIN either). */
  #end(pair: Pair, side: 'client' | 'upstream'): void {
    if (pair.held) return;
    const other = side === 'client' ? pair.upstream : pair.client;
    if (other && !other.destroyed) other.end();
    if (pair.client.destroyed && (pair.upstream === null || pair.upstream.destroyed)) this.#pairs.delete(pair);
  }

  #drop(pair: Pair): void {
    pair.client.destroy();
    pair.upstream?.destroy();
    this.#pairs.delete(pair);
  }
}
