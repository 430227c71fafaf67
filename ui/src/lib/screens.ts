// The screens of the app and who may use them. On a shared `finelab serve`, people sign in with a
// role (annotator < reviewer < admin); the server refuses what a role may not ask, and the UI
// leaves out the screens whose requests would all be refused. The token's holder (the operator)
// and the desktop window are admins.

import type { Role } from './api-types';

export type Screen = 'projects' | 'import' | 'label' | 'browse' | 'train' | 'results' | 'review' | 'team' | 'adjudicate' | 'settings';

export const SCREENS: Screen[] = ['projects', 'import', 'label', 'browse', 'train', 'results', 'review', 'team', 'adjudicate', 'settings'];

const RANK: Record<Role, number> = { annotator: 0, reviewer: 1, admin: 2 };

/** Whether `role` may do what `needed` may. */
export function roleAtLeast(role: Role, needed: Role): boolean {
  return RANK[role] >= RANK[needed];
}

/** The least role each screen is for (Settings, the language and theme, is for everyone). */
export const SCREEN_ROLE: Record<Screen, Role> = {
  projects: 'admin',
  import: 'admin',
  label: 'annotator',
  browse: 'annotator',
  train: 'admin',
  results: 'reviewer',
  review: 'reviewer',
  team: 'reviewer',
  adjudicate: 'reviewer',
  settings: 'annotator',
};

/** The screens `role` may use, in the order of the tabs. */
export function screensFor(role: Role): Screen[] {
  return SCREENS.filter((s) => roleAtLeast(role, SCREEN_ROLE[s]));
}
