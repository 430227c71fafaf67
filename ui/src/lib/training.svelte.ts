// The training job of the open project, kept outside the Train screen: training goes on while the
// user labels or reads results, and the screen shows it again when it comes back. The job's id is
// kept in sessionStorage, so a reloaded page finds a job that is still running.

import { api } from './api';
import type { JobState, TrainDone, TrainRequest } from './api-types';
import { app, notify, refreshProject } from './app.svelte';
import { errorText, t } from './i18n.svelte';

interface TrainingState {
  /** The project the job trains on. */
  dir: string | null;
  /** Its latest state. */
  job: JobState | null;
  /** A cancel was asked and not yet answered by the job's end. */
  cancelling: boolean;
  /** Bumped when a job ends, so screens showing runs reload them. */
  finished: number;
}

export const training: TrainingState = $state({ dir: null, job: null, cancelling: false, finished: 0 });

const KEY = 'finelab.train-job';

function remember(dir: string | null, id: number | null): void {
  try {
    if (dir && id !== null) sessionStorage.setItem(KEY, JSON.stringify({ dir, id }));
    else sessionStorage.removeItem(KEY);
  } catch {
    /* private mode */
  }
}

/** Whether a job is training on `dir` now. */
export function isTraining(dir: string): boolean {
  return training.dir === dir && training.job?.status === 'running';
}

/** The outcome of the finished job (completed or cancelled runs both have one). */
export function doneOf(job: JobState | null): TrainDone | null {
  return job && job.status !== 'running' && job.result ? (job.result as unknown as TrainDone) : null;
}

async function follow(dir: string, job: JobState): Promise<void> {
  training.dir = dir;
  training.job = job;
  training.cancelling = false;
  remember(dir, job.id);
  try {
    const final = await api.watchJob(job.id, (s) => {
      if (training.job?.id === job.id) training.job = s;
    });
    if (training.job?.id === job.id) training.job = final;
    remember(null, null);
    const done = doneOf(final);
    if (final.status === 'failed') notify('error', t('train.failed', { message: final.error ? `${final.error.code}: ${final.error.message}` : '' }));
    // On the Train screen its own panel says so (and a notice would cover its buttons).
    else if (done && app.screen !== 'train') notify('info', t(done.status === 'cancelled' ? 'train.notice_cancelled' : 'train.notice_done', { run: done.run }));
  } catch (e) {
    notify('error', errorText(e));
  } finally {
    if (training.job?.id === job.id) training.cancelling = false;
    training.finished++;
    if (app.project?.dir === dir) refreshProject().catch(() => {});
  }
}

/** Starts training on `dir`; progress lands in `training`. */
export async function startTraining(dir: string, request: TrainRequest): Promise<void> {
  const job = await api.startTrain(dir, request);
  void follow(dir, job);
}

/** Starts a new run that continues `run`. */
export async function resumeTraining(dir: string, run: string): Promise<void> {
  const job = await api.resumeRun(dir, run);
  void follow(dir, job);
}

/** Asks the job to stop (it keeps the best model so far). */
export async function cancelTraining(): Promise<void> {
  const job = training.job;
  if (!job || job.status !== 'running') return;
  training.cancelling = true;
  try {
    await api.cancelJob(job.id);
  } catch (e) {
    training.cancelling = false;
    notify('error', errorText(e));
  }
}

/** Follows a train job running on `dir`: the one this tab started before a reload, else one that
 * another window or tab started (the backend lists its jobs). */
export async function reattach(dir: string): Promise<void> {
  if (training.dir === dir && training.job?.status === 'running') return;
  let saved: { dir: string; id: number } | null = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(KEY) ?? 'null');
  } catch {
    saved = null;
  }
  if (saved && saved.dir === dir) {
    try {
      const job = await api.job(saved.id);
      if (job.kind === 'train' && job.status === 'running') {
        void follow(dir, job);
        return;
      }
    } catch {
      /* the backend restarted: look for other jobs below */
    }
    remember(null, null);
  }
  try {
    const running = (await api.listJobs(dir)).find((j) => j.kind === 'train' && j.status === 'running');
    if (running && !(training.dir === dir && training.job?.status === 'running')) void follow(dir, running);
  } catch {
    /* an older backend without list_jobs: nothing to attach to */
  }
}

/** The Train screen's form, as the user left it (fields as typed; empty means the default). */
export const trainForm = $state({
  family: 'instant' as 'instant' | 'transformer',
  modelPath: '',
  typedPath: '',
  epochs: '',
  batchSize: '',
  lr: '',
  maxLen: '',
  seed: '',
  device: 'auto',
  // Generators (generate projects): LoRA settings and the length of the dev/test answers.
  loraRank: '',
  loraAlpha: '',
  loraDropout: '',
  fullFinetune: false,
  maxNewTokens: '',
});
