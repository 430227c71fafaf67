// The teams journey: people with roles sign in to a shared `finelab serve` through its /signin
// page, two annotators label the same records (overlap 2) by keyboard in their own browsers, a
// reviewer reads the agreement on the Team screen (kappa matrix, a cell's disagreements) and
// adjudicates every disagreement by keyboard. The CLI checks the database afterwards: nothing
// left undecided, the pair's kappa as the Team screen showed it, each decision as the final label.
// An annotator sees neither the Team tab nor the reviewer's data: the API refuses with wrong_role.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { env, exportRecords, finelab, finelabJson, launch, openPage, step } from './lib.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIR = join(env.tmp, 'team');
const LABELS = ['pos', 'neg'];
const TEXTS = [
  'The battery lasts two days, very happy.',
  '物流很快，但是包装有点破。',
  'Arrived broken and support never answered.',
  '价格还行，质量一般般吧。',
  'Exactly as described, would buy again.',
  '客服态度很差，不会再买了。',
  'Good screen, average speakers.',
  '用了一周就坏了，退货中。',
];
// Keys each annotator presses on records 1..8 (1 = pos, 2 = neg): they differ on three.
const KEYS = {
  ann1: ['1', '1', '2', '2', '1', '2', '1', '2'],
  ann2: ['2', '1', '2', '1', '1', '2', '1', '1'],
};

const t0 = Date.now();
step('teams: a single-label project with overlap 2, two annotators and a reviewer (finelab user add)');
writeFileSync(join(env.tmp, 'team.jsonl'), TEXTS.map((text, i) => JSON.stringify({ id: `t${i + 1}`, text })).join('\n') + '\n');
finelab('new', DIR, '--kind', 'single', '--labels', LABELS.join(','), '--name', 'Team reviews');
finelab('import', DIR, join(env.tmp, 'team.jsonl'));
finelab('settings', DIR, '--overlap', '2');
const passwords = {};
for (const [name, role] of [['ann1', 'annotator'], ['ann2', 'annotator'], ['rev1', 'reviewer']]) {
  const added = finelabJson('user', 'add', DIR, name, '--role', role, '--json');
  assert.equal(added.user.role, role);
  assert.ok(added.password.length >= 12, 'a password is made');
  passwords[name] = added.password;
}
assert.equal(finelabJson('settings', DIR, '--json').overlap, 2);

// A second server, on the team project: signing in needs the served project to hold the users.
step('teams: finelab serve on the team project');
const server = spawn(env.bin, ['serve', DIR, '--addr', '127.0.0.1:0'], {
  env: { ...process.env, FINELAB_CONFIG_DIR: join(env.tmp, 'config-team'), FINELAB_UI_DIR: process.env.FINELAB_UI_DIR ?? join(ROOT, 'ui', 'dist') },
  stdio: ['ignore', 'pipe', 'pipe'],
});
let serverLog = '';
const base = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`the team server did not start:\n${serverLog}`)), 30_000);
  const onData = (chunk) => {
    serverLog += chunk;
    const m = serverLog.match(/Finelab serving .* at (http:\/\/127\.0\.0\.1:\d+\/)/);
    if (m) {
      clearTimeout(timer);
      resolve(m[1]);
    }
  };
  server.stdout.on('data', onData);
  server.stderr.on('data', onData);
  server.on('exit', (code) => reject(new Error(`the team server exited (${code}):\n${serverLog}`)));
});

