/**
 * The publisher's end of the node-local transport: listens on the unix socket (mode 0660, so
 * only the publisher's user and group — the collector is made a member — can connect), reads
 * frames, hands each items frame to `receive` and acknowledges it once `receive` resolved
 * (i.e. the items are durably spooled). Frames of one connection are handled one at a time
 * and in order; a connection that sends faster than the spool writes is paused (bounded).
 *
 * Hardening: the socket is created with its final mode (a restrictive umask around bind(),
 * so there is no moment with the process umask's wider mode), in a directory created 0750.
 * Connections are capped (64), must say hello within 5 s (their first frame may not exceed
 * MAX_HELLO_BYTES), and are closed after 10 min without traffic; per connection at most
 * one partial frame and `maxPendingBytes` of decoded frames are held before it is paused.
 */
import net from 'node:net';
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PalisadeError } from '@palisade/core';
import {
  FrameDecoder,
  MAX_FRAME_BYTES,
  MAX_HELLO_BYTES,
  TRANSPORT_VERSION,
  encodeMessage,
  parseCollectorMessage,
  type HelloMessage,
  type PublisherMessage,
} from './transport.js';

export interface TransportServerOptions {
  socketPath: string;
  /** Stores one frame's items durably; the frame is acknowledged when this resolves. */
  receive(session: string, seq: number, items: unknown[]): Promise<void>;
  /** Highest seq of `session` already stored (0 when unknown). */
  lastSeq(session: string): number;
  onHello?(hello: HelloMessage): void;
  log?: (line: string) => void;
  /** Frames read ahead per connection before the socket is paused (default 16). */
  maxPendingFrames?: number;
  /** Bytes of frames read ahead per connection before the socket is paused (default 16 MiB). */
  maxPendingBytes?: number;
  /** Socket file mode (default 0o660). */
  mode?: number;
  /** Connections open at once; more are refused with an error frame (default 64). */
  maxConnections?: number;
  /** A connection that has not sent its hello by then is closed (default 5000 ms). */
  helloTimeoutMs?: number;
  /** A connection with no traffic and nothing in progress for this long is closed (default 10 min). */
  idleTimeoutMs?: number;
}

export interface TransportServerStats {
  connections: number;
  framesReceived: number;
  duplicateFrames: number;
  protocolErrors: number;
  /** Connections refused because `maxConnections` were open. */
  refusedConnections: number;
  /** Connections closed for a missing hello or for idleness. */
  timedOutConnections: number;
  /** Connections open now. */
  openConnections: number;
  /** Bytes held now for all connections: decoded frames waiting + partial frames. */
  bufferedBytes: number;
}

export interface TransportServer {
  readonly socketPath: string;
  stats(): TransportServerStats;
  close(): Promise<void>;
}

async function isListening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Removes a stale socket file; refuses to touch anything else or a live publisher's socket.
 * A missing directory is created 0750 (an existing one is left as its owner set it).
 */
async function prepareSocketPath(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o750 });
  let st;
  try {
    st = await lstat(path);
  } catch {
    return;
  }
  if (!st.isSocket())
    throw new PalisadeError('E_CONFIG', 'exists and is not a socket; remove it or choose another --socket', {
      subject: path,
    });
  if (await isListening(path))
    throw new PalisadeError('E_CONFIG', 'another publisher is already listening on this socket', { subject: path });
  await unlink(path);
}

/**
 * Listens on a unix socket that is created with `mode` already: bind() applies the process
 * umask to 0777, so a umask of ~mode is set for the (synchronous) bind and restored at once.
 * A chmod afterwards would leave a window in which the socket has the umask's wider mode.
 */
export function listenUnixSocket(server: net.Server, path: string, mode: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new PalisadeError('E_CONFIG', `cannot listen: ${err.code ?? err.message}`, {
          subject: path,
          cause: err,
        }),
      ),
    );
    const previous = process.umask(~mode & 0o777);
    try {
      server.listen(path, () => resolve());
    } finally {
      process.umask(previous);
    }
  });
}

/** Closes a connection after telling the collector why (an error frame, then end). */
function closeWithError(sock: net.Socket, message: string): void {
  if (!sock.destroyed) sock.end(encodeMessage({ t: 'error', message }));
  // Read (and discard) what still comes, so the peer's end is seen and the socket closes.
  sock.removeAllListeners('data');
  sock.resume();
  setTimeout(() => sock.destroy(), 1000).unref();
}

