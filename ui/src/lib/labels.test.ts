import { describe, expect, it } from 'vitest';
import type { LabelDef } from './api-types';
import { newLabel, validateLabels } from './labels';

const l = (name: string, hotkey: string | null = null): LabelDef => ({ name, color: '#000000', hotkey, description: '' });

describe('label set form', () => {
  it('gives new labels free colours and digit hotkeys', () => {
    const a = newLabel([]);
    expect(a.hotkey).toBe('1');
    const b = newLabel([a]);
    expect(b.hotkey).toBe('2');
    expect(b.color).not.toBe(a.color);
    expect(newLabel([l('x', '1'), l('y', '3')]).hotkey).toBe('2');
  });
  it('validates names and hotkeys', () => {
    expect(validateLabels([], false)?.key).toBe('labels.error.empty_set');
    expect(validateLabels([], true)).toBeNull();
    expect(validateLabels([l('正面', '1'), l('负面', '2')], false)).toBeNull();
    expect(validateLabels([l(' ')], false)?.key).toBe('labels.error.empty_name');
    expect(validateLabels([l('a'), l('a ')], false)).toEqual({ key: 'labels.error.duplicate_name', label: 'a' });
    expect(validateLabels([l('a', 's')], false)).toEqual({ key: 'labels.error.bad_hotkey', label: 'a' });
    expect(validateLabels([l('a', 'q'), l('b', 'Q')], false)).toEqual({ key: 'labels.error.duplicate_hotkey', label: 'b' });
  });
});
