// ECharts options for the Train, Results, Review and Team screens, built from reports and progress by pure
// functions (tested without a browser). The screens draw them with components/Chart.svelte.

import type { EChartsCoreOption } from 'echarts/core';
import type { AgreementReport, Person } from './api-types';
import { confusionCells, formatFixed, type CompareRow, type Confusion, type ParsedReport } from './report';

/** Theme colours, read from the page's CSS variables (light or dark). */
export interface ChartColors {
  text: string;
  muted: string;
  border: string;
  panel: string;
  accent: string;
  ok: string;
  error: string;
  warn: string;
}

export const LIGHT: ChartColors = {
  text: '#1d1d1f',
  muted: '#6b6b70',
  border: '#dcdcd6',
  panel: '#ffffff',
  accent: '#2f6fde',
  ok: '#1f8a4c',
  error: '#c62828',
  warn: '#b26a00',
};

/** The colours of the page (falling back to the light theme outside a browser). */
export function themeColors(): ChartColors {
  if (typeof document === 'undefined' || typeof getComputedStyle === 'undefined') return LIGHT;
  const style = getComputedStyle(document.documentElement);
  const v = (name: string, fallback: string) => style.getPropertyValue(name).trim() || fallback;
  return {
    text: v('--text', LIGHT.text),
    muted: v('--muted', LIGHT.muted),
    border: v('--border', LIGHT.border),
    panel: v('--panel', LIGHT.panel),
    accent: v('--accent', LIGHT.accent),
    ok: v('--ok', LIGHT.ok),
    error: v('--error', LIGHT.error),
    warn: v('--warn', LIGHT.warn),
  };
}

/** Series colours of precision, recall and F1 (distinguishable in both themes and for most colour vision). */
export const SCORE_COLORS = ['#76b7b2', '#edc948', '#4e79a7'];

function axisStyle(c: ChartColors) {
  return {
    axisLine: { lineStyle: { color: c.border } },
    axisTick: { lineStyle: { color: c.border } },
    axisLabel: { color: c.muted },
    splitLine: { lineStyle: { color: c.border, opacity: 0.6 } },
    nameTextStyle: { color: c.muted },
  };
}

function base(c: ChartColors): EChartsCoreOption {
  return {
    animation: false,
    textStyle: { color: c.text, fontFamily: 'inherit' },
    // Tooltips drawn on the canvas, not as HTML: the window's CSP (style-src 'self') refuses the
    // inline styles of ECharts' HTML tooltips.
    tooltip: { renderMode: 'richText', backgroundColor: c.panel, borderColor: c.border, textStyle: { color: c.text } },
  };
}

/** Names of the series and axes, in the interface language. */
export interface ScoreNames {
  precision: string;
  recall: string;
  f1: string;
  support: string;
}

/**
 * Precision, recall and F1 per label (grouped bars), then the averages after a gap; each label's
 * support under its name. A bar's `name` is its label, so a click says which label it was.
 */
export function scoresOption(report: ParsedReport, c: ChartColors, names: ScoreNames): EChartsCoreOption {
  const rows = [...report.labels, ...report.averages];
  const categories = rows.map((r) => r.name);
  const supports = rows.map((r) => r.support);
  const series = (['precision', 'recall', 'f1'] as const).map((key, i) => ({
    name: names[key],
    type: 'bar',
    barMaxWidth: 22,
    itemStyle: { color: SCORE_COLORS[i] },
    data: rows.map((r, j) => ({
      value: r[key],
      name: r.name,
      // Averages are drawn fainter: they are summaries, not labels one can click through.
      itemStyle: j >= report.labels.length ? { opacity: 0.55 } : undefined,
    })),
  }));
  return {
    ...base(c),
    legend: { top: 0, textStyle: { color: c.text } },
    grid: { left: 48, right: 16, top: 36, bottom: 56, containLabel: false },
    tooltip: {
      ...(base(c).tooltip as object),
      trigger: 'axis',
      axisPointer: { type: 'shadow' },
      valueFormatter: (v: number) => formatFixed(Number(v), 4),
    },
    xAxis: {
      type: 'category',
      data: categories,
      ...axisStyle(c),
      axisLabel: {
        color: c.muted,
        interval: 0,
        hideOverlap: true,
        formatter: (value: string, i: number) => `${value}\n${names.support} ${supports[i] ?? ''}`,
      },
    },
    yAxis: { type: 'value', min: 0, max: 1, ...axisStyle(c) },
    series,
  };
}

