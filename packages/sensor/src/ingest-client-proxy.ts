/**
 * Which proxy (if any) a request to the server goes through, from the environment variables
 * every in-cluster component honours: `https_proxy` / `HTTPS_PROXY` (lower case first, as curl
 * does; an empty value means unset) and `no_proxy` / `NO_PROXY`.
 *
 * NO_PROXY is a comma- (or space-) separated list; each entry is matched against the target
 * host (case-insensitive, a trailing dot ignored) and, when the entry names one, its port:
 *   `*`                     every host
 *   `example.com`           example.com and every subdomain of it
 *   `.example.com`, `*.example.com`   subdomains only
 *   `10.1.2.3`, `::1`, `[::1]`        that address
 *   `10.0.0.0/8`, `fd00::/8`          any address in the range (targets given as IP literals)
 *   `host:8443`, `[::1]:8443`         that host on that port only
 */
import net from 'node:net';
import { PalisadeError } from '@palisade/core';

function firstSet(env: NodeJS.ProcessEnv, names: readonly string[]): string | undefined {
  for (const n of names) {
    const v = env[n];
    if (v !== undefined && v.trim() !== '') return v.trim();
  }
  return undefined;
}

function normaliseHost(h: string): string {
  let s = h.trim().toLowerCase();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  if (s.endsWith('.')) s = s.slice(0, -1);
  return s;
}

interface NoProxyEntry {
  host: string;
  port: number | undefined;
}

function parseEntry(raw: string): NoProxyEntry | undefined {
  let s = raw.trim().toLowerCase();
  if (s === '') return undefined;
  let port: number | undefined;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracket) {
    s = bracket[1] as string;
    if (bracket[2] !== undefined) port = Number(bracket[2]);
  } else if (!s.includes('/') && (s.match(/:/g) ?? []).length === 1) {
    // host:port (a bare IPv6 address has several colons and no port)
    const i = s.lastIndexOf(':');
    const p = s.slice(i + 1);
    if (/^\d+$/.test(p)) {
      port = Number(p);
      s = s.slice(0, i);
    }
  }
  if (s.startsWith('*.')) s = s.slice(1);
  if (s.endsWith('.') && s !== '.') s = s.slice(0, -1);
  return { host: s, port };
}

function ipInCidr(ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  const family = net.isIP(base ?? '');
  if (family === 0 || !Number.isInteger(bits)) return false;
  const ipFamily = net.isIP(ip);
  if (ipFamily !== family) return false;
  const list = new net.BlockList();
  try {
    list.addSubnet(base as string, bits, family === 4 ? 'ipv4' : 'ipv6');
  } catch {
    return false;
  }
  return list.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}

function sameIp(a: string, b: string): boolean {
  const fa = net.isIP(a);
  if (fa === 0 || fa !== net.isIP(b)) return false;
  const list = new net.BlockList();
  list.addAddress(a, fa === 4 ? 'ipv4' : 'ipv6');
  return list.check(b, fa === 4 ? 'ipv4' : 'ipv6');
}

/** True when `noProxy` says a request to host:port must not use the proxy. */
export function matchesNoProxy(host: string, port: number, noProxy: string): boolean {
  const target = normaliseHost(host);
  for (const raw of noProxy.split(/[\s,]+/)) {
    if (raw.trim() === '*') return true;
    const e = parseEntry(raw);
    if (!e || e.host === '') continue;
    if (e.port !== undefined && e.port !== port) continue;
    if (e.host.includes('/')) {
      if (ipInCidr(target, e.host)) return true;
      continue;
    }
    if (net.isIP(e.host) !== 0) {
      if (sameIp(e.host, target)) return true;
      continue;
    }
    if (e.host.startsWith('.')) {
      if (target.endsWith(e.host)) return true;
      continue;
    }
    if (target === e.host || target.endsWith(`.${e.host}`)) return true;
  }
  return false;
}

/** The default port of an http(s) URL when it names none. */
export function urlPort(u: URL): number {
  if (u.port !== '') return Number(u.port);
  return u.protocol === 'https:' ? 443 : 80;
}

/**
 * The proxy for an https request to `target`, or undefined for a direct connection. A proxy
 * value without a scheme is taken as `http://`; only http and https proxies are supported.
 */
export function proxyForUrl(target: URL, env: NodeJS.ProcessEnv): URL | undefined {
  const raw = firstSet(
    env,
    target.protocol === 'https:' ? ['https_proxy', 'HTTPS_PROXY'] : ['http_proxy', 'HTTP_PROXY'],
  );
  if (raw === undefined) return undefined;
  const noProxy = firstSet(env, ['no_proxy', 'NO_PROXY']) ?? '';
  if (matchesNoProxy(target.hostname, urlPort(target), noProxy)) return undefined;
  let proxy: URL;
  try {
    proxy = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
  } catch {
    throw new PalisadeError('E_CONFIG', 'is not a valid proxy URL', { subject: 'HTTPS_PROXY' });
  }
  if (proxy.protocol !== 'http:' && proxy.protocol !== 'https:')
    throw new PalisadeError('E_CONFIG', `proxy scheme ${proxy.protocol} is not supported (use http:// or https://)`, {
      subject: 'HTTPS_PROXY',
    });
  return proxy;
}

/** A proxy URL without its credentials, for logs. */
export function redactProxy(u: URL): string {
  return `${u.protocol}//${u.host}`;
}
