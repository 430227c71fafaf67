// The adjudication queue's pure parts: how an annotator's label reads, and who the annotators are
// called when the reviewer hides their names. The queue's state is in adjudication.svelte.ts.

import type { AnnotationValue, AnnotatorLabel } from './api-types';

/** One piece of a label as shown: a label name, with the text it covers (spans) or written (outputs). */
export interface ValuePart {
  label: string | null;
  text: string | null;
}

/** A span's text (offsets in code points, as stored). */
export function spanText(text: string, start: number, end: number): string {
  return [...text].slice(start, end).join('');
}

/** The pieces of a label: one label, several, spans with their text, or a written output; none: []. */
export function valueParts(value: AnnotationValue | null | undefined, text: string): ValuePart[] {
  if (!value) return [];
  if ('label' in value) return [{ label: value.label, text: null }];
  if ('labels' in value) return value.labels.map((label) => ({ label, text: null }));
  if ('spans' in value) return value.spans.map((s) => ({ label: s.label, text: spanText(text, s.start, s.end) }));
  return [{ label: null, text: value.output }];
}

/** A label in one line (for the list of decisions); `none` when it has no piece. */
export function valueSummary(value: AnnotationValue | null | undefined, text: string, none: string): string {
  const parts = valueParts(value, text);
  if (!parts.length) return none;
  return parts.map((p) => (p.label !== null && p.text !== null ? `「${p.text}」${p.label}` : (p.label ?? p.text ?? ''))).join(', ');
}

/** The names shown for the annotators of a record: theirs, or (`blind`) "Annotator 1", "Annotator 2"… in the order shown. */
export function shownNames(labels: AnnotatorLabel[], blind: boolean, numbered: (n: number) => string): string[] {
  return labels.map((l, i) => (blind ? numbered(i + 1) : l.annotator));
}