/** A heatmap of the confusion matrix: predicted labels across, gold labels down. */
export function confusionOption(confusion: Confusion, normalized: boolean, c: ChartColors, names: { gold: string; predicted: string }): EChartsCoreOption {
  const cells = confusionCells(confusion, normalized);
  const max = normalized ? 1 : Math.max(1, ...cells.map((d) => d[2]));
  const n = confusion.labels.length;
  return {
    ...base(c),
    tooltip: {
      ...(base(c).tooltip as object),
      formatter: (p: { value: [number, number, number] }) => {
        const [x, y, v] = p.value;
        const text = normalized ? v.toFixed(2) : String(v);
        return `${names.gold}: ${confusion.labels[y]}\n${names.predicted}: ${confusion.labels[x]}\n${text}`;
      },
    },
    grid: { left: 8, right: 16, top: 28, bottom: 72, containLabel: true },
    xAxis: {
      type: 'category',
      data: confusion.labels,
      name: names.predicted,
      nameLocation: 'middle',
      nameGap: 28,
      ...axisStyle(c),
      axisLabel: { color: c.muted, interval: 0, hideOverlap: true },
      splitArea: { show: false },
    },
    yAxis: {
      type: 'category',
      data: confusion.labels,
      name: names.gold,
      // Inverse: the first label on top; `start` puts the name above the axis.
      nameLocation: 'start',
      inverse: true,
      ...axisStyle(c),
      axisLabel: { color: c.muted, interval: 0 },
    },
    visualMap: {
      min: 0,
      max,
      calculable: false,
      orient: 'horizontal',
      left: 'center',
      bottom: 0,
      itemHeight: 120,
      text: [normalized ? '1' : String(max), '0'],
      textStyle: { color: c.muted },
      inRange: { color: [c.panel, c.accent] },
    },
    series: [
      {
        type: 'heatmap',
        data: cells,
        label: {
          // Numbers in the cells while they fit; the table below always has them.
          show: n <= 12,
          color: c.text,
          formatter: (p: { value: [number, number, number] }) => (normalized ? p.value[2].toFixed(2) : String(p.value[2])),
        },
        itemStyle: { borderColor: c.border, borderWidth: 1 },
        emphasis: { itemStyle: { borderColor: c.text, borderWidth: 2 } },
      },
    ],
  };
}

/** One evaluated epoch. */
export interface EpochPoint {
  epoch: number;
  train_loss: number;
  dev_macro_f1: number;
}

/**
 * Learning curves: training loss (left axis; per step while training, as `[epoch position, loss]`
 * points, and per epoch) and dev macro-F1 per epoch (right axis, 0–1).
 */
export function curvesOption(
  curves: { steps: [number, number][]; epochs: EpochPoint[]; maxEpoch: number },
  c: ChartColors,
  names: { loss: string; stepLoss: string; devF1: string; epoch: string },
  /** The right axis fits its values (a generator's dev loss) instead of F1's 0 to 1. */
  devFree = false,
): EChartsCoreOption {
  const series: object[] = [];
  if (curves.steps.length) {
    series.push({
      name: names.stepLoss,
      type: 'line',
      showSymbol: false,
      yAxisIndex: 0,
      lineStyle: { width: 1, opacity: 0.6 },
      itemStyle: { color: SCORE_COLORS[0] },
      data: curves.steps,
    });
  }
  series.push(
    {
      name: names.loss,
      type: 'line',
      yAxisIndex: 0,
      symbolSize: 6,
      itemStyle: { color: SCORE_COLORS[2] },
      data: curves.epochs.map((e) => [e.epoch, e.train_loss]),
    },
    {
      name: names.devF1,
      type: 'line',
      yAxisIndex: 1,
      symbolSize: 7,
      itemStyle: { color: c.ok },
      data: curves.epochs.map((e) => [e.epoch, e.dev_macro_f1]),
    },
  );
  return {
    ...base(c),
    legend: { top: 0, textStyle: { color: c.text } },
    grid: { left: 48, right: 48, top: 36, bottom: 36 },
    tooltip: { ...(base(c).tooltip as object), trigger: 'axis', valueFormatter: (v: number) => formatFixed(Number(v), 4) },
    xAxis: { type: 'value', name: names.epoch, nameLocation: 'middle', nameGap: 24, min: 0, max: Math.max(1, curves.maxEpoch), minInterval: 1, ...axisStyle(c) },
    yAxis: [
      { type: 'value', name: names.loss, min: 0, ...axisStyle(c) },
      devFree
        ? { type: 'value', name: names.devF1, scale: true, ...axisStyle(c), splitLine: { show: false } }
        : { type: 'value', name: names.devF1, min: 0, max: 1, ...axisStyle(c), splitLine: { show: false } },
    ],
    series,
  };
}

