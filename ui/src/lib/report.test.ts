import { describe, expect, it } from 'vitest';
import type { JsonValue } from './api-types';
import { compareReports, confusionCells, epochPoints, confusionText, formatDelta, formatFixed, normalizeRows, parseReport, weakestLabels } from './report';

// scikit-learn 1.x, classification_report(gold, pred, labels=['pos','neg','neu'], output_dict=True, zero_division=0)
// for gold = pos neg pos pos neg neu neu pos, pred = pos pos pos neg neg neu pos pos; its text
// (digits=4) is kept beside it: the CLI prints the same rows.
const SKLEARN: JsonValue = {
  pos: { precision: 0.6, recall: 0.75, 'f1-score': 0.6666666666666666, support: 4.0 },
  neg: { precision: 0.5, recall: 0.5, 'f1-score': 0.5, support: 2.0 },
  neu: { precision: 1.0, recall: 0.5, 'f1-score': 0.6666666666666666, support: 2.0 },
  accuracy: 0.625,
  'macro avg': { precision: 0.7000000000000001, recall: 0.5833333333333334, 'f1-score': 0.611111111111111, support: 8.0 },
  'weighted avg': { precision: 0.675, recall: 0.625, 'f1-score': 0.625, support: 8.0 },
  confusion: { labels: ['pos', 'neg', 'neu'], matrix: [[3, 1, 0], [1, 1, 0], [1, 0, 1]] },
};
const SKLEARN_TEXT = `
         pos     0.6000    0.7500    0.6667         4
         neg     0.5000    0.5000    0.5000         2
         neu     1.0000    0.5000    0.6667         2
   macro avg     0.7000    0.5833    0.6111         8
weighted avg     0.6750    0.6250    0.6250         8`;

