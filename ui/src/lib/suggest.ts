// Suggestions (a run's prediction for the record on the label screen): what accepting one saves,
// whether it already agrees with the annotation, and how suggested spans show beside the draft.

import type { AnnotationValue, ProjectKind } from './api-types';
import type { Utf16Span } from './offsets';

/** The parts of a prediction the label screen uses (the API's `Suggestion`). */
export interface SuggestionLike {
  value: AnnotationValue;
  label: string | null;
  score: number | null;
}

/**
 * The annotation value that accepting `suggestion` saves in a project of `kind`, or null when it
 * does not fit the project (a prediction of another shape, or of a label no longer in the set).
 */
export function acceptedValue(kind: ProjectKind, suggestion: SuggestionLike | null | undefined, labelNames: string[]): AnnotationValue | null {
  if (!suggestion) return null;
  const v = suggestion.value;
  const known = (l: string) => labelNames.includes(l);
  switch (kind) {
    case 'single':
      if ('label' in v) return known(v.label) ? { label: v.label } : null;
      return null;
    case 'multi':
      if ('labels' in v) return v.labels.every(known) ? { labels: labelNames.filter((l) => v.labels.includes(l)) } : null;
      if ('label' in v) return known(v.label) ? { labels: [v.label] } : null;
      return null;
    case 'spans':
      if ('spans' in v) return v.spans.every((s) => known(s.label)) ? { spans: [...v.spans].sort((a, b) => a.start - b.start || a.end - b.end) } : null;
      return null;
    case 'generate':
      return 'output' in v ? { output: v.output } : null;
  }
}

/** Whether two annotation values say the same (labels and spans compared as sets). */
export function sameValue(a: AnnotationValue | null | undefined, b: AnnotationValue | null | undefined): boolean {
  if (!a || !b) return !a && !b;
  if ('label' in a && 'label' in b) return a.label === b.label;
  if ('labels' in a && 'labels' in b) return a.labels.length === b.labels.length && a.labels.every((l) => b.labels.includes(l));
  if ('spans' in a && 'spans' in b) {
    const key = (s: { start: number; end: number; label: string }) => `${s.start}:${s.end}:${s.label}`;
    const sa = new Set(a.spans.map(key));
    return a.spans.length === b.spans.length && b.spans.every((s) => sa.has(key(s)));
  }
  return false;
}

/** The labels a value names, for a chip ("正面", "a, b", "3 spans"): the list of distinct labels. */
export function valueLabels(v: AnnotationValue | null | undefined): string[] {
  if (!v) return [];
  if ('label' in v) return [v.label];
  if ('labels' in v) return v.labels;
  if ('spans' in v) return [...new Set(v.spans.map((s) => s.label))];
  return [];
}

/** A span as the text shows it: a draft span (its index in the draft) or a suggestion (-1). */
export interface ShownSpan extends Utf16Span {
  /** Index into the draft, or -1 for a suggested span. */
  draft: number;
}

/**
 * The spans to draw: every draft span, and the suggested spans that overlap none of them
 * (faint, until accepted), sorted by position (the order the text renderer needs).
 */
export function shownSpans(draft: Utf16Span[], suggested: Utf16Span[]): ShownSpan[] {
  const out: ShownSpan[] = draft.map((s, i) => ({ ...s, draft: i }));
  const overlaps = (s: Utf16Span, others: Utf16Span[]) => others.some((o) => o.start < s.end && s.start < o.end);
  const taken: Utf16Span[] = [...draft];
  for (const s of suggested) {
    if (s.end <= s.start || overlaps(s, taken)) continue;
    out.push({ ...s, draft: -1 });
    taken.push(s);
  }
  return out.sort((a, b) => a.start - b.start || a.end - b.end);
}

/**
 * The draft after taking the suggested spans into it: they are added where they overlap no span
 * of the draft (the user's own spans win).
 */
export function mergeSuggestedSpans(draft: Utf16Span[], suggested: Utf16Span[]): Utf16Span[] {
  return shownSpans(draft, suggested).map(({ start, end, label }) => ({ start, end, label }));
}
