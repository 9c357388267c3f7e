/**
 * A listener for the registry's webhook notifications, for tests and for regenerating the
 * fixtures in test/fixtures/registry (run capture-notifications.js). Only binds 127.0.0.1.
 */
import http from 'node:http';

export interface CapturedRequest {
  contentType: string;
  authorization: string | undefined;
  body: string;
}

export interface NotifyListener {
  url: string;
  received: CapturedRequest[];
  /** Resolve once `predicate` holds for what arrived, or reject after `timeoutMs`. */
  waitFor(predicate: (got: readonly CapturedRequest[]) => boolean, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

export async function startNotifyListener(): Promise<NotifyListener> {
  const received: CapturedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        contentType: String(req.headers['content-type'] ?? ''),
        authorization: req.headers.authorization,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      res.writeHead(200);
      res.end();
    });
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : 0);
    });
  });
  return {
    url: `http://127.0.0.1:${port}/events`,
    received,
    async waitFor(predicate, timeoutMs): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(received)) {
        if (Date.now() > deadline)
          throw new Error(`notifications did not arrive within ${timeoutMs} ms (got ${received.length})`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
