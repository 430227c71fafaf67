// The span editor's model, in UTF-16 units (the DOM's): a caret/selection over the text, its
// movement by whole characters, turning a selection into a span, and cutting the text into
// render segments. Conversion to the store's code points happens in offsets.ts.

import type { Turn } from './api-types';
import type { Utf16Span } from './offsets';

/** A selection: `anchor` stays, `focus` moves; equal means a bare caret. */
export interface Selection16 {
  anchor: number;
  focus: number;
}

/** The selection as a half-open range, start <= end. */
export function selectionRange(sel: Selection16): [number, number] {
  return sel.anchor <= sel.focus ? [sel.anchor, sel.focus] : [sel.focus, sel.anchor];
}

/** Index of the greatest stop <= pos. */
function stopIndexAtOrBefore(stops: number[], pos: number): number {
  let lo = 0;
  let hi = stops.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (stops[mid] <= pos) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Index of the smallest stop >= pos. */
function stopIndexAtOrAfter(stops: number[], pos: number): number {
  const i = stopIndexAtOrBefore(stops, pos);
  return stops[i] === pos || i === stops.length - 1 ? i : i + 1;
}

/** Moves a position to the nearest caret stop at or before it. */
export function snapDown(stops: number[], pos: number): number {
  return stops[stopIndexAtOrBefore(stops, pos)];
}

/** Moves a position to the nearest caret stop at or after it. */
export function snapUp(stops: number[], pos: number): number {
  return stops[stopIndexAtOrAfter(stops, pos)];
}

/** How far one key press moves the caret. */
export type Step = 'char' | 'word' | 'line';

function isWordChar(ch: string): boolean {
  return /[\p{L}\p{N}_]/u.test(ch);
}

function isHan(ch: string): boolean {
  return /\p{Script=Han}/u.test(ch);
}

/**
 * Moves the caret (or the selection's focus, when `extend`) by one character or word, left
 * (`dir` -1) or right (+1). Characters are grapheme clusters (`stops`). A "word" is a run of Latin
 * letters/digits; in Chinese, which has no word spaces, it is a run of Han characters up to
 * punctuation. Without `extend`, a non-empty selection collapses to its edge in that direction.
 */
export function moveCaret(text: string, stops: number[], sel: Selection16, dir: -1 | 1, extend: boolean, step: Step = 'char'): Selection16 {
  if (!extend && sel.anchor !== sel.focus && step === 'char') {
    const [start, end] = selectionRange(sel);
    const edge = dir < 0 ? start : end;
    return { anchor: edge, focus: edge };
  }
  let focus = sel.focus;
  if (step === 'line') {
    focus = dir < 0 ? stops[0] : stops[stops.length - 1];
  } else {
    let i = stopIndexAtOrBefore(stops, focus);
    const next = () => {
      i = Math.max(0, Math.min(stops.length - 1, i + dir));
      return stops[i];
    };
    if (step === 'char') {
      focus = next();
    } else {
      // Skip non-word characters, then the word.
      const charAt = (k: number) => (dir > 0 ? text.slice(stops[k], stops[k + 1] ?? text.length) : text.slice(stops[k - 1] ?? 0, stops[k]));
      const atEnd = () => (dir > 0 ? i >= stops.length - 1 : i <= 0);
      while (!atEnd() && !isWordChar(charAt(i))) next();
      const han = !atEnd() && isHan(charAt(i));
      while (!atEnd() && isWordChar(charAt(i)) && isHan(charAt(i)) === han) next();
      focus = stops[i];
    }
  }
  return extend ? { anchor: sel.anchor, focus } : { anchor: focus, focus };
}

/**
 * The span a selection makes, or null when it is empty or only whitespace. Leading and trailing
 * white space is left out (a mouse selection often catches a space), and the ends are moved out to
 * whole characters so a span never splits an emoji.
 */
export function selectionToSpan(text: string, stops: number[], sel: Selection16, label: string): Utf16Span | null {
  let [start, end] = selectionRange(sel);
  start = snapDown(stops, Math.max(0, start));
  end = snapUp(stops, Math.min(text.length, end));
  while (start < end && /\s/.test(text[start])) start++;
  while (end > start && /\s/.test(text[end - 1])) end--;
  if (start >= end) return null;
  return { start, end, label };
}

/**
 * Adds a span, removing the spans it overlaps (the newest choice wins; the store refuses
 * overlapping spans). Returns a new list sorted by start.
 */
export function addSpan(spans: Utf16Span[], span: Utf16Span): Utf16Span[] {
  const kept = spans.filter((s) => s.end <= span.start || s.start >= span.end);
  kept.push(span);
  return kept.sort((a, b) => a.start - b.start || a.end - b.end);
}

/** The index of the span containing position `pos` (start <= pos < end), or -1. */
export function spanAt(spans: Utf16Span[], pos: number): number {
  return spans.findIndex((s) => s.start <= pos && pos < s.end);
}

/** A run of text to render: plain, or inside span `span` (an index into the span list). */
export interface Segment {
  start: number;
  end: number;
  span: number;
}

/**
 * Cuts [from, to) of the text into segments at span edges. Spans must not overlap (addSpan keeps
 * them so); a span crossing `from` or `to` is cut there.
 */
export function segments(spans: Utf16Span[], from: number, to: number): Segment[] {
  const out: Segment[] = [];
  let pos = from;
  spans.forEach((s, i) => {
    const start = Math.max(s.start, from);
    const end = Math.min(s.end, to);
    if (start >= end || start < pos) return;
    if (start > pos) out.push({ start: pos, end: start, span: -1 });
    out.push({ start, end, span: i });
    pos = end;
  });
  if (pos < to) out.push({ start: pos, end: to, span: -1 });
  return out;
}

/** Where one dialog turn lies in the record text (UTF-16). */
export interface TurnLayout {
  speaker: string;
  /** The "speaker: " prefix (shown as a badge, not as text). */
  prefixStart: number;
  /** The turn's own text. */
  start: number;
  end: number;
}

/**
 * Lays out a dialog's turns over its text, which the store builds as one `speaker: text` line per
 * turn (span offsets refer to it). Returns null when the text is not in that shape, in which case
 * the text is shown as it is.
 */
export function dialogLayout(text: string, turns: Turn[] | null): TurnLayout[] | null {
  if (!turns || turns.length === 0) return null;
  const out: TurnLayout[] = [];
  let pos = 0;
  for (let i = 0; i < turns.length; i++) {
    if (i > 0) {
      if (text[pos] !== '\n') return null;
      pos++;
    }
    const prefix = turns[i].speaker ? `${turns[i].speaker}: ` : '';
    if (!text.startsWith(prefix + turns[i].text, pos)) return null;
    out.push({ speaker: turns[i].speaker, prefixStart: pos, start: pos + prefix.length, end: pos + prefix.length + turns[i].text.length });
    pos += prefix.length + turns[i].text.length;
  }
  return pos === text.length ? out : null;
}

/** A piece of rendered text: a segment further cut at the selection's edges. */
export interface Piece extends Segment {
  selected: boolean;
}

/** Segments of [from, to) cut at the selection [selStart, selEnd), each marked selected or not. */
export function pieces(spans: Utf16Span[], from: number, to: number, selStart: number, selEnd: number): Piece[] {
  const out: Piece[] = [];
  for (const seg of segments(spans, from, to)) {
    const cuts = [seg.start];
    if (selStart > seg.start && selStart < seg.end) cuts.push(selStart);
    if (selEnd > seg.start && selEnd < seg.end && selEnd !== selStart) cuts.push(selEnd);
    cuts.push(seg.end);
    for (let i = 0; i + 1 < cuts.length; i++) {
      const start = cuts[i];
      const end = cuts[i + 1];
      out.push({ start, end, span: seg.span, selected: selStart < selEnd && start >= selStart && end <= selEnd });
    }
  }
  return out;
}

/**
 * The caret stops of a dialog: only inside the turns' own text (the "speaker: " prefixes and the
 * line breaks between turns are not shown as text, so the caret never stands in them).
 */
export function dialogStops(stops: number[], turns: TurnLayout[]): number[] {
  return stops.filter((s) => turns.some((t) => s >= t.start && s <= t.end));
}
