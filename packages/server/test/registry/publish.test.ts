import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fixedClock, PalisadeError, type ScanReport } from '@palisade/core';
import { RegistryClient, digestOf } from '@palisade/oci';
import { writeReport } from '@palisade/scanner';
import { buildImage, pushLayout, startRegistry, tempDir, writeOciLayout } from '@palisade/testkit';
import {
  DISTRIBUTION_EVENTS_MEDIA_TYPE,
  OCI_INDEX_MEDIA_TYPE,
  OCI_MANIFEST_MEDIA_TYPE,
  PALISADE_REPORT_ARTIFACT_TYPE,
  PALISADE_USER_AGENT,
  createReportRegistryClient,
  listReports,
  parseRegistryEvents,
  publishReport,
  readReport,
  referrersTagFor,
  type ReportRegistryClient,
} from '../../src/registry/index.js';
import { startFakeReferrersRegistry } from './fake-referrers-registry.js';
import { startNotifyListener } from './notify-listener.js';

function makeReport(digest: string, createdAt: string, n = 0): ScanReport {
  return {
    schemaVersion: 1,
    generator: { name: 'palisade', version: '0.1.0' },
    createdAt,
    artifact: { name: 'demo/app:v1', kind: 'registry', digest, layers: [] },
    packages: [],
    vulnerabilities: [],
    warnings: Array.from({ length: n }, (_, i) => `warning ${i}`),
  };
}

function cdx(report: ScanReport): string {
  return writeReport(report, 'cyclonedx');
}

async function errorCode(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return err instanceof PalisadeError ? err.code : 'not a PalisadeError';
  }
}

