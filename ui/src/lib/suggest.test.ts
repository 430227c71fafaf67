import { describe, expect, it } from 'vitest';
import { acceptedValue, mergeSuggestedSpans, sameValue, shownSpans, valueLabels } from './suggest';

const labels = ['正面', '负面', '中性'];
const sug = (value: object, label: string | null = null, score: number | null = 0.9) => ({ value: value as never, label, score });

describe('suggestions', () => {
  it('accepts a prediction as the annotation value of the project kind', () => {
    expect(acceptedValue('single', sug({ label: '负面' }), labels)).toEqual({ label: '负面' });
    expect(acceptedValue('single', sug({ label: '已删除' }), labels)).toBeNull();
    expect(acceptedValue('single', sug({ labels: ['正面'] }), labels)).toBeNull();
    expect(acceptedValue('single', null, labels)).toBeNull();
    // Multi-label: in label-set order, as the label screen saves it.
    expect(acceptedValue('multi', sug({ labels: ['中性', '正面'] }), labels)).toEqual({ labels: ['正面', '中性'] });
    expect(acceptedValue('multi', sug({ labels: [] }), labels)).toEqual({ labels: [] });
    expect(acceptedValue('multi', sug({ label: '中性' }), labels)).toEqual({ labels: ['中性'] });
    const spans = [
      { start: 5, end: 7, label: '正面' },
      { start: 0, end: 2, label: '负面' },
    ];
    expect(acceptedValue('spans', sug({ spans }), labels)).toEqual({ spans: [spans[1], spans[0]] });
    expect(acceptedValue('spans', sug({ spans: [{ start: 0, end: 1, label: 'X' }] }), labels)).toBeNull();
  });

  it('compares values as sets', () => {
    expect(sameValue({ label: 'a' }, { label: 'a' })).toBe(true);
    expect(sameValue({ label: 'a' }, { label: 'b' })).toBe(false);
    expect(sameValue({ labels: ['a', 'b'] }, { labels: ['b', 'a'] })).toBe(true);
    expect(sameValue({ labels: ['a'] }, { labels: ['a', 'b'] })).toBe(false);
    expect(sameValue({ spans: [{ start: 0, end: 1, label: 'a' }] }, { spans: [{ start: 0, end: 1, label: 'a' }] })).toBe(true);
    expect(sameValue({ spans: [{ start: 0, end: 1, label: 'a' }] }, { spans: [{ start: 0, end: 2, label: 'a' }] })).toBe(false);
    expect(sameValue(null, null)).toBe(true);
    expect(sameValue({ label: 'a' }, null)).toBe(false);
    expect(sameValue({ label: 'a' }, { labels: ['a'] })).toBe(false);
  });

  it('lists the labels a value names', () => {
    expect(valueLabels({ spans: [{ start: 0, end: 1, label: 'A' }, { start: 2, end: 3, label: 'A' }] })).toEqual(['A']);
    expect(valueLabels(null)).toEqual([]);
  });

  it('shows suggested spans that overlap no draft span, in text order', () => {
    const draft = [{ start: 4, end: 6, label: 'PER' }];
    const suggested = [
      { start: 0, end: 2, label: 'LOC' },
      { start: 5, end: 8, label: 'ORG' }, // overlaps the draft: the user's span wins
      { start: 9, end: 9, label: 'LOC' }, // empty
      { start: 10, end: 12, label: 'LOC' },
    ];
    expect(shownSpans(draft, suggested)).toEqual([
      { start: 0, end: 2, label: 'LOC', draft: -1 },
      { start: 4, end: 6, label: 'PER', draft: 0 },
      { start: 10, end: 12, label: 'LOC', draft: -1 },
    ]);
    expect(mergeSuggestedSpans(draft, suggested)).toEqual([
      { start: 0, end: 2, label: 'LOC' },
      { start: 4, end: 6, label: 'PER' },
      { start: 10, end: 12, label: 'LOC' },
    ]);
    expect(mergeSuggestedSpans([], [])).toEqual([]);
  });
});
