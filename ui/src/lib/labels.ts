// The label-set form: defaults for new labels and validation before a project is created.

import type { LabelDef } from './api-types';
import { isValidHotkey, normalizeKey } from './keys';

/** The store's default palette (finelab_store::PALETTE), so labels look the same everywhere. */
export const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

/** A new label row: the first unused colour and the first free digit hotkey. */
export function newLabel(existing: LabelDef[], name = ''): LabelDef {
  const usedColors = new Set(existing.map((l) => l.color.toLowerCase()));
  const usedKeys = new Set(existing.map((l) => (l.hotkey ? normalizeKey(l.hotkey) : '')));
  const color = PALETTE.find((c) => !usedColors.has(c)) ?? PALETTE[existing.length % PALETTE.length];
  const hotkey = '123456789bcdeghijklmnopqrtuvwxyz'.split('').find((k) => !usedKeys.has(k)) ?? null;
  return { name, color, hotkey, description: '' };
}

/** A problem with the label set: a message key and the label it concerns. */
export interface LabelProblem {
  key: 'labels.error.empty_set' | 'labels.error.empty_name' | 'labels.error.duplicate_name' | 'labels.error.bad_hotkey' | 'labels.error.duplicate_hotkey';
  label: string;
}

/** Checks a label set; returns the first problem, or null. */
export function validateLabels(labels: LabelDef[], allowEmpty: boolean): LabelProblem | null {
  if (labels.length === 0 && !allowEmpty) return { key: 'labels.error.empty_set', label: '' };
  const names = new Set<string>();
  const keys = new Set<string>();
  for (const l of labels) {
    const name = l.name.trim();
    if (!name) return { key: 'labels.error.empty_name', label: '' };
    if (names.has(name)) return { key: 'labels.error.duplicate_name', label: name };
    names.add(name);
    if (l.hotkey) {
      if (!isValidHotkey(l.hotkey)) return { key: 'labels.error.bad_hotkey', label: name };
      const k = normalizeKey(l.hotkey);
      if (keys.has(k)) return { key: 'labels.error.duplicate_hotkey', label: name };
      keys.add(k);
    }
  }
  return null;
}

/** The label set as the API takes it: names trimmed, empty hotkeys absent. */
export function cleanLabels(labels: LabelDef[]): LabelDef[] {
  return labels.map((l) => ({ name: l.name.trim(), color: l.color, hotkey: l.hotkey ? l.hotkey : null, description: l.description.trim() }));
}