test('real registry without referrers API: tag schema, one report per digest, image untouched, own events ignored', async () => {
  const listener = await startNotifyListener();
  const registry = await startRegistry({ notifications: { url: listener.url } });
  const tmp = tempDir('palisade-publish-');
  const client = new RegistryClient(registry.host, { insecure: true, userAgent: PALISADE_USER_AGENT });
  try {
    const layout = join(tmp.path, 'layout');
    const built = writeOciLayout(layout, 'v1', [
      { layers: [{ files: [{ path: 'etc/os-release', content: 'ID=demo\n' }] }] },
    ]);
    await pushLayout(layout, 'v1', registry, 'demo/app:v1');
    await pushLayout(layout, 'v1', registry, 'demo/app:stable');
    const repo = 'demo/app';
    const rc = createReportRegistryClient(client, { baseUrl: registry.url });

    const before = await client.getManifest(repo, 'v1', [OCI_MANIFEST_MEDIA_TYPE]);
    const tagsBefore = await client.listTags(repo);
    const subject = { digest: before.digest, mediaType: before.mediaType, size: before.bytes.length };
    assert.equal(subject.digest, built.digest);

    const first = makeReport(subject.digest, '2025-01-01T00:00:00.000Z', 1);
    const r1 = await publishReport({
      client: rc,
      repository: repo,
      subject,
      report: first,
      cyclonedx: cdx(first),
      clock: fixedClock('2025-01-01T00:00:00Z'),
    });
    assert.equal(r1.method, 'tag-schema');
    assert.deepEqual(r1.replaced, []);

    // Another tool's referrer in the same index must survive Palisade's updates.
    const tag = referrersTagFor(subject.digest);
    // (Distribution 2.8 checks that an index's entries exist, so it is a real artifact.)
    const sigBytes = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST_MEDIA_TYPE,
        artifactType: 'application/vnd.example.sig',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: digestOf(Buffer.from('{}')), size: 2 },
        layers: [{ mediaType: 'application/vnd.oci.empty.v1+json', digest: digestOf(Buffer.from('{}')), size: 2 }],
        subject,
      }),
    );
    await client.putBlob(repo, Buffer.from('{}'));
    const sigDigest = await client.putManifest(repo, digestOf(sigBytes), sigBytes, OCI_MANIFEST_MEDIA_TYPE);
    const foreign = {
      mediaType: OCI_MANIFEST_MEDIA_TYPE,
      digest: sigDigest,
      size: sigBytes.length,
      artifactType: 'application/vnd.example.sig',
    };
    const idx = JSON.parse((await client.getManifest(repo, tag, [OCI_INDEX_MEDIA_TYPE])).bytes.toString('utf8')) as {
      manifests: unknown[];
    };
    idx.manifests.unshift(foreign);
    await client.putManifest(repo, tag, Buffer.from(JSON.stringify(idx)), OCI_INDEX_MEDIA_TYPE);

    const second = makeReport(subject.digest, '2025-01-02T00:00:00.000Z', 2);
    const r2 = await publishReport({
      client: rc,
      repository: repo,
      subject,
      report: second,
      cyclonedx: cdx(second),
      clock: fixedClock('2025-01-02T00:00:00Z'),
    });
    assert.equal(r2.method, 'tag-schema');
    assert.notEqual(r2.digest, r1.digest);
    assert.deepEqual(r2.replaced, [r1.digest]);
    assert.deepEqual(r2.notDeleted, []);

    // Exactly one Palisade report, the second; the other tool's entry kept as it was.
    const listing = await listReports(rc, repo, subject.digest);
    assert.equal(listing.method, 'tag-schema');
    assert.deepEqual(
      listing.reports.map((r) => r.digest),
      [r2.digest],
    );
    assert.equal(listing.reports[0]?.created, '2025-01-02T00:00:00.000Z');
    const index = JSON.parse((await client.getManifest(repo, tag, [OCI_INDEX_MEDIA_TYPE])).bytes.toString('utf8')) as {
      manifests: Array<{ digest: string; artifactType?: string; annotations?: Record<string, string> }>;
    };
    assert.deepEqual(index.manifests[0], foreign);
    assert.equal(index.manifests.length, 2);
    assert.equal(index.manifests[1]?.artifactType, PALISADE_REPORT_ARTIFACT_TYPE);
    assert.equal(index.manifests[1]?.annotations?.['dev.palisade.scanned-digest'], subject.digest);

    // The replaced report is gone from the registry (distribution 2.8 with deletion enabled).
    assert.equal(await errorCode(client.getManifest(repo, r1.digest, [OCI_MANIFEST_MEDIA_TYPE])), 'E_NOT_FOUND');

    // The report reads back: its JSON layer is the report, byte for byte as the json writer writes it.
    const read = await readReport(rc, repo, r2.digest);
    assert.deepEqual(read.report, JSON.parse(writeReport(second, 'json')));
    assert.equal(read.cyclonedx, cdx(second));
    assert.equal(read.subject, subject.digest);
    const manifest = JSON.parse(
      (await client.getManifest(repo, r2.digest, [OCI_MANIFEST_MEDIA_TYPE])).bytes.toString('utf8'),
    ) as {
      artifactType: string;
      config: { mediaType: string; size: number };
      layers: Array<{ mediaType: string; digest: string }>;
      subject: { digest: string; mediaType: string; size: number };
    };
    assert.equal(manifest.artifactType, PALISADE_REPORT_ARTIFACT_TYPE);
    assert.equal(manifest.config.mediaType, 'application/vnd.oci.empty.v1+json');
    assert.deepEqual(manifest.subject, subject);
    assert.equal(manifest.layers[0]?.digest, digestOf(Buffer.from(writeReport(second, 'json'))));
    assert.equal(manifest.layers[1]?.mediaType, 'application/vnd.cyclonedx+json');

    // The image: manifest bytes identical, both user tags still on it, only the referrers tag added.
    for (const t of ['v1', 'stable']) {
      const after = await client.getManifest(repo, t, [OCI_MANIFEST_MEDIA_TYPE]);
      assert.ok(after.bytes.equals(before.bytes), `tag ${t} unchanged`);
    }
    const tagsAfter = await client.listTags(repo);
    assert.deepEqual(
      tagsAfter.filter((t) => t !== tag),
      tagsBefore,
    );
    assert.ok(tagsAfter.includes(tag));

    // Another tool deletes its referrer without updating the index: publishing still works and
    // drops the dead entry (distribution refuses an index naming a missing manifest).
    assert.deepEqual(await rc.deleteManifest(repo, foreign.digest), { deleted: true });
    const third = makeReport(subject.digest, '2025-01-03T00:00:00.000Z', 3);
    const r3 = await publishReport({
      client: rc,
      repository: repo,
      subject,
      report: third,
      cyclonedx: cdx(third),
      clock: fixedClock('2025-01-03T00:00:00Z'),
    });
    assert.deepEqual(r3.replaced, [r2.digest]);
    const pruned = JSON.parse((await client.getManifest(repo, tag, [OCI_INDEX_MEDIA_TYPE])).bytes.toString('utf8')) as {
      manifests: Array<{ digest: string }>;
    };
    assert.deepEqual(
      pruned.manifests.map((m) => m.digest),
      [r3.digest],
    );
    assert.ok((await client.getManifest(repo, 'v1', [OCI_MANIFEST_MEDIA_TYPE])).bytes.equals(before.bytes));

    // The registry notified Palisade's own pushes too: none of them is a push to scan.
    const own = (body: string): boolean => body.includes(`"tag": "${tag}"`) || body.includes(`"tag":"${tag}"`);
    await listener.waitFor((got) => got.filter((r) => own(r.body)).length >= 4, 20_000);
    const pushes = listener.received.flatMap((r) => parseRegistryEvents(r.body, r.contentType).pushes);
    assert.deepEqual([...new Set(pushes.map((p) => p.digest))], [subject.digest], "only skopeo's pushes of the image");
    assert.ok(listener.received.every((r) => r.contentType === DISTRIBUTION_EVENTS_MEDIA_TYPE));
  } finally {
    client.close();
    await registry.stop();
    await listener.close();
    tmp.cleanup();
  }
});

