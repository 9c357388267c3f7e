import { useEffect, useState, type ReactNode } from 'react';
import { getToken, setToken, setUnauthorizedHandler } from './api.js';
import { Link, match, navigate, useLocation } from './router.js';
import { SignIn } from './pages/SignIn.js';
import { Overview } from './pages/Overview.js';
import { Images } from './pages/Images.js';
import { ImagePage } from './pages/ImagePage.js';
import { Vulnerabilities } from './pages/Vulnerabilities.js';
import { VulnerabilityPage } from './pages/VulnerabilityPage.js';
import { Scans } from './pages/Scans.js';
import { Settings } from './pages/Settings.js';
import { Clusters } from './pages/Clusters.js';
import { ClusterPage } from './pages/ClusterPage.js';
import { Alerts } from './pages/Alerts.js';
import { AlertPage } from './pages/AlertPage.js';

const NAV: Array<{ href: string; label: string; icon: string }> = [
  { href: '/', label: 'Overview', icon: 'M3 13h8V3H3zm0 8h8v-6H3zm10 0h8V11h-8zm0-18v6h8V3z' },
  { href: '/images', label: 'Images', icon: 'M21 16V8l-9-5-9 5v8l9 5zM3.3 7.6 12 12.5l8.7-4.9M12 22V12.5' },
  { href: '/vulnerabilities', label: 'Vulnerabilities', icon: 'M12 2 2 20h20zM12 9v5m0 3v.01' },
  { href: '/scans', label: 'Scans', icon: 'M4 7V4h3m10 0h3v3m0 10v3h-3M7 20H4v-3M4 12h16' },
  {
    href: '/clusters',
    label: 'Clusters',
    icon: 'M12 2.5 20.5 7v10L12 21.5 3.5 17V7zM12 8.5a3.5 3.5 0 1 0 0 7 3.5 3.5 0 0 0 0-7zM12 2.5v6m0 7v6M3.5 7l5.5 3.2m6 3.6 5.5 3.2',
  },
  {
    href: '/alerts',
    label: 'Alerts',
    icon: 'M6 16V11a6 6 0 1 1 12 0v5l1.5 2h-15zM10 20.5a2 2 0 0 0 4 0',
  },
  {
    href: '/settings',
    label: 'Settings',
    icon: 'M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6zm7.4-3a7.4 7.4 0 0 0-.1-1.2l2-1.6-2-3.4-2.4 1a7.5 7.5 0 0 0-2-1.2L14.5 3h-4l-.4 2.6a7.5 7.5 0 0 0-2 1.2l-2.4-1-2 3.4 2 1.6a7.4 7.4 0 0 0 0 2.4l-2 1.6 2 3.4 2.4-1a7.5 7.5 0 0 0 2 1.2l.4 2.6h4l.4-2.6a7.5 7.5 0 0 0 2-1.2l2.4 1 2-3.4-2-1.6c.1-.4.1-.8.1-1.2z',
  },
];

function route(path: string): ReactNode {
  if (path === '/') return <Overview />;
  if (path === '/images') return <Images />;
  if (path === '/vulnerabilities') return <Vulnerabilities />;
  if (path === '/scans') return <Scans />;
  if (path === '/settings') return <Settings />;
  if (path === '/clusters') return <Clusters />;
  if (path === '/alerts') return <Alerts />;
  let m = match('/images/:digest', path);
  if (m?.['digest']) return <ImagePage key={m['digest']} digest={m['digest']} />;
  m = match('/vulnerabilities/:id', path);
  if (m?.['id']) return <VulnerabilityPage key={m['id']} id={m['id']} />;
  m = match('/clusters/:id', path);
  if (m?.['id']) return <ClusterPage key={m['id']} id={m['id']} />;
  m = match('/alerts/:id', path);
  if (m?.['id']) return <AlertPage key={m['id']} id={m['id']} />;
  return (
    <div className="state empty">
      <strong>Page not found</strong>
      <div className="muted">
        Nothing lives at <code>{path}</code>. <Link href="/">Back to the overview</Link>
      </div>
    </div>
  );
}

export function App(): ReactNode {
  const loc = useLocation();
  const [signedIn, setSignedIn] = useState(() => getToken() !== null);
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    setUnauthorizedHandler((msg) => {
      setNotice(msg);
      setSignedIn(false);
    });
  }, []);

  useEffect(() => {
    const section = NAV.find((n) => (n.href === '/' ? loc.path === '/' : loc.path.startsWith(n.href)));
    document.title = section ? `${section.label} · Palisade` : 'Palisade';
  }, [loc.path]);

  if (!signedIn) {
    return (
      <SignIn
        notice={notice}
        onSignedIn={(token) => {
          setToken(token);
          setNotice(null);
          setSignedIn(true);
        }}
      />
    );
  }

  const signOut = (): void => {
    setToken(null);
    setNotice('Signed out.');
    setSignedIn(false);
    navigate('/');
  };

  return (
    <div className="shell">
      <nav className="side" aria-label="Main">
        <Link href="/" className="brand">
          <Logo />
          <span>Palisade</span>
        </Link>
        <ul>
          {NAV.map((n) => {
            const active = n.href === '/' ? loc.path === '/' : loc.path === n.href || loc.path.startsWith(n.href + '/');
            return (
              <li key={n.href}>
                <Link
                  href={n.href}
                  className={active ? 'active' : undefined}
                  aria-current={active ? 'page' : undefined}
                >
                  <svg viewBox="0 0 24 24" width={18} height={18} aria-hidden="true">
                    <path
                      d={n.icon}
                      fill="none"
                      stroke="currentColor"
                      strokeWidth={1.8}
                      strokeLinecap="round"
                      strokeLinejoin="round"
                    />
                  </svg>
                  {n.label}
                </Link>
              </li>
            );
          })}
        </ul>
        <button type="button" className="signout" onClick={signOut}>
          Sign out
        </button>
      </nav>
      <main className="content" id="main">
        {route(loc.path)}
      </main>
    </div>
  );
}

export function Logo({ size = 26 }: { size?: number }): ReactNode {
  return (
    <svg viewBox="0 0 32 32" width={size} height={size} aria-hidden="true">
      <path d="M16 2 4 7v8c0 7.5 5.1 13.4 12 15 6.9-1.6 12-7.5 12-15V7z" fill="var(--brand)" />
      <path d="M10 9v14M16 7v18M22 9v14" stroke="#fff" strokeWidth={2.5} strokeLinecap="round" />
    </svg>
  );
}
