// Evaluation reports as the Results screen reads them: scikit-learn's `classification_report`
// dictionary (what `finelab eval --json` prints) parsed into rows, numbers formatted exactly as the
// CLI prints them, the confusion matrix row-normalized, and two runs' reports compared.

import type { JsonValue } from './api-types';

/** One row of a report. */
export interface ScoreRow {
  /** The label, or an average's name (`macro avg`...). */
  name: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

/** A confusion matrix: `matrix[gold][predicted]`, both in `labels` order. */
export interface Confusion {
  labels: string[];
  matrix: number[][];
}

/** A report, parsed. */
export interface ParsedReport {
  /** Per-label rows, in the project's label order (labels the report does not name are left out). */
  labels: ScoreRow[];
  /** `micro avg`, `macro avg`, `weighted avg`, `samples avg`, those present, in that order. */
  averages: ScoreRow[];
  /** Single-label: accuracy (scikit-learn prints it instead of `micro avg`). */
  accuracy: number | null;
  /** Items the report covers (the support of the averages). */
  support: number;
  /** Single-label only. */
  confusion: Confusion | null;
}

/** The rows of the dictionary that are not labels. */
export const AVERAGES = ['micro avg', 'macro avg', 'weighted avg', 'samples avg'] as const;
const NOT_LABELS = new Set<string>([...AVERAGES, 'accuracy', 'confusion']);

type Obj = { [key: string]: JsonValue | undefined };

function isObj(v: JsonValue | undefined): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(v: JsonValue | undefined): number {
  return typeof v === 'number' ? v : 0;
}

function row(name: string, v: Obj): ScoreRow {
  return { name, precision: num(v.precision), recall: num(v.recall), f1: num(v['f1-score']), support: num(v.support) };
}

function isScores(v: JsonValue | undefined): v is Obj {
  return isObj(v) && 'precision' in v && 'recall' in v && 'f1-score' in v;
}

/**
 * Parses a report. `order` is the project's label set: per-label rows follow it; rows for labels
 * outside it (a label removed since the run) come after, sorted.
 */
export function parseReport(report: JsonValue | null | undefined, order: string[] = []): ParsedReport {
  const r: Obj = isObj(report ?? null) ? (report as Obj) : {};
  const names = Object.keys(r).filter((k) => !NOT_LABELS.has(k) && isScores(r[k]));
  const known = order.filter((l) => names.includes(l));
  const extra = names.filter((l) => !order.includes(l)).sort();
  const labels = [...known, ...extra].map((l) => row(l, r[l] as Obj));
  const averages = AVERAGES.filter((a) => isScores(r[a])).map((a) => row(a, r[a] as Obj));
  const accuracy = typeof r.accuracy === 'number' ? r.accuracy : null;
  const macro = averages.find((a) => a.name === 'macro avg');
  const support = macro ? macro.support : labels.reduce((s, l) => s + l.support, 0);
  let confusion: Confusion | null = null;
  const c = r.confusion;
  if (isObj(c) && Array.isArray(c.labels) && Array.isArray(c.matrix)) {
    confusion = {
      labels: c.labels.map(String),
      matrix: c.matrix.map((line) => (Array.isArray(line) ? line.map((n) => num(n)) : [])),
    };
  }
  return { labels, averages, accuracy, support, confusion };
}

/**
 * `x` with `digits` decimals as Rust's `format!("{:.4}", x)` prints it (and so `finelab eval`):
 * the exact binary value rounded to nearest, and a value exactly halfway rounded to the even
 * digit (JavaScript's toFixed rounds halves up: 0.03125 → "0.0313" where Rust prints "0.0312").
 */
export function formatFixed(x: number, digits = 4): string {
  if (!Number.isFinite(x)) return String(x);
  const plain = x.toFixed(digits);
  // An exact tie has a finite expansion ending in 5 right after the kept digits; toFixed with more
  // digits is exact for it (doubles near a tie are the tie itself at this many digits).
  const long = Math.abs(x).toFixed(Math.min(100, digits + 30));
  const cut = long.indexOf('.') + 1 + digits;
  const tail = long.slice(cut);
  if (!/^50*$/.test(tail)) return plain;
  // Halfway: keep the truncated value when its last digit is even, else round away from zero.
  const kept = long.slice(0, digits === 0 ? cut - 1 : cut);
  const lastDigit = Number(kept[kept.length - 1]);
  const sign = x < 0 ? '-' : '';
  if (lastDigit % 2 === 0) return sign + kept;
  return plain;
}

/** A share as a percentage with one decimal ("87.5 %"). */
export function formatPercent(x: number): string {
  return `${(x * 100).toFixed(1)} %`;
}

/** Rows divided by their sums: row `g` says where the records of gold label `g` went (0 for empty rows). */
export function normalizeRows(matrix: number[][]): number[][] {
  return matrix.map((line) => {
    const sum = line.reduce((a, b) => a + b, 0);
    return line.map((n) => (sum > 0 ? n / sum : 0));
  });
}

/** The cells of a confusion matrix as `[predicted, gold, value]` triples (ECharts heatmap data). */
export function confusionCells(confusion: Confusion, normalized: boolean): [number, number, number][] {
  const values = normalized ? normalizeRows(confusion.matrix) : confusion.matrix;
  const out: [number, number, number][] = [];
  values.forEach((line, gold) => line.forEach((v, pred) => out.push([pred, gold, v])));
  return out;
}

/** The text of a confusion cell: the count, or the row share with 2 decimals. */
export function confusionText(confusion: Confusion, gold: number, pred: number, normalized: boolean): string {
  const n = confusion.matrix[gold]?.[pred] ?? 0;
  if (!normalized) return String(n);
  const sum = (confusion.matrix[gold] ?? []).reduce((a, b) => a + b, 0);
  return (sum > 0 ? n / sum : 0).toFixed(2);
}

/** One line of a run comparison: a label's (or an average's) F1 in run A and run B. */
export interface CompareRow {
  name: string;
  /** F1 in run A; null when A's report has no such row. */
  a: number | null;
  b: number | null;
  /** `b - a`, when both are present. */
  delta: number | null;
  /** Support in A and B (they differ when the runs used different data). */
  supportA: number | null;
  supportB: number | null;
}

/**
 * Per-label F1 of two reports, and the averages (and accuracy, as a row of its own), B minus A.
 * Labels follow `order`, then any other label either report names.
 */
export function compareReports(a: ParsedReport, b: ParsedReport, order: string[] = []): CompareRow[] {
  const names: string[] = [];
  for (const l of order) if (a.labels.some((r) => r.name === l) || b.labels.some((r) => r.name === l)) names.push(l);
  const extra = new Set<string>();
  for (const r of [...a.labels, ...b.labels]) if (!names.includes(r.name)) extra.add(r.name);
  names.push(...[...extra].sort());
  const line = (name: string, ra: ScoreRow | undefined, rb: ScoreRow | undefined): CompareRow => ({
    name,
    a: ra ? ra.f1 : null,
    b: rb ? rb.f1 : null,
    delta: ra && rb ? rb.f1 - ra.f1 : null,
    supportA: ra ? ra.support : null,
    supportB: rb ? rb.support : null,
  });
  const rows = names.map((n) => line(n, a.labels.find((r) => r.name === n), b.labels.find((r) => r.name === n)));
  if (a.accuracy !== null || b.accuracy !== null) {
    rows.push({
      name: 'accuracy',
      a: a.accuracy,
      b: b.accuracy,
      delta: a.accuracy !== null && b.accuracy !== null ? b.accuracy - a.accuracy : null,
      supportA: a.accuracy !== null ? a.support : null,
      supportB: b.accuracy !== null ? b.support : null,
    });
  }
  for (const avg of AVERAGES) {
    const ra = a.averages.find((r) => r.name === avg);
    const rb = b.averages.find((r) => r.name === avg);
    if (ra || rb) rows.push(line(avg, ra, rb));
  }
  return rows;
}

/** A signed delta with 4 decimals ("+0.0125", "-0.0300", "0.0000"). */
export function formatDelta(d: number | null): string {
  if (d === null) return '—';
  const s = formatFixed(d, 4);
  if (/^-?0\.0+$/.test(s)) return '0.0000';
  return d > 0 ? `+${s}` : s;
}

/** The labels with the lowest F1 first (the ones to look at), at most `n`. */
export function weakestLabels(report: ParsedReport, n = 3): ScoreRow[] {
  return [...report.labels].filter((r) => r.support > 0).sort((x, y) => x.f1 - y.f1 || y.support - x.support).slice(0, n);
}

/** A run's per-epoch history (`RunRow.epochs`, stored as JSON) as chart points; malformed entries are left out. */
export function epochPoints(epochs: JsonValue[] | null | undefined): { epoch: number; train_loss: number; dev_macro_f1: number }[] {
  const out: { epoch: number; train_loss: number; dev_macro_f1: number }[] = [];
  for (const e of epochs ?? []) {
    if (!isObj(e) || typeof e.epoch !== 'number') continue;
    out.push({ epoch: e.epoch, train_loss: num(e.train_loss), dev_macro_f1: num(e.dev_macro_f1) });
  }
  return out.sort((a, b) => a.epoch - b.epoch);
}
