// Virtual scrolling over a fixed row height. Browsers cap an element's height (around 33 million
// pixels in Chromium and WebKit, less in Firefox), so a million rows of 32 px cannot be laid out
// at their true height: above `maxHeight` the scroll range is scaled, and the rows drawn are placed
// relative to the scroll position, so rows stay crisp and in place.

/** What to draw for one scroll position. */
export interface VirtualWindow {
  /** Height of the scrolling spacer (px). */
  spacerHeight: number;
  /** First row to draw. */
  first: number;
  /** One past the last row to draw. */
  last: number;
  /** Where, inside the spacer, the first drawn row's top goes (px). */
  top: number;
}

/** Default cap of the spacer's height, safely under every engine's limit. */
export const MAX_SPACER = 12_000_000;

/**
 * The rows to draw at `scrollTop` for `total` rows of `rowHeight` in a viewport of
 * `viewportHeight`, with `overscan` extra rows on each side.
 */
export function virtualWindow(scrollTop: number, viewportHeight: number, rowHeight: number, total: number, overscan = 8, maxHeight = MAX_SPACER): VirtualWindow {
  const contentHeight = total * rowHeight;
  const spacerHeight = Math.min(contentHeight, maxHeight);
  const maxScroll = Math.max(0, spacerHeight - viewportHeight);
  const top0 = Math.max(0, Math.min(scrollTop, maxScroll));
  // The position in the unscaled content that this scroll position stands for.
  const virtualTop = contentHeight > maxHeight && maxScroll > 0 ? (top0 / maxScroll) * (contentHeight - viewportHeight) : top0;
  // (The epsilon absorbs floating-point error of the scaling, so scrollTopForRow round-trips.)
  const firstVisible = Math.floor(virtualTop / rowHeight + 1e-6);
  const visible = Math.ceil(viewportHeight / rowHeight) + 1;
  const first = Math.max(0, firstVisible - overscan);
  const last = Math.min(total, firstVisible + visible + overscan);
  return { spacerHeight, first, last, top: top0 + first * rowHeight - virtualTop };
}

/** The scroll position that brings row `index` to the top (inverse of virtualWindow). */
export function scrollTopForRow(index: number, viewportHeight: number, rowHeight: number, total: number, maxHeight = MAX_SPACER): number {
  const contentHeight = total * rowHeight;
  const spacerHeight = Math.min(contentHeight, maxHeight);
  const maxScroll = Math.max(0, spacerHeight - viewportHeight);
  const virtualTop = Math.min(index * rowHeight, Math.max(0, contentHeight - viewportHeight));
  if (contentHeight <= maxHeight) return virtualTop;
  return contentHeight - viewportHeight > 0 ? (virtualTop / (contentHeight - viewportHeight)) * maxScroll : 0;
}

/** The pages (of `pageSize` rows) that rows [first, last) fall on. */
export function pagesFor(first: number, last: number, pageSize: number): number[] {
  if (last <= first) return [];
  const out: number[] = [];
  for (let p = Math.floor(first / pageSize); p <= Math.floor((last - 1) / pageSize); p++) out.push(p);
  return out;
}
