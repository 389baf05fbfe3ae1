extension ChatPage {
    /// Markdown → DOM and code highlighting, written for the page (no library, no network).
    /// A model's text only ever becomes text nodes (`textContent`) inside elements this code
    /// creates by name: nothing it writes is parsed as HTML, so `<script>` or `<img onerror>` in an
    /// answer shows as those characters. Links keep only http(s) and mailto targets.
    static let markdownScript = #"""
    'use strict';
    const HearthMarkdown = (() => {
      function el(tag, cls, text) {
        const node = document.createElement(tag);
        if (cls) node.className = cls;
        if (text !== undefined && text !== null) node.textContent = text;
        return node;
      }

      // ---- blocks ----
      const FENCE = /^\s{0,3}(`{3,}|~{3,})\s*([^\s`]*)/;
      const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$/;
      const RULE = /^\s{0,3}([-*_])(?:\s*\1){2,}\s*$/;
      const QUOTE = /^\s{0,3}>/;
      const ITEM = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;
      const TABLE_RULE = /^\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*$/;
      const blank = (line) => /^\s*$/.test(line);
      const indentOf = (line) => line.match(/^\s*/)[0].replace(/\t/g, '    ').length;

      function isTable(lines, i) {
        return i + 1 < lines.length && lines[i].includes('|') && lines[i + 1].includes('-') && TABLE_RULE.test(lines[i + 1]);
      }
      function startsBlock(lines, i) {
        const line = lines[i];
        return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) || ITEM.test(line) || isTable(lines, i);
      }

      function blocks(lines, parent) {
        let i = 0;
        while (i < lines.length) {
          const line = lines[i];
          let m;
          if (blank(line)) { i++; continue; }
          if ((m = FENCE.exec(line))) {
            const fence = m[1];
            const body = [];
            i++;
            while (i < lines.length && !lines[i].trim().startsWith(fence)) body.push(lines[i++]);
            i++;
            parent.append(codeBlock(body.join('\n'), m[2]));
          } else if ((m = HEADING.exec(line))) {
            const heading = el('h' + m[1].length);
            inline(m[2], heading);
            parent.append(heading);
            i++;
          } else if (RULE.test(line)) {
            parent.append(el('hr'));
            i++;
          } else if (QUOTE.test(line)) {
            const quoted = [];
            while (i < lines.length && QUOTE.test(lines[i])) quoted.push(lines[i++].replace(/^\s{0,3}>\s?/, ''));
            const quote = el('blockquote');
            blocks(quoted, quote);
            parent.append(quote);
          } else if (isTable(lines, i)) {
            i = table(lines, i, parent);
          } else if (ITEM.test(line)) {
            i = list(lines, i, parent);
          } else {
            const text = [];
            while (i < lines.length && !blank(lines[i]) && (text.length === 0 || !startsBlock(lines, i))) text.push(lines[i++].trim());
            const paragraph = el('p');
            inline(text.join('\n'), paragraph);
            parent.append(paragraph);
          }
        }
      }

      function list(lines, i, parent) {
        const first = ITEM.exec(lines[i]);
        const ordered = /\d/.test(first[2]);
        const indent = indentOf(first[1]);
        const node = el(ordered ? 'ol' : 'ul');
        if (ordered && parseInt(first[2], 10) !== 1) node.start = parseInt(first[2], 10);
        while (i < lines.length) {
          const m = ITEM.exec(lines[i]);
          if (!m || indentOf(m[1]) !== indent || /\d/.test(m[2]) !== ordered) break;
          const width = indent + m[2].length + 1;
          const body = [m[3]];
          let loose = false;
          i++;
          while (i < lines.length) {
            const line = lines[i];
            if (blank(line)) {
              let next = i + 1;
              while (next < lines.length && blank(lines[next])) next++;
              if (next < lines.length && indentOf(lines[next]) >= width) { body.push(''); loose = true; i++; continue; }
              break;
            }
            const sub = ITEM.exec(line);
            if (sub && indentOf(sub[1]) <= indent) break;
            if (!sub && indentOf(line) <= indent && startsBlock(lines, i)) break;
            body.push(line.replace(new RegExp('^ {0,' + width + '}'), ''));
            i++;
          }
          const item = el('li');
          if (!loose && body.slice(1).every((line) => !ITEM.test(line) && !FENCE.test(line))) inline(body.join('\n'), item);
          else {
            blocks(body, item);
            // A tight item's first paragraph stays inline ("- two" over a nested list).
            if (!loose && item.firstChild && item.firstChild.nodeName === 'P') item.firstChild.replaceWith(...item.firstChild.childNodes);
          }
          node.append(item);
          // A blank line between two items of the same list keeps the list going.
          let next = i;
          while (next < lines.length && blank(lines[next])) next++;
          const after = next < lines.length ? ITEM.exec(lines[next]) : null;
          if (next !== i && after && indentOf(after[1]) === indent) i = next;
        }
        parent.append(node);
        return i;
      }

      function cells(line) {
        let text = line.trim();
        if (text.startsWith('|')) text = text.slice(1);
        if (text.endsWith('|')) text = text.slice(0, -1);
        return text.split('|').map((cell) => cell.trim());
      }

      function table(lines, i, parent) {
        const node = el('table');
        const head = el('thead');
        const row = el('tr');
        for (const cell of cells(lines[i])) { const th = el('th'); inline(cell, th); row.append(th); }
        head.append(row);
        node.append(head);
        const body = el('tbody');
        i += 2;
        while (i < lines.length && !blank(lines[i]) && lines[i].includes('|')) {
          const tr = el('tr');
          for (const cell of cells(lines[i++])) { const td = el('td'); inline(cell, td); tr.append(td); }
          body.append(tr);
        }
        node.append(body);
        parent.append(node);
        return i;
      }

      // ---- inline ----
      // One pass over the text: code spans, strong, emphasis, strike-through, links and bare
      // URLs; what lies between matches is plain text. Each alternative's groups are read below.
      const INLINE = new RegExp([
        /(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/.source,          // 1, 2: code
        /\*\*(?=\S)([\s\S]*?\S)\*\*/.source,                   // 3: strong
        /__(?=\S)([\s\S]*?\S)__(?!\w)/.source,                 // 4: strong
        /~~(?=\S)([\s\S]*?\S)~~/.source,                       // 5: strike-through
        /\*(?=[^\s*])([\s\S]*?[^\s*])\*(?!\*)/.source,         // 6: emphasis
        /(?<![\w_])_(?=[^\s_])([\s\S]*?[^\s_])_(?![\w_])/.source, // 7: emphasis
        /(!?)\[([^\]\n]*)\]\(\s*<?([^\s)>]*)>?(?:\s+"[^"\n]*")?\s*\)/.source, // 8, 9, 10: link or image
        /<?(https?:\/\/[^\s<>()]*[^\s<>().,;:!?'"\]*_])>?/.source, // 11: bare URL
        /\n/.source,
      ].join('|'), 'g');

      function safeURL(url) {
        return /^(https?:|mailto:)/i.test(url) ? url : null;
      }

      function link(url, text) {
        const target = safeURL(url);
        if (!target) return document.createTextNode(text);
        const anchor = el('a', null, text);
        anchor.href = target;
        anchor.target = '_blank';
        anchor.rel = 'noopener noreferrer';
        return anchor;
      }

      function inline(text, parent) {
        INLINE.lastIndex = 0;
        let last = 0;
        const matches = [...text.matchAll(INLINE)];
        for (const m of matches) {
          if (m.index > last) parent.append(document.createTextNode(text.slice(last, m.index)));
          last = m.index + m[0].length;
          if (m[2] !== undefined) {
            parent.append(el('code', null, m[2].length > 2 && m[2].startsWith(' ') && m[2].endsWith(' ') ? m[2].slice(1, -1) : m[2]));
          } else if (m[3] !== undefined || m[4] !== undefined) {
            const strong = el('strong');
            inline(m[3] ?? m[4], strong);
            parent.append(strong);
          } else if (m[5] !== undefined) {
            const strike = el('del');
            inline(m[5], strike);
            parent.append(strike);
          } else if (m[6] !== undefined || m[7] !== undefined) {
            const em = el('em');
            inline(m[6] ?? m[7], em);
            parent.append(em);
          } else if (m[9] !== undefined) {
            // Images are not loaded (nothing is fetched on a model's say-so): they become links.
            const label = m[8] === '!' ? '[image: ' + (m[9] || m[10]) + ']' : m[9] || m[10];
            if (m[8] === '!' || !safeURL(m[10])) parent.append(link(m[10], label));
            else {
              const anchor = link(m[10], '');
              inline(m[9] || m[10], anchor);
              parent.append(anchor);
            }
          } else if (m[11] !== undefined) {
            parent.append(link(m[11], m[11]));
          } else {
            parent.append(el('br'));
          }
        }
        if (last < text.length) parent.append(document.createTextNode(text.slice(last)));
      }

      // ---- code blocks and highlighting ----
      async function copyText(text, button) {
        try {
          await navigator.clipboard.writeText(text);
        } catch (error) {
          // Not a secure context (a LAN address over http): the older way still works.
          const area = el('textarea');
          area.value = text;
          document.body.append(area);
          area.select();
          document.execCommand('copy');
          area.remove();
        }
        button.textContent = 'Copied';
        setTimeout(() => { button.textContent = 'Copy'; }, 1200);
      }

      function codeBlock(code, language) {
        const block = el('div', 'code-block');
        const head = el('div', 'code-head');
        head.append(el('span', 'code-lang', language || 'text'));
        const copy = el('button', 'copy', 'Copy');
        copy.type = 'button';
        copy.addEventListener('click', () => copyText(code, copy));
        head.append(copy);
        const pre = el('pre');
        const node = el('code');
        highlight(code, language, node);
        pre.append(node);
        block.append(head, pre);
        return block;
      }

      const C_LIKE = 'break case catch class const continue default do else enum extends finally for if import in new return static struct switch this throw try typeof var void while';
      const KEYWORDS = {
        js: C_LIKE + ' async await delete export from function instanceof let of super yield interface type implements',
        python: 'and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield match',
        swift: C_LIKE + ' actor associatedtype async await defer extension fileprivate func guard init inout internal let mutating nonisolated open operator private protocol public repeat rethrows some any throws where',
        c: C_LIKE + ' abstract auto bool char double extern final float goto implements inline int long namespace private protected public register short signed sizeof template typedef union unsigned using virtual volatile',
        go: 'break case chan const continue default defer else fallthrough for func go goto if import interface map package range return select struct switch type var',
        rust: 'as async await break const continue crate dyn else enum extern fn for if impl in let loop match mod move mut pub ref return self Self static struct super trait type unsafe use where while',
        bash: 'case do done elif else esac fi for function if in local return select then until while export echo cd exit',
        sql: 'select from where insert into values update set delete create table drop alter join left right inner outer on group by order having limit as and or not null primary key',
        json: '',
      };
      const BUILTINS = new Set(['true', 'false', 'null', 'undefined', 'nil', 'None', 'True', 'False', 'self', 'NaN']);
      const ALIASES = {
        javascript: 'js', jsx: 'js', ts: 'js', tsx: 'js', typescript: 'js', mjs: 'js', py: 'python', python3: 'python',
        sh: 'bash', shell: 'bash', zsh: 'bash', console: 'bash', cpp: 'c', 'c++': 'c', cc: 'c', h: 'c', hpp: 'c',
        java: 'c', cs: 'c', csharp: 'c', kotlin: 'c', kt: 'c', golang: 'go', rs: 'rust', postgresql: 'sql', sqlite: 'sql',
      };
      const HASH_COMMENTS = new Set(['python', 'bash']);

      function tokenizer(language) {
        const comment = HASH_COMMENTS.has(language) ? /#.*/.source : language === 'sql' ? /--.*/.source
          : language === 'json' ? /(?!)/.source : /\/\/.*|\/\*[\s\S]*?(?:\*\/|$)/.source;
        const strings = [/"(?:\\[\s\S]|[^"\\\n])*"?/.source, /'(?:\\[\s\S]|[^'\\\n])*'?/.source];
        if (language === 'python') strings.unshift(/"""[\s\S]*?(?:"""|$)|'''[\s\S]*?(?:'''|$)/.source);
        if (language === 'js' || language === 'go') strings.push(/`(?:\\[\s\S]|[^`\\])*`?/.source);
        return new RegExp('(' + comment + ')|(' + strings.join('|') + ')|(\\b(?:0[xX][\\da-fA-F_]+|\\d[\\d_]*(?:\\.\\d+)?(?:[eE][+-]?\\d+)?)\\b)|([A-Za-z_$][\\w$]*)', 'g');
      }

      function highlight(code, language, parent) {
        const name = ALIASES[(language || '').toLowerCase()] || (language || '').toLowerCase();
        if (!(name in KEYWORDS)) { parent.textContent = code; return; }
        const keywords = new Set(KEYWORDS[name].split(' '));
        const caseless = name === 'sql';
        let last = 0;
        for (const m of code.matchAll(tokenizer(name))) {
          if (m.index > last) parent.append(document.createTextNode(code.slice(last, m.index)));
          last = m.index + m[0].length;
          let kind = null;
          if (m[1] !== undefined) kind = 'comment';
          else if (m[2] !== undefined) kind = 'string';
          else if (m[3] !== undefined) kind = 'number';
          else if (keywords.has(caseless ? m[4].toLowerCase() : m[4])) kind = 'keyword';
          else if (BUILTINS.has(m[4])) kind = 'builtin';
          else if (code[last] === '(') kind = 'function';
          parent.append(kind ? el('span', 'tok-' + kind, m[0]) : document.createTextNode(m[0]));
        }
        if (last < code.length) parent.append(document.createTextNode(code.slice(last)));
      }

      // ---- thinking ----
      // A reasoning model's `<think>…</think>` (still open while it streams) is taken out of the
      // answer and shown folded; the rest is Markdown.
      function splitThinking(text) {
        const start = text.indexOf('<think>');
        if (start < 0 || text.slice(0, start).trim() !== '') return { thinking: '', answer: text, open: false };
        const end = text.indexOf('</think>', start);
        if (end < 0) return { thinking: text.slice(start + 7), answer: '', open: true };
        return { thinking: text.slice(start + 7, end), answer: text.slice(end + 8), open: false };
      }

      /// Renders `text` (and any separate `thinking`) into `target`, replacing what it held.
      function render(text, target, thinking) {
        const parts = splitThinking(text || '');
        const thought = [thinking || '', parts.thinking].filter((part) => part.trim() !== '').join('\n');
        const nodes = document.createDocumentFragment();
        if (thought) {
          const details = el('details', 'thinking');
          const openBefore = target.querySelector('details.thinking');
          details.open = openBefore ? openBefore.open : parts.open;
          details.append(el('summary', null, parts.open ? 'Thinking…' : 'Thought'), el('div', 'think-body', thought.trim()));
          nodes.append(details);
        }
        blocks(parts.answer.replace(/\r\n?/g, '\n').split('\n'), nodes);
        target.replaceChildren(nodes);
      }

      return { render, highlight, copyText, el };
    })();
    """#
}