/** F1 of run B minus run A per label (and average), as horizontal bars: green up, red down. */
export function deltaOption(rows: CompareRow[], c: ChartColors, name: string): EChartsCoreOption {
  const shown = rows.filter((r) => r.delta !== null);
  // A symmetric axis rounded up to a tenth (at least ±0.1), so zero sits in the middle.
  const extent = Math.max(0.1, Math.ceil(Math.max(0, ...shown.map((r) => Math.abs(r.delta ?? 0))) * 10 - 1e-9) / 10);
  return {
    ...base(c),
    grid: { left: 8, right: 24, top: 8, bottom: 24, containLabel: true },
    tooltip: { ...(base(c).tooltip as object), trigger: 'axis', axisPointer: { type: 'shadow' }, valueFormatter: (v: number) => formatFixed(Number(v), 4) },
    xAxis: { type: 'value', min: -extent, max: extent, ...axisStyle(c), axisLabel: { color: c.muted, formatter: (v: number) => v.toFixed(2) } },
    yAxis: { type: 'category', inverse: true, data: shown.map((r) => r.name), ...axisStyle(c), axisLabel: { color: c.muted, interval: 0 } },
    series: [
      {
        name,
        type: 'bar',
        barMaxWidth: 18,
        data: shown.map((r) => ({ value: r.delta, name: r.name, itemStyle: { color: (r.delta ?? 0) >= 0 ? c.ok : c.error } })),
      },
    ],
  };
}

/** One line per label: dev F1 at each share of the train split (x: training records), macro-F1 dashed. */
export function labelCurveOption(
  curve: { n_train: number[]; macro_f1: number[]; labels: { label: string; f1: number[] }[] },
  c: ChartColors,
  names: { records: string; f1: string; macro: string },
): EChartsCoreOption {
  const palette = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
  const series: object[] = curve.labels.map((l, i) => ({
    name: l.label,
    type: 'line',
    symbolSize: 6,
    itemStyle: { color: palette[i % palette.length] },
    data: l.f1.map((f, j) => [curve.n_train[j], f]),
  }));
  series.push({
    name: names.macro,
    type: 'line',
    symbolSize: 6,
    lineStyle: { type: 'dashed', width: 2 },
    itemStyle: { color: c.text },
    data: curve.macro_f1.map((f, j) => [curve.n_train[j], f]),
  });
  return {
    ...base(c),
    legend: { top: 0, textStyle: { color: c.text } },
    grid: { left: 48, right: 24, top: 36, bottom: 40 },
    tooltip: { ...(base(c).tooltip as object), trigger: 'axis', valueFormatter: (v: number) => formatFixed(Number(v), 4) },
    xAxis: { type: 'value', name: names.records, nameLocation: 'middle', nameGap: 26, min: 0, ...axisStyle(c) },
    yAxis: { type: 'value', name: names.f1, min: 0, max: 1, ...axisStyle(c) },
    series,
  };
}

