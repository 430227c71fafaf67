import { describe, expect, it } from 'vitest';
import { shownNames, spanText, valueParts, valueSummary } from './adjudicate';

describe('adjudication', () => {
  const text = '张三在北京 😀 工作';
  it('shows every kind of label as pieces', () => {
    expect(valueParts({ label: 'pos' }, text)).toEqual([{ label: 'pos', text: null }]);
    expect(valueParts({ labels: ['a', 'b'] }, text)).toEqual([{ label: 'a', text: null }, { label: 'b', text: null }]);
    // Offsets in code points: the emoji is one.
    expect(valueParts({ spans: [{ start: 0, end: 2, label: 'PER' }, { start: 6, end: 7, label: 'X' }] }, text)).toEqual([
      { label: 'PER', text: '张三' },
      { label: 'X', text: '😀' },
    ]);
    expect(valueParts({ output: 'summary' }, text)).toEqual([{ label: null, text: 'summary' }]);
    expect(valueParts(null, text)).toEqual([]);
    expect(spanText(text, 3, 5)).toBe('北京');
  });
  it('sums a label up in one line', () => {
    expect(valueSummary({ label: 'pos' }, text, '–')).toBe('pos');
    expect(valueSummary({ labels: [] }, text, 'none')).toBe('none');
    expect(valueSummary({ spans: [{ start: 0, end: 2, label: 'PER' }, { start: 3, end: 5, label: 'LOC' }] }, text, '–')).toBe('「张三」PER, 「北京」LOC');
  });
  it('numbers the annotators instead of naming them when asked', () => {
    const labels = [{ annotator: 'ann1', value: { label: 'pos' } }, { annotator: 'ann2', value: { label: 'neg' } }];
    expect(shownNames(labels, false, (n) => `A${n}`)).toEqual(['ann1', 'ann2']);
    expect(shownNames(labels, true, (n) => `Annotator ${n}`)).toEqual(['Annotator 1', 'Annotator 2']);
  });
});
