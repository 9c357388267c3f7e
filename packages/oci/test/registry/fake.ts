/**
 * Small misbehaving HTTP servers on 127.0.0.1 for fault tests: each records the requests it saw
 * and is closed (with its open connections) by close().
 */
import http from 'node:http';
import net from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  authorization?: string;
}

export interface FakeServer {
  host: string;
  port: number;
  seen: SeenRequest[];
  close(): Promise<void>;
}

export async function startFake(
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<FakeServer> {
  const seen: SeenRequest[] = [];
  const server = http.createServer((req, res) => {
    seen.push({
      method: req.method ?? '',
      url: req.url ?? '',
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    });
    handler(req, res);
  });
  const port = await new Promise<number>((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : 0);
    });
  });
  return {
    host: `127.0.0.1:${port}`,
    port,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A TCP server that accepts connections and never says a word. */
export async function startSilent(): Promise<FakeServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  const port = await new Promise<number>((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : 0);
    });
  });
  return {
    host: `127.0.0.1:${port}`,
    port,
    seen: [],
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
