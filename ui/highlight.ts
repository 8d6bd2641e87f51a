// Source highlighting for the page's source view, by highlight.js (C and C++ only, the
// languages rewind's users debug with gdb here; loaded as the core plus two grammars
// to keep the bundle small). highlight.js colours a whole file at once, since a
// comment or string may span lines; the page shows one element per line (the current
// line, breakpoints, clicks), so the coloured result is cut back into lines here.
import hljs from 'highlight.js/lib/core';
import c from 'highlight.js/lib/languages/c';
import cpp from 'highlight.js/lib/languages/cpp';

hljs.registerLanguage('c', c);
hljs.registerLanguage('cpp', cpp);

/** The grammar for a source file, by its extension; undefined: shown as plain text. */
export function languageOf(file: string): string | undefined {
  const ext = /\.([A-Za-z0-9+]+)$/.exec(file)?.[1]?.toLowerCase();
  if (ext === 'c' || ext === 'h') return 'c';
  if (ext && ['cc', 'cpp', 'cxx', 'c++', 'hh', 'hpp', 'hxx', 'inl'].includes(ext)) return 'cpp';
  return undefined;
}

/** One piece of a line: its text and the highlight classes of every span around it. */
export interface Piece { text: string; classes: string[] }

/**
 * The lines of `text`, each as pieces with the classes highlight.js gave them.
 * highlight.js escapes the text it returns; the pieces are read back from the parsed
 * markup as text (never inserted as HTML), so a source file cannot inject markup.
 */
export function highlightedLines(text: string, language: string): Piece[][] {
  const html = hljs.highlight(text, { language, ignoreIllegals: true }).value;
  const template = document.createElement('template');
  template.innerHTML = html;
  const lines: Piece[][] = [[]];
  const walk = (node: Node, classes: string[]): void => {
    if (node.nodeType === Node.TEXT_NODE) {
      const parts = (node.textContent ?? '').split('\n');
      parts.forEach((part, i) => {
        if (i > 0) lines.push([]);
        if (part) lines[lines.length - 1].push({ text: part, classes });
      });
      return;
    }
    const own = node instanceof Element ? Array.from(node.classList) : [];
    for (const child of Array.from(node.childNodes)) walk(child, own.length ? [...classes, ...own] : classes);
  };
  walk(template.content, []);
  return lines;
}
