import { describe, expect, it } from 'vitest';
import { caretStops, codePointToUtf16, OffsetIndex, spansToCodePoints, spansToUtf16, utf16ToCodePoint } from './offsets';

// Reference: the code point offset of a UTF-16 offset, counted the slow, obvious way.
function referenceToCp(text: string, u: number): number {
  return Array.from(text.slice(0, u)).length;
}

// check(text, marked): `marked` is `text` where a span is wrapped in [ ]; the UTF-16 span found in
// `text` must convert to the code point span Python would give, and back.
function check(marked: string, expectedCp: [number, number]) {
  const start16 = marked.indexOf('[');
  const end16 = marked.indexOf(']') - 1;
  const text = marked.replace('[', '').replace(']', '');
  const [cp] = spansToCodePoints(text, [{ start: start16, end: end16, label: 'X' }]);
  expect([cp.start, cp.end]).toEqual(expectedCp);
  // The code point span selects the same characters Python's text[start:end] would.
  expect(Array.from(text).slice(cp.start, cp.end).join('')).toBe(text.slice(start16, end16));
  const [back] = spansToUtf16(text, [cp]);
  expect([back.start, back.end]).toEqual([start16, end16]);
}

describe('UTF-16 ↔ code point offsets', () => {
  it('is the identity on ASCII and Chinese', () => {
    check('hello [world]', [6, 11]);
    check('这家[餐厅]的菜很好吃', [2, 4]);
    check('[北京]欢迎你', [0, 2]);
    check('我在[上海]', [2, 4]);
    check('Apple 在[深圳]开了 store', [7, 9]);
  });

  it('counts an emoji outside the BMP as one code point', () => {
    check('😀[好吃]', [1, 3]);
    check('[😀]', [0, 1]);
    check('a😀b[c]', [3, 4]);
    check('🍜🍜🍜[拉面]🍜', [3, 5]);
    check('[😀😀]x', [0, 2]);
  });

  it('handles ZWJ sequences and flags (several code points each)', () => {
    // 👨‍👩‍👧 is man ZWJ woman ZWJ girl: 5 code points, 8 UTF-16 units.
    check('👨‍👩‍👧[一家]', [5, 7]);
    check('[👨‍👩‍👧]', [0, 5]);
    // A flag is two regional indicators (2 code points, 4 units).
    check('🇨🇳[中国]', [2, 4]);
    // Skin tone modifier: 2 code points.
    check('👍🏽[赞]', [2, 3]);
  });

  it('handles rare CJK ideographs outside the BMP', () => {
    // 𠀀 (U+20000) and 𪚥 are surrogate pairs.
    check('𠀀[中]', [1, 2]);
    check('四[𪚥]四', [1, 2]);
  });

  it('handles mixed text', () => {
    check('订单#123 😡 [退款]了吗？👉 客服', [9, 11]);
    check('Café 😀 [naïve] 東京', [7, 12]);
  });

  it('rounds an offset inside a surrogate pair down to its character', () => {
    const text = 'a😀b';
    expect(utf16ToCodePoint(text, 2)).toBe(1);
    expect(utf16ToCodePoint(text, 3)).toBe(2);
  });

  it('clamps out-of-range offsets', () => {
    expect(utf16ToCodePoint('a😀', 99)).toBe(2);
    expect(codePointToUtf16('a😀', 99)).toBe(3);
    expect(utf16ToCodePoint('a😀', -1)).toBe(0);
  });

  it('agrees with the reference at every offset of a mixed text', () => {
    const text = '顾客😀说：👨‍👩‍👧 在🇨🇳买的𠀀 shoes 很好！';
    const index = new OffsetIndex(text);
    expect(index.cpLength).toBe(Array.from(text).length);
    for (let u = 0; u <= text.length; u++) {
      const splitsPair = /[\uDC00-\uDFFF]/.test(text.charAt(u)) && u > 0;
      // Inside a pair the reference counts the lone half; we round down to the character.
      expect(index.toCodePoint(u)).toBe(splitsPair ? referenceToCp(text, u - 1) : referenceToCp(text, u));
    }
    for (let c = 0; c <= index.cpLength; c++) {
      const u = index.toUtf16(c);
      expect(Array.from(text).slice(0, c).join('').length).toBe(u);
    }
  });
});

describe('caret stops', () => {
  it('steps over whole grapheme clusters', () => {
    expect(caretStops('ab')).toEqual([0, 1, 2]);
    expect(caretStops('中文')).toEqual([0, 1, 2]);
    expect(caretStops('a😀b')).toEqual([0, 1, 3, 4]);
    // The ZWJ family is one step of 8 units.
    expect(caretStops('👨‍👩‍👧x')).toEqual([0, 8, 9]);
    expect(caretStops('🇨🇳中')).toEqual([0, 4, 5]);
    expect(caretStops('')).toEqual([0]);
  });
});
