import { describe, expect, it } from 'vitest';
import { renderMarkdown } from './markdown';

function check(md: string, html: string) {
  expect(renderMarkdown(md)).toBe(html);
}

describe('guidelines markdown', () => {
  it('renders the common blocks', () => {
    check('# 标注规范', '<h1>标注规范</h1>');
    check('## Labels ##', '<h2>Labels</h2>');
    check('one\ntwo\n\nthree', '<p>one two</p>\n<p>three</p>');
    check('- 正面：夸奖\n- 负面：抱怨', '<ul><li>正面：夸奖</li><li>负面：抱怨</li></ul>');
    check('1. first\n2. second', '<ol><li>first</li><li>second</li></ol>');
    check('> note', '<blockquote><p>note</p></blockquote>');
    check('---', '<hr>');
    check('```\n<b>x</b>\n```', '<pre><code>&lt;b&gt;x&lt;/b&gt;</code></pre>');
  });
  it('renders emphasis, code and safe links', () => {
    check('**bold** and *it* and `a*b*`', '<p><strong>bold</strong> and <em>it</em> and <code>a*b*</code></p>');
    check('[docs](https://example.com/a?b=1&c=2)', '<p><a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">docs</a></p>');
    check('snake_case_name stays', '<p>snake_case_name stays</p>');
  });
  it('never lets markup or script through', () => {
    check('<script>alert(1)</script>', '<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>');
    check('[x](javascript:alert(1))', '<p>[x](javascript:alert(1))</p>');
    check('<img src=x onerror=alert(1)>', '<p>&lt;img src=x onerror=alert(1)&gt;</p>');
    check('"quoted"', '<p>&quot;quoted&quot;</p>');
  });
});