/** Suspected-noise rate per group (label or annotator) as horizontal bars, 0–1; a bar's `name` is its group. */
export function noiseRateOption(rows: { name: string; n: number; n_suspects: number }[], c: ChartColors, name: string): EChartsCoreOption {
  const rate = (r: { n: number; n_suspects: number }) => (r.n > 0 ? r.n_suspects / r.n : 0);
  const top = Math.max(0.05, Math.ceil(Math.max(0, ...rows.map(rate)) * 20 - 1e-9) / 20);
  return {
    ...base(c),
    grid: { left: 8, right: 24, top: 8, bottom: 24, containLabel: true },
    tooltip: { ...(base(c).tooltip as object), trigger: 'axis', axisPointer: { type: 'shadow' }, valueFormatter: (v: number) => `${(Number(v) * 100).toFixed(1)}%` },
    xAxis: { type: 'value', min: 0, max: top, ...axisStyle(c), axisLabel: { color: c.muted, formatter: (v: number) => `${Math.round(v * 100)}%` } },
    yAxis: { type: 'category', inverse: true, data: rows.map((r) => r.name), ...axisStyle(c), axisLabel: { color: c.muted, interval: 0 } },
    series: [{ name, type: 'bar', barMaxWidth: 18, data: rows.map((r) => ({ value: rate(r), name: r.name, itemStyle: { color: c.warn } })) }],
  };
}

/** What the agreement matrix shows: Cohen's kappa (labels) or F1 of one against the other (spans). */
export type AgreementMetric = 'kappa' | 'f1';

/** A cell of the agreement matrix: [column, row, value] ('-': no value, an empty cell). */
export type AgreementCell = [number, number, number | '-'];

/**
 * The annotators' pairwise agreement as a symmetric matrix over `report.annotators`: both cells of
 * a pair hold its value; the diagonal and pairs without one (no shared record, kappa undefined)
 * are empty. Also the number of shared records per cell, for the tooltip.
 */
export function agreementCells(report: AgreementReport, metric: AgreementMetric): { names: string[]; cells: AgreementCell[]; shared: Map<string, number> } {
  const names = report.annotators;
  const at = new Map(names.map((n, i) => [n, i]));
  const value = new Map<string, number>();
  const shared = new Map<string, number>();
  for (const p of report.pairs) {
    const i = at.get(p.a);
    const j = at.get(p.b);
    if (i === undefined || j === undefined) continue;
    const v = metric === 'kappa' ? p.cohen_kappa : p.f1;
    for (const key of [`${i},${j}`, `${j},${i}`]) {
      shared.set(key, p.n);
      if (v !== null && v !== undefined && Number.isFinite(v)) value.set(key, v);
    }
  }
  const cells: AgreementCell[] = [];
  for (let y = 0; y < names.length; y++) {
    for (let x = 0; x < names.length; x++) cells.push([x, y, value.get(`${x},${y}`) ?? '-']);
  }
  return { names, cells, shared };
}

/**
 * A heatmap of the pairwise agreement: Cohen's kappa from -1 (red) through 0, chance (the
 * panel's colour), to 1 (accent); span F1 from 0 to 1. A cell's value is `[column, row, value]`,
 * so a click says which two annotators it was.
 */
export function agreementMatrixOption(report: AgreementReport, metric: AgreementMetric, c: ChartColors, names: { metric: string; shared: string }): EChartsCoreOption {
  const { names: people, cells, shared } = agreementCells(report, metric);
  const label = (v: number | '-') => (v === '-' ? '' : v.toFixed(2));
  return {
    ...base(c),
    tooltip: {
      ...(base(c).tooltip as object),
      formatter: (p: { value: AgreementCell }) => {
        const [x, y, v] = p.value;
        return `${people[y]} × ${people[x]}\n${names.metric}: ${v === '-' ? '–' : formatFixed(v, 4)}\n${names.shared}: ${shared.get(`${x},${y}`) ?? 0}`;
      },
    },
    grid: { left: 8, right: 16, top: 16, bottom: 64, containLabel: true },
    xAxis: { type: 'category', data: people, ...axisStyle(c), axisLabel: { color: c.muted, interval: 0, hideOverlap: true }, splitArea: { show: false } },
    yAxis: { type: 'category', data: people, inverse: true, ...axisStyle(c), axisLabel: { color: c.muted, interval: 0 } },
    visualMap: {
      min: metric === 'kappa' ? -1 : 0,
      max: 1,
      calculable: false,
      orient: 'horizontal',
      left: 'center',
      bottom: 0,
      itemHeight: 120,
      text: ['1', metric === 'kappa' ? '-1' : '0'],
      textStyle: { color: c.muted },
      inRange: { color: metric === 'kappa' ? [c.error, c.panel, c.accent] : [c.panel, c.accent] },
    },
    series: [
      {
        type: 'heatmap',
        data: cells,
        label: { show: people.length <= 12, color: c.text, formatter: (p: { value: AgreementCell }) => label(p.value[2]) },
        itemStyle: { borderColor: c.border, borderWidth: 1 },
        emphasis: { itemStyle: { borderColor: c.text, borderWidth: 2 } },
      },
    ],
  };
}

