// Shared helpers of the browser tests: the browser, the finelab binary, generated data.
import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const env = {
  base: process.env.FINELAB_URL ?? 'http://127.0.0.1:7878/',
  bin: process.env.FINELAB_BIN ?? 'target/debug/finelab',
  tmp: process.env.FINELAB_E2E_TMP ?? '/tmp/finelab-e2e',
  artifacts: process.env.FINELAB_E2E_ARTIFACTS ?? 'tests/e2e/artifacts',
};

/** Debian's chromium, headless, with the flags that work on these machines (../shared/platform.md). */
export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}

/**
 * A page of a fresh browser context, with what every journey needs: `pageErrors` (uncaught
 * errors of the page, which a journey asserts empty), browser console errors echoed, `tid(id)`
 * (the selector of a data-testid) and `shot(name)` (a screenshot into env.artifacts, after
 * `settleMs` for the last paint).
 */
export async function openPage(browser, { viewport, locale, prefix = '', settleMs = 150 }) {
  mkdirSync(env.artifacts, { recursive: true });
  const context = await browser.newContext({ viewport, locale });
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') console.log('  browser console:', m.text());
  });
  const tid = (id) => `[data-testid="${id}"]`;
  async function shot(name) {
    await page.waitForTimeout(settleMs);
    await page.screenshot({ path: join(env.artifacts, `${prefix}${name}.png`) });
  }
  return { context, page, pageErrors, tid, shot };
}

/** Runs the finelab binary; returns stdout. */
export function finelab(...args) {
  return execFileSync(env.bin, args, { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
}

/** Runs finelab and parses its JSON output. */
export function finelabJson(...args) {
  return JSON.parse(finelab(...args));
}

/** Exported JSONL records of a project. */
export function exportRecords(dir) {
  return finelab('export', dir, '--format', 'jsonl')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
}

export function step(name) {
  const t = new Date().toISOString().slice(11, 19);
  console.log(`[${t}] ${name}`);
}

/** Percentile (nearest rank) of numbers. */
export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** A small seeded PRNG (mulberry32), so generated data is the same on every run. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SUBJECTS = ['物流', '客服', '包装', '质量', '价格', '屏幕', '电池续航', '售后', '快递小哥', '做工', 'shipping', 'the battery', 'customer service', '这款耳机', '面料', '尺码'];
const VERDICTS = ['非常好', '太慢了', '很一般', '超出预期', '让人失望', '性价比高', '有点贵', '还不错', ' was great', ' is terrible', ' could be better', '值得推荐', '不会再买', '😀 满意', '😡 差评'];
const TAILS = ['，下次还会来。', '！', '。', '，希望改进。', ' 👍', '，已经推荐给朋友。', '…', '，退款很快。', ' — overall ok.', '，物流三天到。'];

/** Writes `n` generated review records as JSONL (unique, mixed Chinese/English, ~30–70 chars). */
export async function writeRecords(path, n, seed = 7) {
  mkdirSync(path.replace(/\/[^/]*$/, ''), { recursive: true });
  const out = createWriteStream(path);
  const r = rng(seed);
  const pick = (a) => a[Math.floor(r() * a.length)];
  let buf = '';
  for (let i = 1; i <= n; i++) {
    const text = `订单#${i} ${pick(SUBJECTS)}${pick(VERDICTS)}，${pick(SUBJECTS)}${pick(VERDICTS)}${pick(TAILS)}`;
    buf += JSON.stringify({ id: `r${i}`, text }) + '\n';
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.write(buf);
  out.end();
  await once(out, 'finish');
}