export async function serveTransport(opts: TransportServerOptions): Promise<TransportServer> {
  const log = opts.log ?? ((): void => undefined);
  const maxPending = opts.maxPendingFrames ?? 16;
  const maxPendingBytes = opts.maxPendingBytes ?? 16 * 1024 * 1024;
  const maxConnections = opts.maxConnections ?? 64;
  const helloTimeoutMs = opts.helloTimeoutMs ?? 5000;
  const idleTimeoutMs = opts.idleTimeoutMs ?? 10 * 60_000;
  const stats: Omit<TransportServerStats, 'openConnections' | 'bufferedBytes'> = {
    connections: 0,
    framesReceived: 0,
    duplicateFrames: 0,
    protocolErrors: 0,
    refusedConnections: 0,
    timedOutConnections: 0,
  };
  /** Open connections, each with what it holds in memory. */
  const sockets = new Map<net.Socket, () => number>();
  /** Every socket not yet closed, refused ones too (close() destroys them all). */
  const all = new Set<net.Socket>();
  let refusalLogged = false;

  const onConnection = (sock: net.Socket): void => {
    all.add(sock);
    sock.once('close', () => all.delete(sock));
    if (sockets.size >= maxConnections) {
      stats.refusedConnections++;
      // Once per burst: a flood of connections must not become a flood of log lines.
      if (!refusalLogged) log(`publisher: refusing collector connections: ${maxConnections} already open`);
      refusalLogged = true;
      sock.on('error', () => undefined);
      closeWithError(sock, `too many connections (${maxConnections} open)`);
      return;
    }
    refusalLogged = false;
    stats.connections++;
    const decoder = new FrameDecoder(MAX_FRAME_BYTES, MAX_HELLO_BYTES);
    const pending: Buffer[] = [];
    let pendingBytes = 0;
    sockets.set(sock, () => pendingBytes + decoder.pending);
    let session: string | undefined;
    let processing = false;
    let dead = false;

    const send = (m: PublisherMessage): void => {
      if (!sock.destroyed) sock.write(encodeMessage(m));
    };
    const fail = (message: string): void => {
      stats.protocolErrors++;
      log(`publisher: closing a collector connection: ${message}`);
      dead = true;
      pending.length = 0;
      pendingBytes = 0;
      closeWithError(sock, message);
    };

    // Deadlines: the hello, then traffic. A connection busy storing a frame is never idle.
    const expire = (why: string): void => {
      if (dead) return;
      stats.timedOutConnections++;
      log(`publisher: closing a collector connection: ${why}`);
      dead = true;
      pending.length = 0;
      pendingBytes = 0;
      closeWithError(sock, why);
    };
    let timer = setTimeout(() => expire(`no hello within ${helloTimeoutMs} ms`), helloTimeoutMs);
    timer.unref();
    const touch = (): void => {
      if (session === undefined || dead) return;
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (processing || pending.length > 0) touch();
        else expire(`no traffic for ${idleTimeoutMs} ms`);
      }, idleTimeoutMs);
      timer.unref();
    };

    const handle = async (frame: Buffer): Promise<void> => {
      const msg = parseCollectorMessage(frame);
      if (msg.t === 'hello') {
        if (session !== undefined) throw new PalisadeError('E_CORRUPT', 'second hello on one connection');
        if (msg.v !== TRANSPORT_VERSION)
          throw new PalisadeError('E_CORRUPT', `transport version ${msg.v} not supported (${TRANSPORT_VERSION} is)`);
        session = msg.session;
        touch();
        opts.onHello?.(msg);
        send({ t: 'welcome', v: TRANSPORT_VERSION, lastSeq: opts.lastSeq(session) });
        return;
      }
      if (session === undefined) throw new PalisadeError('E_CORRUPT', 'items before hello');
      stats.framesReceived++;
      if (msg.seq <= opts.lastSeq(session)) {
        // A frame resent after a reconnect that was already stored: acknowledge, do not store twice.
        stats.duplicateFrames++;
      } else {
        await opts.receive(session, msg.seq, msg.items);
      }
      send({ t: 'ack', seq: msg.seq });
      touch();
    };

    const drain = async (): Promise<void> => {
      if (processing) return;
      processing = true;
      try {
        while (pending.length > 0 && !dead) {
          const f = pending.shift() as Buffer;
          pendingBytes -= f.length;
          try {
            await handle(f);
          } catch (err) {
            if (err instanceof PalisadeError && err.code === 'E_CORRUPT') fail(err.message);
            else {
              // Storage failed (disk full, I/O error): no ack, the collector keeps the items
              // and resends them on its next connection.
              log(`publisher: cannot spool a frame: ${err instanceof Error ? err.message : String(err)}`);
              dead = true;
              sock.destroy();
            }
            return;
          }
          if (pending.length < maxPending && pendingBytes < maxPendingBytes && sock.isPaused()) sock.resume();
        }
      } finally {
        processing = false;
      }
    };

    sock.on('data', (chunk: Buffer) => {
      if (dead) return;
      for (const f of decoder.push(chunk)) {
        pending.push(f);
        pendingBytes += f.length;
      }
      if (decoder.error !== undefined) {
        fail(decoder.error);
        return;
      }
      touch();
      if (pending.length >= maxPending || pendingBytes >= maxPendingBytes) sock.pause();
      void drain();
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      dead = true;
      clearTimeout(timer);
      sockets.delete(sock);
    });
  };

  await prepareSocketPath(opts.socketPath);
  const server = net.createServer(onConnection);
  const mode = opts.mode ?? 0o660;
  await listenUnixSocket(server, opts.socketPath, mode);
  // Already created with this mode; set again in case the file system ignores the umask (ACLs).
  await chmod(opts.socketPath, mode);

  return {
    socketPath: opts.socketPath,
    stats: (): TransportServerStats => {
      let bufferedBytes = 0;
      for (const held of sockets.values()) bufferedBytes += held();
      return { ...stats, openConnections: sockets.size, bufferedBytes };
    },
    close: async (): Promise<void> => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of all) s.destroy();
      });
      await unlink(opts.socketPath).catch(() => undefined);
    },
  };
}
