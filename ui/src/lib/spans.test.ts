import { describe, expect, it } from 'vitest';
import { caretStops, spansToCodePoints, type Utf16Span } from './offsets';
import { addSpan, dialogLayout, moveCaret, segments, selectionToSpan, spanAt, type Selection16 } from './spans';

// Keyboard selection: start with the caret at `at`, apply the moves, return the selected text.
function selectByKeys(text: string, at: number, moves: Array<[-1 | 1, boolean, ('char' | 'word' | 'line')?]>): { sel: Selection16; selected: string } {
  const stops = caretStops(text);
  let sel: Selection16 = { anchor: at, focus: at };
  for (const [dir, extend, step] of moves) sel = moveCaret(text, stops, sel, dir, extend, step ?? 'char');
  const [a, b] = sel.anchor <= sel.focus ? [sel.anchor, sel.focus] : [sel.focus, sel.anchor];
  return { sel, selected: text.slice(a, b) };
}

describe('caret movement and shift-arrow selection', () => {
  it('extends by characters in Chinese', () => {
    const text = '我在北京工作';
    expect(selectByKeys(text, 2, [[1, true], [1, true]]).selected).toBe('北京');
    expect(selectByKeys(text, 4, [[-1, true], [-1, true]]).selected).toBe('北京');
  });
  it('steps over a whole emoji and ZWJ sequence', () => {
    const text = 'a👨‍👩‍👧b';
    expect(selectByKeys(text, 1, [[1, true]]).selected).toBe('👨‍👩‍👧');
    expect(selectByKeys(text, 0, [[1, false], [1, true], [1, true]]).selected).toBe('👨‍👩‍👧b');
    expect(selectByKeys('😀😀', 4, [[-1, true]]).selected).toBe('😀');
  });
  it('shrinks when extending back over the anchor', () => {
    const text = 'abcdef';
    const r = selectByKeys(text, 2, [[1, true], [1, true], [-1, true], [-1, true], [-1, true]]);
    expect(r.sel).toEqual({ anchor: 2, focus: 1 });
    expect(r.selected).toBe('b');
  });
  it('collapses a selection to its edge on a plain arrow', () => {
    const text = 'abcdef';
    const stops = caretStops(text);
    expect(moveCaret(text, stops, { anchor: 1, focus: 4 }, -1, false)).toEqual({ anchor: 1, focus: 1 });
    expect(moveCaret(text, stops, { anchor: 4, focus: 1 }, 1, false)).toEqual({ anchor: 4, focus: 4 });
  });
  it('stays inside the text', () => {
    expect(selectByKeys('ab', 0, [[-1, true]]).sel).toEqual({ anchor: 0, focus: 0 });
    expect(selectByKeys('ab', 2, [[1, false]]).sel).toEqual({ anchor: 2, focus: 2 });
  });
  it('moves by words in English and by Han runs in Chinese', () => {
    expect(selectByKeys('hello big world', 6, [[1, true, 'word']]).selected).toBe('big');
    expect(selectByKeys('hello big world', 9, [[-1, true, 'word']]).selected).toBe('big');
    expect(selectByKeys('我在北京，很好', 0, [[1, true, 'word']]).selected).toBe('我在北京');
    expect(selectByKeys('买了iPhone手机', 2, [[1, true, 'word']]).selected).toBe('iPhone');
    expect(selectByKeys('abc def', 1, [[1, true, 'line']]).selected).toBe('bc def');
  });
});

describe('selection to span', () => {
  function check(text: string, sel: [number, number], expected: [number, number] | null) {
    const span = selectionToSpan(text, caretStops(text), { anchor: sel[0], focus: sel[1] }, 'X');
    expect(span ? [span.start, span.end] : null).toEqual(expected);
  }
  it('takes the selected range in either direction', () => {
    check('我在北京工作', [2, 4], [2, 4]);
    check('我在北京工作', [4, 2], [2, 4]);
  });
  it('trims white space a mouse selection caught', () => {
    check('I live in Paris now', [9, 16], [10, 15]);
    check('a   b', [1, 4], null);
  });
  it('is null for an empty selection', () => {
    check('abc', [1, 1], null);
  });
  it('widens a selection that splits an emoji to the whole character', () => {
    // 'x😀y': the emoji is units 1..3; a selection ending at 2 would split it.
    check('x😀y', [1, 2], [1, 3]);
    check('x😀y', [2, 4], [1, 4]);
    check('👨‍👩‍👧好', [3, 9], [0, 9]);
  });
  it('becomes the code points the store wants', () => {
    const text = '😀顾客在北京😀';
    const span = selectionToSpan(text, caretStops(text), { anchor: 5, focus: 7 }, 'LOC')!;
    expect(text.slice(span.start, span.end)).toBe('北京');
    expect(spansToCodePoints(text, [span])).toEqual([{ start: 4, end: 6, label: 'LOC' }]);
  });
});

