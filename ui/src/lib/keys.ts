// The label screen's keyboard: which key press means what. Pure, so every binding is tested.

import type { LabelDef, ProjectKind } from './api-types';

/** The parts of a KeyboardEvent the mapping reads. */
export interface KeyPress {
  key: string;
  shiftKey?: boolean;
  ctrlKey?: boolean;
  metaKey?: boolean;
  altKey?: boolean;
  isComposing?: boolean;
}

/** What a key press asks for. */
export type KeyAction =
  /** Single-label: save this label and move on. */
  | { type: 'label'; label: string }
  /** Multi-label: toggle this label in the draft. */
  | { type: 'toggle'; label: string }
  /** Spans: give the selection (or the focused span) this label. */
  | { type: 'span_label'; label: string }
  /** Save the draft (multi-label, spans) and move on. */
  | { type: 'save' }
  /** Accept the model's suggestion: save it and move on, or (`edit`) take it into the draft. */
  | { type: 'accept'; edit: boolean }
  | { type: 'skip' }
  | { type: 'flag' }
  | { type: 'undo' }
  | { type: 'guidelines' }
  /** Spans: move the caret, or extend the selection, by a character, a word or to the end. */
  | { type: 'move'; dir: -1 | 1; extend: boolean; step: 'char' | 'word' | 'line' }
  /** Spans: remove the focused span. */
  | { type: 'remove_span' }
  /** Close what is open: guidelines, a span's menu, the selection. */
  | { type: 'escape' };

/** What the mapping needs to know about the screen. */
export interface KeyContext {
  kind: ProjectKind;
  labels: LabelDef[];
  /** Spans: a span is focused (clicked or reached by keyboard). */
  spanFocused?: boolean;
  /** The guidelines are open: only `?` and Escape close them, other keys do nothing. */
  guidelinesOpen?: boolean;
}

/** Keys with a built-in meaning; label hotkeys must avoid them. */
export const RESERVED_KEYS = ['a', 's', 'f', '?', 'enter', 'backspace', 'delete', 'escape', ' '];

/** Normalizes a key for comparison with hotkeys: letters case-insensitive. */
export function normalizeKey(key: string): string {
  return key.length === 1 ? key.toLowerCase() : key.toLowerCase();
}

/** Whether `hotkey` can be a label hotkey (one character, not reserved). */
export function isValidHotkey(hotkey: string): boolean {
  return [...hotkey].length === 1 && !RESERVED_KEYS.includes(normalizeKey(hotkey));
}

/** The label whose hotkey `key` is, if any. */
export function labelForKey(labels: LabelDef[], key: string): LabelDef | undefined {
  const k = normalizeKey(key);
  return labels.find((l) => l.hotkey != null && l.hotkey !== '' && normalizeKey(l.hotkey) === k);
}

/** Maps a key press to an action, or null when the key means nothing here. */
export function keyToAction(e: KeyPress, ctx: KeyContext): KeyAction | null {
  // An input method is composing (Chinese pinyin): the keys are its own.
  if (e.isComposing || e.key === 'Process' || e.key === 'Unidentified') return null;
  const ctrl = !!(e.ctrlKey || e.metaKey);
  if (ctx.guidelinesOpen) {
    return e.key === '?' || e.key === 'Escape' ? { type: 'guidelines' } : null;
  }
  if (ctrl && !e.altKey && normalizeKey(e.key) === 'z' && !e.shiftKey) return { type: 'undo' };
  if (ctx.kind === 'spans' && (e.key === 'ArrowLeft' || e.key === 'ArrowRight') && !e.altKey) {
    return { type: 'move', dir: e.key === 'ArrowLeft' ? -1 : 1, extend: !!e.shiftKey, step: ctrl ? 'word' : 'char' };
  }
  if (ctx.kind === 'spans' && (e.key === 'Home' || e.key === 'End') && !ctrl && !e.altKey) {
    return { type: 'move', dir: e.key === 'Home' ? -1 : 1, extend: !!e.shiftKey, step: 'line' };
  }
  // Other combinations with Ctrl/Cmd/Alt belong to the browser (copy, reload...).
  if (ctrl || e.altKey) return null;
  switch (e.key) {
    case 'Escape':
      return { type: 'escape' };
    case 'Enter':
      return ctx.kind === 'single' ? null : { type: 'save' };
    case 'Backspace':
    case 'Delete':
      if (ctx.kind === 'spans' && ctx.spanFocused) return { type: 'remove_span' };
      return e.key === 'Backspace' ? { type: 'undo' } : null;
    case '?':
      return { type: 'guidelines' };
  }
  // A label's own hotkey wins over the built-in letters.
  const label = labelForKey(ctx.labels, e.key);
  if (label) {
    switch (ctx.kind) {
      case 'single':
        return { type: 'label', label: label.name };
      case 'multi':
        return { type: 'toggle', label: label.name };
      case 'spans':
        return { type: 'span_label', label: label.name };
    }
  }
  switch (normalizeKey(e.key)) {
    case 'a':
      // Shift+A takes a multi-label or span suggestion into the draft, to change before saving.
      return { type: 'accept', edit: !!e.shiftKey && ctx.kind !== 'single' };
    case 's':
      return { type: 'skip' };
    case 'f':
      return { type: 'flag' };
  }
  return null;
}

/** Multi-label: the draft after toggling `label` (kept in label-set order). */
export function toggleLabel(draft: string[], label: string, labels: LabelDef[]): string[] {
  const set = new Set(draft);
  if (set.has(label)) set.delete(label);
  else set.add(label);
  const order = labels.map((l) => l.name);
  return [...set].sort((a, b) => order.indexOf(a) - order.indexOf(b));
}

/** What a key press asks for in the adjudication queue. */
export type AdjudicationKey =
  /** Take annotator `index`'s label (keys 1–9, in the order the labels are shown). */
  | { type: 'pick'; index: number }
  /** Decide on this label (single-label projects: Shift with a label's key, or a label key that is not a digit). */
  | { type: 'label'; label: string }
  | { type: 'undo' };

/**
 * The adjudication queue's keys: 1–9 take the label of the annotator shown at that place; the
 * project's label keys decide on a label of the reviewer's own (single-label projects). Digits go
 * to the annotators first, so a label whose key is a digit (the default) is reached with Shift
 * (Shift+1 is read from the physical key, as `!` is what it types). Ctrl+Z undoes.
 */
export function adjudicationKey(e: KeyPress & { code?: string }, ctx: { kind: ProjectKind; labels: LabelDef[]; n: number }): AdjudicationKey | null {
  if (e.isComposing || e.key === 'Process' || e.key === 'Unidentified') return null;
  const ctrl = !!(e.ctrlKey || e.metaKey);
  if (ctrl && !e.altKey && !e.shiftKey && normalizeKey(e.key) === 'z') return { type: 'undo' };
  if (ctrl || e.altKey) return null;
  const byKey = (key: string) => (ctx.kind === 'single' ? labelForKey(ctx.labels, key) : undefined);
  if (e.shiftKey) {
    const digit = e.code?.match(/^(?:Digit|Numpad)(\d)$/)?.[1];
    const label = byKey(digit ?? e.key);
    return label ? { type: 'label', label: label.name } : null;
  }
  if (/^[1-9]$/.test(e.key)) {
    const index = Number(e.key) - 1;
    return index < ctx.n ? { type: 'pick', index } : null;
  }
  const label = byKey(e.key);
  return label ? { type: 'label', label: label.name } : null;
}
