// Browse at 1,000,000 records (run by `run.sh --bench-1m`, against the server it started):
// scrolling frame rate, a jump to the middle, and the label key press latency at that size.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { env, launch, percentile, step } from './lib.mjs';
import { scrollFps } from './scroll.mjs';

const dir = process.env.FINELAB_BENCH_DIR;
if (!dir) throw new Error('FINELAB_BENCH_DIR names the project to measure');
const browser = await launch();
const page = await browser.newPage({ viewport: { width: 1280, height: 860 }, locale: 'en-US' });
const tid = (id) => `[data-testid="${id}"]`;
try {
  await page.goto(env.base);
  // The server opens the project it was started on: go to Projects to open the big one.
  await page.waitForSelector(tid('nav-projects'));
  await page.click(tid('nav-projects'));
  await page.waitForSelector(tid('open-path'));
  await page.fill(tid('open-path'), dir);
  await page.click(tid('open-submit'));
  await page.waitForSelector(tid('record-text'));

  step('label key press → next record painted');
  const seqOf = () => page.evaluate(() => Number(document.querySelector('[data-testid="record-text"]')?.getAttribute('data-seq')));
  await page.evaluate(() => (window.__finelabPerf.label.length = 0));
  for (let i = 0; i < 100; i++) {
    const seq = await seqOf();
    await page.keyboard.press(String((i % 3) + 1));
    await page.waitForFunction((s) => Number(document.querySelector('[data-testid="record-text"]')?.getAttribute('data-seq')) !== s, seq);
    await page.waitForTimeout(150);
  }
  const perf = await page.evaluate(() => window.__finelabPerf.label.slice());
  const paint = perf.map((x) => x.paint);
  const latency = { n: paint.length, p50: percentile(paint, 50), p95: percentile(paint, 95), max: Math.max(...paint) };

  step('Browse scrolling');
  await page.click(tid('nav-browse'));
  await page.waitForSelector(`${tid('browse-count')}:not([data-total=""])`, { timeout: 60_000 });
  const total = Number(await page.locator(tid('browse-count')).getAttribute('data-total'));
  await page.waitForSelector(`${tid('browse-row')}[data-seq]:not([data-seq=""])`);
  const scroll = await scrollFps(page);
  await page.screenshot({ path: join(env.artifacts, 'bench-1m-browse.png') });
  const result = { records: total, labelLatencyMs: latency, scroll };
  console.log('BENCH 1M', JSON.stringify(result, null, 2));
  writeFileSync(join(env.artifacts, 'bench-1m.json'), JSON.stringify(result, null, 1));
} finally {
  await browser.close();
}
