// The one API client. Every call is a typed `Request` answered with its typed result or an
// `ErrorBody`; two transports carry it, chosen once at start:
//  - Tauri IPC (`invoke('api', { request })`, job progress over a typed Channel), in the window;
//  - HTTP (`POST /api`, job progress as Server-Sent Events, uploads), under `finelab serve`.

import type {
  Action,
  AnnotationValue,
  AppInfo,
  ComparisonRequest,
  CreateProject,
  CurveRequest,
  DeployRequest,
  DraftUsed,
  ErrorBody,
  ErrorCode,
  Evaluation,
  ExportedModel,
  GenRecordsQuery,
  ImportPreview,
  ImportRequest,
  JobState,
  ModelEntry,
  OptimizeRequest,
  Preferred,
  ProjectView,
  Receipt,
  RecentProject,
  RecordView,
  Request,
  Responses,
  RunDetail,
  RunRecordsPage,
  Role,
  RunSummary,
  SearchPage,
  SearchQuery,
  SettingsChange,
  Split,
  Stats,
  SuspectsRequest,
  Strategy,
  TrainRequest,
  TrainSetup,
} from './api-types';

/** What each command returns: generated from the Rust dispatch table. */
export type { Responses };

/** Which of a run's records `runRecords` lists (the records behind a chart element). */
export interface RunRecordsFilter {
  split?: Split | null;
  gold?: string | null;
  predicted?: string | null;
  label?: string | null;
  only_errors?: boolean;
  limit?: number;
  offset?: number;
}

/** Who is using the shell (`GET /api/session`): a person signed in to a shared server, or the
 *  operator (the holder of the server's token, and the desktop window), who is an admin. */
export interface Session {
  name: string | null;
  role: Role;
  operator: boolean;
}

/** The operator's session: the window, and the holder of the server's token. */
export const OPERATOR: Session = { name: null, role: 'admin', operator: true };

/** Which records `disagreements` lists. */
export interface DisagreementsFilter {
  /** Where these two annotators differ (decided or not); without them, every undecided record. */
  a?: string | null;
  b?: string | null;
  afterSeq?: number | null;
  limit?: number;
}

export type Command = Request['cmd'];
export type RequestOf<C extends Command> = Extract<Request, { cmd: C }>;

/** The codes of errors: the shells' (generated from Rust's `ErrorCode`), and this client's own
 *  when the shell cannot be reached or answers with no error body. */
export type ClientErrorCode = ErrorCode | 'network' | 'transport' | `http_${number}`;

/** An error as this client reports it. */
export interface ClientErrorBody {
  code: ClientErrorCode;
  message: string;
  details: ErrorBody['details'];
}

/** An error from the API (or from reaching it), with the stable code the shells send. */
export class ApiError extends Error implements ClientErrorBody {
  code: ClientErrorCode;
  details: ErrorBody['details'];
  constructor(body: ClientErrorBody) {
    super(body.message);
    this.name = 'ApiError';
    this.code = body.code;
    this.details = body.details ?? null;
  }
}

function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e && typeof e === 'object' && 'code' in e && 'message' in e) return new ApiError(e as ErrorBody);
  return new ApiError({ code: 'transport', message: e instanceof Error ? e.message : String(e), details: null });
}

/** How requests travel. */
export interface Transport {
  readonly kind: 'tauri' | 'http';
  call(request: Request): Promise<unknown>;
  /** Streams a job's states to `onState` until it is no longer running; resolves with the last. */
  watchJob(id: number, onState: (state: JobState) => void): Promise<JobState>;
  /** Who is using the shell. */
  session(): Promise<Session>;
}

/** Whether an error says the caller is not (or no longer) signed in. */
export function isSignedOut(code: string): boolean {
  return code === 'unauthorized' || code === 'session_expired';
}

/** Tauri IPC. */
export class TauriTransport implements Transport {
  readonly kind = 'tauri';

  async call(request: Request): Promise<unknown> {
    const { invoke } = await import('@tauri-apps/api/core');
    try {
      return await invoke('api', { request });
    } catch (e) {
      throw toApiError(e);
    }
  }

  async watchJob(id: number, onState: (state: JobState) => void): Promise<JobState> {
    const { invoke, Channel } = await import('@tauri-apps/api/core');
    let last: JobState | null = null;
    const channel = new Channel<JobState>((state) => {
      last = state;
      onState(state);
    });
    try {
      await invoke('watch_job', { id, onEvent: channel });
    } catch (e) {
      throw toApiError(e);
    }
    // The command returns once the job is over; make sure the final state was seen.
    const final = (last as JobState | null)?.status !== 'running' && last ? last : ((await this.call({ cmd: 'job', id })) as JobState);
    if (final !== last) onState(final);
    return final;
  }

