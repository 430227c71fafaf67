// Offsets at the edge between JavaScript and the store.
//
// The store (like Python, spaCy and Prodigy) counts text offsets in Unicode code points. The DOM and
// JavaScript strings count UTF-16 code units, where every character outside the Basic Multilingual
// Plane (most emoji, rare CJK ideographs) takes two. The UI works in UTF-16 internally and converts
// here, and only here, when spans come in from or go out to the API.

import type { Span } from './api-types';

/** A span in UTF-16 code units, as the DOM counts them. */
export interface Utf16Span {
  start: number;
  end: number;
  label: string;
}

function isHighSurrogate(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdbff;
}

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}

/**
 * Converts between UTF-16 and code point offsets of one text. Built once per text; texts without
 * surrogate pairs (all of plain Chinese and English) take the identity fast path.
 */
export class OffsetIndex {
  /** The text's length in code points. */
  readonly cpLength: number;
  /** The text's length in UTF-16 code units. */
  readonly utf16Length: number;
  // Sorted UTF-16 positions of the high surrogates of pairs; empty on the fast path.
  private readonly pairs: number[];

  constructor(readonly text: string) {
    const pairs: number[] = [];
    for (let i = 0; i < text.length - 1; i++) {
      if (isHighSurrogate(text.charCodeAt(i)) && isLowSurrogate(text.charCodeAt(i + 1))) {
        pairs.push(i);
        i++;
      }
    }
    this.pairs = pairs;
    this.utf16Length = text.length;
    this.cpLength = text.length - pairs.length;
  }

  /** Number of pairs starting strictly before UTF-16 position `u`. */
  private pairsBefore(u: number): number {
    let lo = 0;
    let hi = this.pairs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.pairs[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * The code point offset of UTF-16 offset `u`. An offset inside a surrogate pair rounds down to
   * the start of its character (a selection can never split a character).
   */
  toCodePoint(u: number): number {
    const clamped = Math.max(0, Math.min(u, this.utf16Length));
    if (this.pairs.length === 0) return clamped;
    // Inside a pair (u at its low surrogate), the pair counts as before u, which rounds down
    // to the start of the character: (u - 1) - (before - 1) = u - before.
    return clamped - this.pairsBefore(clamped);
  }

  /** The UTF-16 offset of code point offset `c` (clamped to the text). */
  toUtf16(c: number): number {
    const clamped = Math.max(0, Math.min(c, this.cpLength));
    if (this.pairs.length === 0) return clamped;
    // Each pair before the target adds one unit; find how many pairs start before the answer.
    let lo = 0;
    let hi = this.pairs.length;
    // The k-th pair (0-based) starts at code point pairs[k] - k.
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.pairs[mid] - mid < clamped) lo = mid + 1;
      else hi = mid;
    }
    return clamped + lo;
  }

  /** A store span (code points) in UTF-16 units. */
  spanToUtf16(span: Span): Utf16Span {
    return { start: this.toUtf16(span.start), end: this.toUtf16(span.end), label: span.label };
  }

  /** A UTF-16 span as the store wants it (code points). */
  spanToCodePoints(span: Utf16Span): Span {
    return { start: this.toCodePoint(span.start), end: this.toCodePoint(span.end), label: span.label };
  }
}

/** Code point offset of UTF-16 offset `u` in `text` (one-off; build an OffsetIndex for many). */
export function utf16ToCodePoint(text: string, u: number): number {
  return new OffsetIndex(text).toCodePoint(u);
}

/** UTF-16 offset of code point offset `c` in `text` (one-off). */
export function codePointToUtf16(text: string, c: number): number {
  return new OffsetIndex(text).toUtf16(c);
}

/** Store spans (code points) to UTF-16 spans. */
export function spansToUtf16(text: string, spans: Span[]): Utf16Span[] {
  const index = new OffsetIndex(text);
  return spans.map((s) => index.spanToUtf16(s));
}

/** UTF-16 spans to store spans (code points). */
export function spansToCodePoints(text: string, spans: Utf16Span[]): Span[] {
  const index = new OffsetIndex(text);
  return spans.map((s) => index.spanToCodePoints(s));
}

type Segmenter = { segment(text: string): Iterable<{ index: number }> };

let segmenter: Segmenter | null | undefined;

function graphemeSegmenter(): Segmenter | null {
  if (segmenter === undefined) {
    const Intl_ = Intl as unknown as { Segmenter?: new (locale?: string, options?: object) => Segmenter };
    segmenter = Intl_.Segmenter ? new Intl_.Segmenter(undefined, { granularity: 'grapheme' }) : null;
  }
  return segmenter;
}

/**
 * The UTF-16 positions where the caret may stand: every boundary between user-perceived
 * characters (grapheme clusters), from 0 to text.length inclusive. A family emoji joined with ZWJ
 * or a flag is one step; without Intl.Segmenter, each code point is.
 */
export function caretStops(text: string): number[] {
  const stops: number[] = [];
  const seg = graphemeSegmenter();
  if (seg) {
    for (const part of seg.segment(text)) stops.push(part.index);
  } else {
    for (let i = 0; i < text.length; i++) {
      stops.push(i);
      if (isHighSurrogate(text.charCodeAt(i)) && isLowSurrogate(text.charCodeAt(i + 1))) i++;
    }
  }
  stops.push(text.length);
  return stops;
}
