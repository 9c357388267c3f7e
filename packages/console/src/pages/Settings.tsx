import { useState, type FormEvent, type ReactNode } from 'react';
import { api, type ApiToken, type Registry, type RegistryCreated, type Role, type TokenCreated } from '../api.js';
import {
  ConfirmButton,
  CopyButton,
  Empty,
  ErrorState,
  OnceSecret,
  PageHeader,
  Spinner,
  Table,
  type Column,
} from '../components.js';
import { absoluteUrl, ago, dateTime, errorText, useApi } from '../util.js';

export function Settings(): ReactNode {
  return (
    <div className="page">
      <PageHeader
        title="Settings"
        sub="Registries that send push webhooks, and the API tokens of people and pipelines"
      />
      <Registries />
      <Tokens />
    </div>
  );
}

function Registries(): ReactNode {
  const res = useApi((signal) => api.registries(signal), []);
  const [created, setCreated] = useState<RegistryCreated | null>(null);
  const [rotated, setRotated] = useState<{ name: string; url: string; token: string } | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [showForm, setShowForm] = useState(false);

  const columns: Column<Registry>[] = [
    { key: 'name', header: 'Name', sort: (r) => r.name, render: (r) => <span className="strong">{r.name}</span> },
    { key: 'url', header: 'URL', sort: (r) => r.url, render: (r) => <span className="mono small">{r.url}</span> },
    {
      key: 'flags',
      header: 'Access',
      render: (r) => (
        <span className="flags">
          {r.hasCredentials ? <span className="tag">credentials</span> : <span className="tag muted">anonymous</span>}
          {r.insecure && <span className="tag warn">insecure TLS</span>}
        </span>
      ),
    },
    {
      key: 'webhook',
      header: 'Webhook URL',
      render: (r) =>
        r.webhookUrl ? (
          <span className="webhook">
            <span className="mono small" title={absoluteUrl(r.webhookUrl)}>
              {absoluteUrl(r.webhookUrl)}
            </span>
            <CopyButton text={absoluteUrl(r.webhookUrl)} />
          </span>
        ) : (
          <span className="muted">—</span>
        ),
    },
    {
      key: 'token',
      header: 'Webhook token',
      render: (r) =>
        r.hasWebhookToken ? <span className="ok small">set</span> : <span className="warn small">none</span>,
    },
    {
      key: 'created',
      header: 'Added',
      sort: (r) => r.createdAt,
      render: (r) => <span title={dateTime(r.createdAt)}>{ago(r.createdAt)}</span>,
    },
    {
      key: 'actions',
      header: '',
      align: 'right',
      render: (r) => (
        <span className="rowactions">
          <ConfirmButton
            label="Remove"
            confirm="Remove registry?"
            onConfirm={async () => {
              try {
                await api.deleteRegistry(r.id);
                setActionError(null);
                res.reload();
              } catch (e) {
                setActionError(errorText(e));
              }
            }}
          />
        </span>
      ),
    },
  ];

  return (
    <section className="card" aria-labelledby="registries">
      <div className="cardhead">
        <h2 id="registries">Registries</h2>
        {!showForm && (
          <button type="button" className="btn primary" onClick={() => setShowForm(true)}>
            Add registry
          </button>
        )}
      </div>
      <p className="muted small">
        Point the registry&apos;s push notifications at the webhook URL, sending the webhook token as{' '}
        <code>Authorization: Bearer …</code>. Each push is then scanned.
      </p>
      {created && (
        <div className="once" data-testid="registry-created">
          <strong>Registry “{created.registry.name}” added.</strong> Configure its notifications now: the token is shown
          only this once.
          <OnceSecret label="Webhook URL" value={absoluteUrl(created.webhook.url)} testId="webhook-url" />
          <OnceSecret label="Webhook token" value={created.webhook.token} testId="webhook-token" />
          <button type="button" className="btn small" onClick={() => setCreated(null)}>
            I have saved it
          </button>
        </div>
      )}
      {rotated && (
        <div className="once">
          <strong>New webhook token for “{rotated.name}”.</strong> The previous token no longer works.
          <OnceSecret label="Webhook URL" value={absoluteUrl(rotated.url)} />
          <OnceSecret label="Webhook token" value={rotated.token} />
          <button type="button" className="btn small" onClick={() => setRotated(null)}>
            I have saved it
          </button>
        </div>
      )}
      {showForm && (
        <RegistryForm
          onCancel={() => setShowForm(false)}
          onCreated={(c) => {
            setCreated(c);
            setShowForm(false);
            res.reload();
          }}
        />
      )}
      {actionError && (
        <div className="banner error" role="alert">
          {actionError}
        </div>
      )}
      {res.error ? (
        <ErrorState error={res.error} onRetry={res.reload} />
      ) : !res.data ? (
        <Spinner />
      ) : (
        <Table
          testId="registries-table"
          caption="Registries"
          rows={res.data}
          columns={columns}
          rowKey={(r) => r.id}
          empty={<Empty title="No registries">Add one to have pushes scanned automatically.</Empty>}
        />
      )}
    </section>
  );
}

