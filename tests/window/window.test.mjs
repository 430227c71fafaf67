// The real-window test (issue 5): the built desktop app, driven by tauri-driver and WebKitWebDriver
// under Xvfb. Started on a prepared project it opens the label screen and one record is labeled
// by keyboard; started again without one, the project is opened from the recent list and the next
// record labeled. Both labels must then be in the database, as `finelab stats --json` and
// `finelab export` read it. It also checks the shell's own contract through the real IPC: errors
// arrive as {code, message, details}, a job streams its states over `watch_job`'s channel, and
// commands outside the capability are refused. And it measures launch to the first interactive
// screen (target 1.5 s): five launches without WebDriver, timed by the app's trace, must have a
// median within the target (unless other work keeps every core busy: then it is only reported);
// the WebDriver launches are timed too (timings.json).
//
// Plain W3C WebDriver over fetch (Node >= 18), no dependencies. `run.sh` prepares everything and
// passes it in the environment:
//   APP            absolute path of the built `finelab-app`
//   FINELAB        the `finelab` CLI
//   PROJECT        the project the app opens (records, no labels yet)
//   IMPORT_PROJECT an empty project, IMPORT_FILE a file to import into it over IPC
//   WEBDRIVER_URL  tauri-driver (default http://127.0.0.1:4444)
//   ARTIFACTS      where screenshots and timings go
//   CONFIG_DIR     the app's config folder (its recent list) for the launches without WebDriver
//   TRAIN_PROJECT  a project of labeled reviews: the window trains on it (issue 6's key step:
//                  press Train, see Results) and the numbers shown must equal `finelab eval --json`
//   GEN_PROJECT    a generate project with two generator runs: a draft taken and edited, a
//                  generator trained from the Train screen, Results, a blind A/B review judged by
//                  keyboard, the preference pairs exported

import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined) throw new Error(`${name} is not set (run tests/window/run.sh)`);
  return v;
};
const APP = env('APP');
const FINELAB = env('FINELAB');
const PROJECT = env('PROJECT');
const IMPORT_PROJECT = env('IMPORT_PROJECT');
const IMPORT_FILE = env('IMPORT_FILE');
const WD = env('WEBDRIVER_URL', 'http://127.0.0.1:4444');
const ARTIFACTS = env('ARTIFACTS');
const CONFIG_DIR = env('CONFIG_DIR');
const TRAIN_PROJECT = env('TRAIN_PROJECT');
const GEN_PROJECT = env('GEN_PROJECT');
const PAIRS_FILE = join(ARTIFACTS, 'preference-pairs.jsonl');
/** The first interactive screen must come within this (issue 5, Speed). */
const TARGET_INTERACTIVE_MS = 1500;

// The screens, as the UI marks them (ui/src: App.svelte, screens/Label.svelte, screens/Projects.svelte,
// components/RecordText.svelte).
const SEL = {
  recordText: '[data-testid="record-text"]',
  labelButton: (name) => `[data-testid="label-${name}"]`,
  saved: '[data-testid="save-status"][data-state="saved"]',
  progress: '[data-testid="progress"]',
  recentItem: '[data-testid="recent-item"]',
  nav: (screen) => `[data-testid="nav-${screen}"]`,
  trainButton: '[data-testid="train-button"]:not([disabled])',
  trainDone: '[data-testid="train-done"][data-status="completed"]',
  seeResults: '[data-testid="see-results"]',
  scoresReady: '[data-testid="chart-scores"][data-ready="true"]',
  scoresTable: '[data-testid="scores-table"]',
};

mkdirSync(ARTIFACTS, { recursive: true });
const log = (...a) => console.log('[window]', ...a);

// ---------------------------------------------------------------- a minimal WebDriver client

class WebDriverError extends Error {}
const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

