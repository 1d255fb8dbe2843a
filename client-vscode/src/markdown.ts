// Markdown for the chat view, rendered in the extension (never raw HTML from the model):
// code blocks get "copy", "insert at cursor" and "apply to file" buttons.
import MarkdownIt from "markdown-it";

const md = new MarkdownIt({ html: false, linkify: true, breaks: false });

md.renderer.rules.fence = (tokens, index) => {
  const token = tokens[index];
  const language = token.info.trim().split(/\s+/)[0] ?? "";
  const code = md.utils.escapeHtml(token.content);
  const languageClass = language ? ` class="language-${md.utils.escapeHtml(language)}"` : "";
  return (
    `<div class="code-block">` +
    `<div class="code-actions">` +
    `<span class="code-language">${md.utils.escapeHtml(language)}</span>` +
    `<button class="code-action" data-action="copy" title="Copy the code to the clipboard">Copy</button>` +
    `<button class="code-action" data-action="insert" title="Insert at the cursor">Insert at cursor</button>` +
    `<button class="code-action" data-action="apply" title="Show as a diff against the file, then apply">Apply to file</button>` +
    `</div>` +
    `<pre><code${languageClass}>${code}</code></pre>` +
    `</div>\n`
  );
};

export function renderMarkdown(text: string): string {
  return md.render(text);
}

/** The @mention being typed at `cursor` in `text` (the word after a lone @), if any. */
export function mentionAt(text: string, cursor: number): { start: number; query: string } | undefined {
  const before = text.slice(0, cursor);
  const match = /(^|\s)@([\w./-]*)$/.exec(before);
  if (!match) return undefined;
  return { start: cursor - match[2].length - 1, query: match[2] };
}