function RegistryForm({
  onCreated,
  onCancel,
}: {
  onCreated: (c: RegistryCreated) => void;
  onCancel: () => void;
}): ReactNode {
  const [name, setName] = useState('');
  const [url, setUrl] = useState('https://');
  const [insecure, setInsecure] = useState(false);
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
      setError('Name: letters, digits, dot, dash and underscore, starting with a letter or digit.');
      return;
    }
    if (!/^https?:\/\/.+/.test(url)) {
      setError('URL must start with https:// (or http:// for a plain-HTTP registry).');
      return;
    }
    if (Boolean(username) !== Boolean(password)) {
      setError('Give both username and password, or neither.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      onCreated(
        await api.createRegistry({ name, url, insecure, ...(username ? { credentials: { username, password } } : {}) }),
      );
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="form" onSubmit={(e) => void submit(e)} aria-label="Add registry">
      <div className="formgrid">
        <label>
          Name
          <input
            name="name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder="prod-registry"
            required
          />
        </label>
        <label>
          URL
          <input
            name="url"
            value={url}
            onChange={(e) => setUrl(e.target.value)}
            placeholder="https://registry.example.com"
            required
            className="mono"
          />
        </label>
        <label>
          Username <span className="muted">(optional)</span>
          <input name="username" value={username} onChange={(e) => setUsername(e.target.value)} autoComplete="off" />
        </label>
        <label>
          Password or token <span className="muted">(optional)</span>
          <input
            name="password"
            type="password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            autoComplete="new-password"
          />
        </label>
      </div>
      <label className="check">
        <input type="checkbox" checked={insecure} onChange={(e) => setInsecure(e.target.checked)} /> Skip TLS
        verification (self-signed test registries only)
      </label>
      {error && (
        <div className="banner error" role="alert">
          {error}
        </div>
      )}
      <div className="formactions">
        <button type="submit" className="btn primary" disabled={busy}>
          {busy ? 'Adding…' : 'Add registry'}
        </button>
        <button type="button" className="btn ghost" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

const ROLE_HELP: Record<Role, string> = {
  reader: 'read images, vulnerabilities and scans',
  operator: 'also queue scans',
  admin: 'everything, including registries and tokens',
};

function Tokens(): ReactNode {
  const res = useApi((signal) => api.tokens(signal), []);
  const [created, setCreated] = useState<TokenCreated | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [showRevoked, setShowRevoked] = useState(false);

  const columns: Column<ApiToken>[] = [
    { key: 'name', header: 'Name', sort: (r) => r.name, render: (r) => <span className="strong">{r.name}</span> },
    {
      key: 'role',
      header: 'Role',
      sort: (r) => r.role,
      render: (r) => <span className={`tag role-${r.role}`}>{r.role}</span>,
    },
    { key: 'prefix', header: 'Token', render: (r) => <span className="mono small">{r.displayPrefix}…</span> },
    {
      key: 'created',
      header: 'Created',
      descFirst: true,
      sort: (r) => r.createdAt,
      render: (r) => <span title={dateTime(r.createdAt)}>{ago(r.createdAt)}</span>,
    },
    {
      key: 'used',
      header: 'Last used',
      descFirst: true,
      sort: (r) => r.lastUsedAt ?? '',
      render: (r) => <span title={dateTime(r.lastUsedAt)}>{r.lastUsedAt ? ago(r.lastUsedAt) : 'never'}</span>,
    },
    {
      key: 'expires',
      header: 'Expires',
      sort: (r) => r.expiresAt ?? '9999',
      render: (r) => <span title={dateTime(r.expiresAt)}>{r.expiresAt ? ago(r.expiresAt) : 'never'}</span>,
    },
    {
      key: 'state',
      header: '',
      align: 'right',
      render: (r) =>
        r.revokedAt ? (
          <span className="muted small">revoked {ago(r.revokedAt)}</span>
        ) : r.expiresAt && Date.parse(r.expiresAt) < Date.now() ? (
          <span className="muted small">expired</span>
        ) : (
          <ConfirmButton
            label="Revoke"
            confirm="Revoke now?"
            onConfirm={async () => {
              try {
                await api.revokeToken(r.id);
                setActionError(null);
                res.reload();
              } catch (e) {
                setActionError(errorText(e));
              }
            }}
          />
        ),
    },
  ];
  const rows = (res.data ?? []).filter((t) => showRevoked || !t.revokedAt);
  const revokedCount = (res.data ?? []).filter((t) => t.revokedAt).length;

  return (
    <section className="card" aria-labelledby="tokens">
      <div className="cardhead">
        <h2 id="tokens">API tokens</h2>
        {revokedCount > 0 && (
          <label className="check small">
            <input type="checkbox" checked={showRevoked} onChange={(e) => setShowRevoked(e.target.checked)} /> Show{' '}
            {revokedCount} revoked
          </label>
        )}
      </div>
      <TokenForm
        onCreated={(c) => {
          setCreated(c);
          res.reload();
        }}
      />
      {created && (
        <div className="once" data-testid="token-created">
          <strong>
            Token “{created.record.name}” created ({created.record.role}).
          </strong>{' '}
          Copy it now: it is shown only this once and cannot be recovered.
          <OnceSecret label="API token" value={created.token} testId="new-token" />
          <button type="button" className="btn small" onClick={() => setCreated(null)}>
            I have saved it
          </button>
        </div>
      )}
      {actionError && (
        <div className="banner error" role="alert">
          {actionError}
        </div>
      )}
      {res.error ? (
        <ErrorState error={res.error} onRetry={res.reload} />
      ) : !res.data ? (
        <Spinner />
      ) : (
        <Table
          testId="tokens-table"
          caption="API tokens"
          rows={rows}
          columns={columns}
          rowKey={(r) => r.id}
          empty={<Empty title="No tokens" />}
        />
      )}
    </section>
  );
}

function TokenForm({ onCreated }: { onCreated: (c: TokenCreated) => void }): ReactNode {
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('reader');
  const [days, setDays] = useState('90');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (!name.trim()) {
      setError('Give the token a name (who or what uses it).');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const expiresAt = days === 'never' ? undefined : new Date(Date.now() + Number(days) * 86_400_000).toISOString();
      onCreated(await api.createToken({ name: name.trim(), role, ...(expiresAt ? { expiresAt } : {}) }));
      setName('');
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="form inline" onSubmit={(e) => void submit(e)} aria-label="Create API token">
      <label>
        Name
        <input name="tokenName" value={name} onChange={(e) => setName(e.target.value)} placeholder="ci-pipeline" />
      </label>
      <label>
        Role
        <select name="role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
          {(Object.keys(ROLE_HELP) as Role[]).map((r) => (
            <option key={r} value={r}>
              {r} — {ROLE_HELP[r]}
            </option>
          ))}
        </select>
      </label>
      <label>
        Expires
        <select name="expires" value={days} onChange={(e) => setDays(e.target.value)}>
          <option value="30">in 30 days</option>
          <option value="90">in 90 days</option>
          <option value="365">in a year</option>
          <option value="never">never</option>
        </select>
      </label>
      <button type="submit" className="btn primary" disabled={busy}>
        {busy ? 'Creating…' : 'Create token'}
      </button>
      {error && (
        <div className="banner error full" role="alert">
          {error}
        </div>
      )}
    </form>
  );
}
