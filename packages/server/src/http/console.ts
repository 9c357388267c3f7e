/**
 * Serves the web console (the Vite build in packages/console/dist) at `/`: static files with
 * their content types, long caching for content-hashed assets, the SPA's index.html for every
 * other GET that is not an API path, and strict security headers (the console loads nothing from
 * outside the server).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize, sep } from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

/** Where the built console is: next to the @palisade/console package, if it was built. */
export function defaultConsoleDir(): string | undefined {
  try {
    const pkg = createRequire(import.meta.url).resolve('@palisade/console/package.json');
    const dir = join(dirname(pkg), 'dist');
    return existsSync(join(dir, 'index.html')) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** The file under `root` a URL path names, or undefined when it escapes root or does not exist. */
function fileFor(root: string, urlPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0')) return undefined;
  const path = normalize(join(root, decoded));
  if (path !== root && !path.startsWith(root.endsWith(sep) ? root : root + sep)) return undefined;
  try {
    return statSync(path).isFile() ? path : undefined;
  } catch {
    return undefined;
  }
}

/** True when the request was answered with a console file. */
export function serveConsole(root: string, req: FastifyRequest, reply: FastifyReply): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const urlPath = req.url.split('?', 1)[0] ?? '/';
  if (urlPath.startsWith('/api/')) return false;
  const file = fileFor(root, urlPath === '/' ? '/index.html' : urlPath);
  // Client-side routes (/images/…) get the app; a missing asset is a real 404.
  const target = file ?? (extname(urlPath) === '' ? join(root, 'index.html') : undefined);
  if (!target) return false;
  const hashed = target.includes(`${sep}assets${sep}`);
  void reply
    .headers(SECURITY_HEADERS)
    .header('cache-control', hashed ? 'public, max-age=31536000, immutable' : 'no-cache')
    .type(TYPES[extname(target)] ?? 'application/octet-stream')
    .send(readFileSync(target));
  return true;
}
