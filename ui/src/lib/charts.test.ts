import { describe, expect, it } from 'vitest';
import {
  LIGHT,
  agreementCells,
  agreementMatrixOption,
  chrfHistogramOption,
  confusionOption,
  curvesOption,
  deltaOption,
  genLossOption,
  labelAlphaOption,
  labelCurveOption,
  noiseRateOption,
  peopleOption,
  productionMixOption,
  reliabilityColor,
  scoresOption,
  tradeoffOption,
} from './charts';
import type { AgreementReport, Person } from './api-types';
import { compareReports, parseReport } from './report';

const s = (p: number, r: number, f: number, n: number) => ({ precision: p, recall: r, 'f1-score': f, support: n });
const report = parseReport(
  {
    正面: s(0.9, 0.8, 0.8470588235294118, 10),
    负面: s(0.5, 0.75, 0.6, 4),
    accuracy: 0.7857142857142857,
    'macro avg': s(0.7, 0.775, 0.7235294117647059, 14),
    'weighted avg': s(0.7857142857142857, 0.7857142857142857, 0.7764705882352941, 14),
    confusion: { labels: ['正面', '负面'], matrix: [[8, 2], [1, 3]] },
  },
  ['正面', '负面'],
);
const names = { precision: 'P', recall: 'R', f1: 'F1', support: 'n' };
type AnyOption = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('chart options', () => {
  it('places runs by size and macro-F1, the faster the bigger, leaving out unscored runs', () => {
    const runs = [
      { run: 'a', size_bytes: 90e6, macro_f1: 0.91, samples_per_sec: 50 },
      { run: 'b', size_bytes: 45e6, macro_f1: 0.89, samples_per_sec: 200 },
      { run: 'c', size_bytes: 1e6, macro_f1: null, samples_per_sec: null },
      { run: 'd', size_bytes: 2e6, macro_f1: 0.8, samples_per_sec: null },
    ];
    const o = tradeoffOption(runs, LIGHT, { size: 'MB', f1: 'F1' }) as AnyOption;
    const data = o.series[0].data;
    expect(data.map((d: AnyOption) => [d.name, d.value])).toEqual([
      ['a', [90, 0.91]],
      ['b', [45, 0.89]],
      ['d', [2, 0.8]],
    ]);
    expect(data[1].symbolSize).toBe(40);
    expect(data[0].symbolSize).toBe(25);
    expect(data[2].symbolSize).toBe(10);
  });

  it('stacks each label’s share per production day after the train split', () => {
    const mix = { train: { pos: 0.5, neg: 0.5 }, days: [{ day: '2026-12-03', shares: { pos: 0.9, neg: 0.1 } }, { day: '2026-12-04', shares: { pos: 1 } }] };
    const o = productionMixOption(mix, ['neg', 'pos'], LIGHT, { train: 'train' }) as AnyOption;
    expect(o.xAxis.data).toEqual(['train', '2026-12-03', '2026-12-04']);
    expect(o.series.map((x: AnyOption) => [x.name, x.data])).toEqual([
      ['neg', [0.5, 0.1, 0]],
      ['pos', [0.5, 0.9, 1]],
    ]);
  });

  it('draws the chrF distribution in ten bins, low scores in the error colour', () => {
    const o = chrfHistogramOption([3, 0, 1, 0, 0, 2, 0, 0, 0, 5], LIGHT, { records: 'records', chrf: 'chrF' }) as AnyOption;
    expect(o.xAxis.data).toEqual(['0–10', '10–20', '20–30', '30–40', '40–50', '50–60', '60–70', '70–80', '80–90', '90–100']);
    expect(o.series[0].data.map((d: AnyOption) => d.value)).toEqual([3, 0, 1, 0, 0, 2, 0, 0, 0, 5]);
    expect(o.series[0].data[0].itemStyle.color).toBe(LIGHT.error);
    expect(o.series[0].data[9].itemStyle.color).toBe(LIGHT.ok);
  });

  it('draws train and dev loss per epoch, a missing dev loss as a gap', () => {
    const epochs = [
      { epoch: 1, train_loss: 2.5, dev_loss: 2.1 },
      { epoch: 2, train_loss: 1.5, dev_loss: null },
    ];
    const o = genLossOption(epochs, LIGHT, { train: 'train', dev: 'dev', epoch: 'epoch', loss: 'loss' }) as AnyOption;
    expect(o.xAxis.data).toEqual(['1', '2']);
    expect(o.series.map((x: AnyOption) => x.data)).toEqual([[2.5, 1.5], [2.1, null]]);
  });

  it('draws precision, recall and F1 per label, then the averages, with support under each name', () => {
    const o = scoresOption(report, LIGHT, names) as AnyOption;
    expect(o.xAxis.data).toEqual(['正面', '负面', 'macro avg', 'weighted avg']);
    expect(o.series.map((x: AnyOption) => x.name)).toEqual(['P', 'R', 'F1']);
    expect(o.series[2].data.map((d: AnyOption) => d.value)).toEqual([0.8470588235294118, 0.6, 0.7235294117647059, 0.7764705882352941]);
    // Each bar names its label, so a click on it says which label to drill into.
    expect(o.series[0].data[1].name).toBe('负面');
    expect(o.series[0].data[1].itemStyle).toBeUndefined();
    expect(o.series[0].data[2].itemStyle).toEqual({ opacity: 0.55 });
    expect(o.xAxis.axisLabel.formatter('负面', 1)).toBe('负面\nn 4');
    expect(o.yAxis).toMatchObject({ min: 0, max: 1 });
    expect(o.tooltip.valueFormatter(0.03125)).toBe('0.0312');
  });

  it('draws the confusion matrix as counts or row shares, gold down and predicted across', () => {
    const c = report.confusion!;
    const counts = confusionOption(c, false, LIGHT, { gold: 'G', predicted: 'P' }) as AnyOption;
    expect(counts.series[0].data).toEqual([[0, 0, 8], [1, 0, 2], [0, 1, 1], [1, 1, 3]]);
    expect(counts.visualMap.max).toBe(8);
    expect(counts.yAxis.inverse).toBe(true);
    expect(counts.xAxis.data).toEqual(['正面', '负面']);
    expect(counts.series[0].label.formatter({ value: [1, 0, 2] })).toBe('2');
    const shares = confusionOption(c, true, LIGHT, { gold: 'G', predicted: 'P' }) as AnyOption;
    expect(shares.series[0].data).toEqual([[0, 0, 0.8], [1, 0, 0.2], [0, 1, 0.25], [1, 1, 0.75]]);
    expect(shares.visualMap.max).toBe(1);
    expect(shares.series[0].label.formatter({ value: [1, 0, 0.2] })).toBe('0.20');
    expect(shares.tooltip.formatter({ value: [1, 0, 0.2] })).toBe('G: 正面\nP: 负面\n0.20');
    // Canvas tooltips: no HTML with inline styles, which the window's CSP refuses.
    expect(shares.tooltip.renderMode).toBe('richText');
    // Too many labels for numbers in the cells: the table beside the chart has them.
    const many = Array.from({ length: 13 }, (_, i) => `l${i}`);
    const big = confusionOption({ labels: many, matrix: many.map(() => many.map(() => 1)) }, false, LIGHT, { gold: 'G', predicted: 'P' }) as AnyOption;
    expect(big.series[0].label.show).toBe(false);
  });

  it('draws loss per step and per epoch on the left, dev macro-F1 on the right', () => {
    const epochs = [
      { epoch: 1, train_loss: 0.7, dev_macro_f1: 0.6 },
      { epoch: 2, train_loss: 0.4, dev_macro_f1: 0.7 },
    ];
    const o = curvesOption({ steps: [[0.5, 0.9], [1, 0.7]], epochs, maxEpoch: 5 }, LIGHT, { loss: 'L', stepLoss: 'SL', devF1: 'F', epoch: 'E' }) as AnyOption;
    expect(o.series.map((x: AnyOption) => [x.name, x.yAxisIndex])).toEqual([['SL', 0], ['L', 0], ['F', 1]]);
    expect(o.series[1].data).toEqual([[1, 0.7], [2, 0.4]]);
    expect(o.series[2].data).toEqual([[1, 0.6], [2, 0.7]]);
    expect(o.xAxis.max).toBe(5);
    expect(o.yAxis[1]).toMatchObject({ min: 0, max: 1 });
    const noSteps = curvesOption({ steps: [], epochs, maxEpoch: 0 }, LIGHT, { loss: 'L', stepLoss: 'SL', devF1: 'F', epoch: 'E' }) as AnyOption;
    expect(noSteps.series.length).toBe(2);
    expect(noSteps.xAxis.max).toBe(1);
  });

  it('draws F1 deltas green up and red down, leaving out rows only one run has', () => {
    const b = parseReport({ 正面: s(1, 1, 0.9, 10), 负面: s(0.5, 0.5, 0.5, 4) }, ['正面', '负面']);
    const rows = compareReports(report, b, ['正面', '负面']);
    const o = deltaOption(rows, LIGHT, 'ΔF1') as AnyOption;
    expect(o.yAxis.data).toEqual(['正面', '负面']);
    expect(o.series[0].data[0].value).toBeCloseTo(0.9 - 0.8470588235294118, 12);
    expect(o.series[0].data[0].itemStyle.color).toBe(LIGHT.ok);
    expect(o.series[0].data[1].itemStyle.color).toBe(LIGHT.error);
    expect(o.xAxis.max).toBe(0.1);
    expect(o.xAxis.min).toBe(-0.1);
    expect(o.xAxis.axisLabel.formatter(-0.05)).toBe('-0.05');
    const big = deltaOption([{ name: 'x', a: 0, b: 0.8947, delta: 0.8947, supportA: 1, supportB: 1 }], LIGHT, 'd') as AnyOption;
    expect(big.xAxis.max).toBe(0.9);
    const exact = deltaOption([{ name: 'x', a: 0.5, b: 0.2, delta: -0.3, supportA: 1, supportB: 1 }], LIGHT, 'd') as AnyOption;
    expect(exact.xAxis.min).toBe(-0.3);
  });

  it('draws one F1 line per label over the training records, and macro-F1 dashed', () => {
    const curve = { n_train: [50, 100], macro_f1: [0.5, 0.7], labels: [{ label: 'pos', f1: [0.6, 0.8] }, { label: 'neg', f1: [0.4, 0.6] }] };
    const o = labelCurveOption(curve, LIGHT, { records: 'records', f1: 'F1', macro: 'macro' }) as { series: { name: string; data: number[][]; lineStyle?: { type: string } }[] };
    expect(o.series.map((s) => s.name)).toEqual(['pos', 'neg', 'macro']);
    expect(o.series[0].data).toEqual([[50, 0.6], [100, 0.8]]);
    expect(o.series[2].lineStyle?.type).toBe('dashed');
  });

  it('draws the suspected-noise rate per group, the axis rounded up to 5 %', () => {
    const o = noiseRateOption([{ name: 'a', n: 10, n_suspects: 1 }, { name: 'b', n: 0, n_suspects: 0 }, { name: 'c', n: 8, n_suspects: 1 }], LIGHT, 'rate') as {
      xAxis: { max: number };
      series: { data: { value: number; name: string }[] }[];
    };
    expect(o.series[0].data.map((d) => [d.name, d.value])).toEqual([['a', 0.1], ['b', 0], ['c', 0.125]]);
    expect(o.xAxis.max).toBeCloseTo(0.15);
  });

  // The figures of `finelab agreement --json` for three annotators of whom two share no record.
  const agreement: AgreementReport = {
    n_records: 6,
    annotators: ['ann1', 'ann2', 'ann3'],
    pairs: [
      { a: 'ann1', b: 'ann2', n: 6, percent_agreement: 0.6666666666666666, cohen_kappa: 0.3333333333333333, f1: null, per_label: null },
      { a: 'ann1', b: 'ann3', n: 2, percent_agreement: 1, cohen_kappa: null, f1: null, per_label: null },
    ],
    fleiss_kappa: 0.3,
    fleiss_records: 6,
    fleiss_raters: 2,
    krippendorff_alpha: 0.35,
    per_label: { pos: { cohen_kappa_mean: 0.33, krippendorff_alpha: 0.35 }, neg: { cohen_kappa_mean: 0.33, krippendorff_alpha: -0.2 } },
    label_order: ['pos', 'neg'],
    n_undecided: 2,
  };

  it('lays the pairwise kappa out as a symmetric matrix, empty where a pair has none', () => {
    const { names, cells, shared } = agreementCells(agreement, 'kappa');
    expect(names).toEqual(['ann1', 'ann2', 'ann3']);
    expect(cells).toEqual([
      [0, 0, '-'], [1, 0, 0.3333333333333333], [2, 0, '-'],
      [0, 1, 0.3333333333333333], [1, 1, '-'], [2, 1, '-'],
      [0, 2, '-'], [1, 2, '-'], [2, 2, '-'],
    ]);
    // The pair without kappa still shares records (the tooltip says how many).
    expect(shared.get('2,0')).toBe(2);
    expect(shared.get('1,2')).toBeUndefined();
    const spans = agreementCells({ ...agreement, pairs: [{ ...agreement.pairs[0], cohen_kappa: null, f1: 0.5 }] }, 'f1');
    expect(spans.cells[1]).toEqual([1, 0, 0.5]);
  });

  it('draws the kappa matrix from -1 to 1 (F1 from 0), one row and column per annotator', () => {
    const o = agreementMatrixOption(agreement, 'kappa', LIGHT, { metric: 'κ', shared: 'n' }) as AnyOption;
    expect(o.xAxis.data).toEqual(['ann1', 'ann2', 'ann3']);
    expect(o.yAxis).toMatchObject({ data: ['ann1', 'ann2', 'ann3'], inverse: true });
    expect([o.visualMap.min, o.visualMap.max]).toEqual([-1, 1]);
    expect(o.visualMap.inRange.color).toEqual([LIGHT.error, LIGHT.panel, LIGHT.accent]);
    expect(o.series[0].type).toBe('heatmap');
    expect(o.series[0].label.formatter({ value: [1, 0, 0.3333333333333333] })).toBe('0.33');
    expect(o.series[0].label.formatter({ value: [0, 0, '-'] })).toBe('');
    expect(o.tooltip.formatter({ value: [0, 1, 0.3333333333333333] })).toBe('ann2 × ann1\nκ: 0.3333\nn: 6');
    expect(o.tooltip.renderMode).toBe('richText');
    const f1 = agreementMatrixOption(agreement, 'f1', LIGHT, { metric: 'F1', shared: 'n' }) as AnyOption;
    expect([f1.visualMap.min, f1.visualMap.max]).toEqual([0, 1]);
  });

  it("draws Krippendorff's alpha per label, coloured by reliability, the axis below 0 only when needed", () => {
    const rows = agreement.label_order.map((l) => ({ label: l, alpha: agreement.per_label[l]?.krippendorff_alpha ?? null }));
    const o = labelAlphaOption(rows, LIGHT, 'α') as AnyOption;
    expect(o.yAxis.data).toEqual(['pos', 'neg']);
    expect(o.series[0].data.map((d: AnyOption) => [d.name, d.value])).toEqual([['pos', 0.35], ['neg', -0.2]]);
    expect(o.xAxis.min).toBe(-0.2);
    expect(o.xAxis.max).toBe(1);
    expect((labelAlphaOption([{ label: 'x', alpha: 0.9 }, { label: 'y', alpha: null }], LIGHT, 'α') as AnyOption).xAxis.min).toBe(0);
    expect([0.9, 0.8, 0.7, 0.5, null].map((v) => reliabilityColor(v, LIGHT))).toEqual([LIGHT.ok, LIGHT.ok, LIGHT.warn, LIGHT.error, LIGHT.muted]);
  });

  it('draws the labels of each annotator', () => {
    const person = (annotator: string, labeled: number): Person => ({
      annotator,
      labeled,
      labels_per_hour: null,
      agreement_with_others: null,
      kappa_with_others: null,
      agreement_with_decisions: null,
      n_decided: 0,
      suspected_noise: null,
    });
    const o = peopleOption([person('ann1', 8), person('ann2', 5)], LIGHT, 'labels') as AnyOption;
    expect(o.yAxis.data).toEqual(['ann1', 'ann2']);
    expect(o.series[0].data.map((d: AnyOption) => d.value)).toEqual([8, 5]);
  });
});