async function wd(method, path, body) {
  const res = await fetch(WD + path, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    throw new WebDriverError(`${method} ${path}: HTTP ${res.status}: ${text.slice(0, 300)}`);
  }
  if (!res.ok || (json.value && json.value.error)) {
    const err = new WebDriverError(`${method} ${path}: ${json.value?.error}: ${json.value?.message}`);
    err.code = json.value?.error;
    throw err;
  }
  return json.value;
}

class Session {
  constructor(id) {
    this.id = id;
  }
  static async start(capabilities) {
    const value = await wd('POST', '/session', { capabilities: { alwaysMatch: capabilities, firstMatch: [{}] } });
    return new Session(value.sessionId);
  }
  cmd(method, path, body) {
    return wd(method, `/session/${this.id}${path}`, body);
  }
  /** The element, or null when absent now. */
  async find(css) {
    try {
      const v = await this.cmd('POST', '/element', { using: 'css selector', value: css });
      return v[ELEMENT];
    } catch (e) {
      if (e.code === 'no such element') return null;
      throw e;
    }
  }
  /** Polls for an element (and optionally a condition on its text). */
  async waitFor(css, { timeoutMs = 15000, intervalMs = 15, textOk = () => true } = {}) {
    const t0 = Date.now();
    for (;;) {
      const el = await this.find(css);
      if (el) {
        const text = await this.cmd('GET', `/element/${el}/text`).catch(() => null);
        if (text !== null && textOk(text)) return { el, text };
      }
      if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${css}`);
      await sleep(intervalMs);
    }
  }
  exec(script, args = []) {
    return this.cmd('POST', '/execute/sync', { script, args });
  }
  execAsync(script, args = []) {
    return this.cmd('POST', '/execute/async', { script, args });
  }
  async click(css) {
    const { el } = await this.waitFor(css);
    await this.cmd('POST', `/element/${el}/click`, {});
  }
  /** Types `text` into the element `css` (WebDriver's element send keys). */
  async type(css, text) {
    const { el } = await this.waitFor(css);
    await this.cmd('POST', `/element/${el}/clear`, {}).catch(() => {});
    await this.cmd('POST', `/element/${el}/value`, { text });
  }
  async pressKey(key) {
    await this.cmd('POST', '/actions', {
      actions: [{ type: 'key', id: 'keyboard', actions: [{ type: 'keyDown', value: key }, { type: 'keyUp', value: key }] }],
    });
    await this.cmd('DELETE', '/actions');
  }
  async screenshot(name) {
    const b64 = await this.cmd('GET', '/screenshot');
    const path = join(ARTIFACTS, name);
    writeFileSync(path, Buffer.from(b64, 'base64'));
    return path;
  }
  close() {
    return this.cmd('DELETE', '');
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- helpers

/** How long ago the newest process running `exe` started, in ms (Linux /proc, 10 ms steps). Both
 *  ends are read on the kernel's uptime clock, so no wall-clock conversion blurs it. */
function processAgeMs(exe) {
  const uptimeMs = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1000;
  const hz = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
  let newest = null;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let link;
    try {
      link = readlinkSync(`/proc/${pid}/exe`);
    } catch {
      continue;
    }
    if (link !== exe) continue;
    // Field 22 of /proc/PID/stat (start time in ticks since boot), counted after the command name.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const startMs = (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]) * 1000) / hz;
    if (newest === null || startMs > newest) newest = startMs;
  }
  return newest === null ? null : Math.round(uptimeMs - newest);
}

/** The 1-minute load average (how many threads wanted a core, on average). */
function loadAverage() {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

function cli(...args) {
  return execFileSync(FINELAB, args, { encoding: 'utf8' });
}

function assert(cond, message) {
  if (!cond) throw new Error(`assertion failed: ${message}`);
}

function rootScreenshot(name) {
  // The whole X screen: the real window as a person would see it.
  try {
    execFileSync('import', ['-window', 'root', join(ARTIFACTS, name)]);
  } catch (e) {
    log(`(no root-window screenshot: ${e.message})`);
  }
}

// ---------------------------------------------------------------- the test

/** Runs `body` in a fresh app (a new process), saving a screenshot and the page if it fails. */
async function withApp(name, args, body) {
  const tRequest = Date.now();
  const session = await Session.start({ 'tauri:options': { application: APP, args } });
  session.tRequest = tRequest;
  session.tReady = Date.now();
  try {
    return await body(session);
  } catch (e) {
    await session.screenshot(`${name}-failure.png`).catch(() => {});
    rootScreenshot(`${name}-failure-root.png`);
    const html = await session.exec('return document.documentElement.outerHTML').catch(() => '');
    writeFileSync(join(ARTIFACTS, `${name}-failure.html`), html);
    throw e;
  } finally {
    await session.close().catch((e) => log('closing the session:', e.message));
  }
}

/** Times from launch to now, when the first interactive screen was found. */
async function launchTimings(session) {
  const now = Date.now();
  return {
    process_start_to_interactive_ms: processAgeMs(APP),
    session_request_to_interactive_ms: now - session.tRequest,
    session_ready_ms: session.tReady - session.tRequest,
    // Inside the page, from the start of its navigation: when the HTML was parsed and ran its
    // module (DOMContentLoaded), and when the interactive screen was found.
    ...(await session.exec(`const n = performance.getEntriesByType('navigation')[0];
      return { page_dom_content_loaded_ms: n ? Math.round(n.domContentLoadedEventEnd) : null,
               page_load_to_interactive_ms: Math.round(performance.now()) };`)),
  };
}

/** Launches the app directly (no WebDriver), with its trace on, until the label screen has its
 *  first record: the `next_record` answer, which the screen paints in the same frame. Returns ms
 *  from spawn to that answer, and the app's own trace. A launch that does not get there within
 *  `limitMs` fails with the trace, the rest of what the app printed and how it ended. */
function launchToFirstRecord(limitMs = 15000) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(APP, [PROJECT], {
      env: { ...process.env, FINELAB_TRACE: '1', FINELAB_CONFIG_DIR: CONFIG_DIR, FINELAB_PROJECT: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const trace = [];
    const other = [];
    let result = null;
    let killedAt = null;
    const timer = setTimeout(() => {
      killedAt = Date.now() - t0;
      child.kill('SIGTERM');
    }, limitMs);
    let buffered = '';
    child.stderr.on('data', (chunk) => {
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (!line.startsWith('finelab-app trace')) {
          if (line.trim()) other.push(line);
          continue;
        }
        trace.push(line.replace('finelab-app trace ', ''));
        if (result === null && /api next_record ok/.test(line)) {
          result = Date.now() - t0;
          child.kill('SIGTERM');
        }
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (result !== null) return resolve({ ms: result, trace });
      const how = killedAt !== null ? `stopped after ${killedAt} ms without it` : `exited by itself after ${Date.now() - t0} ms (code ${code}, signal ${signal})`;
      const printed = other.length ? `; it printed: ${other.slice(-20).join(' / ')}` : '; it printed nothing else';
      reject(new Error(`the label screen never asked for its first record: ${how}; trace: ${trace.join('; ')}${printed}`));
    });
  });
}

const before = JSON.parse(cli('stats', PROJECT, '--json'));
assert(before.records > 0 && before.labeled === 0, `the prepared project has unlabeled records: ${JSON.stringify(before)}`);
const timings = { target_ms: TARGET_INTERACTIVE_MS };

// 0. Launch to the first interactive screen, without WebDriver: one launch to warm up (the first
//    WebKit process on a fresh machine builds its caches: fonts, GStreamer's plugin registry, the
//    shader cache; a person meets that once, after installing), then five timed launches.
const warmup = await launchToFirstRecord(120000);
log('first launch on this machine (caches cold, not timed against the target):', warmup.ms, 'ms');
const loadBefore = loadAverage();
const launches = [];
for (let i = 0; i < 5; i++) launches.push(await launchToFirstRecord());
const sorted = launches.map((l) => l.ms).sort((a, b) => a - b);
timings.direct_launch_to_first_record_ms = { first_launch_cold: warmup.ms, runs: launches.map((l) => l.ms), median: sorted[2], max: sorted[4] };
timings.machine = { cores: availableParallelism(), load_average_1min_before: loadBefore };
timings.direct_launch_trace = launches.at(-1).trace;
log('launch to label screen with its first record, no WebDriver (5 runs):', JSON.stringify(launches.map((l) => l.ms)));
log('  trace of the last:', launches.at(-1).trace.join(' | '));

// 1. Started on the project (`finelab-app DIR`): straight into the label screen; label the first
//    record with the key of `pos`.
const run1 = await withApp('1', [PROJECT], async (session) => {
  const first = await session.waitFor(SEL.recordText, { textOk: (t) => t.trim().length > 0 });
  timings.started_on_project = await launchTimings(session);
  log('first record:', JSON.stringify(first.text));
  log('launch to label screen:', JSON.stringify(timings.started_on_project));
  await sleep(300);
  await session.screenshot('1-label-screen.png');
  rootScreenshot('1-label-screen-root.png');

  const button = await session.waitFor(SEL.labelButton('pos'));
  const key = button.text.trim().split(/\s+/).at(-1);
  assert(/^[0-9]$/.test(key), `the pos button shows its key: ${JSON.stringify(button.text)}`);
  await session.pressKey(key);
  // The screen moves on at once; "saved" appears when the database has committed.
  const next = await session.waitFor(SEL.recordText, { textOk: (t) => t.trim() !== first.text.trim() });
  await session.waitFor(SEL.saved);
  const progress = await session.find(SEL.progress);
  const labeledShown = await session.cmd('GET', `/element/${progress}/attribute/data-labeled`);
  assert(labeledShown === '1', `the counter shows 1 labeled: ${labeledShown}`);
  log('labelled with key', key, '; next record:', JSON.stringify(next.text));
  await sleep(1000);
  await session.screenshot('2-after-label.png');
  rootScreenshot('2-after-label-root.png');

  // The shell's contract, through this window's real IPC.
  const ipc = await session.execAsync(
    `const [projectDir, importProject, importFile, done] = arguments;
     const T = window.__TAURI_INTERNALS__;
     const out = {};
     const settle = (p) => p.then((v) => ({ ok: v }), (e) => ({ err: e }));
     (async () => {
       out.appInfo = await settle(T.invoke('api', { request: { cmd: 'app_info' } }));
       out.badProject = await settle(T.invoke('api', { request: { cmd: 'open_project', dir: projectDir + '/does-not-exist' } }));
       out.badRequest = await settle(T.invoke('api', { request: { cmd: 'no_such_command' } }));
       out.windowClose = await settle(T.invoke('plugin:window|close', { label: 'main' }));
       out.eventEmit = await settle(T.invoke('plugin:event|emit', { event: 'x', payload: null }));
       out.fsRead = await settle(T.invoke('plugin:fs|read_text_file', { path: '/etc/hostname' }));
       out.dialogMessage = await settle(T.invoke('plugin:dialog|message', { message: 'x' }));
       // start_import, then its states over a Channel (as @tauri-apps/api's Channel sends them).
       const job = await settle(T.invoke('api', { request: { cmd: 'start_import', dir: importProject, path: importFile, options: {} } }));
       out.startImport = job;
       if (job.ok) {
         const states = [];
         const id = T.transformCallback((m) => { if (m && !m.end) states.push('message' in m ? m.message : m); });
         out.watch = await settle(T.invoke('watch_job', { id: job.ok.id, onEvent: '__CHANNEL__:' + id }));
         for (let i = 0; i < 50 && !states.some((s) => s.status !== 'running'); i++) await new Promise((r) => setTimeout(r, 20));
         out.states = states;
       }
       done(out);
     })().catch((e) => done({ crashed: String(e) }));`,
    [PROJECT, IMPORT_PROJECT, IMPORT_FILE],
  );
  writeFileSync(join(ARTIFACTS, 'ipc.json'), JSON.stringify(ipc, null, 2));
  assert(!ipc.crashed, `IPC checks ran: ${ipc.crashed}`);
  assert(ipc.appInfo.ok?.project, `app_info names the start project: ${JSON.stringify(ipc.appInfo)}`);
  const bad = ipc.badProject.err;
  assert(bad && bad.code === 'not_a_project' && typeof bad.message === 'string' && 'details' in bad,
    `errors arrive as {code, message, details}: ${JSON.stringify(ipc.badProject)}`);
  assert(ipc.badRequest.err, `an unknown request is refused: ${JSON.stringify(ipc.badRequest)}`);
  for (const k of ['windowClose', 'eventEmit', 'fsRead', 'dialogMessage']) {
    assert(/not allowed/.test(String(ipc[k].err)), `${k} is outside the capability and refused: ${JSON.stringify(ipc[k])}`);
  }
  assert(ipc.startImport.ok?.kind === 'import', `start_import returns a job: ${JSON.stringify(ipc.startImport)}`);
  assert(ipc.watch.ok === null, `watch_job returns when the job is over: ${JSON.stringify(ipc.watch)}`);
  const last = ipc.states.at(-1);
  assert(last?.status === 'done' && last.result, `the channel delivered the final state: ${JSON.stringify(ipc.states)}`);
  log(`ipc: errors as {code: ${JSON.stringify(bad.code)}, ...}; ${ipc.states.length} job states over the channel; ` +
    'refused: window close, event emit, fs, dialog message');
  return { labelled: first.text.trim(), next: next.text.trim(), key };
});

// 2. Started with no project: open it from the recent list, and label the next record with the
//    key of `neg`. The queue resumes at the first unlabeled record.
await withApp('2', [], async (session) => {
  const recent = await session.waitFor(SEL.recentItem, { textOk: (t) => t.includes('window test') });
  timings.started_without_project = await launchTimings(session);
  log('launch to projects screen:', JSON.stringify(timings.started_without_project));
  await session.screenshot('3-projects-screen.png');
  await session.cmd('POST', `/element/${recent.el}/click`, {});
  const shown = await session.waitFor(SEL.recordText, { textOk: (t) => t.trim().length > 0 });
  assert(shown.text.trim() === run1.next, `the queue resumes at ${JSON.stringify(run1.next)}, shows ${JSON.stringify(shown.text)}`);
  const button = await session.waitFor(SEL.labelButton('neg'));
  const key = button.text.trim().split(/\s+/).at(-1);
  await session.pressKey(key);
  await session.waitFor(SEL.recordText, { textOk: (t) => t.trim() !== run1.next });
  await session.waitFor(SEL.saved);
  await sleep(1000);
  await session.screenshot('4-after-second-label.png');
  rootScreenshot('4-after-second-label-root.png');
});
writeFileSync(join(ARTIFACTS, 'timings.json'), JSON.stringify(timings, null, 2));

// 2b. Issue 6's key step in the real window: started on a project of labeled reviews, press
//     Train (instant model), follow the progress to the end, open Results; the per-label numbers
//     the window shows are those of `finelab eval --json` for that run.
const trained = await withApp('train', [TRAIN_PROJECT], async (session) => {
  // The app opens the project on the label screen (all labeled: nothing left to label) first.
  await session.waitFor('[data-testid="queue-done"]');
  await session.click(SEL.nav('train'));
  await session.click(SEL.trainButton);
  const t0 = Date.now();
  const done = await session.waitFor(SEL.trainDone, { timeoutMs: 180000, intervalMs: 100 });
  const run = await session.cmd('GET', `/element/${done.el}/attribute/data-run`);
  const percent = await session.exec(`return document.querySelector('[data-testid="train-progress"]').dataset.percent`);
  assert(percent === '100', `the progress reached 100 %: ${percent}`);
  log(`trained ${run} in the window (${Date.now() - t0} ms from the click to the end)`);
  await sleep(800);
  await session.screenshot('5-train-done.png');
  await session.click(SEL.seeResults);
  await session.waitFor(SEL.scoresTable);
  await session.waitFor(SEL.scoresReady);
  const rows = await session.exec(`return [...document.querySelectorAll('[data-testid="score-row"]')].map((tr) => ({
      label: tr.dataset.label,
      cells: [...tr.querySelectorAll('[data-metric]')].map((td) => ({ metric: td.dataset.metric, value: Number(td.dataset.value), text: td.textContent.trim() })) }))`);
  await sleep(1000);
  await session.screenshot('6-results.png');
  rootScreenshot('6-results-root.png');

  // Issue 15 in the real window: the per-label training curve draws in Results (a job), and
  // Review finds the suspected mislabels (a job) where Enter takes the model's suggestion.
  await session.click('[data-testid="curve-draw"]');
  await session.waitFor('[data-testid="curve-table"]', { timeoutMs: 120000, intervalMs: 100 });
  const verdicts = await session.exec(`return [...document.querySelectorAll('[data-testid="curve-table"] tr[data-verdict]')].map((tr) => tr.dataset.verdict)`);
  assert(verdicts.length === 2 && verdicts.every((v) => v === 'rising' || v === 'flat'), `a verdict per label: ${verdicts}`);
  await sleep(500);
  await session.screenshot('6b-label-curve.png');
  await session.click(SEL.nav('review'));
  await session.click('[data-testid="review-find"]');
  await session.waitFor('[data-testid="review-card"], [data-testid="review-done"]', { timeoutMs: 120000, intervalMs: 100 });
  const card = await session.exec(`const c = document.querySelector('[data-testid="review-card"]'); return c ? { seq: c.dataset.seq, suggested: c.dataset.suggested } : null`);
  let reviewed = null;
  if (card) {
    await session.pressKey('\uE007');
    await session.waitFor('[data-testid="review-decisions"] li[data-how="suggested"]');
    reviewed = card;
  }
  await sleep(500);
  await session.screenshot('6c-review.png');
  return { run, rows, reviewed, verdicts };
});
const evalReport = JSON.parse(cli('eval', TRAIN_PROJECT, '--run', trained.run, '--split', 'dev', '--json'));
const reportRows = Object.keys(evalReport).filter((k) => k !== 'confusion');
assert(JSON.stringify(trained.rows.map((r) => r.label).sort()) === JSON.stringify(reportRows.sort()),
  `the window shows every row of the report: ${trained.rows.map((r) => r.label)} vs ${reportRows}`);
for (const row of trained.rows) {
  const want = row.label === 'accuracy' ? { 'f1-score': evalReport.accuracy, support: evalReport['macro avg'].support } : evalReport[row.label];
  for (const cell of row.cells) {
    assert(cell.value === want[cell.metric], `${row.label} ${cell.metric}: window ${cell.value}, finelab eval ${want[cell.metric]}`);
  }
}
log(`results in the window equal finelab eval --json (${trained.rows.length} rows; macro-F1 ${evalReport['macro avg']['f1-score']})`);
log(`training curve in the window: ${trained.verdicts.join(', ')}`);
if (trained.reviewed) {
  // The decision is in the log, under the window's annotator.
  const after = JSON.parse(cli('stats', TRAIN_PROJECT, '--json'));
  assert(after.annotators.length >= 2, `the reviewer's decision is an annotation of its own: ${JSON.stringify(after.annotators)}`);
  log(`review in the window: #${trained.reviewed.seq} took the suggestion ${trained.reviewed.suggested}`);
} else {
  log('review in the window: no suspects on this data');
}

// 2c. Issue 14 in the real window: a generate project with two generator runs. The label screen
//     offers the newest run's draft, Tab takes it, a character is added and Ctrl+Enter saves (the
//     edit logged as one character); Results shows the run's chrF as `finelab eval` does; a blind
//     A/B review of the run against the references is judged by keyboard.
const generated = await withApp('generate', [GEN_PROJECT], async (session) => {
  await session.waitFor('[data-testid="draft"][data-state="ready"]', { timeoutMs: 60000, intervalMs: 50 });
  const seq = await session.exec(`return document.querySelector('[data-testid="record-card"]').dataset.seq`);
  const draft = await session.exec(`return document.querySelector('[data-testid="draft-text"]').textContent`);
  await session.pressKey('\uE004'); // Tab takes the draft
  await session.pressKey('!');
  await session.cmd('POST', '/actions', {
    actions: [{ type: 'key', id: 'keyboard', actions: [{ type: 'keyDown', value: '\uE009' }, { type: 'keyDown', value: '\uE007' }, { type: 'keyUp', value: '\uE007' }, { type: 'keyUp', value: '\uE009' }] }],
  });
  await session.cmd('DELETE', '/actions');
  await session.waitFor(`[data-testid="record-card"]:not([data-seq="${seq}"])`);
  const distance = await session.waitFor('[data-testid="saved-distance"]');
  const changed = await session.cmd('GET', `/element/${distance.el}/attribute/data-distance`);
  await sleep(300);
  await session.screenshot('7-generate-write.png');
  // A generator trained from the Train screen: memory first, then tokens/s and loss, answers to
  // fixed dev records after each epoch.
  await session.click(SEL.nav('train'));
  await session.waitFor('[data-testid="family-generator"]');
  await session.click('[data-testid="train-advanced"] summary');
  await session.type('[data-testid="train-epochs"]', '3');
  await session.type('[data-testid="train-lr"]', '0.01');
  await session.type('[data-testid="train-max-new-tokens"]', '12');
  await session.click('[data-testid="train-full-finetune"]');
  await session.waitFor('[data-testid="train-memory"]');
  await session.click(SEL.trainButton);
  const trainedHere = await session.waitFor('[data-testid="train-done"][data-status="completed"]', { timeoutMs: 180000, intervalMs: 100 });
  const windowRun = await session.cmd('GET', `/element/${trainedHere.el}/attribute/data-run`);
  const tokensPerSec = Number(await session.exec(`return document.querySelector('[data-testid="train-tokens-rate"]').dataset.value`));
  const samples = await session.exec(`return document.querySelectorAll('[data-testid="train-sample"]').length`);
  assert(tokensPerSec > 0 && samples > 0, `tokens/s ${tokensPerSec} and ${samples} answers to dev records shown`);
  await sleep(300);
  await session.screenshot('7b-generate-train.png');
  await session.click(SEL.seeResults);
  const chrf = await session.waitFor('[data-testid="gen-metric"][data-metric="chrf"]');
  const shownChrf = Number(await session.cmd('GET', `/element/${chrf.el}/attribute/data-value`));
  const run = await session.exec(`return document.querySelector('[data-testid="run-facts"]').dataset.run`);
  await session.waitFor('[data-testid="gen-row"]');
  await sleep(500);
  await session.screenshot('8-generate-results.png');
  await session.click('[data-testid="ab-start"]');
  await session.waitFor('[data-testid="compare-item"]', { timeoutMs: 30000 });
  await sleep(300);
  await session.screenshot('9-generate-compare.png');
  for (let i = 0; i < 60; i++) {
    const position = await session.exec(`const el = document.querySelector('[data-testid="compare-item"]'); return el ? el.dataset.position : null`);
    if (position === null) break;
    await session.pressKey(['1', '2', '3'][i % 3]);
    await session.waitFor(`[data-testid="compare-item"]:not([data-position="${position}"]), [data-testid="compare-done"]`);
  }
  await session.waitFor('[data-testid="compare-done"]');
  // The judged pairs exported from the window.
  await session.type('[data-testid="preferences-path"]', PAIRS_FILE);
  await session.click('[data-testid="preferences-export"]');
  await session.waitFor('body', { textOk: (t) => t.includes(PAIRS_FILE), timeoutMs: 10000 });
  return { seq: Number(seq), draft, changed, shownChrf, run, windowRun };
});
assert(generated.changed === '1', `the edit from the draft logged as one character: ${generated.changed}`);
const genRecord = JSON.parse(cli('export', GEN_PROJECT, '--format', 'jsonl').trim().split('\n')[generated.seq - 1]);
assert(genRecord.output === `${generated.draft}!`, `the output written from the draft: ${JSON.stringify(genRecord.output)}`);
const genEval = JSON.parse(cli('eval', GEN_PROJECT, '--run', generated.run, '--split', 'dev', '--json'));
assert(generated.shownChrf === genEval.chrf, `chrF in the window ${generated.shownChrf}, finelab eval ${genEval.chrf}`);
assert(generated.run === generated.windowRun, `Results opened on the run trained in the window: ${generated.run} vs ${generated.windowRun}`);
const reviews = JSON.parse(cli('compare', GEN_PROJECT, '--json'));
assert(reviews.length === 1 && reviews[0].comparison.n_judged === reviews[0].comparison.n_items && reviews[0].comparison.n_items > 0,
  `the blind review judged in the window: ${JSON.stringify(reviews)}`);
const pairs = readFileSync(PAIRS_FILE, 'utf8').trim().split('\n').filter((l) => l);
assert(pairs.length === reviews[0].wins_a + reviews[0].wins_b, `one preference pair a decided judgement: ${pairs.length}`);
assert(pairs.join('\n') === cli('export', GEN_PROJECT, '--format', 'preferences').trim(), 'the window exports what finelab export --format preferences writes');
log(`generation in the window: a draft taken and edited (1 character), chrF ${genEval.chrf} as finelab eval, ` +
  `a blind review of ${reviews[0].comparison.n_items} items: A ${reviews[0].wins_a} · B ${reviews[0].wins_b} · ties ${reviews[0].ties}`);

// 3. The labels are in the database.
const stats = JSON.parse(cli('stats', PROJECT, '--json'));
log('stats:', JSON.stringify(stats));
assert(stats.labeled === 2 && stats.labels.pos === 1 && stats.labels.neg === 1, `one pos, one neg: ${JSON.stringify(stats)}`);
const exported = cli('export', PROJECT, '--format', 'jsonl').trim().split('\n').map((l) => JSON.parse(l));
const byLabel = (label) => exported.filter((r) => r.label === label).map((r) => r.text);
assert(JSON.stringify(byLabel('pos')) === JSON.stringify([run1.labelled]), `export: pos is ${JSON.stringify(byLabel('pos'))}`);
assert(JSON.stringify(byLabel('neg')) === JSON.stringify([run1.next]), `export: neg is ${JSON.stringify(byLabel('neg'))}`);
assert(exported.filter((r) => r.label != null).length === 2, 'export: nothing else is labeled');
const imported = JSON.parse(cli('stats', IMPORT_PROJECT, '--json'));
assert(imported.records > 0, `the import over IPC reached the database: ${JSON.stringify(imported)}`);

const direct = timings.direct_launch_to_first_record_ms;
const t1 = timings.started_on_project;
log(`launch to first interactive screen: median ${direct.median} ms, max ${direct.max} ms without WebDriver; ` +
  `${t1.process_start_to_interactive_ms} ms under WebDriver (target ${TARGET_INTERACTIVE_MS} ms)`);
// The target is for this machine doing nothing else: while other work (a build) keeps its cores
// busy, the time says more about that work than about the app, and is reported, not judged.
const busy = timings.machine.load_average_1min_before >= timings.machine.cores;
if (busy) {
  log(`launch time NOT CHECKED: the machine was busy (load ${timings.machine.load_average_1min_before} on ` +
    `${timings.machine.cores} cores); run again on an idle machine to check it`);
} else {
  assert(direct.median <= TARGET_INTERACTIVE_MS, `launch to first interactive screen within ${TARGET_INTERACTIVE_MS} ms`);
}
log('PASS');
