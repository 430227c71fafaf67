import { describe, expect, it } from 'vitest';
import type { LabelDef, ProjectKind } from './api-types';
import { adjudicationKey, isValidHotkey, keyToAction, toggleLabel, type AdjudicationKey, type KeyAction, type KeyPress } from './keys';

const labels: LabelDef[] = [
  { name: '正面', color: '#4e79a7', hotkey: '1', description: '' },
  { name: '负面', color: '#f28e2b', hotkey: '2', description: '' },
  { name: 'other', color: '#e15759', hotkey: 'o', description: '' },
  { name: 'nokey', color: '#76b7b2', hotkey: null, description: '' },
];

function check(kind: ProjectKind, press: KeyPress | string, expected: KeyAction | null, extra: { spanFocused?: boolean; guidelinesOpen?: boolean } = {}) {
  const e = typeof press === 'string' ? { key: press } : press;
  expect(keyToAction(e, { kind, labels, ...extra })).toEqual(expected);
}

describe('single-label keys', () => {
  it('maps hotkeys to labels that save and move on', () => {
    check('single', '1', { type: 'label', label: '正面' });
    check('single', '2', { type: 'label', label: '负面' });
    check('single', 'o', { type: 'label', label: 'other' });
    check('single', 'O', { type: 'label', label: 'other' });
    check('single', { key: 'O', shiftKey: true }, { type: 'label', label: 'other' });
    check('single', '3', null);
  });
  it('has skip, flag, undo and guidelines', () => {
    check('single', 's', { type: 'skip' });
    check('single', 'S', { type: 'skip' });
    check('single', 'f', { type: 'flag' });
    check('single', 'Backspace', { type: 'undo' });
    check('single', { key: 'z', ctrlKey: true }, { type: 'undo' });
    check('single', { key: 'z', metaKey: true }, { type: 'undo' });
    check('single', { key: 'Z', ctrlKey: true }, { type: 'undo' });
    check('single', '?', { type: 'guidelines' });
    check('single', 'Enter', null);
    check('single', 'Escape', { type: 'escape' });
  });
  it('leaves browser shortcuts and input methods alone', () => {
    check('single', { key: '1', ctrlKey: true }, null);
    check('single', { key: 'r', ctrlKey: true }, null);
    check('single', { key: 's', metaKey: true }, null);
    check('single', { key: '1', altKey: true }, null);
    check('single', { key: 'z', ctrlKey: true, shiftKey: true }, null);
    check('single', { key: '1', isComposing: true }, null);
    check('single', 'Process', null);
    check('single', 'Delete', null);
  });
  it('lets a label hotkey win over a built-in letter', () => {
    const withS: LabelDef[] = [{ name: 'spam', color: '#000', hotkey: 's', description: '' }];
    expect(keyToAction({ key: 's' }, { kind: 'single', labels: withS })).toEqual({ type: 'label', label: 'spam' });
    // A project made before A accepted suggestions keeps its label on A.
    const withA: LabelDef[] = [{ name: 'ad', color: '#000', hotkey: 'a', description: '' }];
    expect(keyToAction({ key: 'a' }, { kind: 'single', labels: withA })).toEqual({ type: 'label', label: 'ad' });
  });
  it('accepts the suggestion with A', () => {
    check('single', 'a', { type: 'accept', edit: false });
    check('single', { key: 'A', shiftKey: true }, { type: 'accept', edit: false });
    check('multi', 'a', { type: 'accept', edit: false });
    check('multi', { key: 'A', shiftKey: true }, { type: 'accept', edit: true });
    check('spans', 'a', { type: 'accept', edit: false });
    check('spans', { key: 'A', shiftKey: true }, { type: 'accept', edit: true });
    check('single', { key: 'a', ctrlKey: true }, null);
    check('single', 'a', null, { guidelinesOpen: true });
  });
  it('only closes the guidelines while they are open', () => {
    check('single', '1', null, { guidelinesOpen: true });
    check('single', 'Backspace', null, { guidelinesOpen: true });
    check('single', '?', { type: 'guidelines' }, { guidelinesOpen: true });
    check('single', 'Escape', { type: 'guidelines' }, { guidelinesOpen: true });
  });
});