const browser = await launch();
const people = {};
try {
  for (const name of ['ann1', 'ann2', 'rev1']) {
    people[name] = await openPage(browser, { viewport: { width: 1280, height: 900 }, locale: 'en-US', prefix: `teams-${name}-`, settleMs: 300 });
  }
  const tid = people.ann1.tid;

  /** Signs in through the server's own /signin form, as a person would. */
  async function signIn(name) {
    const { page } = people[name];
    const refused = await page.goto(base);
    assert.equal(refused.status(), 401, 'without a session the page is the sign-in form');
    await page.fill('#name', name);
    await page.fill('#password', passwords[name]);
    await Promise.all([page.waitForURL(base), page.click('button[type="submit"]')]);
    await page.waitForSelector(tid('session-user'));
    assert.equal(await page.locator(tid('session-user')).getAttribute('data-name'), name);
  }

  step('teams: three browsers sign in at /signin (two annotators, one reviewer)');
  await Promise.all(['ann1', 'ann2', 'rev1'].map(signIn));
  assert.equal(await people.rev1.page.locator(tid('session-user')).getAttribute('data-role'), 'reviewer');

  step('teams: an annotator sees Label and Browse only; the API refuses them a reviewer request (403 wrong_role)');
  const ann1 = people.ann1.page;
  await ann1.waitForSelector(tid('record-text'));
  for (const screen of ['label', 'browse', 'settings']) assert.equal(await ann1.locator(tid(`nav-${screen}`)).count(), 1, `${screen} tab shown`);
  for (const screen of ['team', 'adjudicate', 'results', 'review', 'train', 'import', 'projects']) {
    assert.equal(await ann1.locator(tid(`nav-${screen}`)).count(), 0, `no ${screen} tab for an annotator`);
  }
  const refusal = await ann1.evaluate(async (dir) => {
    const r = await fetch('/api', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ cmd: 'list_runs', dir }) });
    return { status: r.status, body: await r.json() };
  }, DIR);
  assert.equal(refusal.status, 403);
  assert.equal(refusal.body.code, 'wrong_role');
  assert.deepEqual(refusal.body.details, { role: 'annotator', needed: 'reviewer' });
  // Settings: the annotator name is the signed-in name, read-only.
  await ann1.click(tid('nav-settings'));
  assert.equal(await ann1.locator(tid('annotator-input')).inputValue(), 'ann1');
  assert.equal(await ann1.locator(tid('annotator-input')).getAttribute('readonly'), '');
  await ann1.click(tid('nav-label'));
  await ann1.waitForSelector(tid('record-text'));
  // The reviewer starts on Team (the label screen would hold records for them): nothing shared
  // yet, and the team settings are the admins'.
  await people.rev1.page.waitForSelector(tid('agreement-empty'));
  assert.equal(await people.rev1.page.locator(tid('team-overlap')).inputValue(), '2');
  assert.equal(await people.rev1.page.locator(tid('team-overlap')).isDisabled(), true);
  await people.rev1.page.waitForSelector(tid('team-admins-only'));

  step('teams: both annotators label the same 8 records by keyboard at the same time');
  /** Labels every record the label screen serves with `keys`; returns seq → label. */
  async function labelAll(name) {
    const { page } = people[name];
    const given = new Map();
    for (const key of KEYS[name]) {
      await page.waitForSelector(tid('record-text'));
      const seq = Number(await page.locator(tid('record-text')).getAttribute('data-seq'));
      await page.keyboard.press(key);
      await page.waitForFunction(
        (s) => {
          const el = document.querySelector('[data-testid="record-text"]');
          return el ? Number(el.getAttribute('data-seq')) !== s : !!document.querySelector('[data-testid="queue-done"]');
        },
        seq,
        { timeout: 10_000 },
      );
      given.set(seq, LABELS[Number(key) - 1]);
    }
    await page.waitForFunction(() => {
      const el = document.querySelector('[data-testid="save-status"]');
      return el && el.getAttribute('data-pending') === '0' && el.getAttribute('data-state') === 'saved';
    });
    // Overlap 2: each saw every record once, and nothing is left for them.
    await page.waitForSelector(tid('queue-done'));
    return given;
  }
  const [given1, given2] = await Promise.all([labelAll('ann1'), labelAll('ann2')]);
  assert.deepEqual([...given1.keys()].sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual([...given2.keys()].sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8]);
  await people.ann1.shot('01-label-done');
  const differ = [...given1.keys()].filter((s) => given1.get(s) !== given2.get(s)).sort((a, b) => a - b);
  assert.equal(differ.length, 3);
  const before = finelabJson('disagreements', DIR, '--json');
  assert.equal(before.total, 3);
  assert.deepEqual(before.records.map((r) => r.view.record.seq), differ);

  step('teams: the reviewer opens Team: the kappa matrix and the pair table agree with finelab agreement');
  const rev = people.rev1.page;
  await rev.click(tid('team-refresh'));
  await rev.waitForSelector(`${tid('chart-agreement')}[data-ready="true"]`);
  const cli = finelabJson('agreement', DIR, '--json');
  const cliPair = cli.pairs.find((p) => p.a === 'ann1' && p.b === 'ann2');
  assert.ok(cliPair, 'finelab agreement has the pair');
  assert.equal(cliPair.n, 8);
  const row = rev.locator(`${tid('agreement-pairs')} tr[data-a="ann1"][data-b="ann2"]`);
  assert.equal(Number(await row.locator('[data-metric="n"]').getAttribute('data-value')), 8);
  assert.equal(Number(await row.locator('[data-metric="kappa"]').getAttribute('data-value')), cliPair.cohen_kappa);
  assert.equal(Number(await row.locator('[data-metric="percent"]').getAttribute('data-value')), cliPair.percent_agreement);
  assert.equal(cliPair.percent_agreement, 5 / 8);
  const figures = rev.locator(tid('agreement-figures'));
  assert.equal(Number(await figures.getAttribute('data-undecided')), 3);
  assert.equal(Number(await figures.getAttribute('data-alpha')), cli.krippendorff_alpha);
  assert.equal(Number(await figures.getAttribute('data-fleiss')), cli.fleiss_kappa);
  // The matrix: ann1 × ann2 holds the pair's kappa, both ways round.
  const matrix = await rev.evaluate(() => window.__finelabCharts['chart-agreement'].getOption().series[0].data);
  assert.deepEqual(
    matrix.filter((c) => c[2] !== '-'),
    [
      [1, 0, cliPair.cohen_kappa],
      [0, 1, cliPair.cohen_kappa],
    ],
  );
  assert.equal(await rev.locator(`${tid('people')} tr[data-annotator="ann1"] [data-metric="labeled"]`).getAttribute('data-value'), '8');

  step('teams: a click on the matrix cell lists the records the two labeled differently, with both labels');
  const at = await rev.evaluate(() => {
    const chart = window.__finelabCharts['chart-agreement'];
    const [x, y] = chart.convertToPixel({ seriesIndex: 0 }, [0, 1]);
    const r = chart.getDom().getBoundingClientRect();
    return { x: r.left + x, y: r.top + y };
  });
  await rev.mouse.click(at.x, at.y);
  await rev.waitForSelector(`${tid('pair-disagreements')}[data-loading="false"]`);
  const listed = rev.locator(tid('pair-record'));
  assert.equal(await listed.count(), 3);
  assert.equal(await rev.locator(tid('pair-disagreements')).getAttribute('data-total'), '3');
  for (let i = 0; i < 3; i++) {
    const seq = Number(await listed.nth(i).getAttribute('data-seq'));
    assert.equal(seq, differ[i]);
    assert.equal((await listed.nth(i).locator('[data-annotator="ann1"]').innerText()).trim(), given1.get(seq));
    assert.equal((await listed.nth(i).locator('[data-annotator="ann2"]').innerText()).trim(), given2.get(seq));
  }
  // The whole screen in one picture (the app scrolls inside its main area, not the page).
  await rev.setViewportSize({ width: 1280, height: 1900 });
  await people.rev1.shot('02-team');
  await rev.setViewportSize({ width: 1280, height: 900 });

  step('teams: the reviewer adjudicates the three by keyboard (1 and 2 take a label, Ctrl+Z, Shift+1 decides pos)');
  await rev.click(tid('team-adjudicate'));
  const card = tid('adjudicate-card');
  const cardSeq = async () => Number(await rev.locator(card).getAttribute('data-seq'));
  const remaining = async () => Number(await rev.locator(tid('adjudicate-remaining')).getAttribute('data-remaining'));
  const waitCard = (seq) => rev.waitForFunction((s) => Number(document.querySelector('[data-testid="adjudicate-card"]')?.getAttribute('data-seq')) === s, seq);
  await rev.waitForSelector(card);
  assert.equal(await remaining(), 3);
  const [first, second, third] = differ;
  assert.equal(await cardSeq(), first);
  assert.deepEqual(await rev.locator(tid('adjudicate-name')).allInnerTexts(), ['ann1', 'ann2']);
  await rev.keyboard.press('1'); // ann1's label
  await waitCard(second);
  await rev.keyboard.press('2'); // ann2's label…
  await waitCard(third);
  assert.equal(await remaining(), 1);
  await rev.keyboard.press('Control+z'); // …undone
  await waitCard(second);
  assert.equal(await remaining(), 2);
  await rev.keyboard.press('Shift+Digit1'); // a label of the reviewer's own: pos (its key is 1)
  await waitCard(third);
  await rev.click(tid('adjudicate-blind'));
  assert.deepEqual(await rev.locator(tid('adjudicate-name')).allInnerTexts(), ['Annotator 1', 'Annotator 2']);
  await people.rev1.shot('03-adjudicate-blind');
  await rev.keyboard.press('2');
  await rev.waitForSelector(tid('adjudicate-done'));
  await rev.waitForFunction(() => {
    const el = document.querySelector('[data-testid="adjudicate-status"]');
    return el && el.getAttribute('data-pending') === '0' && el.getAttribute('data-state') === 'saved';
  });
  assert.equal(await remaining(), 0);
  await rev.click(tid('adjudicate-blind')); // names back for the next run of the queue

  step('teams: finelab disagreements has none left; agreement keeps the pair; each decision is the final label');
  assert.equal(finelabJson('disagreements', DIR, '--json').total, 0);
  const after = finelabJson('agreement', DIR, '--json');
  assert.equal(after.n_undecided, 0);
  assert.deepEqual(
    after.pairs.map((p) => [p.a, p.b, p.n]),
    [['ann1', 'ann2', 8]],
  );
  const finals = new Map(exportRecords(DIR).map((r) => [r.id, r.label]));
  assert.equal(finals.get(`t${first}`), given1.get(first));
  assert.equal(finals.get(`t${second}`), 'pos');
  assert.equal(finals.get(`t${third}`), given2.get(third));
  const decided = finelabJson('people', DIR, '--json').find((p) => p.annotator === 'ann1');
  assert.equal(decided.n_decided, 3);

  step('teams: the reviewer gives a slice to ann2 on Team; the admin (the token) adds a person, whose password signs in');
  await rev.click(tid('nav-team'));
  await rev.fill(tid('slice-text'), '物流');
  await rev.fill(tid('slice-people'), 'ann2');
  await rev.click(tid('slice-add'));
  await rev.waitForSelector('[data-testid="slices"] tr[data-slice]');
  const slices = finelabJson('assign', DIR, '--json');
  assert.deepEqual(slices.map((a) => [a.query.text, a.people]), [['物流', ['ann2']]]);
  assert.equal(await rev.locator(tid('users')).count(), 0, 'people are managed by admins');
  const token = serverLog.match(/\?token=([A-Za-z0-9._~-]+)/)[1];
  const op = await openPage(browser, { viewport: { width: 1280, height: 900 }, locale: 'en-US', prefix: 'teams-admin-', settleMs: 300 });
  await op.page.goto(`${base}?token=${token}#team`);
  await op.page.waitForSelector(tid('users'));
  await op.page.fill(tid('user-name'), 'ann3');
  await op.page.click(tid('user-add'));
  await op.page.waitForSelector(tid('user-password'));
  const made = (await op.page.locator(`${tid('user-password')} code`).innerText()).trim();
  assert.equal(made.length, 20);
  assert.ok(finelabJson('user', 'list', DIR, '--json').some((u) => u.name === 'ann3' && u.role === 'annotator'));
  const signed = await fetch(`${base}signin`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'ann3', password: made }) });
  assert.equal(signed.status, 200);
  await op.shot('users');
  assert.deepEqual(op.pageErrors, [], "no uncaught errors in the admin's page");

  step('teams: signing out ends the session (the API answers 401); a page whose session ended goes to /signin');
  await Promise.all([ann1.waitForURL(/\/signin$/), ann1.click(tid('sign-out'))]);
  const gone = await ann1.evaluate(async () => (await fetch('/api', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"cmd":"app_info"}' })).status);
  assert.equal(gone, 401);
  const again = await ann1.goto(base);
  assert.equal(again.status(), 401);
  // A session that ends under an open page (its cookie gone): the next API answer, 401, sends
  // the page to the sign-in form.
  const ann2 = people.ann2.page;
  await people.ann2.context.clearCookies();
  await Promise.all([ann2.waitForURL(/\/signin$/), ann2.click(tid('nav-browse'))]);
  assert.equal(await ann2.locator('form[action="/signin"]').count(), 1);

  for (const [name, p] of Object.entries(people)) assert.deepEqual(p.pageErrors, [], `no uncaught errors in ${name}'s page`);
  step(`teams: passed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
} catch (e) {
  console.log(`the team server's log:\n${serverLog.slice(-4000)}`);
  throw e;
} finally {
  await browser.close();
  server.kill();
}