describe('reports', () => {
  it('parses rows in the project label order, averages and the confusion matrix', () => {
    const r = parseReport(SKLEARN, ['neg', 'pos', 'neu']);
    expect(r.labels.map((l) => l.name)).toEqual(['neg', 'pos', 'neu']);
    expect(r.labels[1]).toEqual({ name: 'pos', precision: 0.6, recall: 0.75, f1: 0.6666666666666666, support: 4 });
    expect(r.averages.map((a) => a.name)).toEqual(['macro avg', 'weighted avg']);
    expect(r.accuracy).toBe(0.625);
    expect(r.support).toBe(8);
    expect(r.confusion?.matrix[2]).toEqual([1, 0, 1]);
  });

  it('puts labels outside the label set last, sorted, and reads empty input', () => {
    const r = parseReport({ b: { precision: 1, recall: 1, 'f1-score': 1, support: 1 }, a: { precision: 0, recall: 0, 'f1-score': 0, support: 2 }, x: 3 }, ['b']);
    expect(r.labels.map((l) => l.name)).toEqual(['b', 'a']);
    expect(r.support).toBe(3);
    expect(parseReport(null)).toEqual({ labels: [], averages: [], accuracy: null, support: 0, confusion: null });
  });

  it('reads multi-label and span reports (micro and samples averages, no accuracy)', () => {
    const s = { precision: 0.5, recall: 0.25, 'f1-score': 1 / 3, support: 4 };
    const r = parseReport({ LOC: s, 'micro avg': s, 'macro avg': s, 'weighted avg': s, 'samples avg': s }, ['LOC']);
    expect(r.averages.map((a) => a.name)).toEqual(['micro avg', 'macro avg', 'weighted avg', 'samples avg']);
    expect(r.accuracy).toBeNull();
    expect(r.confusion).toBeNull();
  });

  it('formats numbers as the CLI (Rust {:.4}) prints them', () => {
    const r = parseReport(SKLEARN, ['pos', 'neg', 'neu']);
    const pad = (s: string, w: number) => s.padStart(w);
    const lines = [...r.labels, ...r.averages].map(
      (x) => `${pad(x.name, 12)}  ${pad(formatFixed(x.precision), 9)} ${pad(formatFixed(x.recall), 9)} ${pad(formatFixed(x.f1), 9)} ${pad(String(x.support), 9)}`,
    );
    expect('\n' + lines.join('\n')).toBe(SKLEARN_TEXT);
  });

  it('rounds exact halves to even as Rust does, everything else to nearest', () => {
    // Checked with rustc: format!("{:.4}", x) and format!("{:.2}", x).
    const check = (x: number, d: number, want: string) => expect(formatFixed(x, d), `${x} with ${d}`).toBe(want);
    check(0.03125, 4, '0.0312');
    check(0.09375, 4, '0.0938');
    check(0.125, 2, '0.12');
    check(0.375, 2, '0.38');
    check(0.6666666666666666, 4, '0.6667');
    check(1 / 3, 4, '0.3333');
    check(0.00005, 4, '0.0001'); // not an exact half in binary: above it
    check(0.99995, 4, '1.0000');
    check(1, 4, '1.0000');
    check(0, 4, '0.0000');
    check(2.5, 0, '2');
    check(3.5, 0, '4');
    check(-0.125, 2, '-0.12');
  });

  it('normalizes confusion rows, empty rows to zeros', () => {
    expect(normalizeRows([[3, 1], [0, 0], [1, 1]])).toEqual([[0.75, 0.25], [0, 0], [0.5, 0.5]]);
    const c = { labels: ['a', 'b'], matrix: [[3, 1], [0, 2]] };
    expect(confusionCells(c, false)).toEqual([[0, 0, 3], [1, 0, 1], [0, 1, 0], [1, 1, 2]]);
    expect(confusionCells(c, true)).toEqual([[0, 0, 0.75], [1, 0, 0.25], [0, 1, 0], [1, 1, 1]]);
    expect(confusionText(c, 0, 1, false)).toBe('1');
    expect(confusionText(c, 0, 1, true)).toBe('0.25');
    expect(confusionText({ labels: ['a'], matrix: [[0]] }, 0, 0, true)).toBe('0.00');
  });

  it('compares two runs per label, B minus A, with accuracy and averages', () => {
    const a = parseReport(SKLEARN, ['pos', 'neg', 'neu']);
    const b = parseReport(
      {
        pos: { precision: 1, recall: 1, 'f1-score': 1, support: 5 },
        neg: { precision: 0.5, recall: 0.5, 'f1-score': 0.5, support: 2 },
        new: { precision: 0, recall: 0, 'f1-score': 0, support: 1 },
        accuracy: 0.75,
        'macro avg': { precision: 0.5, recall: 0.5, 'f1-score': 0.5, support: 8 },
        'weighted avg': { precision: 0.5, recall: 0.5, 'f1-score': 0.5, support: 8 },
      },
      ['pos', 'neg', 'neu'],
    );
    const rows = compareReports(a, b, ['pos', 'neg', 'neu']);
    expect(rows.map((r) => r.name)).toEqual(['pos', 'neg', 'neu', 'new', 'accuracy', 'macro avg', 'weighted avg']);
    const by = Object.fromEntries(rows.map((r) => [r.name, r]));
    expect(by.pos.delta).toBeCloseTo(1 / 3, 12);
    expect(by.pos.supportA).toBe(4);
    expect(by.pos.supportB).toBe(5);
    expect(by.neg.delta).toBe(0);
    expect(by.neu).toMatchObject({ b: null, delta: null });
    expect(by.new).toMatchObject({ a: null, b: 0, delta: null });
    expect(by.accuracy.delta).toBeCloseTo(0.125, 12);
    expect(formatDelta(by.pos.delta)).toBe('+0.3333');
    expect(formatDelta(-0.03)).toBe('-0.0300');
    expect(formatDelta(-0.00001)).toBe('0.0000');
    expect(formatDelta(null)).toBe('—');
  });

  it('names the weakest labels first', () => {
    expect(weakestLabels(parseReport(SKLEARN, ['pos', 'neg', 'neu']), 2).map((r) => r.name)).toEqual(['neg', 'pos']);
  });

  it('reads a run\'s epoch history, skipping malformed entries', () => {
    expect(
      epochPoints([
        { epoch: 2, train_loss: 0.3, dev_macro_f1: 0.8, seconds: 1, dev_report: {} },
        { epoch: 1, train_loss: 0.6, dev_macro_f1: 0.7 },
        'junk',
        { train_loss: 1 },
      ]),
    ).toEqual([
      { epoch: 1, train_loss: 0.6, dev_macro_f1: 0.7 },
      { epoch: 2, train_loss: 0.3, dev_macro_f1: 0.8 },
    ]);
    expect(epochPoints(null)).toEqual([]);
  });
});