describe('multi-label keys', () => {
  it('toggles with hotkeys and saves with Enter', () => {
    check('multi', '1', { type: 'toggle', label: '正面' });
    check('multi', 'o', { type: 'toggle', label: 'other' });
    check('multi', 'Enter', { type: 'save' });
    check('multi', 'Backspace', { type: 'undo' });
    check('multi', 's', { type: 'skip' });
  });
  it('toggles labels in and out of the draft in label-set order', () => {
    let draft: string[] = [];
    draft = toggleLabel(draft, 'other', labels);
    draft = toggleLabel(draft, '正面', labels);
    expect(draft).toEqual(['正面', 'other']);
    draft = toggleLabel(draft, 'other', labels);
    expect(draft).toEqual(['正面']);
    draft = toggleLabel(draft, '正面', labels);
    expect(draft).toEqual([]);
  });
  it('does not move a caret', () => {
    check('multi', 'ArrowRight', null);
  });
});

describe('span keys', () => {
  it('labels the selection with hotkeys and saves with Enter', () => {
    check('spans', '1', { type: 'span_label', label: '正面' });
    check('spans', 'Enter', { type: 'save' });
  });
  it('moves and extends with arrows', () => {
    check('spans', 'ArrowRight', { type: 'move', dir: 1, extend: false, step: 'char' });
    check('spans', 'ArrowLeft', { type: 'move', dir: -1, extend: false, step: 'char' });
    check('spans', { key: 'ArrowRight', shiftKey: true }, { type: 'move', dir: 1, extend: true, step: 'char' });
    check('spans', { key: 'ArrowLeft', shiftKey: true }, { type: 'move', dir: -1, extend: true, step: 'char' });
    check('spans', { key: 'ArrowRight', shiftKey: true, ctrlKey: true }, { type: 'move', dir: 1, extend: true, step: 'word' });
    check('spans', { key: 'End', shiftKey: true }, { type: 'move', dir: 1, extend: true, step: 'line' });
    check('spans', 'Home', { type: 'move', dir: -1, extend: false, step: 'line' });
  });
  it('removes a focused span with Backspace or Delete, else Backspace undoes', () => {
    check('spans', 'Backspace', { type: 'remove_span' }, { spanFocused: true });
    check('spans', 'Delete', { type: 'remove_span' }, { spanFocused: true });
    check('spans', 'Backspace', { type: 'undo' });
    check('spans', 'Delete', null);
  });
});

describe('hotkey validation', () => {
  it('accepts one free character', () => {
    expect(isValidHotkey('1')).toBe(true);
    expect(isValidHotkey('q')).toBe(true);
    expect(isValidHotkey('好')).toBe(true);
  });
  it('refuses reserved and long keys', () => {
    expect(isValidHotkey('s')).toBe(false);
    expect(isValidHotkey('A')).toBe(false);
    expect(isValidHotkey('F')).toBe(false);
    expect(isValidHotkey('?')).toBe(false);
    expect(isValidHotkey('12')).toBe(false);
    expect(isValidHotkey('')).toBe(false);
  });
});

describe('adjudication keys', () => {
  const adj = (kind: ProjectKind, press: (KeyPress & { code?: string }) | string, expected: AdjudicationKey | null, n = 2) => {
    const e = typeof press === 'string' ? { key: press } : press;
    expect(adjudicationKey(e, { kind, labels, n })).toEqual(expected);
  };
  it("takes annotator i's label with digit i, for as many annotators as are shown", () => {
    adj('single', '1', { type: 'pick', index: 0 });
    adj('single', '2', { type: 'pick', index: 1 });
    adj('single', '3', null);
    adj('single', '3', { type: 'pick', index: 2 }, 3);
    adj('spans', '9', { type: 'pick', index: 8 }, 9);
    adj('single', '0', null);
  });
  it("decides on a label by its key: a letter as it is, a digit with Shift (read from the physical key)", () => {
    adj('single', 'o', { type: 'label', label: 'other' });
    adj('single', { key: 'O', shiftKey: true }, { type: 'label', label: 'other' });
    adj('single', { key: '!', code: 'Digit1', shiftKey: true }, { type: 'label', label: '正面' });
    adj('single', { key: '@', code: 'Digit2', shiftKey: true }, { type: 'label', label: '负面' });
    adj('single', { key: '#', code: 'Digit3', shiftKey: true }, null);
    // Multi-label and span projects: the annotators' labels only.
    adj('multi', 'o', null);
    adj('spans', { key: '!', code: 'Digit1', shiftKey: true }, null);
  });
  it('undoes with Ctrl+Z and leaves other combinations and input methods alone', () => {
    adj('single', { key: 'z', ctrlKey: true }, { type: 'undo' });
    adj('single', { key: 'z', metaKey: true }, { type: 'undo' });
    adj('single', { key: 'Z', ctrlKey: true, shiftKey: true }, null);
    adj('single', { key: '1', ctrlKey: true }, null);
    adj('single', { key: '1', altKey: true }, null);
    adj('single', { key: '1', isComposing: true }, null);
    adj('single', 'Process', null);
  });
});
