/**
 * The publisher's end of the node-local transport: listens on the unix socket (mode 0660, so
 * only the publisher's user and group — the collector is made a member — can connect), reads
 * frames, hands each items frame to `receive` and acknowledges it once `receive` resolved
 * (i.e. the items are durably spooled). Frames of one connection are handled one at a time
 * and in order; a connection that sends faster than the spool writes is paused (bounded).
 */
import net from 'node:net';
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PalisadeError } from '@palisade/core';
import {
  FrameDecoder,
  MAX_FRAME_BYTES,
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
  /** Socket file mode (default 0o660). */
  mode?: number;
}

export interface TransportServerStats {
  connections: number;
  framesReceived: number;
  duplicateFrames: number;
  protocolErrors: number;
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

/** Removes a stale socket file; refuses to touch anything else or a live publisher's socket. */
async function prepareSocketPath(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
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

export async function serveTransport(opts: TransportServerOptions): Promise<TransportServer> {
  const log = opts.log ?? ((): void => undefined);
  const maxPending = opts.maxPendingFrames ?? 16;
  const stats: TransportServerStats = { connections: 0, framesReceived: 0, duplicateFrames: 0, protocolErrors: 0 };
  const sockets = new Set<net.Socket>();

  const onConnection = (sock: net.Socket): void => {
    sockets.add(sock);
    stats.connections++;
    const decoder = new FrameDecoder(MAX_FRAME_BYTES);
    const pending: Buffer[] = [];
    let session: string | undefined;
    let processing = false;
    let dead = false;

    const send = (m: PublisherMessage): void => {
      if (!sock.destroyed) sock.write(encodeMessage(m));
    };
    const fail = (message: string): void => {
      stats.protocolErrors++;
      log(`publisher: closing a collector connection: ${message}`);
      send({ t: 'error', message });
      dead = true;
      pending.length = 0;
      sock.end();
      setTimeout(() => sock.destroy(), 1000).unref();
    };

    const handle = async (frame: Buffer): Promise<void> => {
      const msg = parseCollectorMessage(frame);
      if (msg.t === 'hello') {
        if (session !== undefined) throw new PalisadeError('E_CORRUPT', 'second hello on one connection');
        if (msg.v !== TRANSPORT_VERSION)
          throw new PalisadeError('E_CORRUPT', `transport version ${msg.v} not supported (${TRANSPORT_VERSION} is)`);
        session = msg.session;
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
    };

    const drain = async (): Promise<void> => {
      if (processing) return;
      processing = true;
      try {
        while (pending.length > 0 && !dead) {
          const f = pending.shift() as Buffer;
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
          if (pending.length < maxPending && sock.isPaused()) sock.resume();
        }
      } finally {
        processing = false;
      }
    };

    sock.on('data', (chunk: Buffer) => {
      if (dead) return;
      pending.push(...decoder.push(chunk));
      if (decoder.error !== undefined) {
        fail(decoder.error);
        return;
      }
      if (pending.length >= maxPending) sock.pause();
      void drain();
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      dead = true;
      sockets.delete(sock);
    });
  };

  await prepareSocketPath(opts.socketPath);
  const server = net.createServer(onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new PalisadeError('E_CONFIG', `cannot listen: ${err.code ?? err.message}`, {
          subject: opts.socketPath,
          cause: err,
        }),
      ),
    );
    server.listen(opts.socketPath, () => resolve());
  });
  await chmod(opts.socketPath, opts.mode ?? 0o660);

  return {
    socketPath: opts.socketPath,
    stats: () => ({ ...stats }),
    close: async (): Promise<void> => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      await unlink(opts.socketPath).catch(() => undefined);
    },
  };
}