test('a tag in the referrers tag schema that is not an index is never overwritten', async () => {
  const registry = await startRegistry();
  const tmp = tempDir('palisade-publish-');
  const client = new RegistryClient(registry.host, { insecure: true, userAgent: PALISADE_USER_AGENT });
  try {
    const layout = join(tmp.path, 'layout');
    const built = writeOciLayout(layout, 'v1', [{ layers: [{ files: [{ path: 'a', content: 'a\n' }] }] }]);
    const tag = referrersTagFor(built.digest);
    await pushLayout(layout, 'v1', registry, 'odd/app:v1');
    await pushLayout(layout, 'v1', registry, `odd/app:${tag}`);
    const rc = createReportRegistryClient(client, { baseUrl: registry.url });
    const before = await client.getManifest('odd/app', tag, [OCI_MANIFEST_MEDIA_TYPE]);
    const report = makeReport(built.digest, '2025-01-01T00:00:00.000Z');
    const subject = { digest: built.digest, mediaType: OCI_MANIFEST_MEDIA_TYPE, size: before.bytes.length };
    const code = await errorCode(
      publishReport({
        client: rc,
        repository: 'odd/app',
        subject,
        report,
        cyclonedx: cdx(report),
        clock: fixedClock('2025-01-01T00:00:00Z'),
      }),
    );
    assert.equal(code, 'E_REGISTRY');
    const after = await client.getManifest('odd/app', tag, [OCI_MANIFEST_MEDIA_TYPE]);
    assert.ok(after.bytes.equals(before.bytes));

    // A subject that does not exist, or is described wrongly, is refused before anything is pushed.
    const missing = { ...subject, digest: `sha256:${'0'.repeat(64)}` };
    assert.equal(
      await errorCode(
        publishReport({
          client: rc,
          repository: 'odd/app',
          subject: missing,
          report,
          cyclonedx: '{}',
          clock: fixedClock('2025-01-01T00:00:00Z'),
        }),
      ),
      'E_NOT_FOUND',
    );
    assert.equal(
      await errorCode(
        publishReport({
          client: rc,
          repository: 'odd/app',
          subject: { ...subject, size: 1 },
          report,
          cyclonedx: '{}',
          clock: fixedClock('2025-01-01T00:00:00Z'),
        }),
      ),
      'E_INPUT',
    );
    assert.equal(
      await errorCode(
        publishReport({
          client: rc,
          repository: 'Odd/../app',
          subject,
          report,
          cyclonedx: '{}',
          clock: fixedClock('2025-01-01T00:00:00Z'),
        }),
      ),
      'E_INPUT',
    );
  } finally {
    client.close();
    await registry.stop();
    tmp.cleanup();
  }
});