/** The colour of an agreement coefficient by Krippendorff's bars: reliable from 0.8, tentative from 0.667. */
export function reliabilityColor(value: number | null, c: ChartColors): string {
  if (value === null || !Number.isFinite(value)) return c.muted;
  return value >= 0.8 ? c.ok : value >= 0.667 ? c.warn : c.error;
}

/** Krippendorff's alpha per label (one against the rest) as horizontal bars; the axis reaches below 0 only when a value does. */
export function labelAlphaOption(rows: { label: string; alpha: number | null }[], c: ChartColors, name: string): EChartsCoreOption {
  const values = rows.map((r) => r.alpha).filter((v): v is number => v !== null && Number.isFinite(v));
  const min = Math.max(-1, Math.min(0, Math.floor(Math.min(0, ...values) * 10 + 1e-9) / 10));
  return {
    ...base(c),
    grid: { left: 8, right: 24, top: 8, bottom: 24, containLabel: true },
    tooltip: { ...(base(c).tooltip as object), trigger: 'axis', axisPointer: { type: 'shadow' }, valueFormatter: (v: number) => (Number.isFinite(Number(v)) ? formatFixed(Number(v), 4) : '–') },
    xAxis: { type: 'value', min, max: 1, ...axisStyle(c), axisLabel: { color: c.muted, formatter: (v: number) => v.toFixed(1) } },
    yAxis: { type: 'category', inverse: true, data: rows.map((r) => r.label), ...axisStyle(c), axisLabel: { color: c.muted, interval: 0 } },
    series: [
      {
        name,
        type: 'bar',
        barMaxWidth: 18,
        data: rows.map((r) => ({ value: r.alpha ?? '-', name: r.label, itemStyle: { color: reliabilityColor(r.alpha, c) } })),
      },
    ],
  };
}

/** Labels per annotator (the records they have a label on now) as horizontal bars; a bar's `name` is the annotator. */
export function peopleOption(people: Person[], c: ChartColors, name: string): EChartsCoreOption {
  return {
    ...base(c),
    grid: { left: 8, right: 24, top: 8, bottom: 24, containLabel: true },
    tooltip: { ...(base(c).tooltip as object), trigger: 'axis', axisPointer: { type: 'shadow' } },
    xAxis: { type: 'value', min: 0, minInterval: 1, ...axisStyle(c) },
    yAxis: { type: 'category', inverse: true, data: people.map((p) => p.annotator), ...axisStyle(c), axisLabel: { color: c.muted, interval: 0 } },
    series: [{ name, type: 'bar', barMaxWidth: 18, data: people.map((p) => ({ value: p.labeled, name: p.annotator, itemStyle: { color: c.accent } })) }],
  };
}

/** The distribution of a generator run's per-record chrF: `histogram[i]` outputs scored in
 *  [10i, 10i + 10) (the last bin includes 100). Clicking a bar names its bin (`0–10`...). */
export function chrfHistogramOption(histogram: number[], c: ChartColors, names: { records: string; chrf: string }): EChartsCoreOption {
  const bins = histogram.map((_, i) => `${i * 10}–${i * 10 + 10}`);
  return {
    ...base(c),
    grid: { left: 48, right: 16, top: 16, bottom: 48 },
    tooltip: { ...(base(c).tooltip as object), trigger: 'axis', axisPointer: { type: 'shadow' } },
    xAxis: { type: 'category', data: bins, name: names.chrf, nameLocation: 'middle', nameGap: 30, ...axisStyle(c) },
    yAxis: { type: 'value', name: names.records, minInterval: 1, ...axisStyle(c) },
    series: [
      {
        name: names.records,
        type: 'bar',
        barMaxWidth: 36,
        // Low scores in the error colour, high in the ok colour, so where the model falls short shows.
        data: histogram.map((v, i) => ({ value: v, name: bins[i], itemStyle: { color: i < 3 ? c.error : i < 6 ? c.warn : c.ok } })),
      },
    ],
  };
}

