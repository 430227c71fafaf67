// Application state shared by the screens: which screen is shown, the open project, messages.

import { api, ApiError, HttpTransport, OPERATOR, type Session } from './api';
import type { AppInfo, ProjectView } from './api-types';
import { roleAtLeast, SCREENS, screensFor, type Screen } from './screens';
import { useSessionName } from './settings.svelte';

export { SCREENS, type Screen };

interface AppState {
  screen: Screen;
  info: AppInfo | null;
  project: ProjectView | null;
  /** A record to show in the label screen (opened from Browse); null: the queue. */
  openSeq: number | null;
  /** Bumped when openSeq is set again, so the label screen reloads even for the same record. */
  openToken: number;
  /** The label screen serves only records the newest model predicts as this label (from a training curve's button); null: all. */
  labelFilter: string | null;
  /** The comparison the label screen of a generate project opens on (from Results' blind A/B review); null: none. */
  compareId: number | null;
  /** A message shown in the corner. */
  notice: { kind: 'error' | 'info'; text: string; id: number } | null;
  /** A folder the shell was started on that holds no project yet: offered for a new one. */
  suggestedDir: string | null;
  /** Who uses the shell: someone signed in to a shared server, or the operator (an admin). */
  session: Session;
}

export const app: AppState = $state({
  screen: 'projects',
  info: null,
  project: null,
  openSeq: null,
  openToken: 0,
  labelFilter: null,
  compareId: null,
  notice: null,
  suggestedDir: null,
  session: OPERATOR,
});

/** The screens the session's role may use. */
export function allowedScreens(): Screen[] {
  return screensFor(app.session.role);
}

/** Whether the session's role may do what `role` may (admins: settings, imports, training). */
export function can(role: Session['role']): boolean {
  return roleAtLeast(app.session.role, role);
}

const LAST_PROJECT = 'finelab.project';
let noticeId = 0;

/** Shows a message for a few seconds. */
export function notify(kind: 'error' | 'info', text: string): void {
  const id = ++noticeId;
  app.notice = { kind, text, id };
  setTimeout(() => {
    if (app.notice?.id === id) app.notice = null;
  }, kind === 'error' ? 8000 : 3000);
}

/** Goes to a screen (and records it in the URL, so reload and Back keep it). */
export function go(screen: Screen): void {
  if (!allowedScreens().includes(screen)) return;
  app.screen = screen;
  if (typeof location !== 'undefined' && location.hash !== `#${screen}`) history.pushState(null, '', `#${screen}`);
}

/** Screen from the URL's hash. */
export function screenFromHash(hash: string): Screen | null {
  const s = hash.replace(/^#\/?/, '') as Screen;
  return SCREENS.includes(s) ? s : null;
}

/** Opens a project and makes it current. */
export async function openProject(dir: string): Promise<ProjectView> {
  const view = await api.openProject(dir);
  setProject(view);
  return view;
}

/** Makes a project view current. */
export function setProject(view: ProjectView): void {
  app.project = view;
  app.openSeq = null;
  app.labelFilter = null;
  app.compareId = null;
  try {
    sessionStorage.setItem(LAST_PROJECT, view.dir);
  } catch {
    /* ignore */
  }
}

/** Refreshes the current project's counts. */
export async function refreshProject(): Promise<void> {
  if (!app.project) return;
  app.project = await api.openProject(app.project.dir);
}

/** Opens a record in the label screen. */
export function openRecord(seq: number): void {
  app.openSeq = seq;
  app.openToken++;
  go('label');
}

/**
 * At start: learn who is signed in and the version, open the project the shell was started with,
 * or this tab's last (someone signed in works in the served project only).
 */
export async function start(): Promise<void> {
  const hashScreen = typeof location !== 'undefined' ? screenFromHash(location.hash) : null;
  try {
    app.session = await api.session();
  } catch (e) {
    // Not signed in: the browser is on its way to the sign-in page.
    if (api.transport instanceof HttpTransport && api.transport.redirecting) return new Promise(() => {});
    app.session = OPERATOR;
  }
  if (!app.session.operator && app.session.name) useSessionName(app.session.name);
  const fromHash = hashScreen && allowedScreens().includes(hashScreen) ? hashScreen : null;
  try {
    app.info = await api.appInfo();
  } catch (e) {
    notify('error', e instanceof ApiError ? `${e.code}: ${e.message}` : String(e));
  }
  const started = app.info?.project ?? null;
  let dir = started;
  if (can('admin')) {
    try {
      dir = sessionStorage.getItem(LAST_PROJECT) ?? dir;
    } catch {
      /* ignore */
    }
  }
  if (dir) {
    try {
      await openProject(dir);
      // A reviewer starts on Team: the label screen would hold records for them that the
      // annotators then are not served (a served record is held for whoever it was served to).
      app.screen = fromHash ?? (app.session.role === 'reviewer' ? 'team' : 'label');
      return;
    } catch (e) {
      if (e instanceof ApiError && e.code === 'not_a_project' && dir === started) {
        // Started on a folder that holds no project yet: offer to create it there.
        app.suggestedDir = dir;
      } else {
        notify('error', e instanceof ApiError ? e.message : String(e));
      }
    }
  }
  app.screen = fromHash && (fromHash === 'settings' || fromHash === 'projects') ? fromHash : can('admin') ? 'projects' : 'settings';
}

/** Opens the label screen on records the newest model predicts as `label`, least sure first. */
export function labelMoreOf(label: string): void {
  app.labelFilter = label;
  app.openSeq = null;
  app.openToken++;
  go('label');
}

/** Opens the label screen of a generate project on comparison `id` (judging, blind). */
export function judgeComparison(id: number): void {
  app.compareId = id;
  app.openSeq = null;
  app.openToken++;
  go('label');
}
