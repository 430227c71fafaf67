// The generation journey: a generate project imported from an OpenAI-format chat JSONL (real
// chatterbot dialogs, English and Chinese), opened in the browser. Outputs are written and saved
// by keyboard; a tiny Qwen2 generator is trained from the Train screen (memory estimated first,
// live tokens/s and loss, answers to fixed dev records after each epoch); Results shows chrF,
// BLEU and ROUGE-L as `finelab eval` does, the chrF distribution, the worst records with their
// character diff, and a reference is fixed in place; the model's draft is taken with Tab, edited
// and saved (the edit logged), undone and saved again; a blind A/B review of two runs is judged by
// keyboard, its win rate and interval read as `finelab compare` gives them; the judged pairs are
// exported for preference training; a run is exported as GGUF q8_0 from Results, as a run of its
// own with its file, size and chrF. Last, the output editor's key press → next record is timed.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { env, exportRecords, finelab, finelabJson, launch, openPage, percentile, step } from './lib.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIR = join(env.tmp, 'dialogs');
const BENCH = join(env.tmp, 'dialogs-bench');
const MODEL = join(DIR, 'models', 'tiny-qwen2');

step('generate: a project from an OpenAI-format chat JSONL of real chatterbot dialogs, and a tiny Qwen2');
const read = (lang, n) =>
  readFileSync(join(ROOT, '.cache/data/chatterbot', `${lang}.jsonl`), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .slice(0, n)
    .map((l) => JSON.parse(l));
const dialogs = [...read('en', 40), ...read('zh', 16)];
// Four questions without an answer: the label screen serves them.
const open = ['What do you like to read?', 'Can you recommend a film?', '你喜欢什么运动？', '今天天气怎么样？'].map((q, i) => ({
  id: `open-${i + 1}`,
  messages: [{ role: 'user', content: q }],
}));
const lines = [...dialogs.map((d) => ({ id: d.id, messages: d.messages })), ...open];
writeFileSync(join(env.tmp, 'chat.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');

const browser = await launch();
const { page, pageErrors, tid, shot } = await openPage(browser, { viewport: { width: 1280, height: 900 }, locale: 'en-US', prefix: 'generate-' });
const outputOf = (id) => exportRecords(DIR).find((r) => r.id === id)?.output;
async function waitSaved() {
  await page.waitForFunction(() => {
    const el = document.querySelector('[data-testid="save-status"]');
    return el && el.getAttribute('data-pending') === '0' && el.getAttribute('data-state') === 'saved';
  });
}
async function currentSeq() {
  return Number(await page.locator(tid('record-card')).getAttribute('data-seq'));
}
async function waitNextRecord(seq) {
  await page.waitForFunction(
    (s) => {
      const el = document.querySelector('[data-testid="record-card"]');
      return el ? Number(el.getAttribute('data-seq')) !== s : !!document.querySelector('[data-testid="queue-done"]');
    },
    seq,
    { timeout: 20_000 },
  );
}
const idOfSeq = (seq) => exportRecords(DIR)[seq - 1]?.id;

try {
  await page.goto(env.base);
  await page.waitForSelector(tid('nav-projects'));
  await page.click(tid('nav-projects'));

  step('generate: the project created in the browser and the chat JSONL imported on the Import screen');
  await page.fill(tid('create-name'), 'Support replies');
  await page.fill(tid('create-folder'), DIR);
  await page.check(tid('kind-generate'), { force: true });
  assert.equal(await page.locator(tid('label-row')).count(), 0, 'a generate project has no label set');
  await page.click(tid('create-submit'));
  await page.waitForSelector(tid('import-path'));
  await page.fill(tid('import-path'), join(env.tmp, 'chat.jsonl'));
  await page.click(tid('import-path-submit'));
  await page.waitForSelector(tid('import-preview'));
  assert.equal(await page.locator(tid('map-label')).count(), 0, 'outputs, not labels');
  await page.waitForSelector(tid('opt-dialog-targets'));
  await page.click(tid('import-run'));
  await page.waitForSelector(tid('import-report'));
  const stats = finelabJson('stats', DIR, '--json');
  assert.equal(stats.records, lines.length);
  assert.equal(stats.labeled, dialogs.length);
  finelab('make-tiny-model', MODEL, '--arch', 'qwen2', '--corpus', DIR);
  await page.click(tid('nav-label'));

  step('generate: the label screen serves an unanswered question; an output is written and saved by keyboard');
  await page.waitForSelector(tid('record-card'));
  await page.waitForSelector(`${tid('draft')}[data-state="none"]`);
  let seq = await currentSeq();
  const firstId = idOfSeq(seq);
  assert.ok(firstId.startsWith('open-'), `an unanswered question first, got ${firstId}`);
  await page.keyboard.press('Enter'); // Enter focuses the editor
  await page.keyboard.type('I like reading history books.');
  await page.keyboard.press('Control+Enter');
  await waitNextRecord(seq);
  await waitSaved();
  assert.equal(outputOf(firstId), 'I like reading history books.');
  await shot('01-write');

  step('generate: train a generator from the Train screen (memory first, then tokens/s, loss, dev answers per epoch)');
  await page.click(tid('nav-train'));
  await page.waitForSelector(tid('family-generator'));
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="model-select"] option')].some((o) => o.textContent.includes('tiny-qwen2')));
  await page.click(`${tid('train-advanced')} summary`);
  // The tiny model is random: trained fully at a high rate it learns enough to write something.
  await page.fill(tid('train-epochs'), '6');
  await page.fill(tid('train-lr'), '0.01');
  await page.fill(tid('train-max-new-tokens'), '12');
  await page.check(tid('train-full-finetune'));
  await page.waitForSelector(tid('train-memory'));
  assert.ok(Number(await page.locator(tid('train-memory')).getAttribute('data-total')) > 0);
  await page.click(tid('train-button'));
  await page.waitForSelector(`${tid('train-done')}[data-status="completed"]`, { timeout: 300_000 });
  const runA = await page.locator(tid('train-done')).getAttribute('data-run');
  assert.ok(Number(await page.locator(tid('train-tokens-rate')).getAttribute('data-value')) > 0, 'tokens/s shown');
  assert.ok(Number.isFinite(Number(await page.locator(tid('train-loss')).getAttribute('data-value'))), 'the loss shown');
  assert.ok((await page.locator(tid('train-sample')).count()) >= 1, 'answers to fixed dev records after the epoch');
  await shot('02-train');

  step('generate: Results — chrF, BLEU, ROUGE-L as finelab eval gives them, the distribution, the worst records and their diff');
  await page.click(tid('see-results'));
  await page.waitForSelector(tid('gen-summary'));
  const evaluation = finelabJson('eval', DIR, '--run', runA, '--split', 'dev', '--json');
  for (const metric of ['chrf', 'bleu', 'rouge_l']) {
    const shown = Number(await page.locator(`${tid('gen-metric')}[data-metric="${metric}"]`).getAttribute('data-value'));
    assert.equal(shown, evaluation[metric], `${metric} as finelab eval prints it`);
  }
  await page.waitForSelector(tid('gen-row'));
  const histogram = await page.locator(`${tid('chrf-histogram')} td`).evaluateAll((tds) => tds.map((td) => Number(td.getAttribute('data-value'))));
  assert.equal(histogram.reduce((a, b) => a + b, 0), evaluation.n, 'every dev record in the distribution');
  const chrfs = await page.locator(tid('gen-row')).evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-chrf'))));
  assert.deepEqual(chrfs, [...chrfs].sort((a, b) => a - b), 'the worst first');
  assert.ok((await page.locator(`${tid('gen-row')} ${tid('gen-diff')} [data-op]`).count()) > 0, 'a character diff');
  await shot('03-results');
  // Fix in place: the worst record's reference becomes the model's output.
  const worst = page.locator(tid('gen-row')).first();
  const worstSeq = Number(await worst.getAttribute('data-seq'));
  const worstOutput = await worst.locator(tid('gen-output')).textContent();
  await worst.locator(tid('gen-accept-output')).click();
  await worst.locator(tid('gen-fixed')).waitFor();
  assert.equal(exportRecords(DIR)[worstSeq - 1].output, worstOutput, 'the reference fixed in the database');

  step('generate: the draft is taken with Tab, edited, saved (the edit logged), undone and saved again');
  await page.click(tid('nav-label'));
  await page.waitForSelector(`${tid('draft')}[data-state="ready"]`, { timeout: 60_000 });
  assert.equal(await page.locator(tid('draft')).getAttribute('data-run'), runA);
  const draft = await page.locator(tid('draft-text')).textContent();
  seq = await currentSeq();
  const draftId = idOfSeq(seq);
  await page.keyboard.press('Tab');
  assert.equal(await page.locator(tid('output-editor')).inputValue(), draft);
  await page.keyboard.press('End');
  await page.keyboard.type('!');
  await page.keyboard.press('Control+Enter');
  await waitNextRecord(seq);
  await waitSaved();
  assert.equal(await page.locator(tid('saved-distance')).getAttribute('data-distance'), '1');
  assert.equal(outputOf(draftId), `${draft}!`);
  await page.keyboard.press('Escape');
  await page.keyboard.press('Backspace');
  await page.waitForSelector(`${tid('record-card')}[data-seq="${seq}"]`);
  assert.equal(await page.locator(tid('output-editor')).inputValue(), `${draft}!`, 'the undone output back in the editor');
  assert.equal(outputOf(draftId), undefined, 'undone in the database');
  await page.click(tid('output-editor'));
  await page.keyboard.press('Control+Enter');
  await waitNextRecord(seq);
  await waitSaved();
  assert.equal(outputOf(draftId), `${draft}!`);
  await shot('04-draft');

  step('generate: a second run (CLI), then a blind A/B review of the two judged by keyboard');
  finelab('train', DIR, '--model', MODEL, '--epochs', '3', '--seed', '7', '--lr', '0.01', '--full-finetune', '--max-new-tokens', '12');
  const runB = finelabJson('runs', DIR, '--json')[0].id;
  await page.click(tid('nav-results'));
  await page.waitForSelector(tid('ab-review'));
  await page.waitForSelector(`${tid('ab-other')} option[value="run:${runB}"]`, { state: 'attached' });
  await page.selectOption(tid('ab-other'), `run:${runB}`);
  await page.fill(tid('ab-n'), '6');
  await page.click(tid('ab-start'));
  await page.waitForSelector(tid('compare-item'));
  await shot('05-compare-item');
  const keys = ['1', '2', '3', 'ArrowLeft', 'ArrowRight', '1'];
  for (let i = 0; ; i++) {
    const item = page.locator(tid('compare-item'));
    if ((await item.count()) === 0) break;
    const position = await item.getAttribute('data-position');
    await page.keyboard.press(keys[i % keys.length]);
    await page.waitForFunction(
      (p) => {
        const el = document.querySelector('[data-testid="compare-item"]');
        return el ? el.getAttribute('data-position') !== p : !!document.querySelector('[data-testid="compare-done"]');
      },
      position,
    );
  }
  await page.waitForSelector(tid('compare-done'));
  await shot('06-compare-done');
  const comparisons = finelabJson('compare', DIR, '--json');
  const review = comparisons[0];
  assert.equal(review.comparison.source_a, `run:${runA}`);
  assert.equal(review.comparison.n_judged, review.comparison.n_items);
  await page.click(tid('compare-show-report'));
  await page.waitForSelector(tid('compare-report'));
  assert.equal(Number(await page.locator(tid('compare-report')).getAttribute('data-wins-a')), review.wins_a);
  await page.click(tid('nav-results'));
  await page.waitForSelector(`${tid('ab-review-row')}[data-id="${review.comparison.id}"]`);
  const row = page.locator(`${tid('ab-review-row')}[data-id="${review.comparison.id}"]`);
  for (const [attr, key] of [['data-win-rate', 'win_rate_a'], ['data-ci-low', 'ci_low'], ['data-ci-high', 'ci_high']]) {
    const shown = await row.getAttribute(attr);
    assert.equal(shown === '' ? null : Number(shown), review[key], `${key} as finelab compare gives it`);
  }

  step('generate: the judged pairs exported for preference training (window = finelab export --format preferences)');
  await page.click(tid('nav-label'));
  await page.click(tid('mode-compare'));
  const pairs = join(env.tmp, 'pairs.jsonl');
  await page.fill(tid('preferences-path'), pairs);
  await page.click(tid('preferences-export'));
  await page.waitForFunction((p) => document.body.textContent.includes(p), pairs);
  const exported = readFileSync(pairs, 'utf8').split('\n').filter((l) => l.trim());
  assert.equal(exported.length, review.wins_a + review.wins_b, 'ties left out');
  for (const line of exported) {
    const pair = JSON.parse(line);
    assert.deepEqual(Object.keys(pair).sort(), ['chosen', 'prompt', 'rejected']);
    assert.equal(pair.chosen[0].role, 'assistant');
  }
  const cli = finelab('export', DIR, '--format', 'preferences');
  assert.equal(cli.trim(), exported.join('\n'));

  step('generate: a run exported as GGUF q8_0 from Results (a new run answering with the same quantized weights)');
  await page.click(tid('nav-results'));
  await page.waitForSelector(tid('optimize-q8_0'));
  await page.click(tid('optimize-q8_0'));
  await page.waitForSelector(tid('optimize-gguf'), { timeout: 180_000 });
  const costs = finelabJson('optimize', DIR, '--table', '--json');
  const gguf = costs.find((c) => c.optimized_from?.method === 'q8_0');
  assert.ok(gguf && [runA, runB].includes(gguf.optimized_from.run), 'a new run made from a run of the project');
  assert.ok(existsSync(gguf.gguf) && gguf.gguf.endsWith('model-q8_0.gguf'), `the GGUF file ${gguf.gguf}`);
  assert.equal(statSync(gguf.gguf).size, gguf.size_bytes, 'its size is the file the runtime loads');
  const parentCost = costs.find((c) => c.run === gguf.optimized_from.run);
  assert.ok(gguf.size_bytes < parentCost.size_bytes, `q8_0 ${gguf.size_bytes} B, smaller than ${parentCost.size_bytes} B`);
  assert.ok(gguf.chrf != null && gguf.agreement_with_parent != null, 'scored by its own answers, compared with its parent');
  await page.waitForSelector(`${tid('optimize-row')}[data-run="${gguf.run}"]`);
  await shot('07-gguf');
  assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
  console.log('generate: all checks passed');

  // ------------------------------------------------ speed: the output editor's save and next
  if (process.env.FINELAB_SKIP_BENCH !== '1') {
    step('speed: the output editor at 20,000 unanswered questions, Ctrl+Enter → next record, without and with drafts');
    const questions = [];
    for (let i = 0; i < 400; i++) {
      const d = dialogs[i % dialogs.length];
      questions.push(JSON.stringify({ id: `a${i}`, input: `${d.messages[0].content} (#${i})`, output: d.messages[1].content }));
    }
    for (let i = 0; i < 20_000; i++) questions.push(JSON.stringify({ id: `q${i}`, input: `${dialogs[i % dialogs.length].messages[0].content} (#${i})` }));
    writeFileSync(join(env.tmp, 'questions.jsonl'), questions.join('\n') + '\n');
    finelab('new', BENCH, '--kind', 'generate');
    finelab('import', BENCH, join(env.tmp, 'questions.jsonl'));
    const openBench = async () => {
      await page.click(tid('nav-projects'));
      await page.fill(tid('open-path'), BENCH);
      await page.click(tid('open-submit'));
      await page.waitForSelector(tid('output-editor'));
    };
    const fmt = (xs) => `p50 ${percentile(xs, 50).toFixed(1)} ms, p95 ${percentile(xs, 95).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms`;
    /** `n` outputs typed and saved by Ctrl+Enter, one every 150 ms at least (a very fast writer). */
    const series = async (n) => {
      await page.evaluate(() => (window.__finelabPerf.label.length = 0));
      await page.click(tid('output-editor'));
      const outside = [];
      const loadBefore = loadavg()[0];
      for (let i = 0; i < n; i++) {
        const s = await currentSeq();
        await page.keyboard.type('ok');
        const t0 = Date.now();
        await page.keyboard.press('Control+Enter');
        await waitNextRecord(s);
        outside.push(Date.now() - t0);
        await page.waitForTimeout(150);
      }
      await waitSaved();
      await page.waitForTimeout(100);
      const inside = await page.evaluate(() => window.__finelabPerf.label.slice());
      return {
        n: inside.length,
        dom: fmt(inside.map((x) => x.dom)),
        paint: fmt(inside.map((x) => x.paint)),
        harness: fmt(outside),
        loadavg: +((loadBefore + loadavg()[0]) / 2).toFixed(2),
        inside,
      };
    };
    await openBench();
    const plain = await series(150);
    // A generator on the project: each record shown (and the next, ahead) gets a draft generated now.
    finelab('train', BENCH, '--model', MODEL, '--epochs', '1', '--lr', '0.01', '--full-finetune', '--max-new-tokens', '16');
    await openBench();
    await page.waitForSelector(`${tid('draft')}[data-state="ready"]`, { timeout: 60_000 });
    const drafted = await series(150);
    const result = { records: 20_400, cores: cpus().length, withoutDrafts: { ...plain, inside: undefined }, withDrafts: { ...drafted, inside: undefined } };
    console.log('LATENCY output editor Ctrl+Enter → next record', JSON.stringify(result, null, 2));
    writeFileSync(join(env.artifacts, 'latency-generate.json'), JSON.stringify({ result, plain: plain.inside, drafted: drafted.inside }, null, 1));
    assert.equal(finelabJson('stats', BENCH, '--json').labeled, 400 + 300, 'every output saved');
    for (const [name, m] of [['without drafts', plain], ['with drafts', drafted]]) {
      const domP95 = percentile(m.inside.map((x) => x.dom), 95);
      assert.ok(domP95 <= 50, `output editor ${name}: save → next record in the DOM p95 ${domP95.toFixed(1)} ms ≤ 50 ms`);
      const paintP95 = percentile(m.inside.map((x) => x.paint), 95);
      if (paintP95 > 50) console.log(`WARNING: output editor ${name}: save → next record painted p95 ${paintP95.toFixed(1)} ms > 50 ms (load ${m.loadavg})`);
    }
  }
} finally {
  await browser.close();
}