/** A generator's training curve: mean train loss and dev loss per epoch. */
export function genLossOption(
  epochs: { epoch: number; train_loss: number; dev_loss: number | null }[],
  c: ChartColors,
  names: { train: string; dev: string; epoch: string; loss: string },
): EChartsCoreOption {
  return {
    ...base(c),
    legend: { top: 0, textStyle: { color: c.text } },
    grid: { left: 56, right: 16, top: 36, bottom: 40 },
    tooltip: { ...(base(c).tooltip as object), trigger: 'axis', valueFormatter: (v: number) => formatFixed(Number(v), 4) },
    xAxis: { type: 'category', data: epochs.map((e) => String(e.epoch)), name: names.epoch, nameLocation: 'middle', nameGap: 26, ...axisStyle(c) },
    yAxis: { type: 'value', name: names.loss, scale: true, ...axisStyle(c) },
    series: [
      { name: names.train, type: 'line', data: epochs.map((e) => e.train_loss), itemStyle: { color: c.accent } },
      { name: names.dev, type: 'line', data: epochs.map((e) => e.dev_loss), itemStyle: { color: c.warn } },
    ],
  };
}

/** The predicted label mix of production traffic per day beside the train split's: one stacked
 *  bar a day (and one for the train split first), each label's share. */
export function productionMixOption(
  mix: { days: { day: string; shares: { [key in string]?: number } }[]; train: { [key in string]?: number } },
  labels: string[],
  c: ChartColors,
  names: { train: string },
): EChartsCoreOption {
  const columns = [names.train, ...mix.days.map((d) => d.day)];
  const shares = [mix.train, ...mix.days.map((d) => d.shares)];
  return {
    ...base(c),
    legend: { top: 0, textStyle: { color: c.text } },
    grid: { left: 48, right: 16, top: 36, bottom: 40 },
    tooltip: { ...(base(c).tooltip as object), trigger: 'axis', axisPointer: { type: 'shadow' }, valueFormatter: (v: number) => `${formatFixed(Number(v) * 100, 1)} %` },
    xAxis: { type: 'category', data: columns, ...axisStyle(c) },
    yAxis: { type: 'value', min: 0, max: 1, ...axisStyle(c), axisLabel: { color: c.muted, formatter: (v: number) => `${Math.round(v * 100)} %` } },
    series: labels.map((label) => ({ name: label, type: 'bar', stack: 'mix', barMaxWidth: 40, data: shares.map((s) => s[label] ?? 0) })),
  };
}

/** The runs of a project by what they cost and score: size on disk across, macro-F1 up, the
 *  bubble's area by CPU texts/s where measured. Clicking a bubble names its run. */
export function tradeoffOption(
  runs: { run: string; size_bytes: number; macro_f1: number | null; samples_per_sec: number | null }[],
  c: ChartColors,
  names: { size: string; f1: string },
): EChartsCoreOption {
  const shown = runs.filter((r) => r.macro_f1 != null);
  const fastest = Math.max(1, ...shown.map((r) => r.samples_per_sec ?? 0));
  return {
    ...base(c),
    grid: { left: 56, right: 24, top: 24, bottom: 48 },
    tooltip: { ...(base(c).tooltip as object), trigger: 'item' },
    xAxis: { type: 'value', name: names.size, nameLocation: 'middle', nameGap: 28, scale: true, ...axisStyle(c) },
    yAxis: { type: 'value', name: names.f1, min: 0, max: 1, ...axisStyle(c) },
    series: [
      {
        type: 'scatter',
        itemStyle: { color: c.accent, opacity: 0.75 },
        label: { show: true, position: 'top', color: c.muted, formatter: (p: { name: string }) => p.name.slice(-20) },
        data: shown.map((r) => ({
          name: r.run,
          value: [r.size_bytes / 1e6, r.macro_f1],
          symbolSize: r.samples_per_sec == null ? 10 : 10 + 30 * Math.sqrt(r.samples_per_sec / fastest),
        })),
      },
    ],
  };
}
