import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { PalisadeError } from '@palisade/core';
import {
  labelledMetric,
  parseMetricsAddr,
  renderMetrics,
  singleMetric,
  startMetricsServer,
  type MetricFamily,
} from '../src/metrics.js';

test('metrics: text format with HELP/TYPE, sorted families and samples, escaped labels', () => {
  const text = renderMetrics([
    singleMetric('b_total', 'B things.', 'counter', 3),
    labelledMetric('a_items', 'A items\nby kind.', 'gauge', 'kind', { z: 1, a: 2.5 }),
    { name: 'c', help: 'C', type: 'gauge', samples: [{ labels: { path: 'x"y\\z\nw' }, value: NaN }] },
  ]);
  assert.equal(
    text,
    [
      '# HELP a_items A items\\nby kind.',
      '# TYPE a_items gauge',
      'a_items{kind="a"} 2.5',
      'a_items{kind="z"} 1',
      '# HELP b_total B things.',
      '# TYPE b_total counter',
      'b_total 3',
      '# HELP c C',
      '# TYPE c gauge',
      'c{path="x\\"y\\\\z\\nw"} NaN',
      '',
    ].join('\n'),
  );
});

test('metrics: bad names and conflicting types are bugs, reported as such', () => {
  assert.throws(() => renderMetrics([singleMetric('bad-name', 'x', 'gauge', 1)]), /invalid metric name "bad-name"/);
  assert.throws(
    () => renderMetrics([singleMetric('m', 'x', 'gauge', 1), singleMetric('m', 'x', 'counter', 1)]),
    /registered with two types/,
  );
  assert.throws(() => renderMetrics([labelledMetric('m', 'x', 'gauge', '1bad', { a: 1 })]), /invalid label "1bad"/);
});

test('--metrics-addr: loopback HOST:PORT only, with a clear error otherwise', () => {
  assert.deepEqual(parseMetricsAddr('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464 });
  assert.deepEqual(parseMetricsAddr('[::1]:0'), { host: '::1', port: 0 });
  assert.deepEqual(parseMetricsAddr('localhost:80'), { host: 'localhost', port: 80 });
  for (const [bad, re] of [
    ['0.0.0.0:9464', /loopback address only, got "0.0.0.0"/],
    ['10.0.0.1:9464', /loopback address only/],
    ['9464', /must be HOST:PORT/],
    ['127.0.0.1:99999', /must be HOST:PORT/],
    ['127.0.0.1:', /must be HOST:PORT/],
  ] as const) {
    assert.throws(
      () => parseMetricsAddr(bad),
      (e: unknown) => e instanceof PalisadeError && e.subject === '--metrics-addr' && re.test(e.message),
      bad,
    );
  }
});

function get(url: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
      })
      .on('error', reject);
  });
}

test('metrics server: serves /metrics on 127.0.0.1 from live sources; other paths 404', async () => {
  let n = 0;
  const source = (): MetricFamily[] => [singleMetric('palisade_test_total', 'Scrapes.', 'counter', ++n)];
  const srv = await startMetricsServer({ host: '127.0.0.1', port: 0 }, [source]);
  try {
    assert.match(srv.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const a = await get(srv.url);
    assert.equal(a.status, 200);
    assert.match(a.type, /^text\/plain; version=0\.0\.4/);
    assert.match(a.body, /^palisade_test_total 1$/m);
    assert.match((await get(srv.url)).body, /^palisade_test_total 2$/m, 'values are read at scrape time');
    assert.equal((await get(srv.url.replace('/metrics', '/other'))).status, 404);
  } finally {
    await srv.close();
  }
  await assert.rejects(startMetricsServer({ host: '0.0.0.0', port: 0 }, []), /loopback address only/);
});
