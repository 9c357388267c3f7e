/**
 * Regenerates test/fixtures/registry/distribution-*.json: the notification bodies the real CNCF
 * distribution registry (Debian docker-registry) sends for a skopeo push, a second push of the
 * same image, a pull and a multi-platform push. Run after building:
 *   node packages/server/dist/test/registry/capture-notifications.js
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixturePath, pushLayout, startRegistry, tempDir, writeOciLayout } from '@palisade/testkit';
import { startNotifyListener, type CapturedRequest } from './notify-listener.js';

function events(got: readonly CapturedRequest[]): Array<{ action?: string; target?: { mediaType?: string } }> {
  return got.flatMap((r) => (JSON.parse(r.body) as { events: Array<{ action?: string }> }).events);
}

async function settle(
  listener: Awaited<ReturnType<typeof startNotifyListener>>,
  min: number,
): Promise<CapturedRequest[]> {
  await listener.waitFor((got) => events(got).length >= min, 20_000);
  // The registry delivers asynchronously: take everything once 2 s pass without a new request.
  const deadline = Date.now() + 30_000;
  let seen = -1;
  while (seen !== listener.received.length && Date.now() < deadline) {
    seen = listener.received.length;
    await new Promise((r) => setTimeout(r, 2000));
  }
  return listener.received.splice(0);
}

async function main(): Promise<void> {
  const listener = await startNotifyListener();
  const registry = await startRegistry({ notifications: { url: listener.url } });
  const tmp = tempDir('palisade-capture-');
  const out = fixturePath('server', 'registry');
  try {
    const layout = join(tmp.path, 'layout');
    writeOciLayout(layout, 'v1', [{ layers: [{ files: [{ path: 'etc/hello', content: 'hello\n' }] }] }]);
    await pushLayout(layout, 'v1', registry, 'demo/app:v1');
    const push = await settle(listener, 1);
    await pushLayout(layout, 'v1', registry, 'demo/app:v1');
    const again = await settle(listener, 1);
    execFileSync(
      'skopeo',
      [
        'copy',
        '--quiet',
        '--insecure-policy',
        '--src-tls-verify=false',
        `docker://${registry.host}/demo/app:v1`,
        `dir:${join(tmp.path, 'pulled')}`,
      ],
      { timeout: 60_000 },
    );
    const pull = await settle(listener, 1);
    const multi = join(tmp.path, 'multi');
    writeOciLayout(multi, 'v2', [
      { layers: [{ files: [{ path: 'a', content: 'amd64\n' }] }], platform: { os: 'linux', architecture: 'amd64' } },
      { layers: [{ files: [{ path: 'a', content: 'arm64\n' }] }], platform: { os: 'linux', architecture: 'arm64' } },
    ]);
    await pushLayout(multi, 'v2', registry, 'demo/multi:v2', { all: true });
    const multiPush = await settle(listener, 1);
    const save = (name: string, reqs: CapturedRequest[]): void => {
      const doc = reqs.map((r) => ({ contentType: r.contentType, body: JSON.parse(r.body) as unknown }));
      writeFileSync(join(out, name), JSON.stringify(doc, null, 2) + '\n');
      console.log(`${name}: ${reqs.length} requests, ${events(reqs).length} events`);
    };
    save('distribution-push.json', push);
    save('distribution-push-again.json', again);
    save('distribution-pull.json', pull);
    save('distribution-push-multiarch.json', multiPush);
  } finally {
    await registry.stop();
    await listener.close();
    tmp.cleanup();
  }
}

await main();