describe('span list', () => {
  const a: Utf16Span = { start: 0, end: 2, label: 'PER' };
  const b: Utf16Span = { start: 4, end: 6, label: 'LOC' };
  it('keeps spans sorted and replaces what a new span overlaps', () => {
    expect(addSpan([b], a)).toEqual([a, b]);
    expect(addSpan([a, b], { start: 1, end: 5, label: 'ORG' })).toEqual([{ start: 1, end: 5, label: 'ORG' }]);
    expect(addSpan([a, b], { start: 2, end: 4, label: 'ORG' })).toEqual([a, { start: 2, end: 4, label: 'ORG' }, b]);
    expect(addSpan([a], { start: 0, end: 2, label: 'LOC' })).toEqual([{ start: 0, end: 2, label: 'LOC' }]);
  });
  it('finds the span under a position', () => {
    expect(spanAt([a, b], 1)).toBe(0);
    expect(spanAt([a, b], 2)).toBe(-1);
    expect(spanAt([a, b], 4)).toBe(1);
  });
  it('cuts the text into segments', () => {
    expect(segments([a, b], 0, 8)).toEqual([
      { start: 0, end: 2, span: 0 },
      { start: 2, end: 4, span: -1 },
      { start: 4, end: 6, span: 1 },
      { start: 6, end: 8, span: -1 },
    ]);
    expect(segments([], 0, 3)).toEqual([{ start: 0, end: 3, span: -1 }]);
    expect(segments([b], 5, 8)).toEqual([
      { start: 5, end: 6, span: 0 },
      { start: 6, end: 8, span: -1 },
    ]);
  });
});

describe('dialog layout', () => {
  it('finds each turn in the text the store formed', () => {
    const turns = [
      { speaker: '用户', text: '我的订单还没到😡' },
      { speaker: '客服', text: '您好，请提供订单号' },
      { speaker: '', text: 'no speaker' },
    ];
    const text = '用户: 我的订单还没到😡\n客服: 您好，请提供订单号\nno speaker';
    const layout = dialogLayout(text, turns)!;
    expect(layout.map((t) => text.slice(t.start, t.end))).toEqual(turns.map((t) => t.text));
    expect(layout.map((t) => text.slice(t.prefixStart, t.start))).toEqual(['用户: ', '客服: ', '']);
  });
  it('gives up on a text of another shape', () => {
    expect(dialogLayout('something else', [{ speaker: 'a', text: 'b' }])).toBeNull();
    expect(dialogLayout('x', null)).toBeNull();
  });
});

import { pieces } from './spans';

describe('pieces', () => {
  it('cuts segments at the selection and marks what is selected', () => {
    const spans: Utf16Span[] = [{ start: 2, end: 4, label: 'LOC' }];
    expect(pieces(spans, 0, 6, 1, 3)).toEqual([
      { start: 0, end: 1, span: -1, selected: false },
      { start: 1, end: 2, span: -1, selected: true },
      { start: 2, end: 3, span: 0, selected: true },
      { start: 3, end: 4, span: 0, selected: false },
      { start: 4, end: 6, span: -1, selected: false },
    ]);
    // A bare caret cuts too, so it can be drawn between two pieces.
    expect(pieces([], 0, 3, 1, 1)).toEqual([
      { start: 0, end: 1, span: -1, selected: false },
      { start: 1, end: 3, span: -1, selected: false },
    ]);
  });
});

import { dialogStops } from './spans';

describe('dialog caret stops', () => {
  it('keep the caret inside the turns', () => {
    const text = '用户: 你好\n客服: 在';
    const layout = dialogLayout(text, [
      { speaker: '用户', text: '你好' },
      { speaker: '客服', text: '在' },
    ])!;
    const stops = dialogStops(caretStops(text), layout);
    expect(stops).toEqual([4, 5, 6, 11, 12]);
    // Home and End go to the first and last of them.
    expect(moveCaret(text, stops, { anchor: 5, focus: 5 }, 1, true, 'line')).toEqual({ anchor: 5, focus: 12 });
    expect(moveCaret(text, stops, { anchor: 5, focus: 5 }, -1, false, 'line')).toEqual({ anchor: 4, focus: 4 });
    // Stepping right from the end of one turn lands in the next.
    expect(moveCaret(text, stops, { anchor: 6, focus: 6 }, 1, false)).toEqual({ anchor: 11, focus: 11 });
  });
});
