import { describe, expect, it } from 'vitest';
import { domPointToOffset, type NodeLike } from './dom';

// A tiny fake DOM: el(attrs, ...children) and text('...').
type Fake = NodeLike & { childNodes: Fake[] };

function el(attrs: Record<string, string>, ...children: Fake[]): Fake {
  const node: Fake = {
    nodeType: 1,
    parentNode: null,
    childNodes: children,
    get textContent() {
      return children.map((c) => c.textContent).join('');
    },
    getAttribute: (name: string) => attrs[name] ?? null,
  };
  for (const c of children) c.parentNode = node;
  return node;
}

function text(s: string): Fake {
  return { nodeType: 3, parentNode: null, childNodes: [], textContent: s };
}

describe('DOM selection point to text offset', () => {
  // Text '我在北京工作😀好' with span [2, 4) 北京 and its label tag, the caret at 7.
  const t1 = text('我在');
  const t2 = text('北京');
  const tag = text('LOC');
  const t3 = text('工作😀');
  const t4 = text('好');
  const p1 = el({ 'data-s': '0' }, t1);
  const p2 = el({ 'data-s': '2' }, t2);
  const labelTag = el({ 'data-at': '4' }, tag);
  const spanEl = el({}, p2, labelTag);
  const p3 = el({ 'data-s': '4' }, t3);
  const caret = el({ 'data-at': '8' });
  const p4 = el({ 'data-s': '8' }, t4);
  const root = el({}, p1, spanEl, p3, caret, p4);
  const outside = text('elsewhere');
  el({}, root, outside);

  it('maps text nodes with their character offset', () => {
    expect(domPointToOffset(t1, 0, root)).toBe(0);
    expect(domPointToOffset(t1, 1, root)).toBe(1);
    expect(domPointToOffset(t2, 2, root)).toBe(4);
    expect(domPointToOffset(t3, 2, root)).toBe(6);
    expect(domPointToOffset(t3, 4, root)).toBe(8);
    expect(domPointToOffset(t4, 1, root)).toBe(9);
  });
  it('maps a point inside a decoration to where it stands', () => {
    expect(domPointToOffset(tag, 2, root)).toBe(4);
  });
  it('maps element points by child index', () => {
    expect(domPointToOffset(root, 0, root)).toBe(0);
    expect(domPointToOffset(root, 1, root)).toBe(2);
    expect(domPointToOffset(root, 2, root)).toBe(4);
    expect(domPointToOffset(root, 5, root)).toBe(9);
    expect(domPointToOffset(spanEl, 1, root)).toBe(4);
    expect(domPointToOffset(p2, 1, root)).toBe(4);
    expect(domPointToOffset(p2, 0, root)).toBe(2);
  });
  it('ignores points outside the text', () => {
    expect(domPointToOffset(outside, 1, root)).toBeNull();
  });
});
