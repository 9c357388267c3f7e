import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError } from './api.js';

export interface Async<T> {
  data: T | undefined;
  error: ApiError | Error | undefined;
  loading: boolean;
  reload: () => void;
}

/**
 * Run `fn` when `deps` change, aborting the previous call. Keeps the last data while a new
 * call runs, so tables do not flash empty between pages.
 */
export function useApi<T>(fn: (signal: AbortSignal) => Promise<T>, deps: readonly unknown[]): Async<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<Error>();
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const fnRef = useRef(fn);
  fnRef.current = fn;
  useEffect(() => {
    const ctl = new AbortController();
    setLoading(true);
    fnRef.current(ctl.signal).then(
      (d) => {
        if (ctl.signal.aborted) return;
        setData(d);
        setError(undefined);
        setLoading(false);
      },
      (e: unknown) => {
        if (ctl.signal.aborted) return;
        setError(e instanceof Error ? e : new Error(String(e)));
        setLoading(false);
      },
    );
    return () => ctl.abort();
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

/** `sha256:0123456789ab` */
export function shortDigest(d: string | null | undefined, n = 12): string {
  if (!d) return '';
  const i = d.indexOf(':');
  return i < 0 ? d.slice(0, n) : `${d.slice(0, i + 1)}${d.slice(i + 1, i + 1 + n)}`;
}

const rtf = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });

export function ago(iso: string | null | undefined): string {
  if (!iso) return '—';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.round((t - Date.now()) / 1000);
  const abs = Math.abs(s);
  if (abs < 45) return 'just now';
  if (abs < 3600) return rtf.format(Math.round(s / 60), 'minute');
  if (abs < 86_400) return rtf.format(Math.round(s / 3600), 'hour');
  if (abs < 86_400 * 30) return rtf.format(Math.round(s / 86_400), 'day');
  return new Date(t).toISOString().slice(0, 10);
}

export function dateTime(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export const num = new Intl.NumberFormat('en');

export function plural(n: number, word: string, many = `${word}s`): string {
  return `${num.format(n)} ${n === 1 ? word : many}`;
}

/** Where to read about a vulnerability id: NVD for CVEs, GitHub for GHSAs, the distro trackers otherwise. */
export function advisoryLinks(id: string): Array<{ label: string; href: string }> {
  const out: Array<{ label: string; href: string }> = [];
  if (/^CVE-\d{4}-\d+$/i.test(id)) {
    out.push({ label: 'NVD', href: `https://nvd.nist.gov/vuln/detail/${id.toUpperCase()}` });
  } else if (/^GHSA-/i.test(id)) {
    out.push({ label: 'GitHub', href: `https://github.com/advisories/${id}` });
  } else if (/^(DSA|DLA)-/i.test(id)) {
    out.push({ label: 'Debian', href: `https://security-tracker.debian.org/tracker/${id.toUpperCase()}` });
  } else if (/^USN-/i.test(id)) {
    out.push({ label: 'Ubuntu', href: `https://ubuntu.com/security/notices/${id.toUpperCase()}` });
  } else if (/^(RHSA|RHBA)-/i.test(id)) {
    out.push({ label: 'Red Hat', href: `https://access.redhat.com/errata/${id.toUpperCase()}` });
  } else {
    out.push({ label: 'OSV', href: `https://osv.dev/vulnerability/${id}` });
  }
  return out;
}

export function imageName(img: { registry: string; repository: string }): string {
  // Local sources (oci:DIR, archive:FILE) are filed under the pseudo-registry `local`.
  return img.registry && img.registry !== 'local' ? `${img.registry}/${img.repository}` : img.repository;
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.status ? `${e.message} (${e.status} ${e.code})` : e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

/** The server gives webhook URLs as paths; registries need them absolute. */
export function absoluteUrl(u: string): string {
  try {
    return new URL(u, location.origin).href;
  } catch {
    return u;
  }
}
