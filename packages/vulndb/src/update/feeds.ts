/**
 * The public feeds `palisade db update` downloads. Every URL can be redirected: one base URL for
 * all (option `baseUrl` or env PALISADE_FEED_BASE_URL; each feed is then fetched from
 * `<base>/<path>`) or per feed (option `urls[id]` or env PALISADE_FEED_URL_<ID>, ID upper-cased
 * with non-alphanumerics as "_").
 */
export interface FeedSource {
  id: string;
  /** Default public URL. */
  url: string;
  /** Path under a mirror base URL, and the file name under the download dir. */
  path: string;
}

const OSV = 'https://osv-vulnerabilities.storage.googleapis.com';
const OSV_ECOSYSTEMS = ['Ubuntu', 'Go', 'PyPI', 'npm', 'Maven', 'RubyGems', 'crates.io', 'NuGet', 'Packagist'];
/** Alpine releases with secdb files (edge included). */
export const ALPINE_RELEASES = ['v3.16', 'v3.17', 'v3.18', 'v3.19', 'v3.20', 'v3.21', 'v3.22', 'edge'];

export const DEFAULT_FEEDS: readonly FeedSource[] = [
  { id: 'debian-tracker', url: 'https://security-tracker.debian.org/tracker/data/json', path: 'debian/tracker.json' },
  ...ALPINE_RELEASES.flatMap((rel) =>
    ['main', 'community'].map((repo) => ({
      id: `alpine-${rel}-${repo}`,
      url: `https://secdb.alpinelinux.org/${rel}/${repo}.json`,
      path: `alpine/${rel}/${repo}.json`,
    })),
  ),
  ...OSV_ECOSYSTEMS.map((eco) => ({
    id: `osv-${eco.toLowerCase()}`,
    url: `${OSV}/${eco}/all.zip`,
    path: `osv/${eco}/all.zip`,
  })),
  {
    id: 'kev',
    url: 'https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json',
    path: 'kev/known_exploited_vulnerabilities.json',
  },
  {
    id: 'epss',
    url: 'https://epss.empiricalsecurity.com/epss_scores-current.csv.gz',
    path: 'epss/epss_scores-current.csv.gz',
  },
];

export interface FeedUrlOptions {
  baseUrl?: string;
  urls?: Record<string, string>;
  env?: NodeJS.ProcessEnv;
}

export function envName(feedId: string): string {
  return `PALISADE_FEED_URL_${feedId.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** The URL a feed is fetched from after overrides (per-feed option, per-feed env, base option, base env). */
export function feedUrl(feed: FeedSource, o: FeedUrlOptions = {}): string {
  const env = o.env ?? process.env;
  const own = o.urls?.[feed.id] ?? env[envName(feed.id)];
  if (own) return own;
  const base = o.baseUrl ?? env.PALISADE_FEED_BASE_URL;
  if (base) return `${base.replace(/\/+$/, '')}/${feed.path}`;
  return feed.url;
}