async function pushImage(client: RegistryClient, repo: string, tag: string): Promise<{ digest: string; size: number }> {
  const img = buildImage({ layers: [{ files: [{ path: 'x', content: 'x\n' }] }] });
  for (const b of [img.config, ...img.layers]) await client.putBlob(repo, b.data);
  await client.putManifest(repo, tag, img.manifest.data, OCI_MANIFEST_MEDIA_TYPE);
  return { digest: img.manifest.digest, size: img.manifest.size };
}

test('referrers API registry: previous report deleted; when deletion is refused, publishing goes on and says so', async () => {
  const auth = { username: 'u', password: 'p' };
  const fake = await startFakeReferrersRegistry(auth);
  const client = new RegistryClient(fake.host, { insecure: true, userAgent: PALISADE_USER_AGENT, credentials: auth });
  try {
    const rc: ReportRegistryClient = createReportRegistryClient(client, { baseUrl: fake.url, credentials: auth });
    const repo = 'team/api';
    const image = await pushImage(client, repo, 'v1');
    const subject = { ...image, mediaType: OCI_MANIFEST_MEDIA_TYPE };
    const publish = async (day: number): Promise<Awaited<ReturnType<typeof publishReport>>> => {
      const report = makeReport(image.digest, `2025-01-0${day}T00:00:00.000Z`, day);
      return publishReport({
        client: rc,
        repository: repo,
        subject,
        report,
        cyclonedx: cdx(report),
        clock: fixedClock(`2025-01-0${day}T00:00:00Z`),
      });
    };
    const r1 = await publish(1);
    assert.equal(r1.method, 'referrers-api');
    const r2 = await publish(2);
    assert.equal(r2.method, 'referrers-api');
    assert.deepEqual(r2.replaced, [r1.digest]);
    assert.ok(fake.requests.includes(`DELETE /v2/${repo}/manifests/${r1.digest}`));
    const listing = await listReports(rc, repo, image.digest);
    assert.equal(listing.method, 'referrers-api');
    assert.deepEqual(
      listing.reports.map((r) => r.digest),
      [r2.digest],
    );
    assert.equal((await readReport(rc, repo, r2.digest)).report.warnings.length, 2);
    // No tag schema tag on a registry with the API; the image's tags untouched.
    assert.deepEqual(await client.listTags(repo), ['v1']);
    assert.ok(!fake.requests.some((r) => r.includes(referrersTagFor(image.digest))));

    fake.deleteAllowed = false;
    const r3 = await publish(3);
    assert.deepEqual(r3.replaced, []);
    assert.deepEqual(
      r3.notDeleted.map((n) => n.digest),
      [r2.digest],
    );
    assert.match(r3.notDeleted[0]?.reason ?? '', /405/);
    const both = await listReports(rc, repo, image.digest);
    assert.deepEqual(
      both.reports.map((r) => r.digest),
      [r3.digest, r2.digest],
      'newest first; the undeletable one is still there',
    );
  } finally {
    client.close();
    await fake.close();
  }
});