  /** The window's user is its owner. */
  async session(): Promise<Session> {
    return OPERATOR;
  }

  /** The native file dialog; null when cancelled. */
  async pickPath(directory: boolean, filters?: { name: string; extensions: string[] }[]): Promise<string | null> {
    const { open } = await import('@tauri-apps/plugin-dialog');
    const chosen = await open({ directory, multiple: false, filters });
    return typeof chosen === 'string' ? chosen : null;
  }
}

/** HTTP to `finelab serve`. */
export class HttpTransport implements Transport {
  readonly kind = 'http';
  private readonly base: URL;
  /** Set once the browser was sent to the sign-in page. */
  redirecting = false;

  /**
   * `base`: the page's URL (the API lives at `<base>/api`); `token`: from `?token=`;
   * `toSignIn`: sends the browser to the sign-in page (an API answer said the caller is not
   * signed in; never when the page carries the token, whose holder does not sign in).
   */
  constructor(
    base: string,
    private readonly token: string | null,
    private readonly toSignIn: (url: string) => void = (url) => location.assign(url),
  ) {
    const url = new URL(base);
    url.search = '';
    url.hash = '';
    // The API is beside the page: /index.html → /api, /ui/ → /ui/api.
    url.pathname = url.pathname.replace(/[^/]*$/, '');
    this.base = url;
  }

  url(path: string, withToken = false): string {
    const url = new URL(path, this.base);
    if (withToken && this.token) url.searchParams.set('token', this.token);
    return url.toString();
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.token ? { ...extra, Authorization: `Bearer ${this.token}` } : extra;
  }

  async call(request: Request): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(this.url('api'), {
        method: 'POST',
        headers: this.headers({ 'Content-Type': 'application/json' }),
        body: JSON.stringify(request),
      });
    } catch (e) {
      throw new ApiError({ code: 'network', message: e instanceof Error ? e.message : String(e), details: null });
    }
    const text = await response.text();
    let body: unknown = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      if (response.ok) throw new ApiError({ code: 'transport', message: `not JSON: ${text.slice(0, 200)}`, details: null });
    }
    if (!response.ok) {
      if (body && typeof body === 'object' && 'code' in body) {
        const error = new ApiError(body as ErrorBody);
        if (response.status === 401) this.signedOut(error.code);
        throw error;
      }
      throw new ApiError({ code: `http_${response.status}`, message: text.slice(0, 500) || response.statusText, details: null });
    }
    return body;
  }

  /** Sends the browser to the sign-in page (the server's `/signin`) once, unless it holds the token. */
  private signedOut(code: string) {
    if (!isSignedOut(code) || this.token || this.redirecting) return;
    this.redirecting = true;
    this.toSignIn(new URL('/signin', this.base).toString());
  }

  /** `GET /api/session`. */
  async session(): Promise<Session> {
    let response: Response;
    try {
      response = await fetch(this.url('api/session'), { headers: this.headers() });
    } catch (e) {
      throw new ApiError({ code: 'network', message: e instanceof Error ? e.message : String(e), details: null });
    }
    const text = await response.text();
    let body: unknown = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      /* handled below */
    }
    if (response.ok && body && typeof body === 'object' && 'role' in body) return body as Session;
    if (body && typeof body === 'object' && 'code' in body) {
      const error = new ApiError(body as ErrorBody);
      if (response.status === 401) this.signedOut(error.code);
      throw error;
    }
    throw new ApiError({ code: `http_${response.status}`, message: text.slice(0, 500) || response.statusText, details: null });
  }

  watchJob(id: number, onState: (state: JobState) => void): Promise<JobState> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (state: JobState) => {
        if (settled) return;
        settled = true;
        resolve(state);
      };
      // Poll when the event stream is unavailable or breaks before the job ends.
      const poll = async () => {
        try {
          for (;;) {
            const state = (await this.call({ cmd: 'job', id })) as JobState;
            onState(state);
            if (state.status !== 'running') return finish(state);
            await new Promise((r) => setTimeout(r, 250));
          }
        } catch (e) {
          if (!settled) {
            settled = true;
            reject(toApiError(e));
          }
        }
      };
      if (typeof EventSource === 'undefined') {
        void poll();
        return;
      }
      const source = new EventSource(this.url(`api/jobs/${id}/events`, true));
      source.onmessage = (event) => {
        let state: JobState;
        try {
          state = JSON.parse(event.data) as JobState;
        } catch {
          return;
        }
        onState(state);
        if (state.status !== 'running') {
          source.close();
          finish(state);
        }
      };
      source.onerror = () => {
        // The stream ended or failed without a final state: ask directly instead of reconnecting.
        source.close();
        if (!settled) void poll();
      };
    });
  }

  /** Uploads a file chosen in the browser; returns its path on the server. */
  upload(file: File, onProgress?: (sent: number, total: number) => void): Promise<string> {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', this.url(`api/upload?name=${encodeURIComponent(file.name)}`));
      for (const [k, v] of Object.entries(this.headers({ 'Content-Type': 'application/octet-stream' }))) xhr.setRequestHeader(k, v);
      xhr.upload.onprogress = (e) => onProgress?.(e.loaded, e.lengthComputable ? e.total : file.size);
      xhr.onload = () => {
        let body: unknown = null;
        try {
          body = JSON.parse(xhr.responseText);
        } catch {
          /* handled below */
        }
        if (xhr.status >= 200 && xhr.status < 300 && body && typeof body === 'object' && 'path' in body) {
          resolve((body as { path: string }).path);
        } else if (body && typeof body === 'object' && 'code' in body) {
          reject(new ApiError(body as ErrorBody));
        } else {
          reject(new ApiError({ code: `http_${xhr.status}`, message: xhr.responseText.slice(0, 500) || 'upload failed', details: null }));
        }
      };
      xhr.onerror = () => reject(new ApiError({ code: 'network', message: 'upload failed', details: null }));
      xhr.send(file);
    });
  }
}

