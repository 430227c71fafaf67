// From a DOM selection point to a text offset (UTF-16) in the record being labeled.
//
// The span editor renders the text as pieces, each an element whose `data-s` attribute is the
// offset of its first character; decorations (a span's label tag, a speaker badge, the caret)
// carry `data-at`, the one offset they stand at. A selection point (node, offset) — a text node
// and a character offset, or an element and a child index — maps to a text offset through them.

/** The parts of a DOM node this module reads (so it runs on fakes in unit tests). */
export interface NodeLike {
  nodeType: number;
  parentNode: NodeLike | null;
  childNodes: ArrayLike<NodeLike>;
  textContent: string | null;
  getAttribute?(name: string): string | null;
}

const TEXT_NODE = 3;

function attr(node: NodeLike, name: string): number | null {
  if (node.nodeType !== 1 || !node.getAttribute) return null;
  const v = node.getAttribute(name);
  return v == null || v === '' ? null : Number(v);
}

/** The offset where a node's content starts, or null when it holds no text of the record. */
function startOf(node: NodeLike): number | null {
  const s = attr(node, 'data-s');
  if (s != null) return s;
  const at = attr(node, 'data-at');
  if (at != null) return at;
  for (let i = 0; i < node.childNodes.length; i++) {
    const v = startOf(node.childNodes[i]);
    if (v != null) return v;
  }
  return null;
}

/** The offset where a node's content ends, or null. */
function endOf(node: NodeLike): number | null {
  const s = attr(node, 'data-s');
  if (s != null) return s + (node.textContent?.length ?? 0);
  const at = attr(node, 'data-at');
  if (at != null) return at;
  for (let i = node.childNodes.length - 1; i >= 0; i--) {
    const v = endOf(node.childNodes[i]);
    if (v != null) return v;
  }
  return null;
}

/**
 * The text offset of DOM point (node, offset) inside `root`, or null when the point is outside
 * it or on nothing that maps to the text.
 */
export function domPointToOffset(node: NodeLike, offset: number, root: NodeLike): number | null {
  // Is the point inside root?
  let inside = false;
  for (let n: NodeLike | null = node; n; n = n.parentNode) {
    if (n === root) {
      inside = true;
      break;
    }
  }
  if (!inside) return null;

  if (node.nodeType === TEXT_NODE) {
    // Find the nearest marked ancestor.
    for (let el = node.parentNode; el && el !== root.parentNode; el = el.parentNode) {
      const s = attr(el, 'data-s');
      if (s != null) {
        // Only a text node directly in the piece counts characters.
        return el === node.parentNode ? s + Math.min(offset, node.textContent?.length ?? 0) : s;
      }
      const at = attr(el, 'data-at');
      if (at != null) return at;
      if (el === root) break;
    }
    return null;
  }
  // An element and a child index: the boundary before child `offset`.
  if (offset < node.childNodes.length) {
    const v = startOf(node.childNodes[offset]);
    if (v != null) return v;
    // The child holds no text: use the end of what comes before it.
    for (let i = offset - 1; i >= 0; i--) {
      const e = endOf(node.childNodes[i]);
      if (e != null) return e;
    }
    return startOf(node);
  }
  return endOf(node);
}
