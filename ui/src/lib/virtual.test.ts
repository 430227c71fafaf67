import { describe, expect, it } from 'vitest';
import { pagesFor, scrollTopForRow, virtualWindow } from './virtual';

describe('virtual window', () => {
  it('draws the visible rows plus overscan at true height for small tables', () => {
    const w = virtualWindow(0, 320, 32, 100, 2);
    expect(w).toEqual({ spacerHeight: 3200, first: 0, last: 13, top: 0 });
    const w2 = virtualWindow(640, 320, 32, 100, 2);
    expect(w2.first).toBe(18);
    expect(w2.top).toBe(18 * 32);
  });

  it('clamps at the end', () => {
    const w = virtualWindow(1e9, 320, 32, 100, 2);
    expect(w.last).toBe(100);
  });

  it('scales a million rows into a spacer browsers can lay out, reaching every row', () => {
    const total = 1_000_000;
    const rowH = 32;
    const viewport = 640;
    const max = 12_000_000;
    const start = virtualWindow(0, viewport, rowH, total, 0, max);
    expect(start.spacerHeight).toBe(max);
    expect(start.first).toBe(0);
    const end = virtualWindow(max - viewport, viewport, rowH, total, 0, max);
    expect(end.last).toBe(total);
    // The last row's bottom is at the viewport's bottom.
    expect(end.top + (total - end.first) * rowH).toBeCloseTo(max, 5);
    // In the middle, the first visible row is drawn at (or just above) the viewport's top.
    const scrollTop = 5_000_000;
    const mid = virtualWindow(scrollTop, viewport, rowH, total, 0, max);
    expect(mid.top).toBeLessThanOrEqual(scrollTop);
    expect(mid.top).toBeGreaterThan(scrollTop - rowH);
  });

  it('finds the scroll position of a row, both unscaled and scaled', () => {
    expect(scrollTopForRow(10, 320, 32, 100)).toBe(320);
    const total = 1_000_000;
    const st = scrollTopForRow(500_000, 640, 32, total, 12_000_000);
    const w = virtualWindow(st, 640, 32, total, 0, 12_000_000);
    expect(w.first).toBe(500_000);
  });
});

describe('pages', () => {
  it('lists the pages a row range touches', () => {
    expect(pagesFor(0, 10, 100)).toEqual([0]);
    expect(pagesFor(95, 105, 100)).toEqual([0, 1]);
    expect(pagesFor(200, 200, 100)).toEqual([]);
  });
});
