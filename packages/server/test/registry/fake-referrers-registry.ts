/**
 * A small in-memory registry on 127.0.0.1 that implements what the Debian docker-registry 2.8
 * lacks: the OCI 1.1 referrers API (GET /v2/<repo>/referrers/<digest>, computed from the
 * `subject` of stored manifests, with the artifactType filter). Deletion can be turned off to
 * exercise "registry refuses DELETE". Optional Basic auth exercises the report client's own auth.
 * Just enough of the distribution API for RegistryClient's push and pull; not a general fake.
 */
import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';

export interface FakeRegistry {
  host: string;
  url: string;
  /** Allow DELETE of manifests (default true). */
  deleteAllowed: boolean;
  /** Requests seen, as "METHOD path". */
  requests: string[];
  close(): Promise<void>;
}

interface StoredManifest {
  bytes: Buffer;
  mediaType: string;
}

const sha = (b: Buffer): string => 'sha256:' + createHash('sha256').update(b).digest('hex');

export async function startFakeReferrersRegistry(auth?: { username: string; password: string }): Promise<FakeRegistry> {
  const blobs = new Map<string, Buffer>();
  const manifests = new Map<string, Map<string, StoredManifest>>();
  const tags = new Map<string, Map<string, string>>();
  const uploads = new Map<string, true>();
  const state = { deleteAllowed: true, requests: [] as string[] };
  const repoManifests = (repo: string): Map<string, StoredManifest> => {
    let m = manifests.get(repo);
    if (!m) manifests.set(repo, (m = new Map<string, StoredManifest>()));
    return m;
  };
  const repoTags = (repo: string): Map<string, string> => {
    let t = tags.get(repo);
    if (!t) tags.set(repo, (t = new Map<string, string>()));
    return t;
  };
  const expectedAuth = auth
    ? 'Basic ' + Buffer.from(`${auth.username}:${auth.password}`).toString('base64')
    : undefined;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      state.requests.push(`${req.method ?? ''} ${url.pathname}`);
      const json = (status: number, value: unknown, headers: Record<string, string> = {}): void => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(value));
      };
      const error = (status: number, code: string): void =>
        json(status, { errors: [{ code, message: code.toLowerCase() }] });
      if (expectedAuth && req.headers.authorization !== expectedAuth) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="fake"', 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED' }] }));
        return;
      }
      if (url.pathname === '/v2/' || url.pathname === '/v2') return json(200, {});
      const m = /^\/v2\/(.+?)\/(blobs\/uploads|blobs|manifests|referrers|tags)\/(.*)$/.exec(url.pathname);
      if (!m) return error(404, 'NOT_FOUND');
      const [, repo = '', kind, rest = ''] = m;
      const method = req.method ?? 'GET';
      if (kind === 'blobs/uploads') {
        if (method === 'POST') {
          const id = randomUUID();
          uploads.set(id, true);
          res.writeHead(202, { location: `/v2/${repo}/blobs/uploads/${id}`, 'docker-upload-uuid': id });
          return res.end();
        }
        if (method === 'PUT' && uploads.delete(rest)) {
          const digest = url.searchParams.get('digest') ?? '';
          if (sha(body) !== digest) return error(400, 'DIGEST_INVALID');
          blobs.set(digest, body);
          res.writeHead(201, { location: `/v2/${repo}/blobs/${digest}`, 'docker-content-digest': digest });
          return res.end();
        }
        return error(404, 'BLOB_UPLOAD_UNKNOWN');
      }
      if (kind === 'blobs') {
        const blob = blobs.get(rest);
        if (!blob) return error(404, 'BLOB_UNKNOWN');
        res.writeHead(200, { 'content-length': String(blob.length), 'docker-content-digest': rest });
        return res.end(method === 'HEAD' ? undefined : blob);
      }
      if (kind === 'tags') return json(200, { name: repo, tags: [...repoTags(repo).keys()].sort() });
      if (kind === 'manifests') {
        const isDigest = rest.startsWith('sha256:');
        if (method === 'PUT') {
          const digest = sha(body);
          if (isDigest && rest !== digest) return error(400, 'DIGEST_INVALID');
          repoManifests(repo).set(digest, { bytes: body, mediaType: String(req.headers['content-type'] ?? '') });
          if (!isDigest) repoTags(repo).set(rest, digest);
          const subject = (JSON.parse(body.toString('utf8')) as { subject?: { digest?: string } }).subject?.digest;
          res.writeHead(201, {
            'docker-content-digest': digest,
            location: `/v2/${repo}/manifests/${digest}`,
            ...(subject ? { 'oci-subject': subject } : {}),
          });
          return res.end();
        }
        const digest = isDigest ? rest : repoTags(repo).get(rest);
        const stored = digest ? repoManifests(repo).get(digest) : undefined;
        if (!digest || !stored) return error(404, 'MANIFEST_UNKNOWN');
        if (method === 'DELETE') {
          if (!state.deleteAllowed) return error(405, 'UNSUPPORTED');
          repoManifests(repo).delete(digest);
          for (const [t, d] of repoTags(repo)) if (d === digest) repoTags(repo).delete(t);
          res.writeHead(202);
          return res.end();
        }
        res.writeHead(200, {
          'content-type': stored.mediaType,
          'docker-content-digest': digest,
          'content-length': String(stored.bytes.length),
        });
        return res.end(method === 'HEAD' ? undefined : stored.bytes);
      }
      // referrers
      const filter = url.searchParams.get('artifactType');
      const found = [...repoManifests(repo).entries()].flatMap(([digest, s]) => {
        const doc = JSON.parse(s.bytes.toString('utf8')) as {
          subject?: { digest?: string };
          artifactType?: string;
          config?: { mediaType?: string };
          annotations?: Record<string, string>;
        };
        if (doc.subject?.digest !== rest) return [];
        const artifactType = doc.artifactType ?? doc.config?.mediaType;
        if (filter && artifactType !== filter) return [];
        return [
          {
            mediaType: s.mediaType,
            digest,
            size: s.bytes.length,
            ...(artifactType ? { artifactType } : {}),
            ...(doc.annotations ? { annotations: doc.annotations } : {}),
          },
        ];
      });
      return json(
        200,
        { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: found },
        {
          'content-type': 'application/vnd.oci.image.index.v1+json',
          ...(filter ? { 'oci-filters-applied': 'artifactType' } : {}),
        },
      );
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
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    get deleteAllowed(): boolean {
      return state.deleteAllowed;
    },
    set deleteAllowed(v: boolean) {
      state.deleteAllowed = v;
    },
    requests: state.requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