/** Typed wrappers, one per command. */
export class Api {
  constructor(readonly transport: Transport) {}

  call<C extends Command>(request: RequestOf<C>): Promise<Responses[C]> {
    return this.transport.call(request) as Promise<Responses[C]>;
  }

  appInfo() {
    return this.call({ cmd: 'app_info' });
  }
  recentProjects() {
    return this.call({ cmd: 'recent_projects' });
  }
  createProject(dir: string, project: CreateProject) {
    return this.call({ cmd: 'create_project', dir, project });
  }
  openProject(dir: string) {
    return this.call({ cmd: 'open_project', dir });
  }
  setGuidelines(dir: string, markdown: string) {
    return this.call({ cmd: 'set_guidelines', dir, markdown });
  }
  previewImport(dir: string, path: string, options: ImportRequest) {
    return this.call({ cmd: 'preview_import', dir, path, options });
  }
  startImport(dir: string, path: string, options: ImportRequest) {
    return this.call({ cmd: 'start_import', dir, path, options });
  }
  job(id: number) {
    return this.call({ cmd: 'job', id });
  }
  cancelJob(id: number) {
    return this.call({ cmd: 'cancel_job', id });
  }
  watchJob(id: number, onState: (state: JobState) => void) {
    return this.transport.watchJob(id, onState);
  }
  /** The next `n` records in the order of `strategy` (the newest model's least confident first...). */
  nextBatch(dir: string, annotator: string, n: number, strategy: Strategy, label: string | null = null) {
    return this.call({ cmd: 'next_batch', dir, annotator, n, strategy, ...(label ? { label } : {}) });
  }
  /** Labels between two background retrains of the instant model (0: never). */
  setRetrainEvery(dir: string, every: number) {
    return this.call({ cmd: 'set_retrain_every', dir, every });
  }
  /** Cross-validates the project and lists the labels likely wrong, as a job (its result a SuspectsReport). */
  startSuspects(dir: string, request: SuspectsRequest) {
    return this.call({ cmd: 'start_suspects', dir, request });
  }
  /** Trains on growing shares of the train split, as a job (its result a TrainCurve). */
  startTrainCurve(dir: string, request: CurveRequest) {
    return this.call({ cmd: 'start_train_curve', dir, request });
  }
  nextRecord(dir: string, annotator: string, afterSeq: number | null) {
    return this.call({ cmd: 'next_record', dir, annotator, after_seq: afterSeq });
  }
  getRecord(dir: string, seq: number) {
    return this.call({ cmd: 'get_record', dir, seq });
  }
  /** `draft`: the model's draft an output was written from (the size of the edit is logged). */
  annotate(dir: string, seq: number, annotator: string, action: Action, draft: DraftUsed | null = null) {
    return this.call({ cmd: 'annotate', dir, seq, annotator, action, ...(draft ? { draft } : {}) });
  }
  undo(dir: string, annotator: string) {
    return this.call({ cmd: 'undo', dir, annotator });
  }
  search(dir: string, query: Partial<SearchQuery>) {
    return this.call({ cmd: 'search', dir, query: fullQuery(query) });
  }
  countRecords(dir: string, query: Partial<SearchQuery>, cap: number | null = null) {
    return this.call({ cmd: 'count_records', dir, query: fullQuery(query), cap });
  }
  stats(dir: string) {
    return this.call({ cmd: 'stats', dir });
  }
  trainSetup(dir: string) {
    return this.call({ cmd: 'train_setup', dir });
  }
  inspectModel(path: string) {
    return this.call({ cmd: 'inspect_model', path });
  }
  downloadModel(name: string, revision: string | null = null) {
    return this.call({ cmd: 'download_model', name, revision });
  }
  listJobs(dir: string | null = null) {
    return this.call({ cmd: 'list_jobs', dir });
  }
  startTrain(dir: string, request: TrainRequest) {
    return this.call({ cmd: 'start_train', dir, request });
  }
  listRuns(dir: string) {
    return this.call({ cmd: 'list_runs', dir });
  }
  getRun(dir: string, run: string) {
    return this.call({ cmd: 'get_run', dir, run });
  }
  evaluate(dir: string, run: string | null, split: Split) {
    return this.call({ cmd: 'evaluate', dir, run, split });
  }
  runRecords(dir: string, run: string, f: RunRecordsFilter) {
    return this.call({
      cmd: 'run_records',
      dir,
      run,
      split: f.split ?? null,
      gold: f.gold ?? null,
      predicted: f.predicted ?? null,
      label: f.label ?? null,
      only_errors: f.only_errors ?? false,
      limit: f.limit ?? null,
      offset: f.offset ?? null,
    });
  }
  exportModel(dir: string, run: string, dest: string) {
    return this.call({ cmd: 'export_model', dir, run, dest });
  }
  resumeRun(dir: string, run: string) {
    return this.call({ cmd: 'resume_run', dir, run });
  }
  /** Writes the project's training job for a cluster (into `jobs/` of the project unless `out`). */
  exportJob(dir: string, request: TrainRequest, out?: string) {
    return this.call({ cmd: 'export_job', dir, request, ...(out?.trim() ? { out } : {}) });
  }
  /** Imports the model a cluster job trained (its output folder) as a run. */
  importRun(dir: string, output: string) {
    return this.call({ cmd: 'import_run', dir, output });
  }
  /** Who is using the shell (the operator in the window). */
  session() {
    return this.transport.session();
  }
  /** Changes some of the project's settings (absent ones stay). */
  updateSettings(dir: string, change: Partial<SettingsChange>) {
    return this.call({
      cmd: 'update_settings',
      dir,
      change: {
        retrain_every: change.retrain_every ?? null,
        overlap: change.overlap ?? null,
        annotators_see_others: change.annotators_see_others ?? null,
        tie_rule: change.tie_rule ?? null,
      },
    });
  }
  /** How far the annotators (all, or these) agree. */
  agreement(dir: string, annotators: string[] | null = null) {
    return this.call({ cmd: 'agreement', dir, annotators });
  }
  /** Records labeled differently: undecided ones, or (`a`, `b`) where two annotators differ. */
  disagreements(dir: string, f: DisagreementsFilter = {}) {
    return this.call({ cmd: 'disagreements', dir, a: f.a ?? null, b: f.b ?? null, after_seq: f.afterSeq ?? null, limit: f.limit ?? 50 });
  }
  /** A reviewer's decision on a record the annotators labeled differently (undone by `undo` of the reviewer). */
  adjudicate(dir: string, seq: number, reviewer: string, value: AnnotationValue) {
    return this.call({ cmd: 'adjudicate', dir, seq, reviewer, value });
  }
  /** Each annotator's work and agreement; `noise`: also their suspected-noise rate (cross-validates the project). */
  people(dir: string, noise = false) {
    return this.call({ cmd: 'people', dir, noise });
  }
  /** Gives the records a search finds to named people (served only to them). */
  assignSlice(dir: string, query: SearchQuery, people: string[]) {
    return this.call({ cmd: 'assign_slice', dir, query, people });
  }
  listAssignments(dir: string) {
    return this.call({ cmd: 'list_assignments', dir });
  }
  removeAssignment(dir: string, id: number) {
    return this.call({ cmd: 'remove_assignment', dir, id });
  }
  /** Generate projects: the newest generator run's output for a record (null without one). */
  draft(dir: string, seq: number) {
    return this.call({ cmd: 'draft', dir, seq });
  }
  /** A blind comparison of two output sources (`run:ID` or `reference`) on a sample. */
  startComparison(dir: string, request: ComparisonRequest, by: string) {
    return this.call({ cmd: 'start_comparison', dir, request, by });
  }
  listComparisons(dir: string) {
    return this.call({ cmd: 'list_comparisons', dir });
  }
  nextComparisonItem(dir: string, comparison: number, annotator: string, after: number | null = null) {
    return this.call({ cmd: 'next_comparison_item', dir, comparison, annotator, ...(after != null ? { after } : {}) });
  }
  prefer(dir: string, comparison: number, position: number, annotator: string, pick: Preferred) {
    return this.call({ cmd: 'prefer', dir, comparison, position, annotator, pick });
  }
  undoPreference(dir: string, comparison: number, annotator: string) {
    return this.call({ cmd: 'undo_preference', dir, comparison, annotator });
  }
  comparisonReport(dir: string, comparison: number) {
    return this.call({ cmd: 'comparison_report', dir, comparison });
  }
  /** A generator run's outputs beside their references (chrF, diff), the worst first by default. */
  generationRecords(dir: string, run: string, query: GenRecordsQuery = {}) {
    return this.call({ cmd: 'generation_records', dir, run, query });
  }
  /** Writes the judged pairs as `{"prompt", "chosen", "rejected"}` lines. */
  exportPreferences(dir: string, dest: string) {
    return this.call({ cmd: 'export_preferences', dir, dest });
  }
  /** The memory training a generator will need (null for the other families). */
  estimateTrainMemory(dir: string, request: TrainRequest) {
    return this.call({ cmd: 'estimate_train_memory', dir, request });
  }
  /** Serves a run's model over HTTP from this program (127.0.0.1). */
  deploy(dir: string, run: string, request: DeployRequest = {}) {
    return this.call({ cmd: 'deploy', dir, run, request });
  }
  listDeployments(dir: string | null = null) {
    return this.call({ cmd: 'list_deployments', dir });
  }
  stopDeployment(id: number) {
    return this.call({ cmd: 'stop_deployment', id });
  }
  /** Optimises a run (prune: a transformer's first encoder layers, fine-tuned again) as a train job. */
  startOptimize(dir: string, request: OptimizeRequest) {
    return this.call({ cmd: 'start_optimize', dir, request });
  }
  /** The project's runs by size, speed (measured with `speed`), macro-F1 and agreement with their parent. */
  runCosts(dir: string, speed = false) {
    return this.call({ cmd: 'run_costs', dir, speed });
  }
  /** The predicted label mix of production traffic per day beside the train split's. */
  productionMix(dir: string) {
    return this.call({ cmd: 'production_mix', dir });
  }
  /** The people who may sign in (admins). */
  listUsers(dir: string) {
    return this.call({ cmd: 'list_users', dir });
  }
  /** Adds a person; the answer carries their password, shown once. */
  addUser(dir: string, name: string, role: Role) {
    return this.call({ cmd: 'add_user', dir, name, role });
  }
  resetUser(dir: string, name: string) {
    return this.call({ cmd: 'reset_user', dir, name });
  }
  removeUser(dir: string, name: string) {
    return this.call({ cmd: 'remove_user', dir, name });
  }
}

/** A query with every field present (absent ones null). */
export function fullQuery(q: Partial<SearchQuery>): SearchQuery {
  return {
    text: q.text ?? null,
    label: q.label ?? null,
    split: q.split ?? null,
    annotator: q.annotator ?? null,
    status: q.status ?? null,
    after_seq: q.after_seq ?? null,
    offset: q.offset ?? null,
    limit: q.limit ?? null,
    predicted_label: q.predicted_label ?? null,
    min_score: q.min_score ?? null,
    max_score: q.max_score ?? null,
    sort: q.sort ?? null,
    run: q.run ?? null,
  };
}

/** Whether the page runs inside the Tauri window. */
export function inTauri(): boolean {
  return typeof window !== 'undefined' && '__TAURI_INTERNALS__' in window;
}

/** The transport for this page: Tauri IPC in the window, else HTTP beside the page. */
export function detectTransport(): Transport {
  if (inTauri()) return new TauriTransport();
  const token = new URL(location.href).searchParams.get('token');
  return new HttpTransport(location.href, token);
}

export const api = new Api(typeof window === 'undefined' ? new HttpTransport('http://localhost/', null) : detectTransport());
